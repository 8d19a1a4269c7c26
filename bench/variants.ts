/**
 * `scm-upgrade up` in three variants, each against its own baseline in the same bench run, every run
 * from a fresh 3.1.2 cluster:
 *   - the soak (issue 17): `up --soak S` against `up --soak 0` at the smallest host count. What a soak
 *     costs is read per soak from the sandbox's audit log: the time from the standby wave's last node
 *     finishing to the primary wave's first node beginning, with the soak minus without it; the
 *     configured S is what it should cost, anything above is overhead (the watch's SSH command, the
 *     engine's steps around it);
 *   - parallelism P at the largest host count, against the critical path computed for P (a wave's
 *     batches of P nodes one after the other, each as long as its slowest node); the audit must show
 *     at most P upgrades at once, batches and waves never overlapping;
 *   - the state in PostgreSQL (a throwaway cluster, sandbox/postgres.ts) against `file://`
 *     (the `--soak 0` run above) at the smallest host count (issue 18).
 */
import * as os from "os";
import { UpgradeConfig } from "../lib/config/schema";
import { batches, nodeKey, soakSteps, SoakStep, Wave } from "../lib/plan";
import { AuditEntry, readAudit } from "../sandbox/audit";
import { status } from "../sandbox/cluster";
import { SandboxState } from "../sandbox/state";
import { startPostgres } from "../sandbox/postgres";
import { criticalPath } from "./critical";
import { fig, Figure, na, cell, columns, figureValue } from "./report";
import { CliRun, removeStackFiles, runCli, writeToolStack } from "./tool";

/** One upgrade of one node on a host, from the audit log: when scmupgrade.py began and ended. */
export interface Span {
    node: string;
    begin: number;
    end: number;
}

/** The upgrade spans of the audit entries (begin, then success/failed) of one run. */
export function upgradeSpans(audit: readonly AuditEntry[]): Span[] {
    const open = new Map<string, number>();
    const out: Span[] = [];
    for (const e of audit) {
        if (e.action !== "upgrade") continue;
        const node = `${e.host}/${e.service}`;
        if (e.outcome === "begin") open.set(node, Date.parse(e.time));
        else if (open.has(node)) {
            out.push({ node, begin: open.get(node)!, end: Date.parse(e.time) });
            open.delete(node);
        }
    }
    return out;
}

/** The most spans running at one moment. */
export function maxOverlap(spans: readonly Span[]): number {
    const points = spans.flatMap((s) => [
        { t: s.begin, d: 1 },
        { t: s.end, d: -1 },
    ]);
    // An end and a begin at the same millisecond do not overlap.
    points.sort((a, b) => a.t - b.t || a.d - b.d);
    let now = 0;
    let max = 0;
    for (const p of points) {
        now += p.d;
        max = Math.max(max, now);
    }
    return max;
}

/**
 * What the audit of a run with `parallelism` must show: every planned node upgraded once, at most
 * `parallelism` at a time, and each batch (lib/plan `batches`) begun only after every node of the
 * batch before it (same wave, or the wave before) ended. Returns the problems (none: []).
 */
export function checkBatches(spans: readonly Span[], waves: readonly Wave[], parallelism: number): string[] {
    const problems: string[] = [];
    const byNode = new Map(spans.map((s) => [s.node, s]));
    const planned = waves.flatMap((w) => w.nodes.map(nodeKey));
    const missing = planned.filter((k) => !byNode.has(k));
    if (missing.length) problems.push(`not upgraded: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}`);
    if (spans.length !== new Set(spans.map((s) => s.node)).size) problems.push("a node was upgraded more than once");
    const overlap = maxOverlap(spans);
    if (overlap > parallelism) problems.push(`${overlap} upgrades ran at once (parallelism ${parallelism})`);
    let prevEnd = -Infinity;
    let prevLabel = "";
    for (const w of waves) {
        batches(w, parallelism).forEach((b, i) => {
            const s = b.map((n) => byNode.get(nodeKey(n))).filter((x): x is Span => !!x);
            if (!s.length) return;
            const label = `${w.id} batch ${i + 1}`;
            const begin = Math.min(...s.map((x) => x.begin));
            if (begin < prevEnd) problems.push(`${label} began ${prevEnd - begin} ms before ${prevLabel} ended`);
            prevEnd = Math.max(...s.map((x) => x.end));
            prevLabel = label;
        });
    }
    return problems;
}

