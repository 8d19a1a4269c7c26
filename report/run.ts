/**
 * The report of one run (`up` or `rollback`): a self-contained HTML page, pure and deterministic, built
 * from the run's ProgressEvents and the plan. A timeline with one bar per node from its start to its end,
 * coloured by outcome and grouped by wave (preflight and staging per host first), then a summary table
 * (node, center, before, after, result, seconds) and the totals. No script, nothing fetched.
 *
 * Every timeline row carries `data-node="<host>/<service>"` and `data-outcome`, its bar (when the node ran)
 * `data-bar="<host>/<service>"`; summary rows carry `data-summary-node`.
 */
import type { ProgressEvent } from "../engine/events";
import { nodeKey, Wave } from "../lib/plan";
import { commonDomain, duration, esc, fitText, FONT, num, page } from "./html";
import type { RecordedNodes } from "../lib/results";

/** What a node came to in the run. `running`: started, no end seen (interrupted); `not-run`: never started. */
export type Outcome = "healthy" | "skipped" | "failed" | "rolled-back" | "running" | "not-run";

export interface RunReportInput {
    /** The plan of the stack (`planWaves(config)`), in upgrade order. */
    plan: readonly Wave[];
    /** Every event of the run, in the order they came. Other objects (`message`, `summary`) are ignored. */
    events: readonly (ProgressEvent | { type: string; [k: string]: unknown })[];
    /** Stack outputs after the run, used to fill in versions and seconds the events lack. */
    results?: RecordedNodes;
    /** Defaults to the `run-started` event's stack. */
    stack?: string;
    /** Shown in the footer; defaults to the last event's time (keeps the page deterministic). */
    generatedAt?: string;
}

export interface NodeRow {
    key: string;
    host: string;
    service: string;
    center: string;
    site?: string;
    siteRole?: "root" | "branch";
    /** Plan wave index; 0 for a node the events name but the plan does not. */
    wave: number;
    /** Epoch milliseconds. */
    start?: number;
    end?: number;
    outcome: Outcome;
    versionBefore?: string;
    versionAfter?: string;
    seconds?: number;
    message?: string;
}

export interface HostPhase {
    host: string;
    preflight?: { start?: number; end?: number; status: string; message?: string; warnings?: string[] };
    staging?: { start?: number; end?: number; status: string; message?: string };
}

/** A soak of the run: from its first host's watch starting to its last one ending. */
export interface SoakRow {
    id: string;
    /** The primary wave it comes before. */
    wave: number;
    start?: number;
    end?: number;
    /** `passed` when every host's watch passed, `failed` when one failed, else `running`. */
    status: "running" | "passed" | "failed";
    hosts: string[];
    nodes: string[];
    seconds: number;
    message?: string;
}

export interface RunModel {
    operation: string;
    stack: string;
    result?: "succeeded" | "failed" | "interrupted";
    /** Epoch milliseconds of the run's first and last moments (run-started / run-finished, else the events). */
    t0: number;
    t1: number;
    elapsedSeconds: number;
    /** Waves in the order the run takes them (reverse plan order for a rollback), then nodes outside the plan. */
    groups: { title: string; wave?: Wave; rows: NodeRow[] }[];
    rows: NodeRow[];
    hosts: HostPhase[];
    diagnostics: { severity: string; message: string }[];
    counts: Record<Outcome, number>;
    /** Sum of node seconds. */
    nodeSeconds: number;
    /** The soaks that ran, in the order they started. */
    soaks: SoakRow[];
}

const OUTCOMES: readonly Outcome[] = ["healthy", "skipped", "failed", "rolled-back", "running", "not-run"];
const OUTCOME_STYLE: Record<Outcome, { fill: string; label: string }> = {
    healthy: { fill: "#2f9e5b", label: "healthy" },
    skipped: { fill: "#9aa5b1", label: "skipped" },
    failed: { fill: "#d64545", label: "failed" },
    "rolled-back": { fill: "#e09b20", label: "rolled back" },
    running: { fill: "#4c8bf5", label: "running (no end seen)" },
    "not-run": { fill: "#ffffff", label: "not run" },
};
const PHASE_STYLE = { preflight: "#9fc3e6", staging: "#6b7fd7" };
const SOAK_FILL = "#c9a227";

const ms = (iso: string | undefined): number | undefined => {
    if (iso === undefined) return undefined;
    const t = Date.parse(iso);
    return Number.isNaN(t) ? undefined : t;
};

