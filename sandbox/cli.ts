/**
 * `npm run sandbox -- <command>`: the embedded SequoiaCM 3.1.2 cluster the upgrade tool runs against by default.
 */
import * as path from "path";
import { down, freezeHost, HostStatus, reset, startHostSshd, status, stopHostSshd, thawHost, up, UpResult } from "./cluster";
import {
    clearFaults,
    INTERPRETER_FAULTS,
    InterpreterFault,
    listFaults,
    ServiceFault,
    setFault,
    setInterpreterFault,
    STEP_MODE,
    UPGRADE_STEPS,
    UpgradeStep,
} from "./faults";
import { readAudit } from "./audit";
import { readState, sandboxDir, SCRIPT_BEHAVIOURS, ScriptBehaviour } from "./state";

const HELP = `Usage: npm run sandbox -- <command> [options]

The local SequoiaCM 3.1.2 sandbox: one sshd per host on its own 127.x.y.z address, each host's
/opt/sequoiacm and /opt/scm_upgrade under <sandbox>/hosts/<name>/root, real node processes, and the
release package sequoiacm-3.2.0-release.tar.gz to upgrade them with.

Commands:
  up [--hosts N] [--script 3.2.0|latest]
                         build (first time) and start everything; idempotent. N >= 4, default 4 (the
                         seed's hosts A-D). --script: which vendor scmupgrade.py the release carries
                         (default 3.2.0, or the sandbox's; a change rebuilds the release package).
                         Writes the config of stack "sandbox".
  status [--json]        hosts, sshd, and per node: port, installed version, pid, health
  down                   stop every node and sshd; no process is left behind (files are kept)
  reset [--hosts N] [--script 3.2.0|latest]   down, then a fresh 3.1.2 cluster, then up
  fault set --host H --service S [--step untar|backup|stop|replace|start [--at first|middle|last|N]]
            [--start-fails] [--unhealthy] [--slow SECONDS] [--port P]...
                         inject a fault on one host's service (hosts/<H>/faults.json); a failing
                         untar/backup/replace command exits 0 without the success line, a failing
                         stop/start exits 1, as the vendor script does
  fault set --host H --interpreter missing|python3|ok
                         the host's /usr/bin/python (named by scmupgrade.py's first line) is absent,
                         is a Python 3, or works again
  fault clear [--host H] [--service S]   remove faults (all hosts when no --host)
  fault list             show the faults set
  sshd stop|start <host> stop or start one host's sshd
  freeze|thaw <host>     freeze one host as a hung machine does (SIGSTOP to its sshd, sessions and
                         nodes: its port still takes connections, nothing answers), or let it go on
  audit [--host H]       print the audit log (JSON lines, by time)

Options:
  --dir D                sandbox folder (default $SCM_SANDBOX_DIR or <repo>/.sandbox)
  --stack NAME           (up/reset) the stack whose config is written (default sandbox); give another
                         name with --dir so that a second sandbox does not take over stack sandbox
  --net X                second octet of the host addresses 127.X.y.z, for a new sandbox (default
                         $SCM_SANDBOX_NET or 10)
  --password-auth        (up/reset, new sandbox) the hosts' sshd also accept passwords (root only: /etc/shadow)
  -h, --help             this help
`;

class UsageError extends Error {}

interface Parsed {
    positional: string[];
    flags: Map<string, string[]>;
}

const BOOLEAN_FLAGS = new Set(["--json", "--start-fails", "--unhealthy", "--password-auth", "--help", "-h"]);

function parse(argv: string[]): Parsed {
    const positional: string[] = [];
    const flags = new Map<string, string[]>();
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a.startsWith("-")) {
            const [name, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
            let value = inline;
            if (value === undefined && !BOOLEAN_FLAGS.has(name)) {
                value = argv[++i];
                if (value === undefined) throw new UsageError(`${name} needs a value.`);
            }
            flags.set(name, [...(flags.get(name) ?? []), value ?? "true"]);
        } else positional.push(a);
    }
    return { positional, flags };
}

function one(p: Parsed, name: string): string | undefined {
    const v = p.flags.get(name);
    return v ? v[v.length - 1] : undefined;
}

function int(p: Parsed, name: string): number | undefined {
    const v = one(p, name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new UsageError(`${name} must be a whole number, got ${v}.`);
    return n;
}

/** `$SCM_SANDBOX_NET`: the default of --net (a second sandbox, such as a second clone's, beside the first). */
function envNet(): number | undefined {
    const v = process.env.SCM_SANDBOX_NET;
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 254) throw new UsageError(`SCM_SANDBOX_NET must be a whole number from 1 to 254, got ${v}.`);
    return n;
}

