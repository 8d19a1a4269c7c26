/** Pictures of the plan and reports of runs: self-contained SVG and HTML, nothing fetched. */
import * as fs from "fs";
import * as path from "path";

export { esc } from "./html";
export { planSvgLayout, renderPlanHtml, renderPlanSvg } from "./plan";
export { buildRunModel, renderRunReport } from "./run";
export type { NodeResultLike, NodeRow, Outcome, RunModel, RunReportInput } from "./run";

/** `20250101T020000Z`: a file-name-safe UTC timestamp. */
export function fileStamp(d: Date): string {
    return d.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
}

/** Writes `<dir>/run-<stack>-<timestamp>.html` (the folder made if needed) and returns its path. */
export function writeRunReportFile(dir: string, stack: string, html: string, when: Date): string {
    fs.mkdirSync(dir, { recursive: true });
    const safe = stack.replace(/[^A-Za-z0-9._-]/g, "_");
    let file = path.join(dir, `run-${safe}-${fileStamp(when)}.html`);
    for (let i = 2; fs.existsSync(file); i++) file = path.join(dir, `run-${safe}-${fileStamp(when)}-${i}.html`);
    fs.writeFileSync(file, html);
    return file;
}
