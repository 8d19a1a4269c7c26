import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { nodeKey, planWaves, PlanInput, Wave } from "../../lib/plan";
import { renderPlanHtml, renderRunReport } from "../../report";
import { chromiumPresent, dumpDom, probe, requireChromium, screenshot } from "../../tools/chromium";
import { exampleWaves, makePlanImage, screenshotReport } from "../../tools/docs-images";
import { sampleRunEvents } from "../../report/sample";

// The pictures in a real browser: Debian's headless Chromium lays out the plan graph and a run report,
// and every node must come out drawn (a laid-out box of non-zero size, inside the page, not on top of
// another), and the screenshots must show the colours of the lanes and of the outcomes.
// Installs nothing: without /usr/bin/chromium every test fails and says what to install.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-report-e2e-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeEach(() => {
    if (!chromiumPresent()) requireChromium(); // throws: "... install Debian's package with `apt-get install chromium` ..."
});

const keys = (waves: readonly Wave[]) => waves.flatMap((w) => w.nodes.map(nodeKey));

/** A larger cluster than the seed: 24 hosts, long names, several branch sites. */
function bigWaves(): Wave[] {
    const hosts: PlanInput["hosts"][number][] = [];
    for (let i = 1; i <= 24; i++) {
        const center = i % 2 ? "primary" : "standby";
        hosts.push({
            name: `scm-${center}-${String(i).padStart(2, "0")}.dc.example.com`,
            address: `10.2.0.${i}`,
            center,
            services: [
                "cloud",
                "content-server",
                ...(i % 6 === 0 || i % 6 === 1 ? (["config-server"] as const) : []),
                ...(i % 4 === 0 || i % 4 === 1 ? (["schedule-server"] as const) : []),
            ],
            site: i <= 4 ? "rootSite" : `branch${i % 3}`,
            rootSite: i <= 4,
        });
    }
    return planWaves({ hosts, serviceOrder: ["cloud", "config-server", "content-server", "schedule-server"] });
}

