/**
 * The profile of one node's upgrade through the engine: where each 100 ms goes between the engine
 * starting a node's command and the engine recording it done. Sources, all on this machine's clock:
 *   - the tool's own `--json` events (`node upgrading` when the engine starts the node's command,
 *     `node healthy` when it has its result; run, live-state, preflight and staging events);
 *   - a bash xtrace of every SSH session on the sandbox hosts: the sandbox's clean login HOME gets a
 *     `.bashrc` that turns on `set -x` with `PS4='+ $EPOCHREALTIME $$ '` (exported as BASH_ENV, so the
 *     node script's own `bash -c` is traced too), one file per session. The trace costs a little
 *     itself (a line per command); the profile's `up` is therefore not the timed one.
 * The parsing here is pure (unit-tested); the bench (run.ts) runs the traced `up`.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { engineEnv, projectRoot, pulumiBinary } from "../engine/env";
import { sshRun, SshTarget } from "../sandbox/ssh";

// ------------------------------------------------------------------ trace files

/** One traced command: when it began (epoch seconds), its nesting (number of `+`), its text (first line). */
export interface TraceLine {
    t: number;
    depth: number;
    text: string;
}

export interface Session {
    pid: number;
    lines: TraceLine[];
}

/**
 * The bash start-up file that turns the trace on, for `login-home/.pf-env.sh` (traceDir: one file per shell).
 * The trace's descriptor is one bash picks above 9 (`{var}`): the scripts take 9 for the host's lock
 * (lib/shell.ts hostLockLines), and a fixed 9 here lost every traced line after the lock.
 */
export function traceEnvScript(traceDir: string): string {
    return [`PS4='+ $EPOCHREALTIME $$ '`, `exec {pf_trace_fd}>>"${traceDir}/$$"`, "BASH_XTRACEFD=$pf_trace_fd", "set -x", ""].join("\n");
}

/** The `.bashrc` of the clean login HOME during the profile: every shell of the session traced. */
export function traceBashrc(envFile: string): string {
    return `export BASH_ENV=${envFile}\n. "$BASH_ENV"\n`;
}

/** Reads one trace file: lines `+... <epoch.us> <pid> <command>`; continuation lines of a multi-line command are dropped. */
export function parseTrace(text: string, pid: number): Session {
    const lines: TraceLine[] = [];
    for (const l of text.split("\n")) {
        const m = /^(\++) (\d+\.\d+) (\d+) (.*)$/.exec(l);
        if (m && Number(m[3]) === pid) lines.push({ t: Number(m[2]), depth: m[1].length, text: m[4] });
    }
    return { pid, lines };
}

export function readSessions(traceDir: string): Session[] {
    if (!fs.existsSync(traceDir)) return [];
    return fs
        .readdirSync(traceDir)
        .filter((f) => /^\d+$/.test(f))
        .map((f) => parseTrace(fs.readFileSync(path.join(traceDir, f), "utf8"), Number(f)))
        .filter((s) => s.lines.length > 0);
}

/** A depth-1 assignment `name=value` of the session (its first one). */
function assigned(s: Session, name: string): string | undefined {
    const l = s.lines.find((x) => x.depth === 1 && x.text.startsWith(`${name}=`));
    return l ? l.text.slice(name.length + 1).replace(/^'|'$/g, "") : undefined;
}

/** What one SSH session ran, from the variables its script sets first (lib/shell.ts, lib/probe.ts). */
export function sessionKind(s: Session): "node" | "preflight" | "unpack" | "prepare" | "live" | "other" {
    const has = (name: string) => assigned(s, name) !== undefined;
    if (has("health_path") && has("timeout") && has("svc")) return "node";
    if (has("minfree")) return "preflight";
    if (has("tarball")) return "unpack";
    if (s.lines.some((l) => l.text.includes("SCMUP prepared="))) return "prepare";
    if (s.lines.some((l) => l.text.includes("SCMUP live "))) return "live";
    return "other";
}

// ------------------------------------------------------------------ one node's script

