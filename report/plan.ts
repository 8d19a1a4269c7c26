/**
 * The plan as a picture: a hand-written SVG layout (no library, no network), pure and deterministic.
 *
 * Two swimlanes side by side, standby on the left and primary on the right (the order they upgrade in).
 * Waves go down the page in plan order, one box per wave in its center's lane: wave number, service,
 * site (root or branch) for content-server, and one chip per node with the host's name (its address in
 * the tooltip). An arrow leads from each wave to the next: a wave starts when the one before it is done.
 * A band on the left groups the waves of each service.
 *
 * Every wave box carries `data-wave="<index>"`, every host chip `data-node="<host>/<service>"`.
 */
import type { Center } from "../lib/config/schema";
import { nodeKey, SoakStep, soakLabel, Wave } from "../lib/plan";
import { commonDomain, esc, fitText, FONT, num, page, textWidth } from "./html";

const LANES: readonly Center[] = ["standby", "primary"];
const LANE_STYLE: Record<Center, { fill: string; stroke: string; text: string; title: string }> = {
    standby: { fill: "#eaf2fb", stroke: "#4a7fc1", text: "#1d4e89", title: "standby center" },
    primary: { fill: "#fdf1e4", stroke: "#d0812e", text: "#8a4b0f", title: "primary center" },
};
const SITE_STYLE = {
    root: { fill: "#dff3e4", stroke: "#3f9a5a", text: "#1e6b35" },
    branch: { fill: "#ece6f8", stroke: "#7b61b5", text: "#4b348a" },
};

const M = 20; // outer margin
const GUTTER = 165; // service bands
const LANE_W = 350;
const LANE_GAP = 56;
const HEAD = 74; // title + lane headers
const BOX_PAD = 12;
const ROW_GAP = 34; // room for the arrow between two waves
const CHIP_H = 22;
const CHIP_GAP = 6;
const FS = 12;

interface Placed {
    wave: Wave;
    x: number;
    y: number;
    w: number;
    h: number;
    chips: { key: string; host: string; address: string; x: number; y: number; w: number; label: string }[];
    siteLine?: { text: string; role: "root" | "branch"; w: number };
}

export interface PlanSvgLayout {
    width: number;
    height: number;
}

function laneX(center: Center): number {
    return M + GUTTER + LANES.indexOf(center) * (LANE_W + LANE_GAP);
}

const SOAK_H = 30;

interface PlacedSoak {
    soak: SoakStep;
    x: number;
    y: number;
    w: number;
}

function layout(
    waves: readonly Wave[],
    soaks: readonly SoakStep[] = [],
): { placed: Placed[]; soaks: PlacedSoak[]; width: number; height: number; domain: string } {
    const placed: Placed[] = [];
    const placedSoaks: PlacedSoak[] = [];
    const domain = commonDomain(waves.flatMap((w) => w.nodes.map((n) => n.host)));
    let y = M + HEAD;
    const inner = LANE_W - 20 - 2 * BOX_PAD; // the box is 10 px in from each side of its lane
    for (const wave of waves) {
        const soak = soaks.find((s) => s.beforeWave === wave.index);
        if (soak) {
            // A band across both lanes: the standby nodes are watched before this primary wave starts.
            placedSoaks.push({ soak, x: laneX("standby") + 10, y: y - ROW_GAP / 2 + 4, w: LANES.length * LANE_W + LANE_GAP - 20 });
            y += SOAK_H;
        }
        const x = laneX(wave.center) + 10;
        const w = LANE_W - 20;
        let cy = y + BOX_PAD + 20; // below the title line
        let siteLine: Placed["siteLine"];
        if (wave.site !== undefined) {
            const role = wave.siteRole ?? "branch";
            const text = fitText(`site ${wave.site} · ${role}`, inner - 16, 11);
            siteLine = { text, role, w: textWidth(text, 11) + 16 };
            cy += 24;
        }
        const chips: Placed["chips"] = [];
        let cx = x + BOX_PAD;
        cy += 6;
        for (const node of wave.nodes) {
            const label = fitText(domain ? node.host.slice(0, -domain.length) : node.host, inner - 18, FS);
            const cw = Math.min(inner, textWidth(label, FS) + 18);
            if (cx + cw > x + BOX_PAD + inner + 0.5) {
                cx = x + BOX_PAD;
                cy += CHIP_H + CHIP_GAP;
            }
            chips.push({ key: nodeKey(node), host: node.host, address: node.address, x: cx, y: cy, w: cw, label });
            cx += cw + CHIP_GAP;
        }
        const h = cy + CHIP_H + BOX_PAD - y;
        placed.push({ wave, x, y, w, h, chips, siteLine });
        y += h + ROW_GAP;
    }
    const height = waves.length ? y - ROW_GAP + M + 34 : M + HEAD + 100;
    return { placed, soaks: placedSoaks, width: M * 2 + GUTTER + LANES.length * LANE_W + LANE_GAP, height, domain };
}

