/**
 * Jest helper: one real OpenSSH sshd per test file, on a loopback address and a free port, stopped in
 * afterAll whatever happens (and killed when the test process exits, should afterAll never run).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SshdHandle, SshdOptions, startSshd } from "../../sandbox/sshd";

/** A loopback address unlikely to be used by anyone else: 127.<200-249>.<0-255>.<1-254>. */
export function randomLoopback(): string {
    const r = (n: number) => Math.floor(Math.random() * n);
    return `127.${200 + r(50)}.${r(256)}.${1 + r(254)}`;
}

export interface UseSshdOptions extends Partial<Omit<SshdOptions, "dir">> {
    /** Folder for keys, config and log. Default: a fresh folder under the OS temp folder, removed afterwards. */
    dir?: string;
}

/**
 * Call at the top of a `describe` (or file): starts the server in beforeAll, stops it in afterAll.
 * Returns a getter for the running server.
 */
export function useSshd(o: UseSshdOptions = {}): () => SshdHandle {
    let handle: SshdHandle | undefined;
    let tmp: string | undefined;
    beforeAll(async () => {
        tmp = o.dir ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), "scm-sshd-"));
        handle = await startSshd({ ...o, address: o.address ?? randomLoopback(), dir: o.dir ?? tmp! });
    });
    afterAll(async () => {
        try {
            await handle?.stop();
        } finally {
            if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        }
    });
    return () => {
        if (!handle) throw new Error("The sshd is not started yet: use it inside a test or a later hook.");
        return handle;
    };
}

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
}

/** The ssh client options of every test: key only, no host key prompt, no agent, fail fast. */
export function sshArgs(t: SshTarget): string[] {
    return [
        "-i", t.keyPath,
        "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "LogLevel=ERROR",
        "-o", "ConnectTimeout=5",
        "-p", String(t.port),
        `${t.user}@${t.address}`,
    ];
}

/** Runs one command over real ssh; never rejects on a non-zero exit (ssh itself fails with 255). */
export function sshRun(t: SshTarget, command: string, timeoutMs = 60000): Promise<SshResult> {
    return new Promise((resolve, reject) => {
        const child = spawn("ssh", [...sshArgs(t), command], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? -1, stdout, stderr });
        });
    });
}

/** The ssh target of a started server. */
export function targetOf(s: SshdHandle): SshTarget {
    return { address: s.address, port: s.port, user: s.user, keyPath: s.clientKeyPath };
}
