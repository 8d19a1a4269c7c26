import { spawn, spawnSync } from "child_process";
import * as path from "path";
import { projectRoot } from "../../engine/paths";

/** `scm-upgrade` as a subprocess, as a user or a pipeline runs it: no TTY, empty stdin. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120000) {
    const r = spawnSync(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), ...args], {
        cwd: projectRoot,
        encoding: "utf8",
        env: { ...process.env, ...env },
        input: "",
        timeout: timeoutMs,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `runCli` without blocking this process: for tests that serve something the run needs from this process
 * (a bastion's listener). Killed after `timeoutMs`.
 */
export function runCliAsync(
    args: string[],
    env: Record<string, string> = {},
    timeoutMs = 600000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), ...args], {
            cwd: projectRoot,
            env: { ...process.env, ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
}

/**
 * `scm-upgrade` started as a subprocess and left running: the child (for signals) and its end, with stdout and
 * stderr together in the order they came and the time it closed.
 */
export function startCli(args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), ...args], {
        cwd: projectRoot,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const done = new Promise<{ code: number | null; out: string; at: number }>((resolve) =>
        child.on("close", (code) => resolve({ code, out, at: Date.now() })),
    );
    return { child, done };
}