/** The size `renderPlanSvg` draws at, in CSS pixels. */
export function planSvgLayout(waves: readonly Wave[], soaks: readonly SoakStep[] = []): PlanSvgLayout {
    const { width, height } = layout(waves, soaks);
    return { width, height };
}

/**
 * The waves as one standalone SVG document (UTF-8 text), usable as a file or inline in HTML. Each soak is a band
 * across both lanes before its primary wave (`data-soak="<id>"`, `data-before-wave="<index>"`).
 */
export function renderPlanSvg(waves: readonly Wave[], soaks: readonly SoakStep[] = []): string {
    const { placed, soaks: placedSoaks, width, height, domain } = layout(waves, soaks);
    const out: string[] = [];
    out.push(
        `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" font-family='${FONT}' font-size="${FS}" role="img" aria-label="Upgrade plan: ${waves.length} waves" data-plan-waves="${waves.length}">`,
    );
    out.push(
        `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#52606d"/></marker></defs>`,
    );
    out.push(`<rect x="0" y="0" width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`);
    const nodes = waves.reduce((n, w) => n + w.nodes.length, 0);
    const hosts = new Set(waves.flatMap((w) => w.nodes.map((n) => n.host))).size;
    out.push(
        `<text x="${M}" y="${M + 16}" font-size="16" font-weight="bold" fill="#1f2933">Upgrade plan: ${waves.length} waves, ${nodes} nodes on ${hosts} hosts</text>`,
    );
    if (domain) out.push(`<text x="${M}" y="${M + 36}" font-size="12" fill="#52606d">host names shown without ${esc(domain)}</text>`);
    // Lanes.
    const laneTop = M + HEAD - 26;
    const laneBottom = height - M - 30;
    for (const c of LANES) {
        const s = LANE_STYLE[c];
        const x = laneX(c);
        out.push(`<g data-lane="${c}">`);
        out.push(
            `<rect x="${num(x)}" y="${num(laneTop)}" width="${LANE_W}" height="${num(laneBottom - laneTop)}" rx="10" fill="${s.fill}" stroke="${s.stroke}" stroke-opacity="0.35"/>`,
        );
        out.push(
            `<text x="${num(x + LANE_W / 2)}" y="${num(laneTop + 18)}" text-anchor="middle" font-size="13" font-weight="bold" fill="${s.text}">${esc(s.title)}</text>`,
        );
        out.push(`</g>`);
    }
    // Service bands in the gutter: consecutive waves of one service.
    for (let i = 0, band = 0; i < placed.length; band++) {
        let j = i;
        while (j + 1 < placed.length && placed[j + 1].wave.service === placed[i].wave.service) j++;
        const top = placed[i].y - 6;
        const bottom = placed[j].y + placed[j].h + 6;
        const shade = band % 2 === 0 ? "#f3f4f6" : "#e9ecf0";
        out.push(`<g data-service="${esc(placed[i].wave.service)}">`);
        out.push(`<rect x="${M}" y="${num(top)}" width="${GUTTER - 12}" height="${num(bottom - top)}" rx="6" fill="${shade}"/>`);
        out.push(`<rect x="${M}" y="${num(top)}" width="4" height="${num(bottom - top)}" rx="2" fill="#7b8794"/>`);
        const label = fitText(placed[i].wave.service, GUTTER - 28, 13, true);
        out.push(
            `<text x="${M + 12}" y="${num((top + bottom) / 2 + 4)}" font-size="13" font-weight="bold" fill="#323f4b">${esc(label)}<title>${esc(placed[i].wave.service)}</title></text>`,
        );
        out.push(`</g>`);
        i = j + 1;
    }
    // Arrows first, under the boxes.
    for (let i = 1; i < placed.length; i++) {
        const a = placed[i - 1];
        const b = placed[i];
        const x1 = a.x + a.w / 2;
        const y1 = a.y + a.h;
        const x2 = b.x + b.w / 2;
        const y2 = b.y - 1;
        const d =
            x1 === x2
                ? `M${num(x1)},${num(y1)} L${num(x2)},${num(y2)}`
                : `M${num(x1)},${num(y1)} C${num(x1)},${num(y1 + ROW_GAP)} ${num(x2)},${num(y2 - ROW_GAP)} ${num(x2)},${num(y2)}`;
        out.push(`<path data-edge="${a.wave.index}-${b.wave.index}" d="${d}" fill="none" stroke="#52606d" stroke-width="1.6" marker-end="url(#arrow)"/>`);
    }
    // Soak bands, over the arrows they cut.
    for (const s of placedSoaks) {
        const label = fitText(`${soakLabel(s.soak)}, before the primary`, s.w - 24, 12);
        out.push(`<g data-soak="${esc(s.soak.id)}" data-before-wave="${s.soak.beforeWave}">`);
        out.push(
            `<title>${esc(`${s.soak.id}: ${s.soak.watch.map(nodeKey).join(", ")} watched ${s.soak.seconds} s, every ${s.soak.intervalSeconds} s; any not UP stops the run`)}</title>`,
        );
        out.push(
            `<rect x="${num(s.x)}" y="${num(s.y)}" width="${num(s.w)}" height="${SOAK_H - 6}" rx="12" fill="#fff8db" stroke="#c9a227" stroke-dasharray="5 3"/>`,
        );
        out.push(`<text x="${num(s.x + s.w / 2)}" y="${num(s.y + 16)}" text-anchor="middle" font-size="12" fill="#7a5c00">${esc(label)}</text>`);
        out.push(`</g>`);
    }
    // Wave boxes.
    for (const p of placed) {
        const s = LANE_STYLE[p.wave.center];
        const w = p.wave;
        out.push(`<g data-wave="${w.index}" data-wave-id="${esc(w.id)}" data-center="${w.center}">`);
        out.push(`<title>${esc(`wave ${w.index}: ${w.id} (${w.nodes.length} node${w.nodes.length === 1 ? "" : "s"})`)}</title>`);
        out.push(
            `<rect x="${num(p.x)}" y="${num(p.y)}" width="${num(p.w)}" height="${num(p.h)}" rx="8" fill="#ffffff" stroke="${s.stroke}" stroke-width="1.5"/>`,
        );
        const bx = p.x + BOX_PAD;
        const by = p.y + BOX_PAD;
        out.push(`<circle cx="${num(bx + 10)}" cy="${num(by + 6)}" r="10" fill="${s.stroke}"/>`);
        out.push(`<text x="${num(bx + 10)}" y="${num(by + 10)}" text-anchor="middle" font-size="11" font-weight="bold" fill="#ffffff">${w.index}</text>`);
        const title = fitText(w.service, p.w - 2 * BOX_PAD - 28 - 60, 13, true);
        out.push(`<text x="${num(bx + 28)}" y="${num(by + 11)}" font-size="13" font-weight="bold" fill="#1f2933">${esc(title)}</text>`);
        out.push(`<text x="${num(p.x + p.w - BOX_PAD)}" y="${num(by + 11)}" text-anchor="end" font-size="11" fill="${s.text}">${esc(w.center)}</text>`);
        if (p.siteLine) {
            const ss = SITE_STYLE[p.siteLine.role];
            const sy = by + 22;
            out.push(
                `<rect data-site="${esc(w.site ?? "")}" data-site-role="${p.siteLine.role}" x="${num(bx)}" y="${num(sy)}" width="${num(p.siteLine.w)}" height="18" rx="9" fill="${ss.fill}" stroke="${ss.stroke}"/>`,
            );
            out.push(`<text x="${num(bx + 8)}" y="${num(sy + 13)}" font-size="11" fill="${ss.text}">${esc(p.siteLine.text)}</text>`);
        }
        for (const c of p.chips) {
            out.push(`<g data-node="${esc(c.key)}" data-host="${esc(c.host)}">`);
            out.push(`<title>${esc(`${c.key} on ${c.address}`)}</title>`);
            out.push(`<rect x="${num(c.x)}" y="${num(c.y)}" width="${num(c.w)}" height="${CHIP_H}" rx="4" fill="${s.fill}" stroke="${s.stroke}"/>`);
            out.push(`<text x="${num(c.x + 9)}" y="${num(c.y + 15)}" fill="#1f2933">${esc(c.label)}</text>`);
            out.push(`</g>`);
        }
        out.push(`</g>`);
    }
    if (placed.length === 0) {
        out.push(`<text x="${M + GUTTER}" y="${M + HEAD + 30}" fill="#52606d">Empty plan: no host runs a service of serviceOrder.</text>`);
    }
    // Legend.
    const ly = height - M - 8;
    out.push(`<g data-legend="">`);
    out.push(`<path d="M${M},${ly - 4} L${M + 28},${ly - 4}" stroke="#52606d" stroke-width="1.6" marker-end="url(#arrow)"/>`);
    out.push(`<text x="${M + 36}" y="${ly}" font-size="11" fill="#52606d">the next wave starts when the one before is done</text>`);
    let lx = M + 36 + textWidth("the next wave starts when the one before is done", 11) + 20;
    for (const [role, st] of Object.entries(SITE_STYLE)) {
        const label = `${role} site`;
        out.push(`<rect x="${num(lx)}" y="${ly - 12}" width="${num(textWidth(label, 11) + 16)}" height="16" rx="8" fill="${st.fill}" stroke="${st.stroke}"/>`);
        out.push(`<text x="${num(lx + 8)}" y="${ly}" font-size="11" fill="${st.text}">${esc(label)}</text>`);
        lx += textWidth(label, 11) + 28;
    }
    out.push(`<text x="${num(lx)}" y="${ly}" font-size="11" fill="#52606d">chip = one node (service on a host)</text>`);
    out.push(`</g>`);
    out.push(`</svg>`);
    return out.join("\n") + "\n";
}

