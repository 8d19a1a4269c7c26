/**
 * `npm run bench`: the rolling upgrade's wall time against its critical-path limit and against
 * Ansible, on private sandboxes, with every node's upgrade slowed to a fixed time T. See bench/README.md.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { parseArgs } from "util";
import { effectiveHost, validateConfig } from "../lib/config/schema";
import { commandProviderKind, commandProviderPresent, engineLogsOn, projectRoot } from "../engine/env";
import { planWaves, renderPlanTable, Wave } from "../lib/plan";
import { readAudit } from "../sandbox/audit";
import { down, reset, status, up } from "../sandbox/cluster";
import { setFault } from "../sandbox/faults";
import { killSandboxNow } from "../sandbox/processes";
import { SandboxState } from "../sandbox/state";
import { scaledTopology } from "../sandbox/topology";
import { ansibleAvailable, runPlaybook } from "./ansible/runner";
import { writeAnsibleFiles } from "./ansible/generate";
import { calibrate, nodeSecondsFrom } from "./calibrate";
import { benchConfig, benchRawConfig } from "./config";
import { criticalPath } from "./critical";
import { benchInQuickackNetns, insideQuickackNetns } from "./quickack";
import { fig, Figure, HostRun, na, renderReport, Report, reportJson } from "./report";
import { runScripts } from "./scripts";
import {
    Ev,
    floorOf,
    floorParts,
    profileNodes,
    ProfileReport,
    readSessions,
    renderProfile,
    runPhases,
    sshTrueMs,
    startTrace,
    stopTrace,
    tracePaths,
} from "./profile";
import { running } from "../sandbox/ssh";
import { removeStackFiles, runCli, stackFiles, writeStackFile, writeToolStack } from "./tool";
import { HostsContext, loadNow, parallelRun, renderVariants, soakAndBackends, VariantFigures } from "./variants";

const HELP = `Usage: npm run bench -- [options]

Measures, on private sandboxes (own folder under ${os.tmpdir()}, own 127.<net>.x.y addresses), with
every node's upgrade slowed to T seconds (sandbox fault slowSeconds):
  - the critical-path limit: staging once + the sum over waves of the minimal node times;
  - the wall time of the same rolling upgrade as an Ansible playbook (bench/ansible);
  - the wall time of \`scm-upgrade up\` (only when the command provider is installed);
  - a reference line: the tool's shell texts run over plain ssh in plan order (not the tool);
  - variants of \`scm-upgrade up\` (bench/variants.ts): at the smallest host count the soak's cost
    (up --soak S against up --soak 0) and the state in PostgreSQL against file://; at the largest,
    parallelism P against the critical path computed for P;
and, with no sandbox, \`plan\` (and \`preview\` when the provider is installed) of a large config.
Prints one table and writes .reports/bench.json. The sandboxes are always brought down.

and, at the smallest host count, the profile of one node's upgrade through the engine (bench/README.md).

Options:
  -T, --seconds T          slowdown of every node's upgrade, seconds (default 0.5: with 4 and 40
                           hosts the whole bench then takes about 15 minutes on 2 cores)
      --hosts LIST         host counts, comma-separated (default 4,40)
      --net N              second octet of the sandbox addresses 127.N.x.y (default 60)
      --plan-hosts N       hosts of the plan measurement (default 1000)
      --preview-hosts LIST hosts of the preview measurements, comma-separated (default 200,1000)
      --preview-package MIB  the preview configs upload a release of MIB MiB from this machine (random
                           bytes), one upload per host, instead of naming one already on every host
      --health-timeout S   health gate timeout of every node, seconds (default 60)
      --profile            only the profile (the smallest host count; no Ansible, scripts, timed up,
                           plan, preview or variants)
      --skip LIST          leave out some of: ansible, scripts, tool, profile, plan, preview, soak,
                           postgres, parallel (comma-separated; the last three are the up variants,
                           which --skip tool leaves in)
      --soak S             soak of the soak variant, seconds (default 5; health read every second)
      --parallelism P      parallelism of the parallel variant (default 3)
      --runs N             timed \`scm-upgrade up\` runs at each host count, each on a fresh cluster; the
                           table gives their median, the log and the JSON each run (default 1)
      --no-skip-pass       do not run the playbook a second time at the smallest host count
                           (the pass that proves every node is skipped at the target version)
      --quickack           run the whole bench inside a network namespace of its own whose loopback
                           route has quickack 1 (delayed ACKs off): what \`ip route change <route to
                           the cluster> quickack 1\` on the controller buys every SSH login (~40 ms;
                           bench/quickack.ts). Needs root. Every figure of the tool says so
      --keep               keep the sandbox folders (they are still brought down)
      --out FILE           JSON report (default .reports/bench.json)
  -h, --help               this help`;

const PROVIDER_NA = "command provider not installed: see README";

interface Options {
    seconds: number;
    hosts: number[];
    net: number;
    planHosts: number;
    previewHosts: number[];
    /** MiB of a release uploaded from this machine in the preview configs; 0: one already on the hosts. */
    previewPackageMiB: number;
    healthTimeout: number;
    skip: Set<string>;
    soak: number;
    parallelism: number;
    /** Timed `up` runs at each host count (the median is the figure). */
    runs: number;
    skipPass: boolean;
    quickack: boolean;
    keep: boolean;
    out: string;
}

