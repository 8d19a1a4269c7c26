import * as fs from "fs";
import { killAndWait, pidAlive } from "./sshd";

export interface ProcInfo {
    pid: number;
    ppid: number;
    args: string[];
    /** Its working folder, when readable. */
    cwd?: string;
}

/** Every live (non-zombie) process, from /proc. */
export function listProcesses(): ProcInfo[] {
    const out: ProcInfo[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const close = stat.lastIndexOf(")");
            const fields = stat.slice(close + 2).split(" ");
            if (fields[0] === "Z") continue;
            const args = fs
                .readFileSync(`/proc/${entry}/cmdline`, "utf8")
                .split("\0")
                .filter((a) => a !== "");
            let cwd: string | undefined;
            try {
                cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
            } catch {
                // another user's process, or gone
            }
            out.push({ pid: Number(entry), ppid: Number(fields[1]), args, ...(cwd ? { cwd } : {}) });
        } catch {
            // gone meanwhile
        }
    }
    return out;
}

/** Pids of the node processes serving `<confDir>` (their argument `scm-node:<confDir>`). */
export function nodePids(confDir: string, procs = listProcesses()): number[] {
    const marker = `scm-node:${confDir}`;
    return procs.filter((p) => p.args.includes(marker)).map((p) => p.pid);
}

/**
 * Every process that belongs to the sandbox in `dir`: its nodes, its sshd servers, whatever runs in their
 * SSH sessions (their descendants), and scripts run from inside the sandbox folder. Never this process
 * or its ancestors.
 */
export function sandboxProcesses(dir: string, procs = listProcesses()): ProcInfo[] {
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    const mine = new Set<number>();
    for (let p: number | undefined = process.pid; p && p > 1; ) {
        mine.add(p);
        p = procs.find((x) => x.pid === p)?.ppid;
    }
    const owned = new Set<number>();
    for (const p of procs) {
        const a = p.args;
        const isNode = a.some((x) => x.startsWith(`scm-node:${prefix}`));
        // sshd retitles itself into one string: "sshd: /usr/sbin/sshd -D -e -f <cfg> [listener] ...".
        const line = a.join(" ");
        const isSshd = line.includes("sshd") && line.includes(` -f ${prefix}`);
        // An interpreter running a script from the sandbox (control scripts, scmupgrade.py).
        const isScript = a.slice(0, 4).some((x, i) => i > 0 && x.startsWith(prefix));
        // A script whose SSH session is gone (a run killed mid-node, a host thawed after its client left): no
        // longer below the sshd, still working in a sandbox folder (scmupgrade.py runs from the package folder).
        // Only an orphan (adopted by init): a user's own shell opened in the folder is not the sandbox's.
        const isOrphan = p.cwd !== undefined && (p.cwd === dir || p.cwd.startsWith(prefix)) && p.ppid === 1;
        if (isNode || isSshd || isScript || isOrphan) owned.add(p.pid);
    }
    // Descendants: SSH sessions of the sandbox's sshd, and what they started.
    withDescendants(owned, procs);
    for (const p of mine) owned.delete(p);
    return procs.filter((p) => owned.has(p.pid));
}

/** Adds to `pids` every descendant of theirs among `procs`; returns `pids`. */
export function withDescendants(pids: Set<number>, procs: ProcInfo[]): Set<number> {
    for (let grew = true; grew; ) {
        grew = false;
        for (const p of procs) {
            if (!pids.has(p.pid) && pids.has(p.ppid)) {
                pids.add(p.pid);
                grew = true;
            }
        }
    }
    return pids;
}

/** Sends `signal` to each pid at once; returns how many were still there to receive it. */
export function signalAll(pids: number[], signal: NodeJS.Signals): number {
    let n = 0;
    for (const pid of pids) {
        try {
            process.kill(pid, signal);
            n++;
        } catch {
            // gone meanwhile
        }
    }
    return n;
}

/** SIGTERM to all, then SIGKILL to whoever is left after `graceMs`; resolves when all are gone. */
export async function killProcesses(pids: number[], graceMs = 3000): Promise<void> {
    await Promise.all(pids.filter(pidAlive).map((pid) => killAndWait(pid, graceMs)));
}

/** Kills (SIGKILL) every process of the sandbox at once, synchronously: for exit hooks, where nothing can be awaited. */
export function killSandboxNow(dir: string): number {
    const victims = sandboxProcesses(dir);
    signalAll(
        victims.map((p) => p.pid),
        "SIGKILL",
    );
    return victims.length;
}
