/** The bench's results, as one table for people and one JSON document (pure: no I/O). */
import { ratio, TARGETS } from "./critical";

/** A measured figure, or why there is none. Never a made-up number. */
export type Figure = { value: number } | { na: string };

export const na = (why: string): Figure => ({ na: why });
export const fig = (value: number): Figure => ({ value });
export const figureValue = (f: Figure | undefined): number | undefined => (f && "value" in f ? f.value : undefined);

export interface HostRun {
    hosts: number;
    nodes: number;
    waves: number;
    /** Critical-path limit: staging once + the sum over waves, seconds. */
    criticalPath: Figure;
    stagingSeconds?: number;
    wavesSeconds?: number;
    /** Wall time of `scm-upgrade up --stack <bench> --yes`, seconds. */
    ours: Figure;
    /** Wall time of the Ansible playbook, seconds. */
    ansible: Figure;
    /** Wall time of the tool's shell texts over plain ssh (reference, not the tool), seconds. */
    scripts: Figure;
    /** Peak RSS of the tool's process during `up`, MiB. */
    oursPeakRssMiB: Figure;
    /** The live-state read before the engine starts (the `live-state` event of `up`), seconds. */
    liveReadSeconds?: Figure;
    /** The profile of one node's upgrade (bench/profile.ts), rendered; smallest host count only. */
    profile?: string;
}