/** Buckets of a node script's own time, in the order they happen. */
export const SCRIPT_BUCKETS = [
    "version reads (jar names)",
    "control script list calls",
    "scmupgrade.py (stop, replace, start, T)",
    "health gate: polls",
    "health gate: sleeps",
    "other script steps",
] as const;
export type ScriptBucket = (typeof SCRIPT_BUCKETS)[number];

export interface NodeScriptProfile {
    host: string;
    service: string;
    /** The login shell's first traced command (after sshd's session set-up and the shell's start-up files). */
    shellStart: number;
    /** The node script's first command (`set -u`), in its own `bash -c`. */
    scriptStart: number;
    /** The script's last command. */
    scriptEnd: number;
    ms: Record<ScriptBucket, number>;
    /** How many health polls (`healthy <port>` calls) and control-script `list` calls ran. */
    polls: number;
    listCalls: number;
    /** ms from the end of scmupgrade.py to the first health poll. */
    firstPollDelayMs: number;
}

/**
 * A node script's time by bucket. The trace prints each command as it begins; a depth-1 statement and the
 * deeper lines just before it (its command substitutions) form one group, which lasts until the next
 * group begins.
 */
export function profileNodeScript(s: Session): NodeScriptProfile {
    const lines = s.lines;
    const scriptIdx = lines.findIndex((l) => l.depth === 1 && l.text === "set -u");
    if (scriptIdx < 0) throw new Error(`session ${s.pid}: no node script in the trace`);
    // A trace that stops before the result line would put the rest of the script in no bucket at all.
    if (!lines.some((l) => l.text.includes("SCMUP result="))) throw new Error(`session ${s.pid}: the node script's trace ends before its result line`);
    const ms = Object.fromEntries(SCRIPT_BUCKETS.map((b) => [b, 0])) as Record<ScriptBucket, number>;
    let polls = 0;
    let listCalls = 0;
    let upgradeEnd: number | undefined;
    let firstPoll: number | undefined;
    // Groups: [start, end) line indexes.
    const groups: [number, number][] = [];
    let start = scriptIdx;
    for (let i = scriptIdx; i < lines.length; i++) {
        if (lines[i].depth === 1) {
            groups.push([start, i + 1]);
            start = i + 1;
        }
    }
    if (start < lines.length) groups.push([start, lines.length]);
    for (let g = 0; g < groups.length; g++) {
        const [a, b] = groups[g];
        const next = g + 1 < groups.length ? lines[groups[g + 1][0]].t : lines[lines.length - 1].t;
        const span = Math.max(0, (next - lines[a].t) * 1000);
        const body = lines.slice(a, b);
        const head = body[body.length - 1].text;
        if (body.some((l) => l.text.startsWith("healthy "))) {
            let sleeps = 0;
            for (let i = a; i < b; i++) {
                const l = lines[i];
                if (l.text.startsWith("healthy ")) {
                    polls++;
                    if (firstPoll === undefined) firstPoll = l.t;
                }
                if (/^sleep /.test(l.text)) sleeps += ((i + 1 < lines.length ? lines[i + 1].t : l.t) - l.t) * 1000;
            }
            ms["health gate: sleeps"] += sleeps;
            ms["health gate: polls"] += Math.max(0, span - sleeps);
        } else if (head.startsWith("./scmupgrade.py ") || body.some((l) => l.text.startsWith("./scmupgrade.py "))) {
            // run directly, or inside `out=$(...)` (its output held in a variable)
            ms["scmupgrade.py (stop, replace, start, T)"] += span;
            upgradeEnd = next;
        } else if (body.some((l) => / list -m /.test(l.text))) {
            listCalls += body.filter((l) => / list -m /.test(l.text)).length;
            ms["control script list calls"] += span;
        } else if (body.some((l) => l.text.startsWith("installed_version "))) {
            ms["version reads (jar names)"] += span;
        } else {
            ms["other script steps"] += span;
        }
    }
    return {
        host: assigned(s, "host") ?? "?",
        service: assigned(s, "svc") ?? "?",
        shellStart: lines[0].t,
        scriptStart: lines[scriptIdx].t,
        scriptEnd: lines[lines.length - 1].t,
        ms,
        polls,
        listCalls,
        firstPollDelayMs: upgradeEnd !== undefined && firstPoll !== undefined ? Math.max(0, (firstPoll - upgradeEnd) * 1000) : 0,
    };
}

