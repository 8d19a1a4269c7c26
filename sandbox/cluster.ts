import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { applyInterpreter } from "./faults";
import { installHost } from "./install";
import { killProcesses, listProcesses, nodePids, ProcInfo, sandboxProcesses, signalAll, withDescendants } from "./processes";
import { buildRelease } from "./release";
import { currentGroup, currentUser, ensureKeyPair, killAndWait, portAccepts, startSshd } from "./sshd";
import {
    DEFAULT_NET,
    DEFAULT_SSH_PORT,
    findHost,
    hostPaths,
    readState,
    RELEASE_NAME,
    sandboxDir,
    ScriptBehaviour,
    SCRIPT_BEHAVIOURS,
    SandboxHostState,
    SandboxState,
    SOURCE_VERSION,
    TARGET_VERSION,
    writeState,
} from "./state";
import { SandboxService, scaledTopology, SERVICE_LAYOUT, topologyProblems } from "./topology";

export type Log = (line: string) => void;

export interface UpOptions {
    /** Sandbox folder. Default `$SCM_SANDBOX_DIR` or `<repo>/.sandbox`. */
    dir?: string;
    /** Number of hosts (>= 4; 4 is the seed's A-D). Default: the existing sandbox's, else 4. */
    hosts?: number;
    /** Second octet of the host addresses, 127.<net>.x.y. Default 10 (or the existing sandbox's). */
    net?: number;
    /** The sshd port of every host. Default 2222. */
    sshPort?: number;
    /** Hosts brought up at once. Default 16. */
    concurrency?: number;
    /** Progress lines. Default: none. */
    log?: Log;
    /** Also write the stack config of stack `sandbox`. Default true. */
    stackConfig?: boolean;
    /** The stack whose config `up` writes. Default `sandbox`. */
    stackName?: string;
    /** Let every host's sshd accept passwords too (checked against /etc/shadow: root only). Default false, or the existing sandbox's. */
    passwordAuthentication?: boolean;
    /** Which vendor scmupgrade.py the release carries. Default 3.2.0, or the existing sandbox's; a change rebuilds the release package. */
    script?: ScriptBehaviour;
}

export interface UpResult {
    state: SandboxState;
    /** True when everything was already running and nothing was done. */
    alreadyUp: boolean;
    /** What was started: sshd servers and nodes. */
    started: { sshd: number; nodes: number };
    /** Where the stack config went (`stack` via the Automation API, or a JSON `file`), when written. */
    stackConfig?: { written: "stack" | "file"; path: string; warning?: string };
    ms: number;
}

const quiet: Log = () => undefined;

/** Runs `fn` over `items` with at most `limit` at once; rejects with the first error after all settle. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
    const out: R[] = new Array(items.length);
    const errors: unknown[] = [];
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            try {
                out[i] = await fn(items[i], i);
            } catch (e) {
                errors.push(e);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    if (errors.length) throw errors[0];
    return out;
}

export function installDir(host: SandboxHostState, service: SandboxService): string {
    return path.join(host.installRoot, SERVICE_LAYOUT[service].folder);
}

export function confDir(host: SandboxHostState, service: SandboxService, type: string, port: number): string {
    return path.join(installDir(host, service), "conf", type, String(port));
}

/** Runs a command, resolving with its exit code and output (never rejects on a non-zero exit). */
export function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
}

/** Runs a host's control script, as the sandbox (not audited). */
export function runCtl(host: SandboxHostState, service: SandboxService, args: string[]) {
    const ctl = path.join(installDir(host, service), "bin", SERVICE_LAYOUT[service].ctl);
    return run("bash", [ctl, ...args], { ...process.env, SCM_SANDBOX_INTERNAL: "1" });
}

