import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// scripts/demo.sh with its steps stubbed (set-up, sandbox, the CLI): the order of what it shows,
// and its last lines, whatever the outcome. The real run needs the engine (see README, Status).

const root = path.resolve(__dirname, "..", "..");

function runDemo(failAt: string | undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-demo-"));
    fs.mkdirSync(path.join(dir, "scripts"));
    fs.mkdirSync(path.join(dir, "stubs"));
    fs.mkdirSync(path.join(dir, ".reports"));
    fs.copyFileSync(path.join(root, "scripts", "demo.sh"), path.join(dir, "scripts", "demo.sh"));
    fs.writeFileSync(path.join(dir, "scripts", "setup.sh"), 'echo "setup" >>"$LOG"; exit 3\n');
    const stub = (name: string, body: string) => fs.writeFileSync(path.join(dir, "stubs", name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    // `npx tsx sandbox/cli.ts ...`: logs; `status --json` answers as a sandbox of 2 nodes at 3.2.0 (one not healthy).
    stub(
        "npx",
        'echo "npx $*" >>"$LOG"; [[ "$*" == *"status --json"* ]] && echo \'{"hosts":[{"nodes":[{"version":"3.2.0","health":"UP"},{"version":"3.2.0","health":"DOWN"}]}]}\'; exit 0',
    );
    // `node bin/scm-upgrade.js <command> ...`: logs, fails at FAIL_AT, and `up` writes a report; `node -e` is Node.js.
    stub(
        "node",
        '[[ "$1" == -e ]] && exec "$REAL_NODE" "$@"; shift; echo "scm-upgrade $*" >>"$LOG"; [[ "$1" == "$FAIL_AT" ]] && exit 7; [[ "$1" == up ]] && touch "$PWD/.reports/run-sandbox-20250101T000000Z.html"; exit 0',
    );
    fs.mkdirSync(path.join(dir, ".pulumi-home"));
    fs.writeFileSync(
        path.join(dir, ".pulumi-home", "toolchain.json"),
        '{"cli":"v3.259.0","provider":"1.2.1","providerKind":"offline stand-in","languageHost":""}\n',
    );
    const log = path.join(dir, "log");
    const r = spawnSync("bash", [path.join(dir, "scripts", "demo.sh"), "--json"], {
        encoding: "utf8",
        env: {
            ...process.env,
            PATH: `${path.join(dir, "stubs")}:${process.env.PATH}`,
            LOG: log,
            FAIL_AT: failAt ?? "",
            SCM_UPGRADE_REPORTS_DIR: "",
            REAL_NODE: process.execPath,
        },
    });
    const steps = fs.readFileSync(log, "utf8").trim().split("\n");
    fs.rmSync(dir, { recursive: true, force: true });
    return { code: r.status, steps, stderr: r.stderr, dir };
}

test("the demo shows the plan, then the preview, then upgrades; then says where the report is and how to stop the sandbox", () => {
    const r = runDemo(undefined);
    expect(r.code).toBe(0);
    expect(r.steps).toEqual([
        "setup",
        "npx --no-install tsx sandbox/cli.ts up",
        "scm-upgrade plan --stack sandbox",
        "scm-upgrade preview --stack sandbox",
        "scm-upgrade up --stack sandbox --yes --json",
        "npx --no-install tsx sandbox/cli.ts status --json",
    ]);
    expect(r.stderr.split("\n")[0]).toMatch(/^\[demo\] set-up \(the first run builds the Pulumi toolchain: see README for how long\), a local 4-host sandbox/);
    const last = r.stderr.trim().split("\n").slice(-3);
    expect(last[0]).toBe(`[demo] the run's report: ${r.dir}/.reports/run-sandbox-20250101T000000Z.html`);
    expect(last[1]).toContain("`npm run sandbox -- down` stops it");
    // The last line: what the hosts run now, read from them, and which command provider ran.
    expect(last[2]).toMatch(
        /^\[demo\] done in 0 min \d+ s: 2 SequoiaCM nodes on the sandbox at 3\.2\.0, 1 of them healthy \(command provider: offline stand-in\)$/,
    );
});

test("a failed preview stops the demo with its exit code, and still says how to stop the sandbox", () => {
    const r = runDemo("preview");
    expect(r.code).toBe(7);
    expect(r.steps.slice(-2)).toEqual(["scm-upgrade plan --stack sandbox", "scm-upgrade preview --stack sandbox"]);
    expect(r.stderr).toContain("[demo] no run report was written (the upgrade did not start)");
    expect(r.stderr).toContain("`npm run sandbox -- down` stops it");
    expect(r.stderr.trim().split("\n").pop()).toContain("the demo stopped with exit 7");
});

test("npm prints no update notices in this project (.npmrc)", () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.toLowerCase() !== "npm_config_update_notifier"));
    const r = spawnSync("npm", ["config", "get", "update-notifier"], { cwd: root, encoding: "utf8", env });
    expect(r.stdout.trim()).toBe("false");
});

test("npm test fails, saying why, when set-up could not provide a command provider: nothing is skipped", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-test-sh-"));
    fs.mkdirSync(path.join(dir, "scripts"));
    fs.copyFileSync(path.join(root, "scripts", "test.sh"), path.join(dir, "scripts", "test.sh"));
    fs.writeFileSync(path.join(dir, "scripts", "setup.sh"), "exit 3\n");
    const r = spawnSync("bash", [path.join(dir, "scripts", "test.sh")], { encoding: "utf8" });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(3);
    expect(r.stdout.trim().split("\n").pop()).toBe("0 passed, 1 failed");
    expect(r.stderr).toContain("set-up failed (exit 3): the engine tests cannot run without a command provider");
});