// ------------------------------------------------------------------ one node through the engine

/** The whole of one node, from the engine's `upgrading` to the next node's `upgrading`. */
export const NODE_BUCKETS = [
    "engine: previous node recorded -> this node's command started",
    "SSH dial, handshake, auth, session, login shell",
    "login shell -> node script's bash -c running",
    ...SCRIPT_BUCKETS.map((b) => `script: ${b}`),
    "script ended -> engine has the result",
] as const;
export type NodeBucket = (typeof NODE_BUCKETS)[number];

export interface NodeProfile {
    node: string;
    totalMs: number;
    ms: Record<NodeBucket, number>;
    polls: number;
    listCalls: number;
    firstPollDelayMs: number;
}

/** A `--json` progress event of the tool, as far as the profile reads it. */
export interface Ev {
    type: string;
    time: string;
    host?: string;
    service?: string;
    status?: string;
    seconds?: number;
    operation?: string;
}

const at = (e: Ev) => Date.parse(e.time) / 1000;

/** Per node: the engine's events joined with the node's traced session. */
export function profileNodes(events: Ev[], sessions: Session[]): NodeProfile[] {
    const scripts = new Map<string, NodeScriptProfile>();
    for (const s of sessions) {
        if (sessionKind(s) !== "node") continue;
        const p = profileNodeScript(s);
        scripts.set(`${p.host}/${p.service}`, p);
    }
    const out: NodeProfile[] = [];
    // The previous step's end: staging done for the first node, then the previous node.
    let previousDone = Math.max(0, ...events.filter((e) => e.type === "staging" && e.status === "staged").map(at));
    for (const e of events) {
        if (e.type !== "node" || e.status !== "upgrading") continue;
        const key = `${e.host}/${e.service}`;
        const done = events.find((x) => x.type === "node" && `${x.host}/${x.service}` === key && (x.status === "healthy" || x.status === "skipped"));
        const script = scripts.get(key);
        if (!done || !script) continue;
        const pre = at(e);
        const end = at(done);
        const ms = {} as Record<NodeBucket, number>;
        ms["engine: previous node recorded -> this node's command started"] = previousDone > 0 ? (pre - previousDone) * 1000 : 0;
        ms["SSH dial, handshake, auth, session, login shell"] = (script.shellStart - pre) * 1000;
        ms["login shell -> node script's bash -c running"] = (script.scriptStart - script.shellStart) * 1000;
        for (const b of SCRIPT_BUCKETS) ms[`script: ${b}` as NodeBucket] = script.ms[b];
        ms["script ended -> engine has the result"] = (end - script.scriptEnd) * 1000;
        out.push({
            node: key,
            totalMs: Object.values(ms).reduce((a, x) => a + x, 0),
            ms,
            polls: script.polls,
            listCalls: script.listCalls,
            firstPollDelayMs: script.firstPollDelayMs,
        });
        previousDone = end;
    }
    return out;
}