/** The run as data: the rows of the report, without any drawing. */
export function buildRunModel(input: RunReportInput): RunModel {
    const events = input.events as ProgressEvent[];
    const started = events.find((e) => e.type === "run-started") as Extract<ProgressEvent, { type: "run-started" }> | undefined;
    const finished = [...events].reverse().find((e) => e.type === "run-finished") as Extract<ProgressEvent, { type: "run-finished" }> | undefined;
    const operation = started?.operation ?? finished?.operation ?? "up";
    const rows = new Map<string, NodeRow>();
    const planOrder: NodeRow[] = [];
    for (const wave of input.plan) {
        for (const n of wave.nodes) {
            const row: NodeRow = {
                key: nodeKey(n),
                host: n.host,
                service: n.service,
                center: n.center,
                site: n.site,
                siteRole: wave.siteRole,
                wave: wave.index,
                outcome: "not-run",
            };
            rows.set(row.key, row);
            planOrder.push(row);
        }
    }
    const extra: NodeRow[] = [];
    const hosts = new Map<string, HostPhase>();
    const hostPhase = (h: string) => {
        if (!hosts.has(h)) hosts.set(h, { host: h });
        return hosts.get(h)!;
    };
    for (const h of new Set(input.plan.flatMap((w) => w.nodes.map((n) => n.host)))) hostPhase(h);
    const diagnostics: RunModel["diagnostics"] = [];
    const soaks = new Map<string, SoakRow & { open: Set<string> }>();
    const times: number[] = [];
    for (const e of events) {
        const t = ms((e as { time?: string }).time);
        if (t !== undefined) times.push(t);
        switch (e.type) {
            case "node": {
                if (e.status === "planned") break;
                const key = `${e.host}/${e.service}`;
                let row = rows.get(key);
                if (!row) {
                    const r = input.results?.[key];
                    row = { key, host: e.host, service: e.service, center: r?.center ?? "?", wave: 0, outcome: "not-run" };
                    rows.set(key, row);
                    extra.push(row);
                }
                if (e.status === "upgrading" || e.status === "rolling-back") {
                    row.start = t;
                    row.end = undefined;
                    row.outcome = "running";
                } else {
                    row.end = t;
                    row.outcome = e.status;
                    if (e.versionBefore !== undefined) row.versionBefore = e.versionBefore;
                    if (e.versionAfter !== undefined) row.versionAfter = e.versionAfter;
                    if (e.seconds !== undefined) row.seconds = e.seconds;
                    if (e.message !== undefined) row.message = e.message;
                    if (row.start === undefined && t !== undefined) row.start = e.seconds !== undefined ? t - e.seconds * 1000 : t;
                }
                break;
            }
            case "preflight": {
                const p = hostPhase(e.host);
                if (e.status === "running") p.preflight = { start: t, status: "running" };
                else p.preflight = { start: p.preflight?.start ?? t, end: t, status: e.status, message: e.message, warnings: e.warnings };
                break;
            }
            case "staging": {
                const p = hostPhase(e.host);
                if (e.status === "running") p.staging = { start: t, status: "running" };
                else p.staging = { start: p.staging?.start ?? t, end: t, status: e.status, message: e.message };
                break;
            }
            case "soak": {
                if (e.status === "planned") break;
                let row = soaks.get(e.soak);
                if (!row) {
                    row = { id: e.soak, wave: e.wave, status: "running", hosts: [], nodes: [], seconds: e.seconds, open: new Set() };
                    soaks.set(e.soak, row);
                }
                if (!row.hosts.includes(e.host)) row.hosts.push(e.host);
                for (const n of e.nodes) if (!row.nodes.includes(n)) row.nodes.push(n);
                if (e.status === "watching") {
                    row.start = row.start === undefined || (t !== undefined && t < row.start) ? t : row.start;
                    row.open.add(e.host);
                } else {
                    row.open.delete(e.host);
                    row.end = row.end === undefined || (t !== undefined && t > row.end) ? t : row.end;
                    if (e.status === "failed") {
                        row.status = "failed";
                        row.message = e.message;
                    } else if (row.status !== "failed" && row.open.size === 0) row.status = "passed";
                    if (e.status === "passed") row.seconds = Math.max(row.seconds, e.seconds);
                }
                break;
            }
            case "diagnostic":
                if (e.severity !== "info" && e.severity !== "debug") diagnostics.push({ severity: e.severity, message: e.message });
                break;
        }
    }
    // Fill from the stack outputs what the events did not say.
    for (const row of rows.values()) {
        const r = input.results?.[row.key];
        if (!r) continue;
        row.versionBefore ??= r.versionBefore;
        row.versionAfter ??= r.versionAfter;
        row.seconds ??= r.seconds;
        if (row.center === "?" && r.center) row.center = r.center;
    }
    for (const row of rows.values()) {
        if (row.seconds === undefined && row.start !== undefined && row.end !== undefined) row.seconds = Math.round((row.end - row.start) / 100) / 10;
    }
    const t0 = ms(started?.time) ?? (times.length ? Math.min(...times) : 0);
    const t1 = ms(finished?.time) ?? (times.length ? Math.max(...times) : t0);
    const elapsedSeconds = finished?.elapsedSeconds ?? (t1 - t0) / 1000;
    const waveOrder = operation === "rollback" ? [...input.plan].reverse() : [...input.plan];
    const groups: RunModel["groups"] = waveOrder.map((w) => ({
        title: `${w.index}. ${w.service} / ${w.center}${w.site === undefined ? "" : ` / ${w.site} (${w.siteRole ?? "branch"})`}`,
        wave: w,
        rows: w.nodes.map((n) => rows.get(nodeKey(n))!),
    }));
    if (extra.length) groups.push({ title: "not in the plan", rows: extra });
    const all = groups.flatMap((g) => g.rows);
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
    for (const r of all) counts[r.outcome]++;
    return {
        operation,
        stack: input.stack ?? started?.stack ?? "",
        result: finished?.result,
        t0,
        t1: Math.max(t1, t0),
        elapsedSeconds,
        groups,
        rows: all,
        hosts: [...hosts.values()],
        diagnostics,
        counts,
        nodeSeconds: Math.round(all.reduce((s, r) => s + (r.outcome === "not-run" ? 0 : (r.seconds ?? 0)), 0) * 10) / 10,
        soaks: [...soaks.values()].map(({ open, ...r }) => ({ ...r, status: r.status === "passed" && open.size ? "running" : r.status })),
    };
}

