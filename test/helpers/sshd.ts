/**
 * Jest helper: one real OpenSSH sshd per test file, on a loopback address and a free port, stopped in
 * afterAll whatever happens (and killed when the test process exits, should afterAll never run).
 */
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

import type { SshTarget } from "../../sandbox/ssh";
export { sshArgs, sshRun } from "../../sandbox/ssh";
export type { SshResult, SshTarget } from "../../sandbox/ssh";

/** The ssh target of a started server. */
export function targetOf(s: SshdHandle): SshTarget {
    return { address: s.address, port: s.port, user: s.user, keyPath: s.clientKeyPath };
}
