import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ProgressEvent } from "../../engine/events";
import { nodeKey, planWaves, PlanInput, Wave } from "../../lib/plan";
import {
    buildRunModel,
    esc,
    fileStamp,
    planSvgLayout,
    readEventsJsonl,
    renderPlanHtml,
    renderPlanSvg,
    renderRunReport,
    writeRunReportFile,
} from "../../report";
import { commonDomain, duration } from "../../report/html";
import { sampleRunEvents } from "../../report/sample";

const seedHosts: PlanInput["hosts"] = [
    { name: "A", address: "192.0.2.11", center: "primary", services: ["cloud", "config-server", "content-server"], site: "rootSite", rootSite: true },
    { name: "B", address: "192.0.2.12", center: "primary", services: ["cloud", "schedule-server", "content-server"], site: "branchSite1" },
    { name: "C", address: "198.51.100.11", center: "standby", services: ["cloud", "config-server", "content-server"], site: "rootSite", rootSite: true },
    { name: "D", address: "198.51.100.12", center: "standby", services: ["cloud", "schedule-server", "content-server"], site: "branchSite1" },
];
const serviceOrder: PlanInput["serviceOrder"] = ["cloud", "config-server", "content-server", "schedule-server"];
const seed = planWaves({ hosts: seedHosts, serviceOrder });
const allKeys = (waves: readonly Wave[]) => waves.flatMap((w) => w.nodes.map(nodeKey));

/** Values of one attribute, in document order. */
const attrs = (text: string, name: string) => [...text.matchAll(new RegExp(`\\s${name}="([^"]*)"`, "g"))].map((m) => m[1]);
const unescapeHtml = (s: string) =>
    s
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&amp;/g, "&");

