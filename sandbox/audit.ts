import * as fs from "fs";
import * as path from "path";
import { readState, sandboxDir } from "./state";

/**
 * One line of a host's `audit.log`. Written by the control scripts (`start`/`stop`, one line per node)
 * and by `scmupgrade.py` (`upgrade`/`rollback`, a `begin` line then a `success`/`failed` line).
 */
export interface AuditEntry {
    /** ISO 8601, UTC, milliseconds. */
    time: string;
    host: string;
    /** The user the script ran as (the install user when the tool switches to it with sudo or su). */
    user: string;
    /** The `--service` name: cloud, config-server, content-server, schedule-server. */
    service: string;
    action: "start" | "stop" | "upgrade" | "rollback";
    /** Installed version at that moment (for `upgrade`/`rollback`: before on `begin`, after on the last line). */
    version: string | null;
    /** start/stop: `ok`, `already`, `failed`. upgrade/rollback: `begin`, `success`, `failed`. */
    outcome: string;
    /** start/stop: the node. */
    nodeType?: string;
    port?: number;
    pid?: number;
    /** upgrade: the package's version. */
    target?: string | null;
    /** upgrade/rollback end: the script's exit code as its caller sees it (0 for the exit-0 trap). */
    exitCode?: number;
    /** upgrade/rollback failed: the step it was in. */
    step?: string;
    installPath?: string;
    dryrun?: boolean;
}

/** Reads one audit file; bad lines (a crash mid-write) are skipped. */
export function readAuditFile(file: string): AuditEntry[] {
    if (!fs.existsSync(file)) return [];
    const out: AuditEntry[] = [];
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        if (!line.trim()) continue;
        try {
            out.push(JSON.parse(line) as AuditEntry);
        } catch {
            // partial line
        }
    }
    return out;
}

/** All hosts' audit entries, sorted by time (entries of one host keep their file order on ties). */
export function readAudit(dir?: string): AuditEntry[] {
    const d = sandboxDir(dir);
    const state = readState(d);
    const hostDirs = state
        ? state.hosts.map((h) => h.hostDir)
        : fs.existsSync(path.join(d, "hosts"))
          ? fs.readdirSync(path.join(d, "hosts")).map((n) => path.join(d, "hosts", n))
          : [];
    const all: { e: AuditEntry; host: number; line: number }[] = [];
    for (const [host, hd] of hostDirs.entries()) for (const [line, e] of readAuditFile(path.join(hd, "audit.log")).entries()) all.push({ e, host, line });
    all.sort((a, b) => (a.e.time < b.e.time ? -1 : a.e.time > b.e.time ? 1 : a.host - b.host || a.line - b.line));
    return all.map((x) => x.e);
}
