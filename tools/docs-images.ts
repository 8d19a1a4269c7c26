/**
 * Regenerates the documentation's pictures with Debian's headless Chromium:
 *
 *   npx tsx tools/docs-images.ts [outDir]                    plan.png and report.png (a real run: 1 to 3 min)
 *   npx tsx tools/docs-images.ts [outDir] --report <html>    report.png from a report a run already wrote
 *
 * plan.png is the plan of stacks/Pulumi.production-example.yaml. report.png is the report of a real
 * `scm-upgrade up` of the seed sandbox, run here as a user runs it (the CLI as a subprocess, the engine, the
 * command provider): a private sandbox (its own folder, addresses 127.113.x.y), stack `docs-sandbox` with its own
 * state, all removed afterwards.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { validateConfig } from "../lib/config/schema";
import { projectRoot, stacksDir } from "../engine/env";
import { planWaves, Wave } from "../lib/plan";
import { probe, screenshot } from "./chromium";
import { planSvgLayout, renderPlanSvg } from "../report/plan";

/** The stack of the pictured run, and the second octet of its sandbox's addresses (unused by the tests). */
const DOCS_STACK = "docs-sandbox";
const DOCS_NET = 113;

export function exampleWaves(): Wave[] {
    const file = path.join(projectRoot, "stacks", "Pulumi.production-example.yaml");
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    const raw = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^scm-upgrade:/, ""), v]));
    const r = validateConfig(raw, { fileExists: () => true, readable: () => true });
    if (!r.ok) throw new Error(`example stack invalid: ${JSON.stringify(r.problems)}`);
    return planWaves(r.config);
}

/** `<outDir>/plan.png`: the example stack's plan. */
export function makePlanImage(outDir: string): string {
    fs.mkdirSync(outDir, { recursive: true });
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-docs-img-"));
    try {
        const waves = exampleWaves();
        const svg = path.join(tmp, "plan.svg");
        fs.writeFileSync(svg, renderPlanSvg(waves));
        const size = planSvgLayout(waves);
        const plan = path.join(outDir, "plan.png");
        screenshot(svg, plan, size.width, size.height);
        return plan;
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/** A screenshot of a whole run report (its laid-out width and height). */
export function screenshotReport(html: string, png: string): string {
    fs.mkdirSync(path.dirname(png), { recursive: true });
    const p = probe(html, "body");
    screenshot(html, png, p.width, p.height);
    return png;
}

/** Runs a command to the end, its output copied to stderr (progress); resolves with its exit code and output. */
function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; text: string }> {
    return new Promise((resolve) => {
        const c = spawn(cmd, args, { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
        let text = "";
        const take = (d: Buffer) => {
            text += d;
            process.stderr.write(d);
        };
        c.stdout.on("data", take);
        c.stderr.on("data", take);
        c.on("close", (code) => resolve({ code, text }));
    });
}

/**
 * Upgrades a fresh seed sandbox with `scm-upgrade up --yes` (progress to stderr) and copies the run's report to
 * `html`. The sandbox is driven by its command line, as a user does. Everything it made (sandbox, stack file,
 * state) is removed afterwards.
 */
export async function realRunReport(html: string): Promise<string> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-docs-run-"));
    const dir = path.join(tmp, "sandbox");
    const env = { PULUMI_BACKEND_URL: `file://${tmp}/state`, SCM_UPGRADE_REPORTS_DIR: path.join(tmp, "reports") };
    fs.mkdirSync(path.join(tmp, "state"));
    const tsx = path.join(projectRoot, "node_modules", ".bin", "tsx");
    const sandbox = (args: string[]) => [path.join(projectRoot, "sandbox", "cli.ts"), ...args, "--dir", dir];
    // Should this process end before the finally below, take the sandbox's processes with it.
    const stop = () => spawnSync(tsx, sandbox(["down"]), { cwd: projectRoot, stdio: "ignore" });
    process.once("exit", stop);
    try {
        const made = await run(tsx, sandbox(["up", "--net", String(DOCS_NET), "--stack", DOCS_STACK]), env);
        if (made.code !== 0) throw new Error(`the docs sandbox did not come up (exit ${made.code}): see its output above.`);
        const out = await run(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), "up", "--yes", "--stack", DOCS_STACK], env);
        const written = /^report: (\S+\.html)\s*$/m.exec(out.text)?.[1];
        if (out.code !== 0 || !written)
            throw new Error(`scm-upgrade up on the docs sandbox exited ${out.code}${written ? "" : " and wrote no report"}: see its output above.`);
        fs.mkdirSync(path.dirname(html), { recursive: true });
        fs.copyFileSync(written, html);
        return html;
    } finally {
        stop();
        process.off("exit", stop);
        fs.rmSync(path.join(stacksDir, `Pulumi.${DOCS_STACK}.yaml`), { force: true });
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

async function main(argv: string[]): Promise<void> {
    const at = argv.indexOf("--report");
    const given = at >= 0 ? argv[at + 1] : undefined;
    if (at >= 0 && !given) throw new Error("--report needs the path of a run report (.reports/run-<stack>-<start>.html).");
    const rest = argv.filter((_, i) => i !== at && i !== at + 1);
    const outDir = path.resolve(rest[0] ?? path.join(projectRoot, "docs", "img"));
    const plan = makePlanImage(outDir);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-docs-report-"));
    try {
        const html = given ?? (await realRunReport(path.join(tmp, "report.html")));
        const report = screenshotReport(html, path.join(outDir, "report.png"));
        for (const f of [plan, report]) process.stdout.write(`${f} (${fs.statSync(f).size} bytes)\n`);
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((e) => {
        process.stderr.write(`error: ${e instanceof Error ? e.message : e}\n`);
        process.exitCode = 1;
    });
}