function newState(dir: string, n: number, net: number, sshPort: number): SandboxState {
    const keys = path.join(dir, "keys");
    const hosts = scaledTopology(n, net).map((spec): SandboxHostState => {
        const p = hostPaths(dir, spec.name);
        return { ...spec, sshPort, hostDir: p.hostDir, root: p.root, installRoot: p.installRoot, stagingDir: p.stagingDir };
    });
    const problems = topologyProblems(hosts);
    if (problems.length) throw new Error(`Sandbox topology for ${n} hosts is wrong: ${problems.join("; ")}.`);
    return {
        version: 1,
        dir,
        createdAt: new Date().toISOString(),
        net,
        user: currentUser(),
        group: currentGroup(),
        clientKeyPath: path.join(keys, "id_ed25519"),
        authorizedKeysFile: path.join(keys, "authorized_keys"),
        packagePath: path.join(dir, "release", RELEASE_NAME),
        sourceVersion: SOURCE_VERSION,
        targetVersion: TARGET_VERSION,
        hosts,
    };
}

/** The service-center address the nodes of a host register with (its center's first service-center). */
function serviceCenterFor(state: SandboxState) {
    return (h: SandboxHostState) => {
        const sc = state.hosts.find((x) => x.center === h.center && x.nodes.some((n) => n.type === "service-center"));
        return sc ? `${sc.address}:8800` : "127.0.0.1:8800";
    };
}

/** Builds the files of a fresh sandbox: keys, every host's 3.1.2 install, the 3.2.0 release package. */
function build(state: SandboxState, log: Log): void {
    fs.mkdirSync(state.dir, { recursive: true });
    ensureKeyPair(state.clientKeyPath);
    writeAuthorizedKeys(state);
    fs.chmodSync(path.dirname(state.clientKeyPath), 0o755);
    log(`installing SequoiaCM ${state.sourceVersion} on ${state.hosts.length} hosts`);
    const sc = serviceCenterFor(state);
    for (const h of state.hosts) {
        installHost(h, state.dir, state.sourceVersion, sc);
        applyInterpreter(state, h.name, undefined);
    }
    log(`building the release package ${RELEASE_NAME} (scmupgrade.py: ${state.script ?? "3.2.0"})`);
    buildRelease(state.dir, state.script ?? "3.2.0");
    writeState(state);
}

/** The pid of a host's sshd listener. sshd retitles itself ("sshd: /usr/sbin/sshd -D -e -f <cfg> [listener] ..."). */
function sshdRunning(h: SandboxHostState, procs: ProcInfo[]): number | undefined {
    const flag = `-f ${path.join(h.hostDir, "sshd", "sshd_config")}`;
    const listeners = procs.filter((x) => {
        const line = x.args.join(" ");
        return (line.includes(`${flag} `) || line.endsWith(flag)) && !/ -R( |$)/.test(line);
    });
    return (listeners.find((x) => x.pid === h.sshdPid) ?? listeners[0])?.pid;
}

/**
 * The sandbox's authorized key, with a clean, empty HOME for its sessions: the login user's own
 * ~/.bashrc (on this project's machines root's runs `pyenv init`, 0.2 s and more on every SSH
 * command) is not the cluster's, and would blur every timing. Password logins keep the real HOME.
 */
function writeAuthorizedKeys(state: SandboxState): void {
    const home = path.join(state.dir, "login-home");
    fs.mkdirSync(home, { recursive: true, mode: 0o755 });
    const pub = fs.readFileSync(`${state.clientKeyPath}.pub`, "utf8").trim();
    fs.writeFileSync(state.authorizedKeysFile, `environment="HOME=${home}" ${pub}\n`, { mode: 0o644 });
}

async function startHostSshdIn(state: SandboxState, h: SandboxHostState): Promise<void> {
    writeAuthorizedKeys(state);
    const s = await startSshd({
        keyEnvironmentHome: true,
        address: h.address,
        port: h.sshPort,
        dir: path.join(h.hostDir, "sshd"),
        clientKeyPath: state.clientKeyPath,
        authorizedKeysFile: state.authorizedKeysFile,
        passwordAuthentication: state.passwordAuthentication ?? false,
        detached: true,
    });
    h.sshdPid = s.pid;
    h.hostPublicKey = s.hostPublicKey;
}

/** Python for the node processes: the system one (a pyenv shim costs 80 ms a start). */
export const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/**
 * Starts one node the way its control script does (same command line, so the scripts find it), without
 * the script's own start-up cost, and waits until it answers its health check. Resolves with a problem
 * text, or undefined when the node is up.
 */