/** The run around the nodes: from the process start to its exit, by phase (seconds). */
export function runPhases(events: Ev[], processStart: number, processEnd: number): { phase: string; seconds: number }[] {
    const first = (pred: (e: Ev) => boolean) =>
        events
            .filter(pred)
            .map(at)
            .sort((a, b) => a - b)[0];
    const last = (pred: (e: Ev) => boolean) =>
        events
            .filter(pred)
            .map(at)
            .sort((a, b) => b - a)[0];
    const started = first((e) => e.type === "run-started");
    const live = events.find((e) => e.type === "live-state");
    const liveEnd = live ? at(live) : started;
    const pf0 = first((e) => e.type === "preflight" && e.status === "running");
    const pf1 = last((e) => e.type === "preflight" && e.status === "ok");
    const st0 = first((e) => e.type === "staging" && e.status === "running");
    const st1 = last((e) => e.type === "staging" && e.status === "staged");
    const n0 = first((e) => e.type === "node" && e.status === "upgrading");
    const n1 = last((e) => e.type === "node" && (e.status === "healthy" || e.status === "skipped"));
    const fin = first((e) => e.type === "run-finished");
    const phases: [string, number | undefined, number | undefined][] = [
        ["CLI start, config, stack selected", processStart, started],
        ["live-state read over SSH (every host at once)", started, liveEnd],
        ["engine start, program registration -> first preflight", liveEnd, pf0],
        ["preflight (every host at once)", pf0, pf1],
        ["last preflight done -> first staging started (negative: they overlap)", pf1, st0],
        ["staging (every host at once)", st0, st1],
        ["nodes, first started -> last recorded", n0 ?? st1, n1],
        ["engine finishing (outputs, state) -> run-finished", n1, fin],
        ["run-finished -> process exit (report, exit)", fin, processEnd],
    ];
    return phases.filter(([, a, b]) => a !== undefined && b !== undefined).map(([phase, a, b]) => ({ phase, seconds: (b as number) - (a as number) }));
}

// ------------------------------------------------------------------ rendering

export interface ProfileReport {
    hosts: number;
    slowSeconds: number;
    /** Wall time of the traced `up`. */
    upSeconds: number;
    nodes: NodeProfile[];
    phases: { phase: string; seconds: number }[];
    /** The minimal time (critical path) of each node, seconds. */
    minimalSeconds: Record<string, number>;
    /** `ssh true` (OpenSSH client): clean login HOME, and with the login user's own ~/.bashrc. */
    sshTrueMs?: { clean: number; heavy: number; bashrc: string };
    load: string;
    /** The command provider that ran (engine/env.ts commandProviderKind). */
    provider: string;
    /** What any `up` of this design pays at this host count, whatever the tool does (`floorOf`). */
    floor?: Floor;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : 0);

export function renderProfile(p: ProfileReport): string {
    const rows: string[][] = [["where one node's time goes (mean of " + p.nodes.length + " nodes)", "ms", "per node min / max"]];
    for (const b of NODE_BUCKETS) {
        const xs = p.nodes.map((n) => n.ms[b]);
        rows.push([b, mean(xs).toFixed(0), `${Math.min(...xs).toFixed(0)} / ${Math.max(...xs).toFixed(0)}`]);
    }
    const totals = p.nodes.map((n) => n.totalMs);
    rows.push(["total per node", mean(totals).toFixed(0), `${Math.min(...totals).toFixed(0)} / ${Math.max(...totals).toFixed(0)}`]);
    const minimal = mean(p.nodes.map((n) => (p.minimalSeconds[n.node] ?? 0) * 1000));
    rows.push(["  of which the node's minimal time (critical path)", minimal.toFixed(0), ""]);
    rows.push(["  overhead over the minimal time", (mean(totals) - minimal).toFixed(0), ""]);
    const polls = mean(p.nodes.map((n) => n.polls));
    const lists = mean(p.nodes.map((n) => n.listCalls));
    const firstPoll = mean(p.nodes.map((n) => n.firstPollDelayMs));
    const w = Math.max(...rows.map((r) => r[0].length));
    const lines = [
        `profile of one node's upgrade through the engine (${p.provider} command provider), ${p.hosts} hosts, T = ${p.slowSeconds} s (traced up: ${p.upSeconds.toFixed(1)} s; load ${p.load})`,
        ...rows.map((r, i) => `${r[0].padEnd(w)}  ${r[1].padStart(6)}  ${r[2]}${i === 0 ? "" : ""}`),
        `health polls per node ${polls.toFixed(1)}, first poll ${firstPoll.toFixed(0)} ms after scmupgrade.py ended; control-script list calls per node ${lists.toFixed(1)}; SSH commands per node 1`,
    ];
    if (p.sshTrueMs) {
        lines.push(
            `ssh <host> true (OpenSSH client): ${p.sshTrueMs.clean.toFixed(0)} ms with the clean login HOME; ${p.sshTrueMs.heavy.toFixed(0)} ms with ${p.sshTrueMs.bashrc} (+${(p.sshTrueMs.heavy - p.sshTrueMs.clean).toFixed(0)} ms on every SSH command)`,
        );
    }
    const pw = Math.max(...p.phases.map((x) => x.phase.length));
    lines.push("", "the run around the nodes (s):", ...p.phases.map((x) => `${x.phase.padEnd(pw)}  ${x.seconds.toFixed(2).padStart(6)}`));
    if (p.floor) lines.push("", renderFloor(p.floor, p.hosts));
    return lines.join("\n");
}

