import * as fs from "fs";
import { findHost, readState, sandboxDir, SandboxState } from "./state";

/** Steps of `scmupgrade.py` (upgrade) a fault can break, in the order the script runs them. */
export const UPGRADE_STEPS = ["untar", "backup", "stop", "replace", "start"] as const;
export type UpgradeStep = (typeof UPGRADE_STEPS)[number];

/**
 * One host's faults for one `--service`. Read by `scmupgrade.py`, the control scripts and the nodes
 * each time they need them, so setting or clearing takes effect at once, with no restart.
 */
export interface ServiceFault {
    /** The upgrade step of `scmupgrade.py` that fails (upgrades only; rollback is never faulted). */
    step?: UpgradeStep;
    /**
     * How the step fails. `exit0`: the vendor trap, the step's first command fails and the script exits
     * with status 0 and no success line. `exit1`: the script prints an `[ERROR]` line and exits 1 (for
     * `stop`/`start`: the control script fails, with the vendor's messages). Default `exit1`.
     */
    mode?: "exit0" | "exit1";
    /** The service's nodes exit at once when started: the control script prints `Failed:...` and exits 8. */
    startFails?: boolean;
    /** The nodes start (the control script's start check passes) but then answer DOWN / HTTP 503, and content-server's Node-Status stays `starting`. */
    unhealthy?: boolean;
    /** `scmupgrade.py` sleeps this many seconds after stopping the nodes, before replacing the files. */
    slowSeconds?: number;
    /** Limit `startFails`/`unhealthy` to these node ports. Default: every node of the service. */
    ports?: number[];
}

/** `hosts/<name>/faults.json`. */
export interface HostFaults {
    services: Record<string, ServiceFault>;
}

function faultsFile(state: SandboxState, host: string): string {
    return `${findHost(state, host).hostDir}/faults.json`;
}

function loadState(dir?: string): SandboxState {
    const state = readState(dir);
    if (!state) throw new Error(`No sandbox at ${sandboxDir(dir)}: run \`npm run sandbox -- up\` first.`);
    return state;
}

/** A host's faults ({ services: {} } when none). */
export function readFaults(host: string, dir?: string): HostFaults {
    const file = faultsFile(loadState(dir), host);
    if (!fs.existsSync(file)) return { services: {} };
    const data = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<HostFaults>;
    return { services: data.services ?? {} };
}

/** Checks a fault before it is written; returns the problems. */
export function faultProblems(fault: ServiceFault): string[] {
    const p: string[] = [];
    if (fault.step !== undefined && !UPGRADE_STEPS.includes(fault.step)) p.push(`step must be one of ${UPGRADE_STEPS.join(", ")}, got ${fault.step}`);
    if (fault.mode !== undefined && fault.mode !== "exit0" && fault.mode !== "exit1") p.push(`mode must be exit0 or exit1, got ${fault.mode}`);
    if (fault.mode !== undefined && fault.step === undefined) p.push("mode needs a step");
    if (fault.slowSeconds !== undefined && !(fault.slowSeconds >= 0)) p.push(`slow must be a number of seconds >= 0, got ${fault.slowSeconds}`);
    if (fault.ports !== undefined && !fault.ports.every((x) => Number.isInteger(x) && x > 0)) p.push("ports must be port numbers");
    return p;
}

function write(file: string, faults: HostFaults): void {
    // Write then rename: readers never see half a file.
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(faults, null, 2) + "\n");
    fs.renameSync(`${file}.tmp`, file);
}

/** Sets (merges into) the fault of one service on one host. */
export function setFault(host: string, service: string, fault: ServiceFault, dir?: string): HostFaults {
    const problems = faultProblems(fault);
    if (problems.length) throw new Error(`Invalid fault for ${host}/${service}: ${problems.join("; ")}.`);
    const state = loadState(dir);
    if (!findHost(state, host).services.includes(service as never)) {
        throw new Error(`Host ${host} does not run ${service}; it runs ${findHost(state, host).services.join(", ")}.`);
    }
    const file = faultsFile(state, host);
    const current = fs.existsSync(file) ? readFaults(host, dir) : { services: {} };
    const merged: ServiceFault = { ...current.services[service], ...fault };
    if (merged.step && !merged.mode) merged.mode = "exit1";
    current.services[service] = merged;
    write(file, current);
    return current;
}

/** Clears faults: of one service, of one host, or (no host) of every host. Returns the hosts touched. */
export function clearFaults(o: { host?: string; service?: string; dir?: string } = {}): string[] {
    const state = loadState(o.dir);
    const hosts = o.host ? [findHost(state, o.host)] : state.hosts;
    const touched: string[] = [];
    for (const h of hosts) {
        const file = `${h.hostDir}/faults.json`;
        if (!fs.existsSync(file)) continue;
        if (o.service) {
            const f = readFaults(h.name, o.dir);
            if (!(o.service in f.services)) continue;
            delete f.services[o.service];
            write(file, f);
        } else {
            fs.rmSync(file, { force: true });
        }
        touched.push(h.name);
    }
    return touched;
}

/** Every host's faults, for `fault list`. */
export function listFaults(dir?: string): Record<string, HostFaults> {
    const state = loadState(dir);
    const out: Record<string, HostFaults> = {};
    for (const h of state.hosts) {
        if (fs.existsSync(`${h.hostDir}/faults.json`)) out[h.name] = readFaults(h.name, dir);
    }
    return out;
}