/** A PNG's size and pixels (8-bit RGB or RGBA, not interlaced: what Chromium writes). */
function readPng(file: string): { width: number; height: number; pixel: (x: number, y: number) => [number, number, number] } {
    const buf = fs.readFileSync(file);
    expect(buf.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
    let pos = 8;
    let width = 0;
    let height = 0;
    let colorType = 0;
    const idat: Buffer[] = [];
    while (pos < buf.length) {
        const len = buf.readUInt32BE(pos);
        const type = buf.toString("ascii", pos + 4, pos + 8);
        const data = buf.subarray(pos + 8, pos + 8 + len);
        if (type === "IHDR") {
            width = data.readUInt32BE(0);
            height = data.readUInt32BE(4);
            expect(data[8]).toBe(8); // bit depth
            colorType = data[9];
            expect(data[12]).toBe(0); // not interlaced
        } else if (type === "IDAT") idat.push(data);
        pos += 12 + len;
    }
    expect([2, 6]).toContain(colorType);
    const bpp = colorType === 6 ? 4 : 3;
    const raw = zlib.inflateSync(Buffer.concat(idat));
    const stride = width * bpp;
    const px = Buffer.alloc(height * stride);
    for (let y = 0; y < height; y++) {
        const f = raw[y * (stride + 1)];
        const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
        for (let i = 0; i < stride; i++) {
            const a = i >= bpp ? px[y * stride + i - bpp] : 0;
            const b = y > 0 ? px[(y - 1) * stride + i] : 0;
            const c = y > 0 && i >= bpp ? px[(y - 1) * stride + i - bpp] : 0;
            let v = line[i];
            if (f === 1) v += a;
            else if (f === 2) v += b;
            else if (f === 3) v += (a + b) >> 1;
            else if (f === 4) {
                const p = a + b - c;
                const pa = Math.abs(p - a);
                const pb = Math.abs(p - b);
                const pc = Math.abs(p - c);
                v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            }
            px[y * stride + i] = v & 0xff;
        }
    }
    return { width, height, pixel: (x, y) => [px[y * stride + x * bpp], px[y * stride + x * bpp + 1], px[y * stride + x * bpp + 2]] };
}

/** How many pixels of a colour (exactly) lie in a region. */
function countColour(png: ReturnType<typeof readPng>, hex: string, r = { x: 0, y: 0, w: png.width, h: png.height }): number {
    const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    let n = 0;
    for (let y = Math.max(0, Math.floor(r.y)); y < Math.min(png.height, r.y + r.h); y++)
        for (let x = Math.max(0, Math.floor(r.x)); x < Math.min(png.width, r.x + r.w); x++) {
            const p = png.pixel(x, y);
            if (p[0] === want[0] && p[1] === want[1] && p[2] === want[2]) n++;
        }
    return n;
}

const overlap = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
    a.x < b.x + b.width - 0.5 && b.x < a.x + a.width - 0.5 && a.y < b.y + b.height - 0.5 && b.y < a.y + a.height - 0.5;

describe.each([
    ["the example stack (seed cluster)", exampleWaves],
    ["24 hosts with long names and branch sites", bigWaves],
])("plan graph of %s in headless Chromium", (_name, make) => {
    const waves = make();
    const file = path.join(tmp, `plan-${waves.length}.html`);
    fs.writeFileSync(file, renderPlanHtml(waves, { stack: "example" }));

    test("the page as loaded (scripts forbidden, nothing fetched) has one element per node", () => {
        const dom = dumpDom(file);
        const found = [...dom.matchAll(/<g data-node="([^"]+)"/g)].map((m) => m[1]);
        expect(found).toEqual(keys(waves));
        expect([...dom.matchAll(/<g data-wave="(\d+)"/g)].map((m) => Number(m[1]))).toEqual(waves.map((w) => w.index));
    });

    test("every node is drawn: a visible chip inside its wave's box, in its center's lane, overlapping no other", () => {
        const p = probe(file, "[data-node], [data-wave], [data-lane]");
        const chips = p.elements.filter((e) => e.data.node !== undefined);
        const boxes = p.elements.filter((e) => e.data.wave !== undefined);
        const lanes = Object.fromEntries(p.elements.filter((e) => e.data.lane).map((e) => [e.data.lane, e]));
        expect(chips.map((c) => c.data.node)).toEqual(keys(waves));
        expect(boxes).toHaveLength(waves.length);
        for (const w of waves) {
            const box = boxes.find((b) => b.data.wave === String(w.index))!;
            const lane = lanes[w.center];
            expect(box.x).toBeGreaterThanOrEqual(lane.x);
            expect(box.x + box.width).toBeLessThanOrEqual(lane.x + lane.width + 0.5);
            for (const n of w.nodes) {
                const c = chips.find((e) => e.data.node === nodeKey(n))!;
                expect(c.width).toBeGreaterThan(15);
                expect(c.height).toBeGreaterThan(15);
                expect(c.x).toBeGreaterThanOrEqual(box.x);
                expect(c.y).toBeGreaterThanOrEqual(box.y);
                expect(c.x + c.width).toBeLessThanOrEqual(box.x + box.width + 0.5);
                expect(c.y + c.height).toBeLessThanOrEqual(box.y + box.height + 0.5);
                expect(c.text).toContain(n.host.replace(/\.dc\.example\.com$/, "").slice(0, 8));
            }
        }
        for (let i = 1; i < boxes.length; i++) expect(boxes[i].y).toBeGreaterThan(boxes[i - 1].y + boxes[i - 1].height);
        for (let i = 0; i < chips.length; i++) for (let j = i + 1; j < chips.length; j++) expect(overlap(chips[i], chips[j])).toBe(false);
        expect(lanes.standby.x + lanes.standby.width).toBeLessThan(lanes.primary.x);
    });

    test("the screenshot shows both lanes and every wave box", () => {
        const p = probe(file, "[data-wave]");
        const png = path.join(tmp, `plan-${waves.length}.png`);
        screenshot(file, png, 1100, Math.min(p.height, 6000));
        expect(fs.statSync(png).size).toBeGreaterThan(20000);
        const img = readPng(png);
        expect(img.width).toBe(1100);
        expect(countColour(img, "#eaf2fb")).toBeGreaterThan(10000); // standby lane
        expect(countColour(img, "#fdf1e4")).toBeGreaterThan(10000); // primary lane
        for (const box of p.elements) {
            // The inside of each box is white and it has its lane's coloured border.
            expect(countColour(img, "#ffffff", { x: box.x + 2, y: box.y + 2, w: box.width - 4, h: box.height - 4 })).toBeGreaterThan(
                box.width * box.height * 0.3,
            );
        }
    });
});

describe("run report in headless Chromium", () => {
    const waves = exampleWaves();
    const file = path.join(tmp, "report.html");
    const failed = "A/content-server";
    fs.writeFileSync(file, renderRunReport({ plan: waves, events: sampleRunEvents(waves, { stack: "production", skipped: ["C/config-server"], failed }) }));

    test("one timeline row per node and one summary row per node, as loaded", () => {
        const dom = dumpDom(file);
        expect([...dom.matchAll(/<g data-node="([^"]+)"/g)].map((m) => m[1])).toEqual(keys(waves));
        expect([...dom.matchAll(/<tr data-summary-node="([^"]+)"/g)].map((m) => m[1])).toEqual(keys(waves));
    });

    test("every node is drawn: bars of the nodes that ran, left to right in order, none on top of another; every summary row visible", () => {
        const p = probe(file, "[data-node], [data-bar], [data-summary-node]");
        const rows = p.elements.filter((e) => e.data.node !== undefined);
        const bars = p.elements.filter((e) => e.data.bar !== undefined);
        const summary = p.elements.filter((e) => e.data["summary-node"] !== undefined);
        expect(rows.map((r) => r.data.node)).toEqual(keys(waves));
        expect(summary.map((r) => r.data["summary-node"])).toEqual(keys(waves));
        for (const r of [...rows, ...summary]) {
            expect(r.width).toBeGreaterThan(50);
            expect(r.height).toBeGreaterThan(10);
            expect(r.y + r.height).toBeLessThanOrEqual(p.height);
        }
        const ran = keys(waves).slice(0, keys(waves).indexOf(failed) + 1);
        expect(bars.map((b) => b.data.bar)).toEqual(ran);
        for (let i = 1; i < bars.length; i++) {
            expect(bars[i].x).toBeGreaterThanOrEqual(bars[i - 1].x + bars[i - 1].width - 1); // coordinates are rounded to 0.1 px
            expect(bars[i].y).toBeGreaterThan(bars[i - 1].y);
        }
        for (let i = 0; i < rows.length; i++) for (let j = i + 1; j < rows.length; j++) expect(overlap(rows[i], rows[j])).toBe(false);
        expect(rows.find((r) => r.data.node === failed)!.data.outcome).toBe("failed");
        expect(rows.find((r) => r.data.node === "D/content-server")!.data.outcome).toBe("not-run");
    });

    test("the screenshot shows the bars in their outcome's colour", () => {
        const p = probe(file, "[data-bar]");
        const png = path.join(tmp, "report.png");
        screenshot(file, png, 1100, p.height);
        const img = readPng(png);
        for (const bar of p.elements) {
            const colour = bar.data.bar === failed ? "#d64545" : bar.data.bar === "C/config-server" ? "#9aa5b1" : "#2f9e5b";
            expect(countColour(img, colour, { x: bar.x, y: bar.y, w: bar.width, h: bar.height })).toBeGreaterThan(bar.width * bar.height * 0.5);
        }
    });
});

// The run of the README's report.png is a real one (`npx tsx tools/docs-images.ts`); its screenshot is this one's.
test("the documentation's pictures can be made again, each under 300 KB", () => {
    const report = path.join(tmp, "docs-report.html");
    fs.writeFileSync(report, renderRunReport({ plan: exampleWaves(), events: sampleRunEvents(exampleWaves(), { stack: "production" }) }));
    for (const f of [makePlanImage(path.join(tmp, "img")), screenshotReport(report, path.join(tmp, "img", "report.png"))]) {
        const size = fs.statSync(f).size;
        expect(size).toBeGreaterThan(20000);
        expect(size).toBeLessThan(300 * 1024);
        expect(readPng(f).width).toBeGreaterThan(800);
    }
});