// ------------------------------------------------------------------ the floor

/** Parts that every `up` of this design pays before its first step, timed on their own (seconds). */
export interface FloorParts {
    /** Node.js with the Pulumi SDK loaded: the Automation API's process has it before it starts the CLI. */
    sdkLoadSeconds: number;
    /** The Pulumi CLI from its start to its stack's secrets opened (the passphrase's key derivation), as every engine run begins. */
    cliStartSeconds: number;
}

export interface Floor {
    criticalPathSeconds: number;
    rows: { part: string; seconds: number }[];
    perNodeMs: number;
    seconds: number;
}

/** The parts of one node's time through the engine that no tool of this design can leave out. */
const FLOOR_NODE_BUCKETS: NodeBucket[] = [
    "SSH dial, handshake, auth, session, login shell",
    "script: control script list calls",
    "engine: previous node recorded -> this node's command started",
    "script ended -> engine has the result",
];

/**
 * The floor of `up`: the critical path plus what its parts cost with no work of the tool's own. The Automation
 * API's process with the SDK loaded, then the Pulumi CLI's start with its key derivation (one after the other:
 * the CLI is started by that process); preflight and staging, one SSH login each (every host at once); and per
 * node, the command provider's SSH login (with the login shell), the one call of the vendor's control script the
 * safety checks need (which nodes run before `--start`), and the engine's step before and after the command
 * (the profile's means, times the planned node count: parallelism 1). Everything else a run does (config, live
 * read, registration, the scripts' other steps) is left out, so the floor is below what any run can reach.
 */
export function floorOf(nodes: NodeProfile[], nodeCount: number, criticalPathSeconds: number, parts: FloorParts): Floor {
    const m = (b: NodeBucket) => mean(nodes.map((n) => n.ms[b]));
    const [ssh, list, before, after] = FLOOR_NODE_BUCKETS.map(m);
    const perNodeMs = ssh + list + before + after;
    const rows = [
        { part: "critical path", seconds: criticalPathSeconds },
        { part: "Node.js with the Pulumi SDK loaded (the Automation API's process)", seconds: parts.sdkLoadSeconds },
        { part: "the Pulumi CLI's start, to its secrets opened (key derivation)", seconds: parts.cliStartSeconds },
        { part: "preflight and staging: one SSH login each (every host at once)", seconds: (2 * ssh) / 1000 },
        {
            part: `${nodeCount} nodes x ${perNodeMs.toFixed(0)} ms: SSH login ${ssh.toFixed(0)}, control-script list ${list.toFixed(0)}, engine step ${(before + after).toFixed(0)}`,
            seconds: (nodeCount * perNodeMs) / 1000,
        },
    ];
    return { criticalPathSeconds, rows, perNodeMs, seconds: rows.reduce((a, r) => a + r.seconds, 0) };
}