/** A tick step in seconds that gives about 6 to 12 ticks over `span` seconds. */
function tickStep(span: number): number {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
    return steps.find((s) => span / s <= 12) ?? 28800;
}

const clock = (s: number) =>
    s >= 3600
        ? `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(Math.floor(s % 60)).padStart(2, "0")}`
        : `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

/** The timeline as inline SVG. */
function timelineSvg(m: RunModel): string {
    const LABEL_W = 270;
    const CHART_W = 700;
    const ROW_H = 22;
    const GROUP_H = 24;
    const TOP = 44;
    const RIGHT = 70;
    const span = Math.max((m.t1 - m.t0) / 1000, 1);
    const x = (t: number) => LABEL_W + ((t - m.t0) / 1000 / span) * CHART_W;
    const out: string[] = [];
    const body: string[] = [];
    let y = TOP;
    const domain = commonDomain(m.rows.map((r) => r.host));
    const short = (h: string) => (domain && h.endsWith(domain) ? h.slice(0, -domain.length) : h);
    // Preparation: preflight and staging per host; past a dozen hosts, one row per phase (first start to last end).
    const prepared = m.hosts.filter((h) => h.preflight || h.staging);
    type Phase = NonNullable<HostPhase["preflight"]>;
    const phaseRows: { label: string; key: string; phases: [keyof typeof PHASE_STYLE, Phase | undefined][] }[] =
        prepared.length <= 12
            ? prepared.map((h) => ({
                  label: short(h.host),
                  key: h.host,
                  phases: [
                      ["preflight", h.preflight],
                      ["staging", h.staging],
                  ],
              }))
            : (["preflight", "staging"] as const).map((phase) => {
                  const ps = prepared.map((h) => h[phase]).filter((p): p is Phase => p !== undefined && p.start !== undefined);
                  const failed = ps.filter((p) => p.status === "failed").length;
                  const running = ps.filter((p) => p.end === undefined).length;
                  const merged: Phase | undefined = ps.length
                      ? {
                            start: Math.min(...ps.map((p) => p.start as number)),
                            end: running ? undefined : Math.max(...ps.map((p) => p.end as number)),
                            status: failed ? "failed" : running ? "running" : phase === "preflight" ? "ok" : "staged",
                            message: failed ? `${failed} of ${ps.length} hosts failed` : undefined,
                        }
                      : undefined;
                  return { label: `${phase}, ${ps.length} hosts`, key: `*${phase}`, phases: [[phase, merged]] };
              });
    if (phaseRows.length) {
        body.push(`<text x="4" y="${num(y + 16)}" font-size="12" font-weight="bold" fill="#323f4b">preflight and staging</text>`);
        y += GROUP_H;
        for (const h of phaseRows) {
            body.push(`<g data-host-phase="${esc(h.key)}">`);
            body.push(
                `<text x="16" y="${num(y + 15)}" font-size="12" fill="#1f2933">${esc(fitText(h.label, LABEL_W - 24, 12))}<title>${esc(h.key)}</title></text>`,
            );
            for (const [phase, p] of h.phases) {
                if (!p || p.start === undefined) continue;
                const end = p.end ?? m.t1;
                const x1 = x(p.start);
                const w = Math.max(x(end) - x1, 2);
                const failed = p.status === "failed";
                body.push(
                    `<rect data-phase="${phase}" data-status="${esc(p.status)}" x="${num(x1)}" y="${num(y + 4)}" width="${num(w)}" height="${ROW_H - 8}" rx="2" fill="${failed ? OUTCOME_STYLE.failed.fill : PHASE_STYLE[phase]}"><title>${esc(`${h.key} ${phase}: ${p.status}${p.end !== undefined ? `, ${duration((p.end - p.start) / 1000)}` : ""}${p.message ? `\n${p.message}` : ""}`)}</title></rect>`,
                );
            }
            body.push(`</g>`);
            y += ROW_H;
        }
    }
    for (const g of m.groups) {
        const soak = g.wave && m.operation !== "rollback" ? m.soaks.find((s) => s.wave === g.wave!.index) : undefined;
        if (soak) {
            // The soak's own row, just before the primary wave it guards.
            const fill = soak.status === "failed" ? OUTCOME_STYLE.failed.fill : soak.status === "passed" ? SOAK_FILL : OUTCOME_STYLE.running.fill;
            const tip = `${soak.id}: ${soak.status}, ${soak.nodes.join(", ")} watched ${soak.seconds} s${soak.message ? `\n${soak.message}` : ""}`;
            body.push(`<g data-soak="${esc(soak.id)}" data-status="${soak.status}">`);
            body.push(`<title>${esc(tip)}</title>`);
            body.push(
                `<text x="16" y="${num(y + 15)}" font-size="12" font-style="italic" fill="#7a5c00">${esc(fitText(`soak: ${soak.nodes.length} standby nodes`, LABEL_W - 24, 12))}</text>`,
            );
            if (soak.start !== undefined) {
                const x1 = x(soak.start);
                const w = Math.max(x(soak.end ?? m.t1) - x1, 3);
                body.push(
                    `<rect data-soak-bar="${esc(soak.id)}" x="${num(x1)}" y="${num(y + 3)}" width="${num(w)}" height="${ROW_H - 6}" rx="3" fill="${fill}"/>`,
                );
                body.push(
                    `<text x="${num(x1 + w + 4)}" y="${num(y + 15)}" font-size="10" fill="#52606d">${esc(soak.status === "failed" ? "soak failed" : `soak ${soak.seconds} s`)}</text>`,
                );
            }
            body.push(`</g>`);
            y += ROW_H;
        }
        body.push(`<text x="4" y="${num(y + 16)}" font-size="12" font-weight="bold" fill="#323f4b" data-group="${g.wave?.index ?? 0}">${esc(g.title)}</text>`);
        y += GROUP_H;
        for (const r of g.rows) {
            const style = OUTCOME_STYLE[r.outcome];
            const tip = `${r.key} (${r.center}): ${style.label}${r.seconds !== undefined && r.outcome !== "not-run" ? `, ${r.seconds} s` : ""}${r.versionBefore || r.versionAfter ? `, ${r.versionBefore ?? "?"} -> ${r.versionAfter ?? "?"}` : ""}${r.message ? `\n${r.message}` : ""}`;
            body.push(`<g data-node="${esc(r.key)}" data-outcome="${r.outcome}">`);
            body.push(`<title>${esc(tip)}</title>`);
            const label = fitText(`${short(r.host)} / ${r.service}`, LABEL_W - 66, 12);
            body.push(`<text x="16" y="${num(y + 15)}" font-size="12" fill="#1f2933">${esc(label)}</text>`);
            body.push(`<text x="${LABEL_W - 8}" y="${num(y + 15)}" font-size="10" text-anchor="end" fill="#7b8794">${esc(fitText(r.center, 52, 10))}</text>`);
            if (r.start !== undefined) {
                const end = r.end ?? m.t1;
                const x1 = x(r.start);
                const w = Math.max(x(end) - x1, 3);
                body.push(
                    `<rect data-bar="${esc(r.key)}" x="${num(x1)}" y="${num(y + 3)}" width="${num(w)}" height="${ROW_H - 6}" rx="3" fill="${style.fill}"${r.outcome === "running" ? ` fill-opacity="0.55" stroke="${style.fill}" stroke-dasharray="4 2"` : ""}/>`,
                );
                const text = r.outcome === "skipped" ? "skipped" : r.seconds !== undefined ? `${r.seconds} s` : "";
                if (text) body.push(`<text x="${num(x1 + w + 4)}" y="${num(y + 15)}" font-size="10" fill="#52606d">${esc(text)}</text>`);
            } else {
                body.push(
                    `<rect x="${LABEL_W}" y="${num(y + 3)}" width="40" height="${ROW_H - 6}" rx="3" fill="#ffffff" stroke="#cbd2d9" stroke-dasharray="3 3"/>`,
                );
                body.push(`<text x="${LABEL_W + 46}" y="${num(y + 15)}" font-size="10" fill="#9aa5b1">not run</text>`);
            }
            body.push(`</g>`);
            y += ROW_H;
        }
    }
    const height = y + 12;
    const width = LABEL_W + CHART_W + RIGHT;
    out.push(
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${num(height)}" viewBox="0 0 ${width} ${num(height)}" font-family='${FONT}' font-size="12" role="img" aria-label="Timeline of the run" data-timeline="">`,
    );
    // Grid and axis.
    const step = tickStep(span);
    for (let s = 0; s <= span + 1e-9; s += step) {
        const gx = LABEL_W + (s / span) * CHART_W;
        out.push(`<line x1="${num(gx)}" y1="${TOP - 8}" x2="${num(gx)}" y2="${num(height - 8)}" stroke="#e4e7eb"/>`);
        out.push(`<text x="${num(gx)}" y="${TOP - 14}" font-size="10" text-anchor="middle" fill="#7b8794">${clock(s)}</text>`);
    }
    out.push(`<line x1="${LABEL_W + CHART_W}" y1="${TOP - 8}" x2="${LABEL_W + CHART_W}" y2="${num(height - 8)}" stroke="#cbd2d9" stroke-dasharray="2 3"/>`);
    out.push(`<text x="4" y="12" font-size="10" fill="#7b8794">time since the start (m:ss)${domain ? `; hosts without ${esc(domain)}` : ""}</text>`);
    out.push(...body);
    out.push(`</svg>`);
    return out.join("\n");
}