export async function startNode(h: SandboxHostState, service: SandboxService, type: string, port: number, timeoutMs = 20000): Promise<string | undefined> {
    const install = installDir(h, service);
    const conf = confDir(h, service, type, port);
    const logDir = path.join(install, "log", type, String(port));
    fs.mkdirSync(logDir, { recursive: true });
    const out = fs.openSync(path.join(logDir, "sandbox-node.out"), "a");
    const child = spawn(python, ["-S", "-B", path.join(install, "bin", "sandbox_node.py"), `scm-node:${conf}`], {
        cwd: install,
        detached: true,
        stdio: ["ignore", out, out],
        env: { ...process.env, SCM_SANDBOX_INTERNAL: "1" },
    });
    fs.closeSync(out);
    let exited = false;
    child.once("exit", () => (exited = true));
    child.unref();
    const version = installedVersion(install, service, type);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        await new Promise((r) => setTimeout(r, 100));
        if (exited) return "the node process exited at start (see its sandbox-node.out)";
        const is32 = !!version && version.localeCompare("3.2.0", undefined, { numeric: true }) >= 0;
        if (Date.now() > deadline) return "no answer on its port";
        const r = await httpJson(h.address, port, is32 ? "/internal/v1/health" : "/health", 1000);
        if (!r.code) continue;
        return r.body?.status === "UP" ? undefined : `health ${r.body?.status ?? r.code}`;
    }
}

/** Waits until a content-server node's Node-Status turns from `starting` to `running`. */
export async function waitContentRunning(address: string, port: number, timeoutMs = 20000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const c = await httpJson(address, port, "/api/v1/conf-properties?keys=Node-Status", 1000);
        const s = c.body?.conf?.["Node-Status"];
        if (s === "running") return undefined;
        if (Date.now() > deadline) return `Node-Status ${s ?? "unknown"}`;
        await new Promise((r) => setTimeout(r, 200));
    }
}

/** Services of a host with at least one node not running. */
function servicesToStart(h: SandboxHostState, procs: ProcInfo[]): SandboxService[] {
    return h.services.filter((s) => h.nodes.some((n) => n.service === s && nodePids(confDir(h, s, n.type, n.port), procs).length === 0));
}

/**
 * Brings the sandbox up: builds it when absent (a fresh 3.1.2 cluster), then starts every sshd and
 * every node that is not running. Idempotent: when all runs already, does nothing and says so.
 */