class UsageError extends Error {}

const PARTS = ["ansible", "scripts", "tool", "profile", "plan", "preview", "soak", "postgres", "parallel"];

function options(argv: string[]): Options | undefined {
    const { values } = parseArgs({
        args: argv,
        options: {
            seconds: { type: "string", short: "T", default: "0.5" },
            hosts: { type: "string", default: "4,40" },
            net: { type: "string", default: "60" },
            "plan-hosts": { type: "string", default: "1000" },
            "preview-hosts": { type: "string", default: "200,1000" },
            "preview-package": { type: "string", default: "0" },
            profile: { type: "boolean", default: false },
            "health-timeout": { type: "string", default: "60" },
            skip: { type: "string", default: "" },
            soak: { type: "string", default: "5" },
            parallelism: { type: "string", default: "3" },
            runs: { type: "string", default: "1" },
            "no-skip-pass": { type: "boolean", default: false },
            quickack: { type: "boolean", default: false },
            keep: { type: "boolean", default: false },
            out: { type: "string", default: path.join(projectRoot, ".reports", "bench.json") },
            help: { type: "boolean", short: "h", default: false },
        },
        strict: true,
        allowPositionals: false,
    });
    if (values.help) return undefined;
    const num = (name: string, v: string, ok: (x: number) => boolean) => {
        const x = Number(v);
        if (!Number.isFinite(x) || !ok(x)) throw new UsageError(`--${name}: ${v} is not allowed (see --help).`);
        return x;
    };
    const skip = new Set(
        String(values.skip)
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
    );
    for (const s of skip) if (!PARTS.includes(s)) throw new UsageError(`--skip: unknown part ${s}.`);
    if (values.profile) for (const s of PARTS) if (s !== "profile") skip.add(s);
    return {
        seconds: num("seconds", values.seconds as string, (x) => x >= 0 && x <= 600),
        hosts: ((hs: number[]) => (values.profile ? [Math.min(...hs)] : hs))(
            String(values.hosts)
                .split(",")
                .map((h) => num("hosts", h, (x) => Number.isInteger(x) && x >= 4 && x <= 500)),
        ),
        net: num("net", values.net as string, (x) => Number.isInteger(x) && x >= 1 && x <= 255),
        planHosts: num("plan-hosts", values["plan-hosts"] as string, (x) => Number.isInteger(x) && x >= 4),
        previewHosts: String(values["preview-hosts"])
            .split(",")
            .map((h) => num("preview-hosts", h, (x) => Number.isInteger(x) && x >= 4)),
        previewPackageMiB: num("preview-package", values["preview-package"] as string, (x) => Number.isInteger(x) && x >= 0 && x <= 65536),
        healthTimeout: num("health-timeout", values["health-timeout"] as string, (x) => Number.isInteger(x) && x >= 5 && x <= 3600),
        skip,
        soak: num("soak", values.soak as string, (x) => Number.isInteger(x) && x >= 1 && x <= 3600),
        parallelism: num("parallelism", values.parallelism as string, (x) => Number.isInteger(x) && x >= 1),
        runs: num("runs", values.runs as string, (x) => Number.isInteger(x) && x >= 1 && x <= 20),
        skipPass: !values["no-skip-pass"],
        quickack: values.quickack as boolean,
        keep: values.keep as boolean,
        out: path.resolve(values.out as string),
    };
}

// ------------------------------------------------------------------ progress and cleanup

const t0 = Date.now();
function log(line: string) {
    const s = Math.floor((Date.now() - t0) / 1000);
    process.stderr.write(`[bench ${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}] ${line}\n`);
}

/** Sandbox folders up right now (their processes are killed at exit whatever happens). */
const sandboxes = new Set<string>();
const tempDirs = new Set<string>();
let keepDirs = false;

process.once("exit", () => {
    for (const dir of sandboxes) killSandboxNow(dir);
    for (const f of stackFiles) fs.rmSync(f, { force: true });
});