function allowOnly(p: Parsed, names: string[]): void {
    for (const k of p.flags.keys()) {
        if (!names.includes(k) && k !== "--dir") throw new UsageError(`Unknown option ${k} for this command.`);
    }
}

const say = (line: string) => console.log(line);
const t0 = Date.now();
/** Progress lines of long work, with the elapsed time. */
const progress = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}`);

function summary(r: UpResult, verb: string): void {
    const s = r.state;
    const nodes = s.hosts.reduce((a, h) => a + h.nodes.length, 0);
    if (r.alreadyUp) say(`sandbox already up: ${s.hosts.length} hosts, ${nodes} nodes (${s.dir})`);
    else
        say(
            `sandbox ${verb} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${s.hosts.length} hosts, ${nodes} nodes (started ${r.started.sshd} sshd, ${r.started.nodes} node(s))`,
        );
    const [first, last] = [s.hosts[0], s.hosts[s.hosts.length - 1]];
    say(`  hosts:   ${first.name} ${first.address} to ${last.name} ${last.address}, sshd on port ${first.sshPort}`);
    say(`  ssh:     ssh -p ${first.sshPort} -i ${s.clientKeyPath} ${s.user}@${first.address}   (host ${first.name}; the others alike)`);
    say(`  package: ${s.packagePath}`);
    if (r.stackConfig?.written === "stack")
        say(`  stack:   ${path.basename(r.stackConfig.path).replace(/^Pulumi\.|\.yaml$/g, "")} (${path.relative(process.cwd(), r.stackConfig.path)})`);
}

function printStatus(hosts: HostStatus[]): void {
    for (const h of hosts) {
        const sshd = h.sshd.pid ? (h.sshd.accepting ? `sshd up (pid ${h.sshd.pid})` : `sshd not accepting (pid ${h.sshd.pid})`) : "sshd down";
        const site = h.site ? ` site ${h.site}${h.rootSite ? " (root)" : ""}` : "";
        say(`${h.name.padEnd(5)} ${`${h.address}:${h.sshPort}`.padEnd(20)} ${h.center.padEnd(8)} ${sshd}${site}`);
        for (const n of h.nodes) {
            say(
                `      ${n.type.padEnd(16)} ${String(n.port).padEnd(6)} ${String(n.version ?? "?").padEnd(6)} ${n.pid ? `pid ${n.pid}`.padEnd(10) : "stopped   "} ${n.health}`,
            );
        }
    }
}

async function main(argv: string[]): Promise<number> {
    const p = parse(argv);
    const cmd = p.positional[0];
    if (!cmd || p.flags.has("--help") || p.flags.has("-h") || cmd === "help") {
        process.stdout.write(HELP);
        return cmd || p.flags.size ? 0 : 2;
    }
    const dir = sandboxDir(one(p, "--dir"));
    switch (cmd) {
        case "up":
        case "reset": {
            allowOnly(p, ["--hosts", "--net", "--password-auth", "--stack", "--script"]);
            const script = one(p, "--script");
            if (script !== undefined && !SCRIPT_BEHAVIOURS.includes(script as never))
                throw new UsageError(`--script must be ${SCRIPT_BEHAVIOURS.join(" or ")}.`);
            const o = {
                dir,
                hosts: int(p, "--hosts"),
                net: int(p, "--net") ?? envNet(),
                passwordAuthentication: p.flags.has("--password-auth") ? true : undefined,
                stackName: one(p, "--stack"),
                script: script as ScriptBehaviour | undefined,
                log: progress,
            };
            const r = cmd === "up" ? await up(o) : await reset(o);
            summary(r, cmd === "up" ? "up" : "reset");
            return 0;
        }
        case "down": {
            allowOnly(p, []);
            const r = await down({ dir, log: progress });
            say(r.stopped ? `sandbox down: ${r.stopped} process(es) stopped` : "sandbox already down");
            return 0;
        }
        case "status": {
            allowOnly(p, ["--json"]);
            const s = await status({ dir });
            if (p.flags.has("--json")) {
                say(JSON.stringify(s, null, 2));
                return s.built ? 0 : 1;
            }
            if (!s.built) {
                say(`no sandbox at ${dir}: run \`npm run sandbox -- up\``);
                return 1;
            }
            const nodes = s.hosts.flatMap((h) => h.nodes);
            const healthy = nodes.filter((n) => n.health === "UP").length;
            const sshdUp = s.hosts.filter((h) => h.sshd.accepting).length;
            say(`sandbox ${dir}: ${s.hosts.length} hosts (${sshdUp} sshd up), ${nodes.length} nodes (${healthy} healthy)`);
            say(`package ${s.packagePath}`);
            printStatus(s.hosts);
            return 0;
        }
        case "fault": {
            const sub = p.positional[1];
            if (sub === "set") {
                allowOnly(p, ["--host", "--service", "--step", "--mode", "--at", "--start-fails", "--unhealthy", "--slow", "--port", "--interpreter"]);
                const host = one(p, "--host");
                const interpreter = one(p, "--interpreter");
                if (interpreter !== undefined) {
                    if (!host || p.flags.size > 2 + (p.flags.has("--dir") ? 1 : 0)) throw new UsageError("fault set --interpreter takes --host only.");
                    if (interpreter !== "ok" && !INTERPRETER_FAULTS.includes(interpreter as never))
                        throw new UsageError(`--interpreter must be ${INTERPRETER_FAULTS.join(", ")} or ok.`);
                    setInterpreterFault(host, interpreter === "ok" ? undefined : (interpreter as InterpreterFault), dir);
                    say(`interpreter of ${host}: ${interpreter === "ok" ? "working" : interpreter}`);
                    return 0;
                }
                const service = one(p, "--service");
                if (!host || !service) throw new UsageError("fault set needs --host and --service.");
                const fault: ServiceFault = {};
                const step = one(p, "--step");
                if (step !== undefined) {
                    if (!UPGRADE_STEPS.includes(step as never)) throw new UsageError(`--step must be one of ${UPGRADE_STEPS.join(", ")}.`);
                    fault.step = step as UpgradeStep;
                    fault.mode = (one(p, "--mode") ?? STEP_MODE[fault.step]) as ServiceFault["mode"];
                    const at = one(p, "--at");
                    if (at !== undefined) fault.at = /^\d+$/.test(at) ? Number(at) : (at as ServiceFault["at"]);
                } else if (p.flags.has("--mode") || p.flags.has("--at")) throw new UsageError("--mode and --at need --step.");
                if (p.flags.has("--start-fails")) fault.startFails = true;
                if (p.flags.has("--unhealthy")) fault.unhealthy = true;
                const slow = one(p, "--slow");
                if (slow !== undefined) {
                    fault.slowSeconds = Number(slow);
                    if (!(fault.slowSeconds >= 0)) throw new UsageError(`--slow must be a number of seconds, got ${slow}.`);
                }
                const ports = p.flags.get("--port");
                if (ports) fault.ports = ports.map(Number);
                if (!Object.keys(fault).length) throw new UsageError("fault set needs --step, --start-fails, --unhealthy or --slow.");
                const f = setFault(host, service, fault, dir);
                say(`fault set on ${host}/${service}: ${JSON.stringify(f.services[service])}`);
                return 0;
            }
            if (sub === "clear") {
                allowOnly(p, ["--host", "--service"]);
                const touched = clearFaults({ host: one(p, "--host"), service: one(p, "--service"), dir });
                say(touched.length ? `faults cleared on ${touched.join(", ")}` : "no faults to clear");
                return 0;
            }
            if (sub === "list") {
                allowOnly(p, []);
                const all = listFaults(dir);
                if (!Object.keys(all).length) say("no faults set");
                for (const [h, f] of Object.entries(all)) {
                    if (f.interpreter) say(`${h}: interpreter ${f.interpreter}`);
                    for (const [s, v] of Object.entries(f.services)) say(`${h}/${s}: ${JSON.stringify(v)}`);
                }
                return 0;
            }
            throw new UsageError("fault needs set, clear or list.");
        }
        case "sshd": {
            allowOnly(p, []);
            const [, verb, host] = p.positional;
            if ((verb !== "stop" && verb !== "start") || !host) throw new UsageError("usage: sshd stop|start <host>");
            const changed = verb === "stop" ? await stopHostSshd(host, dir) : await startHostSshd(host, dir);
            say(
                changed
                    ? `sshd of ${host} ${verb === "stop" ? "stopped" : "started"}`
                    : `sshd of ${host} was already ${verb === "stop" ? "stopped" : "running"}`,
            );
            return 0;
        }
        case "freeze":
        case "thaw": {
            allowOnly(p, []);
            const [verb, host] = p.positional;
            if (!host) throw new UsageError(`usage: ${verb} <host>`);
            const n = verb === "freeze" ? freezeHost(host, dir) : thawHost(host, dir);
            say(`${host}: ${n} process${n === 1 ? "" : "es"} ${verb === "freeze" ? "frozen" : "thawed"}`);
            return 0;
        }
        case "audit": {
            allowOnly(p, ["--host"]);
            if (!readState(dir)) throw new Error(`No sandbox at ${dir}.`);
            const host = one(p, "--host");
            for (const e of readAudit(dir)) if (!host || e.host === host) say(JSON.stringify(e));
            return 0;
        }
        default:
            throw new UsageError(`Unknown command ${cmd}. Run \`npm run sandbox -- --help\`.`);
    }
}

main(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (e: unknown) => {
        console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
        process.exitCode = e instanceof UsageError ? 2 : 1;
    },
);
