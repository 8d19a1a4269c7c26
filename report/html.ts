/** Shared pieces of the self-contained pages: escaping, number formats, the page shell. No network, no scripts. */

/** Text and attribute values for HTML and SVG: `& < > " '` become entities. */
export function esc(value: unknown): string {
    return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** A number for SVG coordinates: at most one decimal, no `-0`. */
export function num(n: number): string {
    const r = Math.round(n * 10) / 10;
    return Object.is(r, -0) ? "0" : String(r);
}

/**
 * A rough width of a text in pixels at a font size, for the layout (no browser here to measure).
 * Generous on purpose (DejaVu Sans, Chromium's fallback on Debian, is wide): boxes come out a little roomy rather than clipped.
 */
export function textWidth(text: string, fontSize: number, bold = false): number {
    let w = 0;
    for (const ch of text) {
        if (/[ilj.,:;'|!()[\]/]/.test(ch)) w += 0.34;
        else if (/[mwMW@]/.test(ch)) w += 0.95;
        else if (/[A-Z0-9]/.test(ch)) w += 0.7;
        else if (ch.charCodeAt(0) > 0x2e80) w += 1.0;
        else w += 0.6;
    }
    return w * fontSize * (bold ? 1.08 : 1);
}

/** `12.3 s`, `4 min 05 s`, `1 h 02 min`. */
export function duration(seconds: number): string {
    if (!Number.isFinite(seconds)) return "-";
    if (seconds < 60) return `${Math.round(seconds * 10) / 10} s`;
    const s = Math.round(seconds);
    if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

export const FONT = `"DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif`;

/** A whole page: inline style only, nothing fetched. */
export function page(title: string, body: string, extraCss = ""): string {
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>
body { font-family: ${FONT}; color: #1f2933; background: #ffffff; margin: 24px; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 17px; margin: 28px 0 8px 0; }
p.sub { color: #52606d; margin: 0 0 16px 0; font-size: 14px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 4px 10px; text-align: left; white-space: nowrap; }
th { background: #f5f7fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f5f7fa; padding: 8px 10px; font-size: 12px; white-space: pre-wrap; margin: 4px 0 12px 0; }
${extraCss}
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/**
 * The domain all host names share (`.dc.example.com`), to draw short names: at least two distinct names,
 * a suffix from a dot that contains a letter (never part of an IP address) and leaves every name non-empty.
 */
export function commonDomain(names: readonly string[]): string {
    const distinct = [...new Set(names)];
    if (distinct.length < 2) return "";
    let suffix = distinct[0];
    for (const n of distinct.slice(1)) {
        while (suffix && !n.endsWith(suffix)) suffix = suffix.slice(1);
    }
    const dot = suffix.indexOf(".");
    if (dot < 0) return "";
    suffix = suffix.slice(dot);
    if (!/[A-Za-z]/.test(suffix) || distinct.some((n) => n.length <= suffix.length)) return "";
    return suffix;
}

/** Shortens a label to fit a width (an ellipsis at the end); keep the full text in a tooltip. */
export function fitText(text: string, width: number, fs: number, bold = false): string {
    if (textWidth(text, fs, bold) <= width) return text;
    let t = text;
    while (t.length > 1 && textWidth(t + "…", fs, bold) > width) t = t.slice(0, -1);
    return t + "…";
}