/**
 * Where a run's time went, from its audit spans, in seconds: `running` = the sum over batches of the
 * time from the batch's first scmupgrade.py beginning to its last ending; `between` = the sum of the
 * gaps from one batch's last end to the next one's first begin (health gates, engine steps, SSH).
 */
export function batchTimes(spans: readonly Span[], waves: readonly Wave[], parallelism: number): { running: number; between: number; batches: number } {
    const byNode = new Map(spans.map((s) => [s.node, s]));
    let running = 0;
    let between = 0;
    let count = 0;
    let prevEnd: number | undefined;
    for (const w of waves) {
        for (const b of batches(w, parallelism)) {
            const s = b.map((n) => byNode.get(nodeKey(n))).filter((x): x is Span => !!x);
            if (!s.length) continue;
            const begin = Math.min(...s.map((x) => x.begin));
            const end = Math.max(...s.map((x) => x.end));
            running += end - begin;
            if (prevEnd !== undefined) between += Math.max(0, begin - prevEnd);
            prevEnd = end;
            count++;
        }
    }
    return { running: running / 1000, between: between / 1000, batches: count };
}

/**
 * Per soak: the time from the last node of the standby wave before it ending (scmupgrade.py done,
 * audit) to the first node of its primary wave beginning, in seconds; undefined when the run did not
 * get that far.
 */
export function handoverSeconds(spans: readonly Span[], waves: readonly Wave[], soak: Pick<SoakStep, "beforeWave">): number | undefined {
    const byNode = new Map(spans.map((s) => [s.node, s]));
    const primary = waves.find((w) => w.index === soak.beforeWave);
    const standby = waves.find((w) => w.index === soak.beforeWave - 1);
    if (!primary || !standby) return undefined;
    const ends = standby.nodes.map((n) => byNode.get(nodeKey(n))?.end);
    const begins = primary.nodes.map((n) => byNode.get(nodeKey(n))?.begin);
    if (ends.some((x) => x === undefined) || begins.some((x) => x === undefined)) return undefined;
    return (Math.min(...(begins as number[])) - Math.max(...(ends as number[]))) / 1000;
}

export interface SoakFigures {
    seconds: number;
    intervalSeconds: number;
    soaks: {
        id: string;
        /** Standby-to-primary handover with the soak and without it, seconds. */
        withSoak?: number;
        without?: number;
        /** withSoak - without: what the soak cost. */
        cost?: number;
        /** cost - seconds: anything the soak cost beyond its configured time. */
        overhead?: number;
        /** How long the watches lasted on the hosts (their own `seconds` output), by host. */
        watched: Record<string, number>;
    }[];
    /** Wall time of up --soak S, of up --soak 0, and the difference, seconds. */
    wallWith: Figure;
    wallWithout: Figure;
    /** Sum over soaks of the configured time. */
    configuredTotal: number;
}

export interface ParallelFigures {
    hosts: number;
    parallelism: number;
    criticalPath: Figure;
    /** The same plan's critical path at parallelism 1, for scale. */
    criticalPathSerial: Figure;
    up: Figure;
    maxOverlap?: number;
    problems: string[];
    /** Where the up's time went (audit spans): see batchTimes. */
    time?: { running: number; between: number; batches: number };
}

export interface BackendFigures {
    hosts: number;
    /** file://: the run before the PostgreSQL one (the soak's baseline) and one after it. */
    file: Figure;
    fileAfter: Figure;
    postgres: Figure;
}