export function renderFloor(f: Floor, hosts: number): string {
    const w = Math.max(...f.rows.map((r) => r.part.length));
    return [
        `the floor of \`up\` at ${hosts} hosts: the critical path plus its parts, with no work of the tool's own (s)`,
        ...f.rows.map((r) => `${r.part.padEnd(w)}  ${r.seconds.toFixed(2).padStart(6)}`),
        `${"floor".padEnd(w)}  ${f.seconds.toFixed(2).padStart(6)}  = ${(f.seconds / f.criticalPathSeconds).toFixed(2)} x the critical path (target of \`up\`: <= 1.15 x)`,
    ].join("\n");
}

// ------------------------------------------------------------------ on a sandbox

export interface TracePaths {
    home: string;
    traceDir: string;
    envFile: string;
    bashrc: string;
}

/** The sandbox's clean login HOME (sandbox/cluster.ts writes it into the authorized key). */
export function tracePaths(sandboxDir: string): TracePaths {
    const home = path.join(sandboxDir, "login-home");
    return { home, traceDir: path.join(home, "scm-trace"), envFile: path.join(home, ".scm-trace-env.sh"), bashrc: path.join(home, ".bashrc") };
}

/** Every SSH session of the sandbox traced from now on (one file per shell in traceDir). */
export function startTrace(p: TracePaths): void {
    fs.rmSync(p.traceDir, { recursive: true, force: true });
    fs.mkdirSync(p.traceDir, { recursive: true });
    fs.writeFileSync(p.envFile, traceEnvScript(p.traceDir));
    fs.writeFileSync(p.bashrc, traceBashrc(p.envFile));
}

/** The clean login HOME as the sandbox made it: no start-up file. */
export function stopTrace(p: TracePaths): void {
    fs.rmSync(p.bashrc, { force: true });
    fs.rmSync(p.envFile, { force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall time of a command run to its end, median of `runs` (seconds); throws when it fails. */
function timed(what: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, runs = 3): number {
    const s: number[] = [];
    for (let i = 0; i < runs; i++) {
        const t0 = process.hrtime.bigint();
        const r = spawnSync(cmd, args, { cwd: projectRoot, env, stdio: ["ignore", "ignore", "pipe"] });
        if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${String(r.stderr).trim().split("\n").pop()}`);
        s.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return median(s);
}

/** `FloorParts`, timed on this machine: the SDK's load as the tool loads it, and the CLI on the traced up's stack. */
export function floorParts(stack: string, backendUrl: string): FloorParts {
    const load = "require('@pulumi/pulumi/automation'); require('@pulumi/pulumi'); require('@pulumi/command')";
    return {
        sdkLoadSeconds: timed("loading the Pulumi SDK", process.execPath, ["-r", path.join(projectRoot, "bin", "loader.js"), "-e", load], process.env),
        cliStartSeconds: timed("pulumi config --show-secrets", pulumiBinary(), ["config", "--json", "--show-secrets", "--stack", stack], {
            ...process.env,
            ...engineEnv({ backendUrl }),
        }),
    };
}

/**
 * `ssh <host> true` with the OpenSSH client, median of `runs`: with the clean login HOME, and with the login
 * user's own ~/.bashrc sourced (HOME set back to the real one, as a plain login would have it).
 */
export async function sshTrueMs(t: SshTarget, p: TracePaths, runs = 7): Promise<{ clean: number; heavy: number; bashrc: string } | undefined> {
    const real = path.join(os.userInfo().homedir, ".bashrc");
    const time = async () => {
        const ms: number[] = [];
        for (let i = 0; i < runs; i++) {
            const r = await sshRun(t, "true");
            if (r.code !== 0) throw new Error(`ssh ${t.address} true exited ${r.code}: ${r.stderr.trim()}`);
            ms.push(r.ms);
        }
        return median(ms);
    };
    stopTrace(p);
    const clean = await time();
    if (!fs.existsSync(real)) return undefined;
    fs.writeFileSync(p.bashrc, `HOME=${os.userInfo().homedir}\n. ${real}\n`);
    try {
        return { clean, heavy: await time(), bashrc: real };
    } finally {
        fs.rmSync(p.bashrc, { force: true });
    }
}