/** Every element closed, properly nested (the SVG must parse as XML when saved as a file). */
function expectBalanced(xml: string) {
    const stack: string[] = [];
    for (const m of xml.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g)) {
        const [, close, name, , self] = m;
        if (self) continue;
        if (close) expect(`</${stack.pop()}>`).toBe(`</${name}>`);
        else stack.push(name);
    }
    expect(stack).toEqual([]);
    // No bare `&` or `<` in text: every `&` starts an entity.
    expect(xml.replace(/&(amp|lt|gt|quot|#39);/g, "")).not.toMatch(/&/);
}

/** The `<g data-wave=...>` block of a wave. */
function waveBlock(svg: string, index: number): string {
    const start = svg.indexOf(`<g data-wave="${index}"`);
    expect(start).toBeGreaterThan(-1);
    let depth = 0;
    const re = /<(\/?)g[\s>]/g;
    re.lastIndex = start;
    for (let m = re.exec(svg); m; m = re.exec(svg)) {
        depth += m[1] ? -1 : 1;
        if (depth === 0) return svg.slice(start, m.index + 4);
    }
    throw new Error("unclosed wave group");
}

const rectOf = (block: string) => {
    const m = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(block)!;
    return { x: +m[1], y: +m[2], w: +m[3], h: +m[4] };
};

describe("renderPlanSvg", () => {
    const svg = renderPlanSvg(seed);

    test("one box per wave, in plan order, and one chip per node inside its wave's box", () => {
        expect(attrs(svg, "data-wave")).toEqual(seed.map((w) => String(w.index)));
        expect(attrs(svg, "data-node")).toEqual(allKeys(seed));
        for (const w of seed) {
            const block = waveBlock(svg, w.index);
            expect(attrs(block, "data-node")).toEqual(w.nodes.map(nodeKey));
            expect(block).toContain(`>${w.service}</text>`);
            expect(attrs(block, "data-center")).toEqual([w.center]);
        }
    });

    test("waves go down the page in order; standby boxes in the left lane, primary in the right", () => {
        const boxes = seed.map((wave) => ({ wave, ...rectOf(waveBlock(svg, wave.index)) }));
        for (let i = 1; i < boxes.length; i++) expect(boxes[i].y).toBeGreaterThan(boxes[i - 1].y + boxes[i - 1].h);
        const standbyX = new Set(boxes.filter((b) => b.wave.center === "standby").map((b) => b.x));
        const primaryX = new Set(boxes.filter((b) => b.wave.center === "primary").map((b) => b.x));
        expect(standbyX.size).toBe(1);
        expect(primaryX.size).toBe(1);
        expect([...standbyX][0]).toBeLessThan([...primaryX][0]);
        expect(attrs(svg, "data-lane")).toEqual(["standby", "primary"]);
        const { width, height } = planSvgLayout(seed);
        expect(svg).toContain(`width="${width}" height="${height}"`);
        for (const b of boxes) expect(b.y + b.h).toBeLessThan(height);
    });

    test("an arrow from each wave to the next", () => {
        expect(attrs(svg, "data-edge")).toEqual(seed.slice(1).map((w, i) => `${seed[i].index}-${w.index}`));
        expect(svg.match(/marker-end="url\(#arrow\)"/g)!.length).toBe(seed.length - 1 + 1 /* legend */);
    });

    test("content-server waves show their site and whether it is the root or a branch site", () => {
        const content = seed.filter((w) => w.service === "content-server");
        expect(attrs(svg, "data-site")).toEqual(content.map((w) => w.site));
        expect(attrs(svg, "data-site-role")).toEqual(["root", "root", "branch", "branch"]);
        expect(waveBlock(svg, content[0].index)).toContain("site rootSite · root");
        expect(waveBlock(svg, seed[0].index)).not.toContain("data-site");
    });

    test("service bands group consecutive waves of one service", () => {
        expect(attrs(svg, "data-service")).toEqual(serviceOrder);
    });

    test("hosts' addresses in the tooltips; well-formed; deterministic; nothing fetched", () => {
        expect(svg).toContain("<title>C/cloud on 198.51.100.11</title>");
        expectBalanced(svg);
        expect(renderPlanSvg(seed)).toBe(svg);
        expect(svg.match(/https?:\/\/[^"'\s)]*/g)).toEqual(["http://www.w3.org/2000/svg"]);
        expect(svg).not.toMatch(/<script|<image|href=/i);
    });

    test("every text is escaped: host, site and service names cannot inject markup", () => {
        const evil = planWaves({
            hosts: [
                {
                    name: `<script>alert("x")</script>`,
                    address: `10.0.0.1"><b>`,
                    center: "standby",
                    services: ["content-server"],
                    site: `r&d's <site>`,
                    rootSite: true,
                },
                { name: "p&q", address: "10.0.0.2", center: "primary", services: ["content-server"], site: `r&d's <site>`, rootSite: true },
            ],
            serviceOrder: ["content-server"],
        });
        const out = renderPlanSvg(evil);
        expect(out).not.toContain("<script");
        expect(out).not.toContain("<b>");
        expect(out).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
        expect(out).toContain("r&amp;d&#39;s &lt;site&gt;");
        expect(attrs(out, "data-node").map(unescapeHtml)).toEqual(allKeys(evil));
        expectBalanced(out);
        const html = renderPlanHtml(evil, { stack: `<stack>` });
        expect(html).not.toContain("<script");
        expect(html).toContain("<title>Upgrade plan of stack &lt;stack&gt;</title>");
    });

    test("many hosts: chips wrap inside the box and never overlap; a shared domain is left out of the chips", () => {
        const hosts = Array.from({ length: 30 }, (_, i) => ({
            name: `scm-node-${String(i + 1).padStart(2, "0")}.dc1.example.com`,
            address: `10.1.0.${i + 1}`,
            center: (i % 2 ? "primary" : "standby") as "primary" | "standby",
            services: ["cloud" as const],
        }));
        const waves = planWaves({ hosts, serviceOrder: ["cloud"] });
        const out = renderPlanSvg(waves);
        expect(out).toContain("host names shown without .dc1.example.com");
        expect(out).toContain(">scm-node-01</text>");
        expect(out).toContain("<title>scm-node-01.dc1.example.com/cloud on 10.1.0.1</title>");
        for (const w of waves) {
            const block = waveBlock(out, w.index);
            const box = rectOf(block);
            const chips = [
                ...block.matchAll(/<g data-node="[^"]*"[^>]*>\n<title>[^<]*<\/title>\n<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/g),
            ].map((m) => ({ x: +m[1], y: +m[2], w: +m[3], h: +m[4] }));
            expect(chips).toHaveLength(15);
            expect(new Set(chips.map((c) => c.y)).size).toBeGreaterThan(1); // wrapped
            for (const c of chips) {
                expect(c.x).toBeGreaterThanOrEqual(box.x);
                expect(c.x + c.w).toBeLessThanOrEqual(box.x + box.w);
                expect(c.y + c.h).toBeLessThanOrEqual(box.y + box.h);
            }
            for (let i = 0; i < chips.length; i++)
                for (let j = i + 1; j < chips.length; j++) {
                    const a = chips[i];
                    const b = chips[j];
                    expect(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y).toBe(true);
                }
        }
    });

    test("an empty plan says so", () => {
        const out = renderPlanSvg([]);
        expect(out).toContain("Empty plan");
        expect(attrs(out, "data-wave")).toEqual([]);
        expectBalanced(out);
    });
});

describe("renderPlanHtml", () => {
    test("a self-contained page: the graph inline, a table of the waves, a policy that forbids fetching anything", () => {
        const html = renderPlanHtml(seed, { stack: "production" });
        expect(html).toMatch(/^<!DOCTYPE html>/);
        expect(html).toContain(renderPlanSvg(seed));
        expect(attrs(html, "data-wave-row")).toEqual(seed.map((w) => String(w.index)));
        expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
        expect(html).not.toMatch(/<script|<link|src=|@import|url\(http/i);
    });
});

describe("helpers", () => {
    test("esc", () => expect(esc(`<a href="x">&'`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&#39;"));
    test("commonDomain: only a dotted suffix with a letter, never a part of an IP, never a whole name", () => {
        expect(commonDomain(["a.dc.example.com", "bb.dc.example.com"])).toBe(".dc.example.com");
        expect(commonDomain(["a1.x.org", "a2.y.org"])).toBe(".org");
        expect(commonDomain(["10.0.0.1", "10.0.1.1"])).toBe("");
        expect(commonDomain(["A", "B"])).toBe("");
        expect(commonDomain(["a.example.com"])).toBe("");
        expect(commonDomain(["example.com", "a.example.com"])).toBe(".com");
    });
    test("duration", () => {
        expect(duration(12.34)).toBe("12.3 s");
        expect(duration(245)).toBe("4 min 05 s");
        expect(duration(3720)).toBe("1 h 02 min");
    });
    test("fileStamp and writeRunReportFile: run-<stack>-<UTC time>.html, never overwriting", () => {
        const when = new Date("2025-03-04T05:06:07.890Z");
        expect(fileStamp(when)).toBe("20250304T050607Z");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-report-unit-"));
        try {
            const a = writeRunReportFile(path.join(dir, "r"), "prod/../x", "<p>1</p>", when);
            const b = writeRunReportFile(path.join(dir, "r"), "prod/../x", "<p>2</p>", when);
            expect(path.basename(a)).toBe("run-prod_.._x-20250304T050607Z.html");
            expect(path.basename(b)).toBe("run-prod_.._x-20250304T050607Z-2.html");
            expect(fs.readFileSync(a, "utf8")).toBe("<p>1</p>");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
    test("readEventsJsonl: the JSON lines of `up --json`, other lines skipped, the summary's nodes as results", () => {
        const text = [
            `{"type":"run-started","operation":"up","stack":"s","time":"2025-01-01T00:00:00Z"}`,
            `not json`,
            `{"broken": `,
            `{"no":"type"}`,
            `{"type":"summary","nodes":{"C/cloud":{"versionBefore":"3.1.2","versionAfter":"3.2.0","skipped":false,"seconds":3}}}`,
            ``,
        ].join("\n");
        const r = readEventsJsonl(text);
        expect(r.events.map((e) => e.type)).toEqual(["run-started"]);
        expect(r.results?.["C/cloud"]?.seconds).toBe(3);
    });
});

/** Events of a run, hand-written: times as seconds from 02:00:00. */
const at = (s: number) => new Date(Date.parse("2025-01-01T02:00:00Z") + s * 1000).toISOString();
const node = (
    host: string,
    service: string,
    status: Extract<ProgressEvent, { type: "node" }>["status"],
    s: number,
    extra: Partial<Extract<ProgressEvent, { type: "node" }>> = {},
): ProgressEvent => ({
    type: "node",
    host,
    service,
    status,
    time: at(s),
    ...extra,
});

describe("buildRunModel", () => {
    test("a whole successful run: every node healthy, start before end, grouped by wave in plan order", () => {
        const events = sampleRunEvents(seed, { stack: "production", skipped: ["C/config-server"] });
        const m = buildRunModel({ plan: seed, events });
        expect(m.operation).toBe("up");
        expect(m.stack).toBe("production");
        expect(m.result).toBe("succeeded");
        expect(m.groups.map((g) => g.wave?.index)).toEqual(seed.map((w) => w.index));
        expect(m.rows.map((r) => r.key)).toEqual(allKeys(seed));
        expect(m.counts).toMatchObject({ healthy: 11, skipped: 1, failed: 0, "not-run": 0 });
        for (const r of m.rows) {
            expect(r.start).toBeLessThan(r.end!);
            expect(r.start!).toBeGreaterThanOrEqual(m.t0);
            expect(r.end!).toBeLessThanOrEqual(m.t1);
        }
        // Waves one after the other: no node starts before every node of the waves before it has ended.
        for (let i = 1; i < m.groups.length; i++) {
            const prevEnd = Math.max(...m.groups[i - 1].rows.map((r) => r.end!));
            for (const r of m.groups[i].rows) expect(r.start!).toBeGreaterThanOrEqual(prevEnd);
        }
        expect(m.rows.find((r) => r.key === "C/content-server")).toMatchObject({
            center: "standby",
            site: "rootSite",
            siteRole: "root",
            versionBefore: "3.1.2",
            versionAfter: "3.2.0",
        });
        expect(m.hosts.map((h) => [h.host, h.preflight?.status, h.staging?.status])).toEqual([
            ["C", "ok", "staged"],
            ["D", "ok", "staged"],
            ["A", "ok", "staged"],
            ["B", "ok", "staged"],
        ]);
        expect(m.nodeSeconds).toBeCloseTo(
            m.rows.reduce((s, r) => s + r.seconds!, 0),
            5,
        );
    });

    test("a failed run: the failed node with its message, the rest not run; an interrupted node is `running`", () => {
        const events: ProgressEvent[] = [
            { type: "run-started", operation: "up", stack: "p", time: at(0) },
            node("C", "cloud", "upgrading", 10),
            node("C", "cloud", "healthy", 40, { versionBefore: "3.1.2", versionAfter: "3.2.0", seconds: 30 }),
            node("D", "cloud", "upgrading", 41),
            node("D", "cloud", "failed", 80, { message: "health gate: <timeout> & more" }),
            { type: "diagnostic", severity: "error", message: "update failed", time: at(81) },
            { type: "run-finished", operation: "up", result: "failed", elapsedSeconds: 81, time: at(81) },
        ];
        const m = buildRunModel({ plan: seed, events });
        expect(m.result).toBe("failed");
        const d = m.rows.find((r) => r.key === "D/cloud")!;
        expect(d).toMatchObject({ outcome: "failed", seconds: 39, message: "health gate: <timeout> & more" });
        expect(m.counts).toMatchObject({ healthy: 1, failed: 1, "not-run": 10 });
        expect(m.diagnostics).toEqual([{ severity: "error", message: "update failed" }]);
        const interrupted = buildRunModel({ plan: seed, events: events.slice(0, 4) });
        expect(interrupted.rows.find((r) => r.key === "D/cloud")!.outcome).toBe("running");
        expect(interrupted.result).toBeUndefined();
    });

    test("a rollback: waves in reverse order, nodes rolled back", () => {
        const events: ProgressEvent[] = [
            { type: "run-started", operation: "rollback", stack: "p", time: at(0) },
            node("B", "schedule-server", "rolling-back", 1),
            node("B", "schedule-server", "rolled-back", 20, { versionBefore: "3.2.0", versionAfter: "3.1.2", seconds: 19 }),
            { type: "run-finished", operation: "rollback", result: "succeeded", elapsedSeconds: 21, time: at(21) },
        ];
        const m = buildRunModel({ plan: seed, events });
        expect(m.groups.map((g) => g.wave!.index)).toEqual(seed.map((w) => w.index).reverse());
        expect(m.rows[0]).toMatchObject({ key: "B/schedule-server", outcome: "rolled-back", versionAfter: "3.1.2" });
    });

    test("stack outputs fill what the events lack; nodes outside the plan get their own group", () => {
        const events: ProgressEvent[] = [
            { type: "run-started", operation: "up", stack: "p", time: at(0) },
            node("C", "cloud", "upgrading", 1),
            node("C", "cloud", "skipped", 2),
            node("Z", "cloud", "upgrading", 3),
            node("Z", "cloud", "healthy", 9),
        ];
        const m = buildRunModel({
            plan: seed,
            events,
            results: { "C/cloud": { versionBefore: "3.2.0", versionAfter: "3.2.0", skipped: true, seconds: 0.4 }, "Z/cloud": { center: "primary" } },
        });
        expect(m.rows.find((r) => r.key === "C/cloud")).toMatchObject({ outcome: "skipped", versionBefore: "3.2.0", seconds: 0.4 });
        expect(m.groups.at(-1)).toMatchObject({ title: "not in the plan" });
        expect(m.groups.at(-1)!.rows[0]).toMatchObject({ key: "Z/cloud", center: "primary", wave: 0, seconds: 6 });
        expect(m.elapsedSeconds).toBe(9);
    });

    test("preview events (`planned`) are not a run", () => {
        const m = buildRunModel({ plan: seed, events: [node("C", "cloud", "planned", 1)] });
        expect(m.counts["not-run"]).toBe(12);
    });
});

describe("renderRunReport", () => {
    test("one timeline row and one bar per node, one summary row per node, the totals", () => {
        const events = sampleRunEvents(seed, { stack: "production", skipped: ["C/config-server"] });
        const html = renderRunReport({ plan: seed, events });
        expect(attrs(html, "data-node")).toEqual(allKeys(seed));
        expect(attrs(html, "data-bar")).toEqual(allKeys(seed));
        expect(attrs(html, "data-summary-node")).toEqual(allKeys(seed));
        expect(attrs(html, "data-outcome").filter((o) => o === "healthy")).toHaveLength(11);
        expect(html).toContain(`<tr data-summary-node="C/config-server" class="o-skipped">`);
        expect(html).toMatch(/<th>nodes<\/th><td>12<\/td>/);
        expect(html).toMatch(/<th>healthy<\/th><td>11<\/td>/);
        expect(html).toMatch(/<th>skipped<\/th><td>1<\/td>/);
        expect(html).toContain("<title>Upgrade of stack production</title>");
        expect(attrs(html, "data-host-phase")).toEqual(["C", "D", "A", "B"]);
        expect(html).not.toMatch(/<script|<link|src=|@import/i);
        expect(renderRunReport({ plan: seed, events })).toBe(html);
    });

    test("bars are placed by time: later waves further right, widths in proportion to the seconds", () => {
        const events = sampleRunEvents(seed, { nodeSeconds: (k) => (k === "A/cloud" ? 120 : 30) });
        const html = renderRunReport({ plan: seed, events });
        const bars = [...html.matchAll(/<rect data-bar="([^"]+)" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"/g)].map((m) => ({
            key: m[1],
            x: +m[2],
            y: +m[3],
            w: +m[4],
        }));
        expect(bars.map((b) => b.key)).toEqual(allKeys(seed));
        for (let i = 1; i < bars.length; i++) {
            expect(bars[i].x).toBeGreaterThan(bars[i - 1].x);
            expect(bars[i].y).toBeGreaterThan(bars[i - 1].y);
        }
        const a = bars.find((b) => b.key === "A/cloud")!;
        const c = bars.find((b) => b.key === "C/cloud")!;
        expect(a.w / c.w).toBeCloseTo(4, 1);
    });

    test("a failed run: the failure explained (escaped), nodes not run drawn as such, the result shown", () => {
        const failed = "A/content-server";
        const events = sampleRunEvents(seed, { failed });
        const html = renderRunReport({ plan: seed, events });
        expect(attrs(html, "data-node")).toEqual(allKeys(seed));
        const outcomes = Object.fromEntries(allKeys(seed).map((k, i) => [k, attrs(html, "data-outcome")[i]]));
        expect(outcomes[failed]).toBe("failed");
        expect(outcomes["D/content-server"]).toBe("not-run");
        expect(outcomes["C/content-server"]).toBe("healthy");
        expect(html).toContain("<h2>Failures</h2>");
        expect(html).toContain('<span class="result bad">failed</span>');
        const rolled = renderRunReport({ plan: seed, events: sampleRunEvents(seed, { failed, rollBackFailed: true }) });
        expect(rolled).toContain(`<g data-node="${failed}" data-outcome="rolled-back">`);
    });

    test("escapes messages, hosts and the stack name", () => {
        const evil = `<img src=x onerror="alert(1)">&'`;
        const events: ProgressEvent[] = [
            { type: "run-started", operation: "up", stack: evil, time: at(0) },
            { type: "preflight", host: "C", status: "ok", warnings: [evil], time: at(1) },
            node("C", "cloud", "upgrading", 2),
            node("C", "cloud", "failed", 3, { message: evil }),
            { type: "diagnostic", severity: "warning", message: evil, time: at(3) },
            { type: "run-finished", operation: "up", result: "failed", elapsedSeconds: 3, time: at(3) },
        ];
        const html = renderRunReport({ plan: seed, events });
        expect(html).not.toContain("<img");
        expect(html).not.toContain(`onerror="`);
        expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;");
    });

    test("no events at all: every node not run, no crash", () => {
        const html = renderRunReport({ plan: seed, events: [] });
        expect(attrs(html, "data-outcome")).toEqual(allKeys(seed).map(() => "not-run"));
        expect(attrs(html, "data-bar")).toEqual([]);
    });
});
