import { spawnSync } from "child_process";
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