export interface VariantFigures {
    loadAtStart: number[];
    loadAtEnd?: number[];
    soak?: SoakFigures | { na: string };
    parallel?: ParallelFigures | { na: string };
    backends?: BackendFigures | { na: string };
}

/** What a variant run needs from the bench's host-count part. */
export interface HostsContext {
    hosts: number;
    /** A fresh 3.1.2 cluster (sandbox reset, slowdown set); returns its state. */
    fresh: (what: string) => Promise<SandboxState>;
    /** The bench's stack config of the current cluster (as `bench-up-<N>` has it). */
    raw: () => Record<string, unknown>;
    config: UpgradeConfig;
    waves: Wave[];
    work: string;
    backendDir: string;
    log: (line: string) => void;
}

const events = (r: CliRun): Record<string, unknown>[] =>
    r.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .flatMap((l) => {
            try {
                return [JSON.parse(l) as Record<string, unknown>];
            } catch {
                return [];
            }
        });

/** Every node at the target and healthy. */
async function allUpgraded(state: SandboxState): Promise<string[]> {
    const st = await status({ dir: state.dir });
    const bad: string[] = [];
    for (const h of st.hosts)
        for (const n of h.nodes)
            if (n.version !== state.targetVersion || n.health !== "UP") bad.push(`${h.name}:${n.port} ${n.service} is ${n.version} ${n.health}`);
    return bad;
}

/** `up` of a stack written for this run, from a fresh cluster; the wall time, or why there is none, and the run's audit spans. */
async function upOnce(
    ctx: HostsContext,
    stack: string,
    extra: Record<string, unknown>,
    args: string[],
    backendUrl?: string,
): Promise<{ figure: Figure; spans: Span[]; run?: CliRun }> {
    const state = await ctx.fresh(`scm-upgrade up (${stack})`);
    const backend = { backendDir: ctx.backendDir, backendUrl, workDir: ctx.work };
    try {
        await writeToolStack(stack, { ...ctx.raw(), ...extra }, state.clientKeyPath, backend);
        const t0 = new Date(Date.now() - 1000).toISOString();
        const r = await runCli(["up", "--stack", stack, "--yes", "--json", ...args], backend);
        const spans = upgradeSpans(readAudit(state.dir).filter((e) => e.time >= t0));
        const bad = r.code === 0 ? await allUpgraded(state) : [`exit ${r.code}: ${r.stderr.trim().split("\n").pop()}`];
        ctx.log(
            `${ctx.hosts} hosts: scm-upgrade up ${args.join(" ")} (stack ${stack}) ${bad.length ? `FAILED: ${bad[0]}` : "succeeded"} in ${r.seconds.toFixed(1)} s`,
        );
        return { figure: bad.length ? na(`failed: ${bad[0]}`) : fig(r.seconds), spans, run: r };
    } finally {
        removeStackFiles();
    }
}

