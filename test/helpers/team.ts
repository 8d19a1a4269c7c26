/**
 * Operators of one stack, as a team has them: each with a Pulumi home of its own (its own
 * workspace files; the CLI and the plugins linked from the project's home), one shared passphrase
 * file, one backend. Their `scm-upgrade` runs are subprocesses in their own process group, so a
 * test can pause one (SIGSTOP) or kill it the way a dead laptop does (SIGKILL to the group).
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectName, projectRoot } from "../../engine/paths";
import { pulumiHome } from "../../engine/env";
import { describeLock, readLocks, StackLock, takeLock } from "../../engine/locks";
import { readStackRecord } from "../../engine/stackRecord";
import { loadFromConfigMap } from "../../lib/config/load";
import { planWaves } from "../../lib/plan";
import { readAudit } from "../../sandbox/audit";
import { sandboxStackConfig, writeSandboxStackConfig } from "../../sandbox/stackConfig";
import type { SandboxFixture } from "../sandbox/fixture";

export interface Operator {
    name: string;
    env: Record<string, string>;
    /** Runs `scm-upgrade ...` to the end. */
    run(args: string[], timeoutMs?: number): Promise<CliRun>;
    /** Starts `scm-upgrade ...`; `done` settles when it exits. */
    start(args: string[]): { child: ChildProcess; done: Promise<CliRun>; stderr: () => string };
    /** The stack's state as `pulumi stack export` prints it. */
    exportState(stack: string): string;
    /** Runs this operator's Pulumi CLI on its backend (`--stack` given by the caller). */
    pulumi(args: string[]): { status: number | null; stdout: string; stderr: string };
}

export interface CliRun {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** A Pulumi home for one operator: bin/pulumi and plugins/ linked from the project's (bootstrapped) home. */
export function makePulumiHome(dir: string): string {
    fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
    const src = pulumiHome({});
    fs.symlinkSync(fs.realpathSync(path.join(src, "bin", "pulumi")), path.join(dir, "bin", "pulumi"));
    fs.symlinkSync(fs.realpathSync(path.join(src, "plugins")), path.join(dir, "plugins"));
    return dir;
}

/**
 * Two or more operators under one temp folder, sharing `passphraseFile`. `backend(i)` says how
 * operator i names the backend: `{ flag: url }` (--backend) or `{ env: url }` (PULUMI_BACKEND_URL).
 */
export function makeOperator(name: string, root: string, passphraseFile: string, backend: { flag?: string; env?: string }): Operator {
    const home = makePulumiHome(path.join(root, `home-${name}`));
    const env: Record<string, string> = { SCM_UPGRADE_PULUMI_HOME: home, PULUMI_CONFIG_PASSPHRASE_FILE: passphraseFile };
    if (backend.env) env.PULUMI_BACKEND_URL = backend.env;
    const fullEnv = () => {
        const e: Record<string, string> = {};
        for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "PULUMI_CONFIG_PASSPHRASE") e[k] = v;
        if (!backend.env) delete e.PULUMI_BACKEND_URL;
        return { ...e, ...env };
    };
    const withBackend = (args: string[]) => (backend.flag ? [...args, "--backend", backend.flag] : args);
    const start = (args: string[]) => {
        const t0 = Date.now();
        const child = spawn(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), ...withBackend(args)], {
            cwd: projectRoot,
            env: fullEnv(),
            stdio: ["ignore", "pipe", "pipe"],
            detached: true,
        });
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d) => (stdout += d));
        child.stderr!.on("data", (d) => (stderr += d));
        running.add(child);
        const done = new Promise<CliRun>((resolve) =>
            child.on("close", (code, signal) => {
                running.delete(child);
                resolve({ code, signal, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
            }),
        );
        return { child, done, stderr: () => stderr };
    };
    return {
        name,
        env,
        start,
        run: async (args, timeoutMs = 600000) => {
            const r = start(args);
            const timer = setTimeout(() => killGroup(r.child, "SIGKILL"), timeoutMs);
            try {
                return await r.done;
            } finally {
                clearTimeout(timer);
            }
        },
        exportState: (stack) => {
            const r = pulumi(["stack", "export", "--stack", `organization/${projectName}/${stack}`]);
            if (r.status !== 0) throw new Error(`pulumi stack export failed: ${r.stderr}`);
            return r.stdout;
        },
        pulumi,
    };
    function pulumi(args: string[]) {
        const url = backend.flag ?? backend.env!;
        return spawnSync(path.join(home, "bin", "pulumi"), [...args, "--non-interactive"], {
            cwd: projectRoot,
            encoding: "utf8",
            env: { ...fullEnv(), PULUMI_HOME: home, PULUMI_BACKEND_URL: url, PULUMI_SKIP_UPDATE_CHECK: "true" },
        });
    }
}

/**
 * What the tool reads of a stack's record in its own process (engine/stackRecord.ts, for `status`) is what the
 * operator's Pulumi CLI says: `stack output --json --show-secrets`, and the newest entry of `stack history --json`
 * (no secret's value), its times as the Automation API gives them.
 */
