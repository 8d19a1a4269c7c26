/** The OpenSSH client as the tests and the benchmarks use it against sandbox hosts: key only, no prompts, one connection per command. */
import { ChildProcess, spawn } from "child_process";

export interface SshTarget {
    address: string;
    port: number;
    user: string;
    keyPath: string;
}

export interface SshResult {
    code: number;
    stdout: string;
    stderr: string;
    ms: number;
}

export function sshArgs(t: SshTarget): string[] {
    return [
        "-i",
        t.keyPath,
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=10",
        "-p",
        String(t.port),
        `${t.user}@${t.address}`,
    ];
}

/** Children still running, so that an interrupted bench can stop them by pid. */
export const running = new Set<ChildProcess>();

/** Runs one command over ssh; never rejects on a non-zero exit. */
export function sshRun(t: SshTarget, command: string, timeoutMs = 600000): Promise<SshResult> {
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const child = spawn("ssh", [...sshArgs(t), command], { stdio: ["ignore", "pipe", "pipe"] });
        running.add(child);
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (e) => {
            running.delete(child);
            reject(e);
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            running.delete(child);
            resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 });
        });
    });
}