/** up --soak 0 and up --soak S (file://), then up with the state in PostgreSQL, at this host count. */
export async function soakAndBackends(ctx: HostsContext, o: { soakSeconds: number; skip: Set<string> }): Promise<Pick<VariantFigures, "soak" | "backends">> {
    const out: Pick<VariantFigures, "soak" | "backends"> = {};
    const settings = { seconds: o.soakSeconds, intervalSeconds: 1 };
    // The baseline of both: no soak, state in the bench's file:// folder.
    const base = await upOnce(ctx, `bench-file-${ctx.hosts}`, {}, ["--soak", "0"]);
    if (!o.skip.has("soak")) {
        const soaks = soakSteps(ctx.waves, settings);
        const withSoak = await upOnce(ctx, `bench-soak-${ctx.hosts}`, { soak: settings }, ["--soak", String(settings.seconds)]);
        const watched = new Map<string, Record<string, number>>();
        for (const e of withSoak.run ? events(withSoak.run) : []) {
            if (e.type === "soak" && e.status === "passed")
                watched.set(String(e.soak), { ...(watched.get(String(e.soak)) ?? {}), [String(e.host)]: Number(e.seconds) });
        }
        out.soak = {
            seconds: settings.seconds,
            intervalSeconds: settings.intervalSeconds,
            configuredTotal: soaks.length * settings.seconds,
            wallWith: withSoak.figure,
            wallWithout: base.figure,
            soaks: soaks.map((s) => {
                const w = handoverSeconds(withSoak.spans, ctx.waves, s);
                const b = handoverSeconds(base.spans, ctx.waves, s);
                const cost = w !== undefined && b !== undefined ? w - b : undefined;
                return {
                    id: s.id,
                    withSoak: w,
                    without: b,
                    cost,
                    overhead: cost === undefined ? undefined : cost - s.seconds,
                    watched: watched.get(s.id) ?? {},
                };
            }),
        };
    }
    if (!o.skip.has("postgres")) {
        let pg: Awaited<ReturnType<typeof startPostgres>> | undefined;
        try {
            ctx.log(`${ctx.hosts} hosts: starting a throwaway PostgreSQL cluster for the state`);
            pg = await startPostgres("bench");
            const r = await upOnce(ctx, `bench-pg-${ctx.hosts}`, {}, ["--soak", "0"], pg.url);
            // file:// once more after it: the machine's drift shows as the difference of the two file:// runs.
            const after = await upOnce(ctx, `bench-file2-${ctx.hosts}`, {}, ["--soak", "0"]);
            out.backends = { hosts: ctx.hosts, file: base.figure, fileAfter: after.figure, postgres: r.figure };
        } catch (e) {
            out.backends = { na: `PostgreSQL: ${(e as Error).message.split("\n")[0]}` };
        } finally {
            pg?.stop();
        }
    }
    return out;
}

/** up with `parallelism` at this host count, against its critical path. */
export async function parallelRun(
    ctx: HostsContext,
    o: { parallelism: number; stagingSeconds: number; nodeSeconds: Parameters<typeof criticalPath>[0]["nodeSeconds"] },
): Promise<ParallelFigures> {
    const cp = criticalPath({ stagingSeconds: o.stagingSeconds, waves: ctx.waves, parallelism: o.parallelism, nodeSeconds: o.nodeSeconds });
    const serial = criticalPath({ stagingSeconds: o.stagingSeconds, waves: ctx.waves, parallelism: 1, nodeSeconds: o.nodeSeconds });
    ctx.log(`${ctx.hosts} hosts: critical path at parallelism ${o.parallelism}: ${cp.totalSeconds.toFixed(1)} s (at 1: ${serial.totalSeconds.toFixed(1)} s)`);
    const r = await upOnce(ctx, `bench-par-${ctx.hosts}`, { parallelism: o.parallelism }, ["--soak", "0"]);
    const problems = "value" in r.figure ? checkBatches(r.spans, ctx.waves, o.parallelism) : [];
    if (problems.length) ctx.log(`${ctx.hosts} hosts: parallelism ${o.parallelism}: ${problems.join("; ")}`);
    return {
        hosts: ctx.hosts,
        parallelism: o.parallelism,
        criticalPath: fig(cp.totalSeconds),
        criticalPathSerial: fig(serial.totalSeconds),
        up: problems.length ? na(`failed the batch check: ${problems[0]}`) : r.figure,
        maxOverlap: r.spans.length ? maxOverlap(r.spans) : undefined,
        problems,
        time: r.spans.length ? batchTimes(r.spans, ctx.waves, o.parallelism) : undefined,
    };
}

const s1 = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(1));
const s2 = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(2));
const sgn = (x: number | undefined) => (x === undefined ? "-" : `${x >= 0 ? "+" : ""}${x.toFixed(2)}`);
const load = (l: readonly number[] | undefined) => (l ? l.map((x) => x.toFixed(2)).join(" ") : "-");