export async function expectRecordAsCli(url: string, stack: string, op: Operator): Promise<void> {
    const name = `organization/${projectName}/${stack}`;
    const out = op.pulumi(["stack", "output", "--json", "--show-secrets", "--stack", name]);
    const hist = op.pulumi(["stack", "history", "--json", "--page-size", "1", "--page", "1", "--stack", name]);
    expect([out.status, out.stderr, hist.status, hist.stderr]).toEqual([0, "", 0, ""]);
    const lastRun = (JSON.parse(hist.stdout) as Record<string, unknown>[])[0];
    const outputs = Object.fromEntries(Object.entries(JSON.parse(out.stdout) as Record<string, unknown>).map(([k, value]) => [k, { value, secret: false }]));
    expect(Object.keys(outputs)).toContain("nodes");
    expect(lastRun).toBeDefined();
    expect(await readStackRecord(url, stack)).toEqual({
        outputs,
        lastRun: { ...lastRun, startTime: new Date(String(lastRun.startTime)), endTime: new Date(String(lastRun.endTime)) },
    });
}

/**
 * The lock the tool takes to read a state before clearing its pending operations (engine/locks
 * takeLock) yields to the lock a run holds now (`runLock`), leaving none of its own.
 */
export async function expectToolLockYields(url: string, stack: string, runLock: StackLock): Promise<void> {
    const yielded = await takeLock(url, stack);
    expect("heldBy" in yielded && yielded.heldBy.map(describeLock)).toEqual([describeLock(runLock)]);
    expect((await readLocks(url, stack)).map((l) => l.key)).toEqual([runLock.key]);
}

/**
 * While the tool holds that lock (no run holds one now), the engine itself refuses another operator's
 * write (`pulumi stack import`), naming this process as the holder; the state is unchanged and no lock is left.
 */
export async function expectToolLockHonoured(url: string, stack: string, other: Operator): Promise<void> {
    const file = path.join(os.tmpdir(), `scm-state-${process.pid}-${Date.now()}.json`);
    const before = other.exportState(stack);
    fs.writeFileSync(file, before);
    const held = await takeLock(url, stack);
    if (!("release" in held)) throw new Error(`takeLock refused: held by ${held.heldBy.map(describeLock).join("; ")}`);
    let refused: ReturnType<Operator["pulumi"]>;
    try {
        refused = other.pulumi(["stack", "import", "--file", file, "--stack", `organization/${projectName}/${stack}`]);
    } finally {
        await held.release();
        fs.rmSync(file, { force: true });
    }
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("the stack is currently locked by 1 lock(s)");
    expect(refused.stderr).toContain(`created by ${thisOperator()} (pid ${process.pid})`);
    expect(other.exportState(stack)).toBe(before);
    expect(await readLocks(url, stack)).toEqual([]);
}

const running = new Set<ChildProcess>();

/** Kills every run still going (a failed test's): call in afterAll. */
export function stopAllRuns(): void {
    for (const c of running) {
        killGroup(c, "SIGCONT");
        killGroup(c, "SIGKILL");
    }
}

/** A process and all its descendants (from /proc): the engine's CLI runs in a process group of its own. */
function processTree(root: number): number[] {
    const children = new Map<number, number[]>();
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
        } catch {
            // gone
        }
    }
    const out: number[] = [];
    const walk = (p: number) => {
        out.push(p);
        for (const c of children.get(p) ?? []) walk(c);
    };
    walk(root);
    return out;
}

/** Signals a run's whole process tree (scm-upgrade, the engine's CLI, its plugins), parents first. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    for (const pid of processTree(child.pid!)) {
        try {
            process.kill(pid, signal);
        } catch {
            // already gone
        }
    }
}

/** Waits until `f` returns a value (polling), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, f: () => T | undefined | Promise<T | undefined>, timeoutMs = 180000, everyMs = 50): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = await f();
        if (v !== undefined && v !== false) return v as T;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, everyMs));
    }
}

/** The stack's locks in the backend, once at least one is held. */
export const lockTaken = (url: string, stack: string): Promise<StackLock[]> =>
    waitFor(`a lock on stack ${stack}`, async () => {
        const l = await readLocks(url, stack);
        return l.length ? l : undefined;
    });

/** The pending operations recorded in an exported state. */
export const pendingOps = (exported: string): { type: string; resource: { urn: string } }[] =>
    (JSON.parse(exported).deployment?.pending_operations ?? []) as { type: string; resource: { urn: string } }[];

/** `<user>@<host>`, as a lock taken on this machine names its holder. */
export const thisOperator = () => `${os.userInfo().username}@${os.hostname()}`;

/** host/service of every node, in plan order. */
export function planOrder(sb: SandboxFixture): string[] {
    const plain = sandboxStackConfig(sb.state());
    const r = loadFromConfigMap(Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return planWaves(r.config).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
}

/** host/service of each `action` begun since `t`, in time order (sandbox audit logs). */
export const beginsSince = (sb: SandboxFixture, action: string, t: string) =>
    readAudit(sb.dir)
        .filter((e) => e.action === action && e.outcome === "begin" && e.time >= t)
        .map((e) => `${e.host}/${e.service}`);

/** The stack config of `stack` for this sandbox, written with the team's backend and passphrase. */
export async function writeTeamStack(sb: SandboxFixture, stack: string, env: Record<string, string>): Promise<void> {
    const saved: Record<string, string | undefined> = {};
    for (const k of Object.keys(env)) saved[k] = process.env[k];
    Object.assign(process.env, env);
    try {
        await writeSandboxStackConfig(sb.state(), { stackName: stack });
    } finally {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    }
}
