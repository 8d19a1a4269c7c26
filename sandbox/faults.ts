import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PYTHON2_ONLY_MARK } from "./release";
import { findHost, hostPaths, readState, sandboxDir, SandboxState } from "./state";

/** Steps of `scmupgrade.py` (upgrade) a fault can break, in the order the script runs them. */
export const UPGRADE_STEPS = ["untar", "backup", "stop", "replace", "start"] as const;
export type UpgradeStep = (typeof UPGRADE_STEPS)[number];

/**
 * What a failing step makes the vendor script do (reference section 3), the only outcomes a fault may produce:
 * a shell command of untar/backup/replace fails -> exit 0 without the success line (`exit0`); the control
 * script's stop or start fails -> exit 1 (`exit1`; stop: only while `list` still lists nodes, else it goes on).
 */
export const STEP_MODE: Record<UpgradeStep, "exit0" | "exit1"> = { untar: "exit0", backup: "exit0", stop: "exit1", replace: "exit0", start: "exit1" };

/** Which shell command of a step fails: the first, the middle or the last one, or the n-th (1-based). */
export type FaultAt = "first" | "middle" | "last" | number;

/**
 * A host's `/usr/bin/python` as the first line of the sandbox's scmupgrade.py names it: `missing` (absent, as on
 * a host without Python 2) or `python3` (a Python 3 there: it runs Python 3 scripts such as the newest
 * scmupgrade.py, and refuses the 3.2.0 one with a SyntaxError, as Python 3 does on the vendor's Python 2 code).
 */
export const INTERPRETER_FAULTS = ["missing", "python3"] as const;
export type InterpreterFault = (typeof INTERPRETER_FAULTS)[number];

/**
 * One host's faults for one `--service`. Read by `scmupgrade.py`, the control scripts and the nodes
 * each time they need them, so setting or clearing takes effect at once, with no restart.
 */
export interface ServiceFault {
    /** The upgrade step of `scmupgrade.py` that fails (upgrades only; rollback is never faulted). */
    step?: UpgradeStep;
    /**
     * How the step fails; fixed by the step (see {@link STEP_MODE}) and filled in by `setFault`. A mode the
     * vendor script cannot produce at that step is refused.
     */
    mode?: "exit0" | "exit1";
    /** untar/backup/replace: which of the step's shell commands fails. Default `first`; `middle` or `last` of replace leave a half-replaced install. */
    at?: FaultAt;
    /** The service's nodes exit at once when started: the control script prints `Failed:...` and exits 8. */
    startFails?: boolean;
    /** The nodes start (the control script's start check passes) but then answer DOWN / HTTP 503, and content-server's Node-Status stays `starting`. */
    unhealthy?: boolean;
    /**
     * Each node of the service is healthy at first, then answers as `unhealthy` does from this many seconds after
     * its process started: a node that passes its health gate after an upgrade and falls over later.
     */
    unhealthyAfterSeconds?: number;
    /**
     * Each node of the service started while this is set exits (status 1) this many seconds after its process
     * started: a node that passes the control script's start check, so `scmupgrade.py` reports success, then dies.
     * Read when a node starts, so nodes already running are not touched.
     */
    exitAfterSeconds?: number;
    /** `scmupgrade.py` sleeps this many seconds after stopping the nodes, before replacing the files. */
    slowSeconds?: number;
    /** Limit `startFails`/`unhealthy`/`unhealthyAfterSeconds`/`exitAfterSeconds` to these node ports. Default: every node of the service. */
    ports?: number[];
}

/** `hosts/<name>/faults.json`. */
export interface HostFaults {
    services: Record<string, ServiceFault>;
    /** The host's `/usr/bin/python` is missing or a Python 3 (see {@link INTERPRETER_FAULTS}). */
    interpreter?: InterpreterFault;
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
    return { services: data.services ?? {}, ...(data.interpreter ? { interpreter: data.interpreter } : {}) };
}