/** The variants as a text section of the bench report. */
export function renderVariants(v: VariantFigures): string {
    const out: string[] = [`scm-upgrade up variants (load average ${load(v.loadAtStart)} at their start, ${load(v.loadAtEnd)} at their end)`];
    if (v.soak) {
        out.push("");
        if ("na" in v.soak) out.push(`soak: n/a (${v.soak.na})`);
        else {
            const s = v.soak;
            const rows = [
                ["soak (before its primary wave)", "handover with (s)", "without (s)", "cost (s)", `cost - ${s.seconds} s`, "watch on the hosts (s)"],
            ];
            for (const x of s.soaks)
                rows.push([
                    x.id,
                    s2(x.withSoak),
                    s2(x.without),
                    s2(x.cost),
                    sgn(x.overhead),
                    Object.entries(x.watched)
                        .map(([h, t]) => `${h} ${t}`)
                        .join(", ") || "-",
                ]);
            const diff =
                figureValue(s.wallWith) !== undefined && figureValue(s.wallWithout) !== undefined
                    ? figureValue(s.wallWith)! - figureValue(s.wallWithout)!
                    : undefined;
            out.push(
                `soak of ${s.seconds} s (health every ${s.intervalSeconds} s), ${s.soaks.length} soaks: up --soak ${s.seconds} ${cell(s.wallWith)} s, up --soak 0 ${cell(s.wallWithout)} s: ` +
                    `difference ${s1(diff)} s for ${s.configuredTotal} s configured (${sgn(diff === undefined ? undefined : diff - s.configuredTotal)} s)`,
                "handover = from the standby wave's last scmupgrade.py ending to the primary wave's first beginning (sandbox audit log)",
                columns(rows),
            );
        }
    }
    if (v.parallel) {
        out.push("");
        if ("na" in v.parallel) out.push(`parallelism: n/a (${v.parallel.na})`);
        else {
            const p = v.parallel;
            const c = figureValue(p.criticalPath);
            const u = figureValue(p.up);
            out.push(
                columns([
                    [`${p.hosts} hosts, parallelism ${p.parallelism}`, "seconds", "ratio"],
                    [`critical path at parallelism ${p.parallelism}`, cell(p.criticalPath), ""],
                    [`scm-upgrade up, parallelism ${p.parallelism}`, cell(p.up), u !== undefined && c ? (u / c).toFixed(2) : "-"],
                    ["critical path at parallelism 1 (for scale)", cell(p.criticalPathSerial), ""],
                ]),
                `audit: at most ${p.maxOverlap ?? "-"} upgrades at once; batches and waves ${p.problems.length ? `NOT in order: ${p.problems.join("; ")}` : "never overlapped"}`,
                ...(p.time && u !== undefined
                    ? [
                          `of the ${u.toFixed(1)} s: ${p.time.running.toFixed(1)} s with upgrades running (${p.time.batches} batches, first scmupgrade.py begun to last ended), ` +
                              `${p.time.between.toFixed(1)} s between batches (health gates, engine steps, SSH), ${(u - p.time.running - p.time.between).toFixed(1)} s before the first and after the last (start-up, live read, preflight, staging, end)`,
                      ]
                    : []),
            );
        }
    }
    if (v.backends) {
        out.push("");
        if ("na" in v.backends) out.push(`state in PostgreSQL: n/a (${v.backends.na})`);
        else {
            const b = v.backends;
            const files = [figureValue(b.file), figureValue(b.fileAfter)].filter((x): x is number => x !== undefined);
            const f = files.length ? files.reduce((a, x) => a + x, 0) / files.length : undefined;
            const p = figureValue(b.postgres);
            out.push(
                columns([
                    [`${b.hosts} hosts, same run, in this order`, "up (s)", "ratio to file:// (mean)"],
                    ["state in file://", cell(b.file), ""],
                    ["state in PostgreSQL", cell(b.postgres), f !== undefined && p !== undefined ? (p / f).toFixed(2) : "-"],
                    ["state in file:// again", cell(b.fileAfter), ""],
                ]),
            );
        }
    }
    return out.join("\n");
}

export const loadNow = () => os.loadavg();