async function tidy(): Promise<void> {
    for (const child of running) child.kill("SIGTERM");
    for (const dir of [...sandboxes]) {
        try {
            await down({ dir });
        } catch (e) {
            log(`warning: bringing ${dir} down: ${(e as Error).message}`);
            killSandboxNow(dir);
        }
        sandboxes.delete(dir);
    }
    removeStackFiles();
    if (!keepDirs) for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
}

let interrupted = false;
/** Stops the main flow between steps once a signal arrived (the handler brings everything down). */
function checkInterrupted(): void {
    if (interrupted) throw new Error("interrupted");
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
        if (interrupted) return;
        interrupted = true;
        log(`${sig}: stopping, bringing the bench sandboxes down`);
        tidy().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
    });
}

// ------------------------------------------------------------------ the parts

const loadAtStart = os.loadavg();
const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");

function machine(ansible: string | undefined): string {
    const cpus = os.cpus();
    return [
        `${cpus.length} x ${cpus[0]?.model ?? "cpu"}`,
        `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
        `${os.type()} ${os.release()}`,
        `Node ${process.version}`,
        ansible ?? "no ansible",
        `load average ${load(loadAtStart)} at the start, ${load(os.loadavg())} at the end (1/5/15 min)`,
    ].join(", ");
}

/** Debian's ansible through the project's set-up (SCM_UPGRADE_EXTRA_APT), when missing. */
function ensureAnsible(): string | undefined {
    let v = ansibleAvailable();
    if (v) return v;
    if (process.getuid?.() !== 0) return undefined;
    log("ansible-playbook not found: installing Debian's ansible (scripts/setup.sh with SCM_UPGRADE_EXTRA_APT=ansible)");
    const r = spawnSync("bash", [path.join(projectRoot, "scripts", "setup.sh")], {
        cwd: projectRoot,
        env: { ...process.env, SCM_UPGRADE_EXTRA_APT: `${process.env.SCM_UPGRADE_EXTRA_APT ?? ""} ansible`.trim() },
        stdio: ["ignore", 2, 2],
    });
    if (r.status !== 0 && r.status !== 3) log(`set-up exited ${r.status}`);
    v = ansibleAvailable();
    return v;
}

function setSlow(state: SandboxState, seconds: number) {
    for (const h of state.hosts) for (const s of h.services) setFault(h.name, s, { slowSeconds: seconds }, state.dir);
}

/** Every node at the target and healthy, and the upgrades began in plan order (audit log). */
async function verify(state: SandboxState, waves: readonly Wave[], expectUpgrades: boolean): Promise<string[]> {
    const problems: string[] = [];
    const st = await status({ dir: state.dir });
    for (const h of st.hosts)
        for (const n of h.nodes)
            if (n.version !== state.targetVersion || n.health !== "UP") problems.push(`${h.name}:${n.port} ${n.service} is ${n.version} ${n.health}`);
    const order = waves.flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
    const begun = readAudit(state.dir)
        .filter((e) => e.action === "upgrade" && e.outcome === "begin")
        .map((e) => `${e.host}/${e.service}`);
    if (expectUpgrades && JSON.stringify(begun) !== JSON.stringify(order)) {
        problems.push(`upgrade order differs from the plan: ${begun.slice(0, 8).join(", ")}${begun.length > 8 ? ", ..." : ""}`);
    }
    return problems;
}

const providerKind = commandProviderKind() ?? "no command provider";
const engineLogs = engineLogsOn();

/** The `--json` lines of a run (one ProgressEvent per line). */
function jsonEvents(stdout: string): Ev[] {
    return stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Ev);
}

const mib = (kib: number | undefined): Figure => (kib && kib > 0 ? fig(kib / 1024) : na("not reported"));

/**
 * A config of `n` scaled hosts that do not exist (plan and preview open no connection to them). `localPackage`:
 * a release uploaded from this machine (one upload per host), else one already on every host.
 */
function scaleConfig(n: number, net: number, keyFile: string, localPackage?: string) {
    const hosts = scaledTopology(n, net).map((h) => ({
        name: h.name,
        address: h.address,
        center: h.center,
        services: h.services,
        ...(h.site ? { site: h.site, rootSite: !!h.rootSite } : {}),
    }));
    const pkg = localPackage ? { localPath: localPackage } : { remotePath: "/opt/scm_upgrade/sequoiacm-3.2.0-release.tar.gz" };
    return { package: pkg, ssh: { user: "scmadmin", privateKeyFile: keyFile }, hosts };
}

/** A file of `mib` MiB of random bytes named like a release (a preview uploads nothing, it only reads it). */
function writeRandomRelease(dir: string, mib: number): string {
    const file = path.join(dir, "preview-release-3.2.0.tar.gz");
    const fd = fs.openSync(file, "w");
    try {
        for (let i = 0; i < mib; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20));
    } finally {
        fs.closeSync(fd);
    }
    return file;
}

async function planPart(o: Options, work: string, notes: string[]) {
    const keyFile = path.join(work, "placeholder-key");
    fs.writeFileSync(keyFile, "placeholder key: plan and preview open no connection\n", { mode: 0o600 });
    const result = {
        inProcessMs: na("skipped (--skip plan)") as Figure,
        cli: na("skipped (--skip plan)") as Figure,
        cold: na("skipped (--skip plan)") as Figure,
        rss: na("skipped (--skip plan)") as Figure,
        previews: [] as { hosts: number; seconds: Figure; rssMiB: Figure }[],
    };
    const backendDir = path.join(work, "state");
    if (!o.skip.has("plan")) {
        const raw = scaleConfig(o.planHosts, o.net, keyFile);
        const v = validateConfig(raw);
        if (!v.ok) throw new Error(`the ${o.planHosts}-host config is invalid: ${JSON.stringify(v.problems.slice(0, 3))}`);
        const times: number[] = [];
        let waves: Wave[] = [];
        for (let i = 0; i < 5; i++) {
            const s = process.hrtime.bigint();
            waves = planWaves(v.config);
            renderPlanTable(waves);
            times.push(Number(process.hrtime.bigint() - s) / 1e6);
        }
        result.inProcessMs = fig([...times].sort((a, b) => a - b)[2]);
        log(`plan of ${o.planHosts} hosts in process: ${waves.length} waves, median of 5 runs ${[...times].sort((a, b) => a - b)[2].toFixed(2)} ms`);
        // `plan` reads stacks/Pulumi.<stack>.yaml itself (no Pulumi CLI).
        const stack = `bench-plan-${o.planHosts}`;
        writeStackFile(stack, raw);
        try {
            const runs = [];
            for (let i = 0; i < 3; i++) {
                const r = await runCli(["plan", "--stack", stack], { backendDir, workDir: work });
                const rows = r.stdout.trim().split("\n").length - 2;
                if (r.code !== 0 || rows !== waves.length)
                    throw new Error(`scm-upgrade plan exited ${r.code} with ${rows} wave rows (expected ${waves.length}): ${r.stderr.slice(-500)}`);
                log(`scm-upgrade plan --stack ${stack} (${o.planHosts} hosts): ${r.seconds.toFixed(2)} s${i === 0 ? " (first run: cold)" : ""}`);
                runs.push(r);
            }
            result.cold = fig(runs[0].seconds);
            result.cli = fig(Math.min(...runs.slice(1).map((r) => r.seconds)));
            result.rss = mib(Math.max(...runs.map((r) => r.maxRssKiB ?? 0)));
        } finally {
            removeStackFiles();
        }
    }
    if (!o.skip.has("preview")) {
        const previewPackage = o.previewPackageMiB ? writeRandomRelease(work, o.previewPackageMiB) : undefined;
        if (previewPackage) log(`preview: a ${o.previewPackageMiB} MiB release uploaded from this machine (${previewPackage})`);
        for (const n of o.previewHosts) {
            checkInterrupted();
            if (!commandProviderPresent()) {
                result.previews.push({ hosts: n, seconds: na(PROVIDER_NA), rssMiB: na(PROVIDER_NA) });
                continue;
            }
            // The hosts do not exist: `--no-live` (documented) leaves out the live-state read, so the figure is the
            // program's registration, the engine and the provider's check and diff (bench/README.md).
            const stack = `bench-preview-${n}`;
            writeStackFile(stack, scaleConfig(n, o.net, keyFile, previewPackage));
            try {
                const p = await runCli(["preview", "--stack", stack, "--no-live"], { backendDir, workDir: work });
                const ok = p.code === 0 && /to create/.test(p.stdout);
                result.previews.push({ hosts: n, seconds: ok ? fig(p.seconds) : na(`preview failed (exit ${p.code})`), rssMiB: mib(p.maxRssKiB) });
                log(
                    `scm-upgrade preview --stack ${stack} --no-live (${n} hosts): exit ${p.code} in ${p.seconds.toFixed(1)} s, peak RSS ${((p.maxRssKiB ?? 0) / 1024).toFixed(0)} MiB; ${p.stdout.trim().split("\n").pop()}`,
                );
                if (!ok) notes.push(`preview of ${n} hosts failed: ${p.stderr.trim().split("\n").slice(-3).join(" | ")}`);
            } finally {
                removeStackFiles();
            }
        }
    }
    return result;
}

async function hostsPart(
    o: Options,
    n: number,
    work: string,
    ansible: string | undefined,
    notes: string[],
    smallest: boolean,
    largest: boolean,
    variants: VariantFigures,
): Promise<HostRun & { detail: unknown }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `scm-bench-${n}-`));
    tempDirs.add(dir);
    sandboxes.add(fs.realpathSync(dir));
    const detail: Record<string, unknown> = { sandbox: dir };
    try {
        log(`--- ${n} hosts: sandbox up in ${dir} (127.${o.net}.x.y)`);
        // stackConfig false: never touch the user's stack `sandbox`.
        let { state } = await up({ dir, net: o.net, hosts: n, stackConfig: false });
        setSlow(state, o.seconds);
        const c = benchConfig(state, o.healthTimeout);
        const waves = planWaves(c);
        const nodes = waves.reduce((a, w) => a + w.nodes.length, 0);
        log(`${n} hosts: ${nodes} nodes in ${waves.length} waves; measuring the minimal times (T = ${o.seconds} s)`);
        const cal = await calibrate(state, c, waves, log);
        const cp = criticalPath({ stagingSeconds: cal.stagingSeconds, waves, parallelism: c.parallelism, nodeSeconds: nodeSecondsFrom(state, cal) });
        detail.calibration = cal;
        detail.criticalPathWaves = cp.waves;
        log(`${n} hosts: critical path ${cp.totalSeconds.toFixed(1)} s (staging ${cp.stagingSeconds.toFixed(2)} s + waves ${cp.wavesSeconds.toFixed(1)} s)`);

        const fresh = async (what: string) => {
            checkInterrupted();
            log(`${n} hosts: fresh 3.1.2 cluster for ${what}`);
            state = (await reset({ dir, stackConfig: false })).state;
            setSlow(state, o.seconds);
        };

        let ansibleFig: Figure = na("skipped (--skip ansible)");
        if (!o.skip.has("ansible")) {
            if (!ansible) ansibleFig = na("ansible-playbook not installed (root: apt-get install ansible)");
            else {
                await fresh("Ansible");
                const files = writeAnsibleFiles(path.join(dir, "ansible"), c, waves, state.packagePath);
                const logFile = path.join(path.dirname(o.out), `bench-ansible-${n}.log`);
                const r = await runPlaybook(path.join(dir, "ansible"), files, logFile, log);
                checkInterrupted();
                const problems = r.code === 0 ? await verify(state, waves, true) : [`ansible-playbook exited ${r.code}: ${r.failures.slice(0, 2).join(" | ")}`];
                log(
                    `${n} hosts: Ansible ${r.code === 0 && !problems.length ? "succeeded" : "FAILED"} in ${r.seconds.toFixed(1)} s (log: ${path.relative(projectRoot, logFile)})`,
                );
                ansibleFig = problems.length ? na(`failed: ${problems[0]}`) : fig(r.seconds);
                detail.ansible = { seconds: r.seconds, exit: r.code, problems, log: logFile, inventory: files.inventory, playbook: files.playbook };
                if (!problems.length && smallest && o.skipPass) {
                    const before = readAudit(state.dir).length;
                    const again = await runPlaybook(path.join(dir, "ansible"), files, logFile.replace(/\.log$/, "-skip-pass.log"), () => undefined);
                    const after = readAudit(state.dir).length;
                    const ok = again.code === 0 && after === before;
                    log(
                        `${n} hosts: Ansible second pass ${ok ? "skipped every node (no scmupgrade.py run)" : "FAILED to skip"} in ${again.seconds.toFixed(1)} s`,
                    );
                    detail.ansibleSkipPass = { seconds: again.seconds, exit: again.code, auditLinesAdded: after - before };
                    if (!ok) notes.push(`Ansible's second pass at ${n} hosts did not skip cleanly (exit ${again.code}, ${after - before} audit lines)`);
                }
            }
        }

        let scriptsFig: Figure = na("skipped (--skip scripts)");
        if (!o.skip.has("scripts")) {
            await fresh("the scripts over SSH");
            try {
                const r = await runScripts(c, waves, state.packagePath, log);
                const problems = await verify(state, waves, true);
                scriptsFig = problems.length ? na(`failed: ${problems[0]}`) : fig(r.seconds);
                log(`${n} hosts: scripts over SSH ${problems.length ? "FAILED" : "succeeded"} in ${r.seconds.toFixed(1)} s`);
                detail.scripts = { ...r, problems };
            } catch (e) {
                scriptsFig = na(`failed: ${(e as Error).message.slice(0, 200)}`);
                log(`${n} hosts: scripts over SSH FAILED: ${(e as Error).message}`);
            }
        }

        let liveRead: Figure = na(PROVIDER_NA);
        let ours: Figure = na(PROVIDER_NA);
        let oursRss: Figure = na(PROVIDER_NA);
        if (o.skip.has("tool")) ours = oursRss = na("skipped (--skip tool)");
        else if (commandProviderPresent()) {
            // Each run on a fresh 3.1.2 cluster and a new stack; the figure is the median run (the lower of the two
            // middle ones for an even count: a real run, whose RSS and phases are shown), as this machine's speed
            // moves by a tenth from one minute to the next.
            const runs: { seconds: number; rssKiB?: number; live: number; detail: Record<string, unknown> }[] = [];
            for (let i = 1; i <= o.runs; i++) {
                const of = o.runs > 1 ? ` (run ${i} of ${o.runs})` : "";
                await fresh(`scm-upgrade up${of}`);
                const stack = `bench-up-${n}-${i}`;
                const backend = { backendDir: path.join(work, "state"), workDir: work };
                try {
                    await writeToolStack(stack, benchRawConfig(state, o.healthTimeout), state.clientKeyPath, backend);
                    const r = await runCli(["up", "--stack", stack, "--yes", "--json"], backend);
                    const problems = r.code === 0 ? await verify(state, waves, true) : [`exit ${r.code}`];
                    const events = jsonEvents(r.stdout);
                    const live = Number(events.find((e) => e.type === "live-state")?.seconds ?? NaN);
                    log(
                        `${n} hosts: scm-upgrade up (${providerKind})${of} ${problems.length ? "FAILED" : "succeeded"} in ${r.seconds.toFixed(1)} s (live-state read ${Number.isFinite(live) ? live.toFixed(2) : "n/a"} s)`,
                    );
                    const run = {
                        seconds: r.seconds,
                        exit: r.code,
                        problems,
                        provider: providerKind,
                        phases: runPhases(events, r.startedAt / 1000, r.startedAt / 1000 + r.seconds),
                    };
                    if (problems.length) {
                        // A failed run gets no figure, and neither does the host count: the others would flatter it.
                        ours = na(`failed: ${problems[0]}`);
                        detail.tool = run;
                        notes.push(`scm-upgrade up at ${n} hosts${of}: ${problems[0]}; ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
                        break;
                    }
                    runs.push({ seconds: r.seconds, rssKiB: r.maxRssKiB, live, detail: run });
                } finally {
                    removeStackFiles();
                }
            }
            if (runs.length === o.runs) {
                const median = [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor((runs.length - 1) / 2)];
                ours = fig(median.seconds);
                oursRss = mib(median.rssKiB);
                liveRead = fig(median.live);
                detail.tool = { ...median.detail, runs: runs.map((r) => r.seconds) };
                if (runs.length > 1) {
                    const all = runs.map((r) => r.seconds.toFixed(1)).join(", ");
                    log(`${n} hosts: scm-upgrade up, median of ${runs.length} runs: ${median.seconds.toFixed(1)} s (${all})`);
                    notes.push(`scm-upgrade up at ${n} hosts: the median of ${runs.length} runs (${all} s), each on a fresh cluster.`);
                }
            }
        } else log(`${n} hosts: scm-upgrade up not run: ${PROVIDER_NA}`);

        let profile: string | undefined;
        if (smallest && !o.skip.has("profile") && commandProviderPresent()) {
            await fresh("the profile (traced scm-upgrade up)");
            const stack = `bench-profile-${n}`;
            const backend = { backendDir: path.join(work, "state"), workDir: work };
            await writeToolStack(stack, benchRawConfig(state, o.healthTimeout), state.clientKeyPath, backend);
            const paths = tracePaths(state.dir);
            const h = c.hosts[0];
            const e = effectiveHost(c, h);
            const ssh = await sshTrueMs({ address: h.address, port: e.port, user: e.user, keyPath: e.privateKeyFile as string }, paths);
            startTrace(paths);
            try {
                const loadBefore = os.loadavg()[0];
                const r = await runCli(["up", "--stack", stack, "--yes", "--json"], backend);
                stopTrace(paths);
                const problems = r.code === 0 ? await verify(state, waves, true) : [`exit ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`];
                if (problems.length) throw new Error(`the traced up failed: ${problems[0]}`);
                const events = jsonEvents(r.stdout);
                const t0 = Date.parse(String(events[0]?.time)) / 1000;
                const started = r.startedAt / 1000;
                const nodeSeconds = nodeSecondsFrom(state, cal);
                const rep: ProfileReport = {
                    hosts: n,
                    slowSeconds: o.seconds,
                    upSeconds: r.seconds,
                    nodes: profileNodes(events, readSessions(paths.traceDir)),
                    phases: runPhases(events, started, started + r.seconds),
                    minimalSeconds: Object.fromEntries(waves.flatMap((w) => w.nodes).map((x) => [`${x.host}/${x.service}`, nodeSeconds(x)])),
                    sshTrueMs: ssh,
                    load: `${loadBefore.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end`,
                    provider: providerKind,
                };
                if (!rep.nodes.length || !(t0 > 0)) throw new Error("the trace or the events of the traced up are empty");
                rep.floor = floorOf(rep.nodes, nodes, cp.totalSeconds, floorParts(stack, `file://${backend.backendDir}`));
                profile = renderProfile(rep);
                detail.profile = rep;
                log(`${n} hosts: profile\n${profile}`);
            } finally {
                stopTrace(paths);
                removeStackFiles();
            }
        }

        const wantBase = smallest && !(o.skip.has("soak") && o.skip.has("postgres"));
        const wantParallel = largest && !o.skip.has("parallel");
        if ((wantBase || wantParallel) && !commandProviderPresent()) {
            const why = { na: PROVIDER_NA };
            if (wantBase && !o.skip.has("soak")) variants.soak = why;
            if (wantBase && !o.skip.has("postgres")) variants.backends = why;
            if (wantParallel) variants.parallel = why;
        } else if (wantBase || wantParallel) {
            if (!variants.loadAtStart.length) variants.loadAtStart = loadNow();
            const ctx: HostsContext = {
                hosts: n,
                fresh: async (what) => {
                    await fresh(what);
                    return state;
                },
                raw: () => benchRawConfig(state, o.healthTimeout),
                config: c,
                waves,
                work,
                backendDir: path.join(work, "state"),
                log,
            };
            if (wantBase) Object.assign(variants, await soakAndBackends(ctx, { soakSeconds: o.soak, skip: o.skip }));
            checkInterrupted();
            if (wantParallel)
                variants.parallel = await parallelRun(ctx, {
                    parallelism: o.parallelism,
                    stagingSeconds: cal.stagingSeconds,
                    nodeSeconds: nodeSecondsFrom(state, cal),
                });
            variants.loadAtEnd = loadNow();
        }

        return {
            hosts: n,
            nodes,
            waves: waves.length,
            criticalPath: fig(cp.totalSeconds),
            stagingSeconds: cp.stagingSeconds,
            wavesSeconds: cp.wavesSeconds,
            ours,
            ansible: ansibleFig,
            scripts: scriptsFig,
            oursPeakRssMiB: oursRss,
            liveReadSeconds: liveRead,
            profile,
            detail,
        };
    } finally {
        log(`${n} hosts: bringing the sandbox down`);
        await down({ dir });
        sandboxes.delete(fs.realpathSync(dir));
        if (!o.keep) {
            fs.rmSync(dir, { recursive: true, force: true });
            tempDirs.delete(dir);
        }
    }
}

async function main(argv: string[]): Promise<number> {
    let o: Options | undefined;
    try {
        o = options(argv);
    } catch (e) {
        process.stderr.write(`${(e as Error).message}\n`);
        return 2;
    }
    if (!o) {
        process.stdout.write(HELP + "\n");
        return 0;
    }
    if (o.quickack && !insideQuickackNetns()) return benchInQuickackNetns(argv, log);
    keepDirs = o.keep;
    fs.mkdirSync(path.dirname(o.out), { recursive: true });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "scm-bench-work-"));
    tempDirs.add(work);
    const notes: string[] = [];
    const ansible = o.skip.has("ansible") ? undefined : ensureAnsible();
    log(
        `T = ${o.seconds} s, hosts ${o.hosts.join(" and ")}, plan of ${o.planHosts} hosts, preview of ${o.previewHosts.join(" and ")}; ${ansible ?? "no ansible"}; command provider: ${providerKind}, Pulumi's automatic logs ${engineLogs ? "on" : "off"}`,
    );
    try {
        const plan = await planPart(o, work, notes);
        const runs: (HostRun & { detail: unknown })[] = [];
        const smallest = Math.min(...o.hosts);
        const largest = Math.max(...o.hosts);
        const variants: VariantFigures = { loadAtStart: [] };
        for (const n of o.hosts) {
            checkInterrupted();
            runs.push(await hostsPart(o, n, work, ansible, notes, n === smallest, n === largest, variants));
        }
        if (!commandProviderPresent()) {
            notes.push(
                "scm-upgrade up and preview were not run: the Pulumi command provider plugin is not installed on this machine (README, Status). No figure stands in for them.",
            );
        }
        const rep: Report = {
            machine: machine(ansible),
            slowSeconds: o.seconds,
            method: [
                "critical path = staging once (the tool's staging texts run with bash on one host, fastest host) + the sum over waves of the batches' slowest node (parallelism 1: the sum of the nodes' minimal times).",
                "a node's minimal time is MEASURED, not computed: scmupgrade.py run directly on the host (no SSH, no wrapper) with the T slowdown in place, until the node(s) answer healthy on the 3.2 endpoints (50 ms polling; content-server: Node-Status running), once per node shape (service x node types on the host).",
                "every run starts from a fresh 3.1.2 cluster (sandbox reset) and is checked afterwards: every node at the target and healthy, upgrades begun in plan order (audit log); a run that fails that check gets no figure.",
                "Ansible: Debian's ansible-playbook, pipelining + ControlPersist, forks 10; staging play on all hosts, then one play per wave, serial 1, the same checks (version skip, success line, jars at target, health gate). It runs no preflight; the tool and the scripts line do.",
                "scripts over SSH: the tool's exact shell texts (lib/shell.ts) over plain ssh, preflight and staging on 16 hosts at a time, then node after node; a reference for the cost of the scripts themselves, not the tool.",
                "every sandbox host shares this machine's CPUs: work that runs on all hosts at once (staging, preflight) queues for the same cores here, unlike on a real cluster; node-after-node work does not.",
                "peak RSS is process.resourceUsage().maxRSS of the tool's Node.js process (the driver); the Pulumi engine runs in a separate process not counted there.",
                `the tool ran with the ${providerKind} command provider (engine/env.ts commandProviderKind, .pulumi-home/toolchain.json providerKind); Pulumi's automatic logs ${engineLogs ? "ON in its Pulumi home (a home given with SCM_UPGRADE_PULUMI_HOME keeps them: ~45 % of the engine's CPU in a large preview; a file named logs in that home turns them off)" : "off in its Pulumi home (engine/env.ts quietEngineLogs)"}.`,
                "the tool's stacks keep the SSH key as a Pulumi secret, stored with `scm-upgrade secret sshPrivateKey --from` before each run (not timed), as the README advises an operator: every run opens it (the passphrase's key derivation, in the tool's process); Ansible and the scripts read the key file.",
                "preview at scale: configs of N scaled hosts that do not exist, `scm-upgrade preview --no-live` (no live-state read over SSH; the engine, the program's registration and the provider's check and diff). The live-state read of a real cluster is the `live-state read` line (64 hosts at a time).",
                o.previewPackageMiB
                    ? `preview's release: ${o.previewPackageMiB} MiB uploaded from this machine (--preview-package), one upload per host in the plan.`
                    : "preview's release: already on every host (remotePath): no upload in the plan (--preview-package MIB for one from this machine).",
            ],
            runs,
            planInProcessMs: plan.inProcessMs,
            planCli: plan.cli,
            planCliCold: plan.cold,
            planCliPeakRssMiB: plan.rss,
            previews: plan.previews,
            planHosts: o.planHosts,
            providerKind,
            engineLogs,
            upRuns: o.runs,
            network: insideQuickackNetns() ? "quickack" : "default",
            benchPeakRssMiB: process.resourceUsage().maxRSS / 1024,
            notes,
        };
        const hasVariants = !!(variants.soak || variants.parallel || variants.backends);
        const text = renderReport(rep) + (hasVariants ? `\n\n${renderVariants(variants)}` : "");
        process.stdout.write("\n" + text + "\n");
        fs.mkdirSync(path.dirname(o.out), { recursive: true });
        fs.writeFileSync(
            o.out,
            JSON.stringify(
                reportJson(rep, { details: runs.map((r) => ({ hosts: r.hosts, ...(r.detail as object) })), totalSeconds: (Date.now() - t0) / 1000, variants }),
                null,
                2,
            ) + "\n",
        );
        fs.writeFileSync(o.out.replace(/\.json$/, "") + ".txt", text + "\n");
        log(`report written to ${path.relative(projectRoot, o.out)}; bench took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        return 0;
    } catch (e) {
        if (interrupted) return 130;
        log(`FAILED: ${(e as Error).stack ?? e}`);
        return 1;
    } finally {
        await tidy();
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (e) => {
            process.stderr.write(`${(e as Error).stack ?? e}\n`);
            process.exit(1);
        },
    );
}
