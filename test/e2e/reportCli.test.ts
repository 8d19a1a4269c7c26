import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { stacksDir } from "../../engine/env";
import { planWaves, nodeKey, Wave } from "../../lib/plan";
import { sampleRunEvents } from "../../report/sample";
import { runCli } from "../helpers/cli";
import { seedHosts } from "../helpers/seed";

// The pictures from the command line (the real CLI as a subprocess, no command provider needed):
// `plan --format svg|html` and `report --from <events.jsonl>`.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-report-cli-"));
const backend = `file://${tmp}/state`;
fs.mkdirSync(`${tmp}/state`);
const pkg = path.join(tmp, "sequoiacm-3.2.0-release.tar.gz");
fs.writeFileSync(pkg, "not a tarball: plan never opens it");
const keyFile = path.join(tmp, "id_test");
fs.writeFileSync(keyFile, "placeholder key file", { mode: 0o600 });
const stack = "test-report-cli";
const stackFile = path.join(stacksDir, `Pulumi.${stack}.yaml`);

const hosts = seedHosts;
const waves: Wave[] = planWaves({ hosts, serviceOrder: ["cloud", "config-server", "content-server", "schedule-server"] });
const keys = waves.flatMap((w) => w.nodes.map(nodeKey));

beforeAll(() => {
    const config = { package: { localPath: pkg }, ssh: { user: "scmadmin", privateKeyFile: keyFile }, hosts };
    fs.writeFileSync(stackFile, yaml.dump({ config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`scm-upgrade:${k}`, v])) }));
});
afterAll(() => {
    fs.rmSync(stackFile, { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
});

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { PULUMI_BACKEND_URL: backend, ...env });

const dataNodes = (text: string, attr = "data-node") => [...text.matchAll(new RegExp(`<g ${attr}="([^"]+)"`, "g"))].map((m) => m[1]);

test("plan --format svg and html draw every wave and node", () => {
    const svg = cli(["plan", "--stack", stack, "--format", "svg"]);
    expect(svg.code).toBe(0);
    expect(svg.stdout).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(dataNodes(svg.stdout)).toEqual(keys);
    expect(svg.stdout).toContain("site branchSite1 · branch");
    const html = cli(["plan", "--stack", stack, "--format", "html"]);
    expect(html.code).toBe(0);
    expect(html.stdout).toMatch(/^<!DOCTYPE html>/);
    expect(dataNodes(html.stdout)).toEqual(keys);
    expect(html.stdout).toContain(`<title>Upgrade plan of stack ${stack}</title>`);
    const bad = cli(["plan", "--stack", stack, "--format", "png"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("table, json, mermaid, dot, svg or html");
});

test("report --from events.jsonl writes the run report (to --out, or .reports/run-<stack>-<start>.html) and says where", () => {
    const events = sampleRunEvents(waves, { stack, failed: "D/content-server" });
    const jsonl = path.join(tmp, "events.jsonl");
    fs.writeFileSync(jsonl, ["[00:00] some text line", ...events.map((e) => JSON.stringify(e))].join("\n") + "\n");
    const out = path.join(tmp, "report.html");
    const r = cli(["report", "--stack", stack, "--from", jsonl, "--out", out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`report: ${out}`);
    const html = fs.readFileSync(out, "utf8");
    expect(dataNodes(html)).toEqual(keys);
    expect(html).toContain(`<g data-node="D/content-server" data-outcome="failed">`);
    expect(html).toContain(`<g data-node="B/content-server" data-outcome="not-run">`);

    const dir = path.join(tmp, "reports");
    const j = cli(["report", "--stack", stack, "--from", jsonl, "--json"], { SCM_UPGRADE_REPORTS_DIR: dir });
    expect(j.code).toBe(0);
    const said = JSON.parse(j.stdout.trim().split("\n").pop()!);
    expect(said).toMatchObject({ type: "report", path: path.join(dir, `run-${stack}-20250101T020000Z.html`) });
    expect(fs.existsSync(said.path)).toBe(true);

    const missing = path.join(tmp, "missing.jsonl");
    const none = cli(["report", "--stack", stack, "--from", missing]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
        `error: --from ${missing}: no such file. Give it the events a run printed with --json (\`scm-upgrade up --json --stack <stack> > events.jsonl\`); a run of \`up\` or \`rollback\` also writes its report itself.`,
    );
    expect(none.stderr).not.toContain("ENOENT");
    // A usage error comes before the stack: the default stack need not exist.
    const noStack = cli(["report", "--from", "/nonexistent.jsonl"]);
    expect(noStack.code).toBe(2);
    expect(noStack.stderr).toContain("--from /nonexistent.jsonl: no such file.");
    const folder = cli(["report", "--stack", stack, "--from", tmp]);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain(`--from ${tmp}: is a folder, not a file.`);
    expect(cli(["report", "--stack", stack]).code).toBe(2);
    // A report that cannot be written is the caller's path to fix (exit 2), not a failed upgrade (1).
    for (const [out, why] of [
        [path.join(tmp, "no-such-folder", "r.html"), "no such folder"],
        [tmp, "is a folder"],
    ]) {
        const bad = cli(["report", "--stack", stack, "--from", jsonl, "--out", out]);
        expect(bad.code).toBe(2);
        expect(bad.stderr).toContain(`error: --out ${out}: cannot write it (${why}). Give --out a file in a folder that exists and that you can write.`);
    }
    expect(cli(["up", "--stack", stack, "--out", "x.html"]).code).toBe(2);
});