/** The plan as a self-contained HTML page: the SVG graph inline, then the same plan as a table. */
export function renderPlanHtml(waves: readonly Wave[], opts: { stack?: string; title?: string; soaks?: readonly SoakStep[] } = {}): string {
    const title = opts.title ?? `Upgrade plan${opts.stack ? ` of stack ${opts.stack}` : ""}`;
    const soaks = opts.soaks ?? [];
    const soakRow = (w: Wave) => {
        const s = soaks.find((x) => x.beforeWave === w.index);
        return s
            ? `<tr data-soak-row="${esc(s.id)}"><td>soak</td><td>${esc(s.service)}</td><td>standby</td><td>${esc(s.site ?? "-")}</td><td>${esc(soakLabel(s))}</td></tr>\n`
            : "";
    };
    const rows = waves
        .map(
            (w) =>
                `${soakRow(w)}<tr data-wave-row="${w.index}"><td class="num">${w.index}</td><td>${esc(w.service)}</td><td>${esc(w.center)}</td><td>${w.site === undefined ? "-" : `${esc(w.site)} (${esc(w.siteRole ?? "branch")})`}</td><td>${w.nodes.map((n) => esc(n.host)).join(", ")}</td></tr>`,
        )
        .join("\n");
    const body = `<h1>${esc(title)}</h1>
<p class="sub">Standby center before primary, for each service in order; content-server root site before branch sites. Generated by scm-upgrade; reads no host.</p>
<div class="graph">
${renderPlanSvg(waves, soaks)}</div>
<h2>Waves</h2>
<table>
<thead><tr><th>wave</th><th>service</th><th>center</th><th>site</th><th>hosts</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
    return page(title, body, ".graph svg { display: block; max-width: 100%; height: auto; }");
}