export async function up(o: UpOptions = {}): Promise<UpResult> {
    const t0 = Date.now();
    const log = o.log ?? quiet;
    const dir = sandboxDir(o.dir);
    let state = readState(dir);
    if (o.script !== undefined && !SCRIPT_BEHAVIOURS.includes(o.script))
        throw new Error(`--script must be ${SCRIPT_BEHAVIOURS.join(" or ")}, got ${o.script}.`);
    if (state && o.hosts !== undefined && o.hosts !== state.hosts.length) {
        throw new Error(
            `The sandbox at ${dir} has ${state.hosts.length} hosts, not ${o.hosts}: run \`npm run sandbox -- reset --hosts ${o.hosts}\` to rebuild it.`,
        );
    }
    if (!state) {
        fs.mkdirSync(dir, { recursive: true });
        // Real path: node processes are found by their conf path, which must be spelled one way.
        state = newState(fs.realpathSync(dir), o.hosts ?? 4, o.net ?? DEFAULT_NET, o.sshPort ?? DEFAULT_SSH_PORT);
        if (o.passwordAuthentication) state.passwordAuthentication = true;
        state.script = o.script ?? "3.2.0";
        build(state, log);
    } else if (o.passwordAuthentication !== undefined && o.passwordAuthentication !== !!state.passwordAuthentication) {
        throw new Error(
            `The sandbox at ${dir} was built ${state.passwordAuthentication ? "with" : "without"} password authentication: run reset to change it.`,
        );
    } else if (!fs.existsSync(state.packagePath) || (o.script !== undefined && o.script !== (state.script ?? "3.2.0"))) {
        state.script = o.script ?? state.script ?? "3.2.0";
        log(`building the release package ${RELEASE_NAME} (scmupgrade.py: ${state.script})`);
        buildRelease(dir, state.script);
        writeState(state);
    }
    const st = state;
    // Sandboxes built before the interpreter existed get each host's working /usr/bin/python.
    for (const h of st.hosts) {
        const faults = path.join(h.hostDir, "faults.json");
        const broken = fs.existsSync(faults) && (JSON.parse(fs.readFileSync(faults, "utf8")) as { interpreter?: string }).interpreter;
        if (!broken && !lexists(hostPaths(st.dir, h.name).interpreter)) applyInterpreter(st, h.name, undefined);
    }
    // The stack config needs only paths and the key: write it while the hosts come up.
    const config = (o.stackConfig ?? true) ? import("./stackConfig").then((m) => m.writeSandboxStackConfig(st, { log, stackName: o.stackName })) : undefined;
    config?.catch(() => undefined);
    const procs = listProcesses();
    const needSshd = st.hosts.filter((h) => !sshdRunning(h, procs));
    const needNodes = st.hosts.map((h) => ({ h, services: servicesToStart(h, procs) })).filter((x) => x.services.length);
    const started = { sshd: 0, nodes: 0 };
    if (needSshd.length || needNodes.length) {
        const limit = o.concurrency ?? 16;
        if (needSshd.length) log(`starting sshd on ${needSshd.length} host(s)`);
        let done = 0;
        await mapLimit(needSshd, limit, async (h) => {
            await startHostSshdIn(st, h);
            started.sshd++;
            if (++done % 50 === 0) log(`  sshd ${done}/${needSshd.length}`);
        });
        writeState(st);
        const nodes = needNodes.flatMap((x) => x.services.flatMap((s) => x.h.nodes.filter((n) => n.service === s).map((n) => ({ h: x.h, n }))));
        const running = listProcesses();
        const toStart = nodes.filter(({ h, n }) => nodePids(confDir(h, n.service, n.type, n.port), running).length === 0);
        if (toStart.length) log(`starting ${toStart.length} node(s) on ${needNodes.length} host(s)`);
        done = 0;
        const failures: string[] = [];
        await mapLimit(toStart, limit, async ({ h, n }) => {
            const problem = await startNode(h, n.service, n.type, n.port);
            started.nodes++;
            if (problem) failures.push(`${h.name} ${n.type}(${n.port}): ${problem}`);
            if (++done % 100 === 0) log(`  nodes ${done}/${toStart.length}`);
        });
        // Content-server nodes report Node-Status "starting" for a moment: up returns a ready cluster.
        const contents = toStart.filter(({ n }) => n.service === "content-server");
        await mapLimit(contents, 64, async ({ h, n }) => {
            if (failures.some((f) => f.startsWith(`${h.name} ${n.type}(${n.port})`))) return;
            const problem = await waitContentRunning(h.address, n.port);
            if (problem) failures.push(`${h.name} ${n.type}(${n.port}): ${problem}`);
        });
        if (failures.length) {
            log(`warning: ${failures.length} node(s) did not start (faults set?): ${failures.slice(0, 5).join("; ")}`);
        }
    }
    const alreadyUp = started.sshd === 0 && started.nodes === 0;
    const result: UpResult = { state: st, alreadyUp, started, ms: 0 };
    if (config) result.stackConfig = await config;
    result.ms = Date.now() - t0;
    return result;
}

/** Stops every process of the sandbox (nodes, sshd servers and their sessions). Leaves the files. */
export async function down(o: { dir?: string; log?: Log } = {}): Promise<{ stopped: number }> {
    const log = o.log ?? quiet;
    const dir = sandboxDir(o.dir);
    let total = 0;
    // Two rounds: a session may start a node while the first round runs.
    for (let round = 0; round < 3; round++) {
        const victims = sandboxProcesses(dir);
        if (!victims.length) break;
        if (round === 0) log(`stopping ${victims.length} process(es)`);
        await killProcesses(victims.map((p) => p.pid));
        total += victims.length;
    }
    const state = readState(dir);
    if (state) {
        for (const h of state.hosts) delete h.sshdPid;
        writeState(state);
    }
    return { stopped: total };
}

