import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

// scripts/lib/progress.sh: a progress line every PROGRESS_EVERY seconds while a long step runs.

const lib = path.resolve(__dirname, "..", "..", "scripts", "lib", "progress.sh");
const bash = (script: string, env: Record<string, string> = {}) =>
    spawnSync("bash", ["-c", `set -euo pipefail; source ${JSON.stringify(lib)}; ${script}`], { encoding: "utf8", env: { ...process.env, ...env } });

test("a line with the elapsed seconds every interval, to stderr even when the command's output is redirected", () => {
    const r = bash(`with_progress "sleeping a while" sh -c 'echo out; echo err >&2; sleep 3.5' >/dev/null 2>&1; echo done`, { PROGRESS_EVERY: "1" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("done\n");
    const lines = r.stderr.trim().split("\n");
    // (A loaded machine may add a fourth line, never drop one.)
    expect(lines.slice(0, 3)).toEqual(["[setup] still sleeping a while (1 s)", "[setup] still sleeping a while (2 s)", "[setup] still sleeping a while (3 s)"]);
    expect(lines.length).toBeLessThanOrEqual(4);
});

test("PROGRESS_DETAIL adds how far the step is to each line (its first output line); no output adds nothing", () => {
    const r = bash(
        `count() { cat "$F"; }; with_progress "compiling" sh -c 'printf "12 of 40 packages compiled\\nsecond line\\n" >"$F"; sleep 1.5; rm "$F"; sleep 1.2'`,
        {
            PROGRESS_EVERY: "1",
            PROGRESS_DETAIL: "count",
            F: path.join(require("os").tmpdir(), `scm-progress-detail-${process.pid}`),
        },
    );
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toBe("[setup] still compiling (1 s, 12 of 40 packages compiled)");
    expect(lines[lines.length - 1]).toBe(`[setup] still compiling (${lines.length} s)`);
});

test("a quick command prints nothing; the tag can be changed; the exit status is the command's", () => {
    const quick = bash(`with_progress "x" true`);
    expect(quick.status).toBe(0);
    expect(quick.stderr).toBe("");
    const failing = bash(`with_progress "failing" sh -c 'sleep 1.2; exit 7' || echo "rc=$?"`, { PROGRESS_EVERY: "1", PROGRESS_TAG: "bootstrap" });
    expect(failing.stdout).toBe("rc=7\n");
    expect(failing.stderr).toMatch(/^\[bootstrap\] still failing \(1 s\)\n/);
    // Under set -e a failure stops the script, as the bare command would.
    const stops = bash(`with_progress "failing" false; echo unreachable`);
    expect(stops.status).toBe(1);
    expect(stops.stdout).toBe("");
});

test("an interrupt stops the command too and exits 130", async () => {
    const child = spawn("bash", ["-c", `source ${JSON.stringify(lib)}; with_progress "waiting" sh -c 'echo $$; exec sleep 30'`], {
        stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    const inner = await Promise.race([
        new Promise<number>((resolve) => child.stdout.once("data", (d) => resolve(Number(String(d).trim())))),
        exited.then(() => NaN),
    ]);
    expect(inner).toBeGreaterThan(0);
    child.kill("SIGINT");
    const code = await exited;
    expect(code).toBe(130);
    let alive = true;
    try {
        process.kill(inner, 0);
    } catch {
        alive = false;
    }
    expect(alive).toBe(false);
});

test("scripts/setup.sh runs every long step (apt-get, npm ci) under with_progress", () => {
    const setup = fs.readFileSync(path.resolve(__dirname, "..", "..", "scripts", "setup.sh"), "utf8");
    const long = setup.split("\n").filter((l) => /^\s*[^#]*\b(apt-get (update|install)|npm ci)\b/.test(l) && !/^\s*say /.test(l));
    expect(long.length).toBeGreaterThanOrEqual(3);
    for (const l of long) expect(l).toMatch(/^\s*with_progress "[^"]+" /);
});