function legend(): string {
    const item = (fill: string, label: string, dashed = false) =>
        `<span class="key"><svg width="22" height="12" aria-hidden="true"><rect x="1" y="1" width="20" height="10" rx="2" fill="${fill}"${dashed ? ` stroke="#cbd2d9" stroke-dasharray="3 3"` : ""}/></svg>${esc(label)}</span>`;
    return `<div class="legend">${OUTCOMES.map((o) => item(OUTCOME_STYLE[o].fill, OUTCOME_STYLE[o].label, o === "not-run")).join("")}${item(PHASE_STYLE.preflight, "preflight")}${item(PHASE_STYLE.staging, "staging")}${item(SOAK_FILL, "soak (standby watched)")}</div>`;
}

const fmtTime = (t: number) =>
    t
        ? new Date(t)
              .toISOString()
              .replace("T", " ")
              .replace(/\.\d+Z$/, " UTC")
        : "-";

/** The report page. */
export function renderRunReport(input: RunReportInput): string {
    const m = buildRunModel(input);
    const op = m.operation === "rollback" ? "Rollback" : m.operation === "up" ? "Upgrade" : m.operation;
    const title = `${op} of stack ${m.stack || "?"}`;
    const resultClass = m.result === "succeeded" ? "ok" : m.result ? "bad" : "unknown";
    const totals: [string, string][] = [
        ["result", m.result ?? "unknown (no run-finished event)"],
        ["started", fmtTime(m.t0)],
        ["wall time", duration(m.elapsedSeconds)],
        ["nodes", String(m.rows.length)],
        ...OUTCOMES.filter((o) => m.counts[o] > 0).map((o): [string, string] => [OUTCOME_STYLE[o].label, String(m.counts[o])]),
        ["node time, summed", duration(m.nodeSeconds)],
    ];
    const summaryRows = m.rows
        .map((r) => {
            const site = r.site === undefined ? "" : `${r.site}${r.siteRole ? ` (${r.siteRole})` : ""}`;
            return `<tr data-summary-node="${esc(r.key)}" class="o-${r.outcome}"><td class="num">${r.wave || ""}</td><td>${esc(r.key)}</td><td>${esc(r.center)}</td><td>${esc(site)}</td><td>${esc(r.versionBefore ?? "")}</td><td>${esc(r.versionAfter ?? "")}</td><td><span class="dot" style="background:${OUTCOME_STYLE[r.outcome].fill}"></span>${esc(OUTCOME_STYLE[r.outcome].label)}</td><td class="num">${r.seconds === undefined || r.outcome === "not-run" ? "" : esc(r.seconds.toFixed(1))}</td></tr>`;
        })
        .join("\n");
    const failures = m.rows.filter((r) => r.message);
    const phaseFailures = m.hosts.flatMap((h) =>
        [
            h.preflight?.status === "failed" ? `preflight ${h.host}: ${h.preflight.message ?? "failed"}` : undefined,
            h.staging?.status === "failed" ? `staging ${h.host}: ${h.staging.message ?? "failed"}` : undefined,
        ].filter((x): x is string => x !== undefined),
    );
    const warnings = m.hosts.flatMap((h) => (h.preflight?.warnings ?? []).map((w) => `${h.host}: ${w}`));
    const body = `<h1>${esc(title)}</h1>
<p class="sub">scm-upgrade run report: ${esc(m.operation)} on stack ${esc(m.stack)}, started ${esc(fmtTime(m.t0))}. <span class="result ${resultClass}">${esc(m.result ?? "no end recorded")}</span></p>
<table class="totals" data-totals="">
${totals.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("\n")}
</table>
<h2>Timeline</h2>
${legend()}
<div class="timeline">
${timelineSvg(m)}
</div>
<h2>Nodes</h2>
<table class="summary">
<thead><tr><th>wave</th><th>node</th><th>center</th><th>site</th><th>before</th><th>after</th><th>result</th><th>seconds</th></tr></thead>
<tbody>
${summaryRows}
</tbody>
<tfoot><tr><th colspan="7">total (${m.rows.length} nodes)</th><td class="num">${esc(m.nodeSeconds.toFixed(1))}</td></tr></tfoot>
</table>
${failures.length || phaseFailures.length ? `<h2>Failures</h2>\n${[...phaseFailures.map((t) => `<pre>${esc(t)}</pre>`), ...failures.map((r) => `<p><b>${esc(r.key)}</b></p><pre>${esc(r.message)}</pre>`)].join("\n")}` : ""}
${warnings.length ? `<h2>Preflight warnings</h2>\n<pre>${esc(warnings.join("\n"))}</pre>` : ""}
${m.diagnostics.length ? `<h2>Engine diagnostics</h2>\n${m.diagnostics.map((d) => `<pre>${esc(`${d.severity}: ${d.message}`)}</pre>`).join("\n")}` : ""}
<p class="foot">Generated by scm-upgrade from the run's events${input.generatedAt ? `, ${esc(input.generatedAt)}` : ""}. This page loads nothing from the network.</p>`;
    return page(
        title,
        body,
        `.legend { font-size: 12px; color: #52606d; margin: 0 0 6px 0; }
.legend .key { margin-right: 14px; white-space: nowrap; }
.legend svg { vertical-align: -1px; margin-right: 4px; }
.timeline svg { display: block; max-width: 100%; height: auto; }
table.totals th { background: none; font-weight: normal; color: #52606d; }
table.totals td { font-weight: 600; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 5px; margin-right: 6px; border: 1px solid #cbd2d9; }
.result { font-weight: 600; padding: 1px 8px; border-radius: 9px; }
.result.ok { background: #dff3e4; color: #1e6b35; }
.result.bad { background: #fde2e2; color: #a61b1b; }
.result.unknown { background: #f5f7fa; color: #52606d; }
tr.o-failed td { background: #fff5f5; }
p.foot { color: #7b8794; font-size: 12px; margin-top: 24px; }`,
    );
}