/** Down, then a fresh 3.1.2 cluster (host keys and client key kept), then up. */
export async function reset(o: UpOptions = {}): Promise<UpResult> {
    const log = o.log ?? quiet;
    const dir = sandboxDir(o.dir);
    const old = readState(dir);
    await down({ dir, log });
    log("removing the old installs, faults and audit logs");
    const hostsDir = path.join(dir, "hosts");
    if (fs.existsSync(hostsDir)) {
        for (const name of fs.readdirSync(hostsDir)) {
            const hd = path.join(hostsDir, name);
            for (const entry of fs.readdirSync(hd)) {
                if (entry !== "sshd") fs.rmSync(path.join(hd, entry), { recursive: true, force: true });
            }
        }
    }
    fs.rmSync(path.join(dir, "release"), { recursive: true, force: true });
    fs.rmSync(path.join(dir, "sandbox.json"), { force: true });
    return up({
        ...o,
        dir,
        // Only the project's own sandbox rewrites the `sandbox` stack's config by default: a reset of another
        // one (a test's, the bench's) must not point the user's stack at it.
        stackConfig: o.stackConfig ?? dir === sandboxDir(undefined),
        hosts: o.hosts ?? old?.hosts.length,
        net: o.net ?? old?.net,
        sshPort: o.sshPort ?? old?.hosts[0]?.sshPort,
        passwordAuthentication: o.passwordAuthentication ?? old?.passwordAuthentication,
        script: o.script ?? old?.script,
    });
}

function lexists(p: string): boolean {
    try {
        fs.lstatSync(p);
        return true;
    } catch {
        return false;
    }
}

/** Stops one host's sshd (its sessions keep running, like a real sshd restart). */
export async function stopHostSshd(name: string, dir?: string): Promise<boolean> {
    const state = readState(sandboxDir(dir));
    if (!state) throw new Error(`No sandbox at ${sandboxDir(dir)}.`);
    const h = findHost(state, name);
    const pid = sshdRunning(h, listProcesses());
    if (!pid) return false;
    await killAndWait(pid);
    delete h.sshdPid;
    writeState(state);
    return true;
}

/** Starts one host's sshd again. */
export async function startHostSshd(name: string, dir?: string): Promise<boolean> {
    const state = readState(sandboxDir(dir));
    if (!state) throw new Error(`No sandbox at ${sandboxDir(dir)}.`);
    const h = findHost(state, name);
    if (sshdRunning(h, listProcesses())) return false;
    await startHostSshdIn(state, h);
    writeState(state);
    return true;
}

/**
 * A host's processes as a frozen machine would leave them: its sshd, every session and what runs in it,
 * and its nodes. Their connections stay open and their TCP port still accepts (the kernel answers), but
 * nothing answers on them: no SSH banner, no output, no end.
 */
function signalHost(name: string, dir: string | undefined, signal: NodeJS.Signals): number {
    const state = readState(sandboxDir(dir));
    if (!state) throw new Error(`No sandbox at ${sandboxDir(dir)}.`);
    const h = findHost(state, name);
    const procs = listProcesses();
    const prefix = `scm-node:${h.hostDir}/`;
    const pids = new Set(procs.filter((p) => p.args.some((a) => a.startsWith(prefix))).map((p) => p.pid));
    const sshd = sshdRunning(h, procs);
    if (sshd) pids.add(sshd);
    return signalAll([...withDescendants(pids, procs)], signal);
}

/** Freezes a host (SIGSTOP to its sshd, sessions and nodes): a machine that hangs. Returns how many processes. */
export function freezeHost(name: string, dir?: string): number {
    return signalHost(name, dir, "SIGSTOP");
}

/** Lets a frozen host go on (SIGCONT to the same processes). */
export function thawHost(name: string, dir?: string): number {
    return signalHost(name, dir, "SIGCONT");
}

// ---------------- status ----------------

export interface NodeStatus {
    service: SandboxService;
    type: string;
    port: number;
    /** From the installed jar names; null when no jar is found (e.g. mid-upgrade). */
    version: string | null;
    pid: number | null;
    /** `UP`, `DOWN`, `starting` (content-server Node-Status), or `-` when not running. */
    health: string;
}

export interface HostStatus {
    name: string;
    address: string;
    center: string;
    site?: string;
    rootSite?: boolean;
    sshPort: number;
    sshd: { pid: number | null; accepting: boolean };
    nodes: NodeStatus[];
}