export interface Report {
    machine: string;
    slowSeconds: number;
    method: string[];
    runs: HostRun[];
    /** planWaves + renderPlanTable in process, milliseconds. */
    planInProcessMs: Figure;
    /** `scm-upgrade plan` as a subprocess, seconds (warm). */
    planCli: Figure;
    /** The first `scm-upgrade plan` (cold: tsx compile cache, stack creation), seconds. */
    planCliCold: Figure;
    planCliPeakRssMiB: Figure;
    /** `scm-upgrade preview --no-live` of N hosts that do not exist: seconds and the driver's peak RSS. */
    previews: { hosts: number; seconds: Figure; rssMiB: Figure }[];
    planHosts: number;
    /** The command provider that ran (stand-in or official). */
    providerKind: string;
    /** Whether the Pulumi CLI wrote its automatic logs (engine/env.ts engineLogsOn): ~45 % of the engine's CPU in a large preview. */
    engineLogs?: boolean;
    /** Timed `up` runs at each host count, the figure being their median (`--runs`; default 1). */
    upRuns?: number;
    /**
     * `quickack`: the bench ran in a network namespace whose loopback route has delayed ACKs off
     * (`--quickack`, bench/quickack.ts), not this machine's default network.
     */
    network?: "default" | "quickack";
    benchPeakRssMiB: number;
    notes: string[];
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

export function cell(f: Figure | undefined, format: (x: number) => string = f1): string {
    if (!f) return "-";
    return "value" in f ? format(f.value) : `n/a (${f.na})`;
}

/** n/a carrying the first missing side's reason. */
const missing = (a: Figure, b: Figure, otherwise: string): Figure => na("na" in a ? a.na : "na" in b ? b.na : otherwise);

/** `ours / critical path` etc.; n/a when a side is missing, carrying the first reason. */
export function ratioFigure(a: Figure, b: Figure): Figure {
    const r = ratio(figureValue(a), figureValue(b));
    return r !== undefined ? fig(r) : missing(a, b, "no figure");
}

function verdict(f: Figure, max: number): string {
    const v = figureValue(f);
    if (v === undefined) return "not measured";
    return v <= max ? "met" : "NOT met";
}

/** Renders rows of cells as aligned columns (the last column is not padded). */
export function columns(rows: string[][]): string {
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
    return rows
        .map((r) =>
            r
                .map((x, c) => (c === r.length - 1 ? x : x.padEnd(widths[c])))
                .join("  ")
                .trimEnd(),
        )
        .join("\n");
}

/**
 * `(wall - critical path) / nodes` in ms: what a run adds per node over its minimal time, whatever T is (the
 * ratio to the critical path depends on how long a node takes; this does not). Fixed costs are spread over the nodes.
 */
export function overPerNodeMs(wall: Figure, cp: Figure, nodes: number): Figure {
    const a = figureValue(wall);
    const b = figureValue(cp);
    if (a !== undefined && b !== undefined && nodes > 0) return fig(((a - b) * 1000) / nodes);
    return missing(wall, cp, "no nodes");
}

export function ratios(r: HostRun) {
    return {
        oursOverCriticalPath: ratioFigure(r.ours, r.criticalPath),
        oursOverAnsible: ratioFigure(r.ours, r.ansible),
        ansibleOverCriticalPath: ratioFigure(r.ansible, r.criticalPath),
        scriptsOverCriticalPath: ratioFigure(r.scripts, r.criticalPath),
    };
}

/** "official provider", with the engine's automatic logs named when they were on (they change the figures). */
export const providerLabel = (rep: Report) =>
    `${rep.providerKind} provider${rep.engineLogs ? ", Pulumi's automatic logs on" : ""}${rep.network === "quickack" ? ", delayed ACKs off (--quickack)" : ""}`;

export function renderReport(rep: Report): string {
    const head = ["", ...rep.runs.map((r) => `${r.hosts} hosts (${r.nodes} nodes, ${r.waves} waves)`), "target", "verdict"];
    const rows: string[][] = [head];
    const perRun = (label: string, get: (r: HostRun) => Figure, format?: (x: number) => string, target = "", judge?: (r: HostRun) => string) =>
        rows.push([label, ...rep.runs.map((r) => cell(get(r), format)), target, judge ? rep.runs.map(judge).join(" / ") : ""]);
    perRun("critical path: staging once + sum of waves (s)", (r) => r.criticalPath);
    perRun("  staging once (s)", (r) => (r.stagingSeconds === undefined ? na("not measured") : fig(r.stagingSeconds)), f2);
    const median = (rep.upRuns ?? 1) > 1 ? `, median of ${rep.upRuns} runs` : "";
    perRun(`scm-upgrade up wall time, ${providerLabel(rep)}${median} (s)`, (r) => r.ours);
    perRun("  of which the live-state read (s)", (r) => r.liveReadSeconds ?? na("not measured"), f2);
    perRun("Ansible playbook wall time (s)", (r) => r.ansible);
    perRun("[reference, NOT the tool] scripts over SSH (s)", (r) => r.scripts);
    const targetRatio = (label: string, key: "oursOverCriticalPath" | "oursOverAnsible") =>
        perRun(
            label,
            (r) => ratios(r)[key],
            f2,
            `<= ${TARGETS[key]}`,
            (r) => verdict(ratios(r)[key], TARGETS[key]),
        );
    targetRatio("ours / critical path", "oursOverCriticalPath");
    targetRatio("ours / Ansible", "oursOverAnsible");
    perRun(
        "  ours over the critical path, per node (ms)",
        (r) => overPerNodeMs(r.ours, r.criticalPath, r.nodes),
        (x) => x.toFixed(0),
    );
    perRun("Ansible / critical path", (r) => ratios(r).ansibleOverCriticalPath, f2);
    perRun("[reference] scripts / critical path", (r) => ratios(r).scriptsOverCriticalPath, f2);
    perRun(
        "[reference] scripts over the critical path, per node (ms)",
        (r) => overPerNodeMs(r.scripts, r.criticalPath, r.nodes),
        (x) => x.toFixed(0),
    );
    perRun(
        "peak RSS of scm-upgrade up (MiB)",
        (r) => r.oursPeakRssMiB,
        (x) => x.toFixed(0),
    );
    const single = (label: string, f: Figure, format: (x: number) => string, target: string, v: string) =>
        rows.push([label, cell(f, format), ...rep.runs.slice(1).map(() => ""), target, v]);
    rows.push(["", ...rep.runs.map(() => ""), "", ""]);
    const ph = rep.planHosts;
    single(`planWaves + renderPlanTable, ${ph} hosts, in process (ms)`, rep.planInProcessMs, f2, "", "");
    single(`scm-upgrade plan, ${ph} hosts, subprocess, warm (s)`, rep.planCli, f2, `<= ${TARGETS.planSeconds} s`, verdict(rep.planCli, TARGETS.planSeconds));
    single(`scm-upgrade plan, ${ph} hosts, first run, cold (s)`, rep.planCliCold, f2, "", "");
    single(`peak RSS of scm-upgrade plan, ${ph} hosts (MiB)`, rep.planCliPeakRssMiB, (x) => x.toFixed(0), "", "");
    for (const p of rep.previews) {
        const t = TARGETS.previewSeconds[p.hosts];
        single(
            `scm-upgrade preview --no-live, ${p.hosts} hosts, ${providerLabel(rep)} (s)`,
            p.seconds,
            f2,
            t ? `<= ${t} s` : "",
            t ? verdict(p.seconds, t) : "",
        );
        const big = p.hosts >= 1000;
        single(
            `peak RSS of that preview (MiB)`,
            p.rssMiB,
            (x) => x.toFixed(0),
            big ? `<= ${TARGETS.previewPeakRssMiB} MiB` : "",
            big ? verdict(p.rssMiB, TARGETS.previewPeakRssMiB) : "",
        );
    }
    single("peak RSS of this bench driver (MiB)", fig(rep.benchPeakRssMiB), (x) => x.toFixed(0), "", "");
    const out = [
        `scm-upgrade bench: every node's upgrade slowed by T = ${rep.slowSeconds} s; parallelism 1`,
        `machine: ${rep.machine}`,
        ...(rep.network === "quickack"
            ? [
                  "network: a namespace of its own, its loopback route with quickack 1 (delayed ACKs off, as `ip route change <route> quickack 1` on a controller); not this machine's default",
              ]
            : []),
        "",
        columns(rows),
        "",
        ...rep.method.map((m) => `* ${m}`),
        ...rep.notes.map((m) => `! ${m}`),
        ...rep.runs.filter((r) => r.profile).map((r) => `\n${r.profile}`),
    ];
    return out.join("\n");
}

/** The JSON document of `.reports/bench.json`: the same figures, n/a as null with the reason. */
export function reportJson(rep: Report, extra: Record<string, unknown> = {}): unknown {
    const j = (f: Figure) => ("value" in f ? f.value : null);
    const why = (f: Figure) => ("na" in f ? f.na : undefined);
    return {
        generatedAt: new Date().toISOString(),
        machine: rep.machine,
        slowSeconds: rep.slowSeconds,
        parallelism: 1,
        network: rep.network ?? "default",
        targets: TARGETS,
        method: rep.method,
        notes: rep.notes,
        runs: rep.runs.map((r) => {
            const q = ratios(r);
            return {
                hosts: r.hosts,
                nodes: r.nodes,
                waves: r.waves,
                criticalPathSeconds: j(r.criticalPath),
                stagingSeconds: r.stagingSeconds ?? null,
                wavesSeconds: r.wavesSeconds ?? null,
                oursSeconds: j(r.ours),
                oursNotMeasured: why(r.ours),
                ansibleSeconds: j(r.ansible),
                ansibleNotMeasured: why(r.ansible),
                scriptsOverSshSeconds: j(r.scripts),
                scriptsNotMeasured: why(r.scripts),
                oursPeakRssMiB: j(r.oursPeakRssMiB),
                provider: rep.providerKind,
                engineLogs: rep.engineLogs ?? false,
                liveReadSeconds: r.liveReadSeconds ? j(r.liveReadSeconds) : null,
                ratios: {
                    oursOverCriticalPath: j(q.oursOverCriticalPath),
                    oursOverAnsible: j(q.oursOverAnsible),
                    ansibleOverCriticalPath: j(q.ansibleOverCriticalPath),
                    scriptsOverCriticalPath: j(q.scriptsOverCriticalPath),
                },
                oursOverPerNodeMs: j(overPerNodeMs(r.ours, r.criticalPath, r.nodes)),
                scriptsOverPerNodeMs: j(overPerNodeMs(r.scripts, r.criticalPath, r.nodes)),
            };
        }),
        plan: {
            hosts: rep.planHosts,
            inProcessMs: j(rep.planInProcessMs),
            cliWarmSeconds: j(rep.planCli),
            cliWarmNotMeasured: why(rep.planCli),
            cliColdSeconds: j(rep.planCliCold),
            cliPeakRssMiB: j(rep.planCliPeakRssMiB),
        },
        previews: rep.previews.map((p) => ({
            hosts: p.hosts,
            seconds: j(p.seconds),
            notMeasured: why(p.seconds),
            peakRssMiB: j(p.rssMiB),
            provider: rep.providerKind,
            engineLogs: rep.engineLogs ?? false,
        })),
        benchPeakRssMiB: rep.benchPeakRssMiB,
        ...extra,
    };
}