/** Checks a fault before it is written; returns the problems. */
export function faultProblems(fault: ServiceFault): string[] {
    const p: string[] = [];
    if (fault.step !== undefined && !UPGRADE_STEPS.includes(fault.step)) p.push(`step must be one of ${UPGRADE_STEPS.join(", ")}, got ${fault.step}`);
    if (fault.mode !== undefined && fault.mode !== "exit0" && fault.mode !== "exit1") p.push(`mode must be exit0 or exit1, got ${fault.mode}`);
    if (fault.mode !== undefined && fault.step === undefined) p.push("mode needs a step");
    if (fault.at !== undefined && fault.step === undefined) p.push("at needs a step");
    if (fault.step !== undefined && UPGRADE_STEPS.includes(fault.step)) {
        const real = STEP_MODE[fault.step];
        if (fault.mode !== undefined && fault.mode !== real)
            p.push(
                real === "exit0"
                    ? `mode ${fault.mode} at ${fault.step} is not what the vendor script does: a failing tar/cp/mv exits 0 without the success line (mode exit0)`
                    : `mode ${fault.mode} at ${fault.step} is not what the vendor script does: a failing ${fault.step} of the control script exits 1 (mode exit1)`,
            );
        if (fault.at !== undefined && real === "exit1") p.push(`at applies to the shell commands of untar, backup and replace, not to ${fault.step}`);
    }
    if (fault.at !== undefined && !["first", "middle", "last"].includes(String(fault.at)) && !(Number.isInteger(fault.at) && (fault.at as number) >= 1))
        p.push(`at must be first, middle, last or a command number from 1, got ${fault.at}`);
    if (fault.slowSeconds !== undefined && !(fault.slowSeconds >= 0)) p.push(`slow must be a number of seconds >= 0, got ${fault.slowSeconds}`);
    if (fault.unhealthyAfterSeconds !== undefined && !(fault.unhealthyAfterSeconds >= 0))
        p.push(`unhealthyAfterSeconds must be a number of seconds >= 0, got ${fault.unhealthyAfterSeconds}`);
    if (fault.exitAfterSeconds !== undefined && !(fault.exitAfterSeconds >= 0))
        p.push(`exitAfterSeconds must be a number of seconds >= 0, got ${fault.exitAfterSeconds}`);
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
    if (fault.step && !fault.mode) merged.mode = STEP_MODE[fault.step];
    const again = faultProblems(merged);
    if (again.length) throw new Error(`Invalid fault for ${host}/${service}: ${again.join("; ")}.`);
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
            applyInterpreter(state, h.name, undefined);
        }
        touched.push(h.name);
    }
    return touched;
}

/** Breaks (or, with undefined, repairs) one host's `/usr/bin/python`, and records it in its faults.json. */
export function setInterpreterFault(host: string, fault: InterpreterFault | undefined, dir?: string): HostFaults {
    if (fault !== undefined && !INTERPRETER_FAULTS.includes(fault))
        throw new Error(`Invalid interpreter fault ${fault}: use ${INTERPRETER_FAULTS.join(" or ")}.`);
    const state = loadState(dir);
    const file = faultsFile(state, host);
    const current = fs.existsSync(file) ? readFaults(host, dir) : { services: {} };
    if (fault) current.interpreter = fault;
    else delete current.interpreter;
    write(file, current);
    applyInterpreter(state, host, fault);
    return current;
}

/** The absolute path of the machine's Python 3 (what a host's working `/usr/bin/python` points at). */
export function systemPython3(): string {
    if (fs.existsSync("/usr/bin/python3")) return "/usr/bin/python3";
    return execFileSync("bash", ["-c", "command -v python3"], { encoding: "utf8" }).trim();
}

/**
 * Makes `<host root>/usr/bin/python` what the fault says: a link to the machine's Python 3 (no fault; it stands
 * for the host's Python 2: the sandbox's 3.2.0 script is Python 3 code marked Python-2-only), absent (`missing`),
 * or a stand-in Python 3 (`python3`) that refuses scripts carrying the Python-2-only mark with the SyntaxError
 * Python 3 gives the vendor's 3.2.0 script, and runs every other script with the real Python 3.
 */
export function applyInterpreter(state: SandboxState, host: string, fault: InterpreterFault | undefined): void {
    const file = hostPaths(state.dir, host).interpreter;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.rmSync(file, { force: true });
    const py3 = systemPython3();
    if (fault === undefined) fs.symlinkSync(py3, file);
    else if (fault === "python3") {
        const mark = PYTHON2_ONLY_MARK.replace(/[.*[\]^$]/g, "\\$&");
        const text = [
            "#!/bin/sh",
            "# scm-upgrade sandbox: a Python 3 installed as /usr/bin/python (fault interpreter=python3).",
            "# A script marked Python-2-only gets the SyntaxError that Python 3 gives the vendor's 3.2.0 scmupgrade.py.",
            'for a in "$@"; do',
            `  if [ -f "$a" ] && n=$(grep -n -m1 '^${mark}' "$a" 2>/dev/null | cut -d: -f1) && [ -n "$n" ]; then`,
            `    printf '  File "%s", line %s\n    except getopt.GetoptError, e:\n           ^^^^^^^^^^^^^^^^^^^^^^\nSyntaxError: multiple exception types must be parenthesized\n' "$a" "$n" >&2`,
            "    exit 1",
            "  fi",
            "done",
            `exec ${py3} "$@"`,
            "",
        ].join("\n");
        fs.writeFileSync(file, text, { mode: 0o755 });
        fs.chmodSync(file, 0o755);
    }
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