export interface SandboxStatus {
    dir: string;
    built: boolean;
    packagePath?: string;
    hosts: HostStatus[];
}

/** The version in a service's installed jar names (of one node type when given). */
export function installedVersion(install: string, service: SandboxService, type?: string): string | null {
    const layout = SERVICE_LAYOUT[service];
    let names: string[];
    try {
        names = fs.readdirSync(path.join(install, layout.jarDir)).sort();
    } catch {
        return null;
    }
    const stems = type ? [layout.jars[type]] : Object.values(layout.jars);
    for (const stem of stems) {
        for (const n of names) {
            const m = new RegExp(`^${stem.replace(/[-.]/g, "\\$&")}-(\\d+\\.\\d+\\.\\d+)\\.jar$`).exec(n);
            if (m) return m[1];
        }
    }
    return null;
}

/** GET a small JSON document; resolves { code, body } or { code: 0 } when nothing answers. */
// biome-ignore lint/suspicious/noExplicitAny: a JSON document of any shape; the callers check what they read.
export function httpJson(address: string, port: number, urlPath: string, timeoutMs = 2000): Promise<{ code: number; body?: any }> {
    return new Promise((resolve) => {
        const req = http.get({ host: address, port, path: urlPath, timeout: timeoutMs, agent: false }, (res) => {
            let data = "";
            res.setEncoding("utf8");
            res.on("data", (d) => (data += d));
            res.on("end", () => {
                try {
                    resolve({ code: res.statusCode ?? 0, body: JSON.parse(data) });
                } catch {
                    resolve({ code: res.statusCode ?? 0 });
                }
            });
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve({ code: 0 }));
    });
}

/** A node's health, the way the upgrade tool asks it: by version, and Node-Status for content-server. */
export async function nodeHealth(address: string, service: SandboxService, port: number, version: string | null): Promise<string> {
    const is32 = !!version && version.localeCompare("3.2.0", undefined, { numeric: true }) >= 0;
    const r = await httpJson(address, port, is32 ? "/internal/v1/health" : "/health");
    const status = r.body?.status ? String(r.body.status) : r.code ? `HTTP ${r.code}` : "no answer";
    if (status !== "UP" || service !== "content-server") return status;
    const c = await httpJson(address, port, "/api/v1/conf-properties?keys=SCM-Version,Node-Status");
    return c.body?.conf?.["Node-Status"] === "running" ? "UP" : String(c.body?.conf?.["Node-Status"] ?? "no answer");
}

/** Every host: sshd, and per node port, installed version, pid and health. */
export async function status(o: { dir?: string; concurrency?: number } = {}): Promise<SandboxStatus> {
    const dir = sandboxDir(o.dir);
    const state = readState(dir);
    if (!state) return { dir, built: false, hosts: [] };
    const procs = listProcesses();
    const hosts = await mapLimit(state.hosts, o.concurrency ?? 16, async (h): Promise<HostStatus> => {
        const sshdPid = sshdRunning(h, procs) ?? null;
        const accepting = sshdPid ? await portAccepts(h.address, h.sshPort, 1000) : false;
        const nodes = await Promise.all(
            h.nodes.map(async (n): Promise<NodeStatus> => {
                const version = installedVersion(installDir(h, n.service), n.service, n.type);
                const pids = nodePids(confDir(h, n.service, n.type, n.port), procs);
                const pid = pids[0] ?? null;
                const health = pid ? await nodeHealth(h.address, n.service, n.port, version) : "-";
                return { service: n.service, type: n.type, port: n.port, version, pid, health };
            }),
        );
        return {
            name: h.name,
            address: h.address,
            center: h.center,
            site: h.site,
            rootSite: h.rootSite,
            sshPort: h.sshPort,
            sshd: { pid: sshdPid, accepting },
            nodes,
        };
    });
    return { dir, built: true, packagePath: state.packagePath, hosts };
}

/** True when no process of the sandbox in `dir` is left. */
export function nothingRunning(dir?: string): boolean {
    return sandboxProcesses(sandboxDir(dir)).length === 0;
}
