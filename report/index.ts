/** Pictures of the plan and reports of runs: self-contained SVG and HTML, nothing fetched. */
import * as fs from "fs";
import * as path from "path";
import type { ProgressEvent } from "../engine/events";
import type { RecordedNodes } from "../lib/results";

export { esc } from "./html";
export { planSvgLayout, renderPlanHtml, renderPlanSvg } from "./plan";
export { buildRunModel, renderRunReport } from "./run";
export type { NodeRow, Outcome, RunModel, RunReportInput } from "./run";

/** `20250101T020000Z`: a file-name-safe UTC timestamp. */
export function fileStamp(d: Date): string {
    return d
        .toISOString()
        .replace(/\.\d+Z$/, "Z")
        .replace(/[-:]/g, "");
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

/** `SCM_UPGRADE_REPORTS_DIR`, or `.reports/` in the project folder (git-ignored). */
export function reportsDir(): string {
    return process.env.SCM_UPGRADE_REPORTS_DIR ?? path.resolve(__dirname, "..", ".reports");
}

/**
 * The events of a run from the JSON lines `up --json` / `rollback --json` print: every object with a
 * `type` (lines that are not JSON are skipped), and the node outputs of the last `summary` line.
 */
export function readEventsJsonl(text: string): { events: ProgressEvent[]; results?: RecordedNodes } {
    const events: ProgressEvent[] = [];
    let results: RecordedNodes | undefined;
    for (const line of text.split("\n")) {
        const t = line.trim();
        if (!t.startsWith("{")) continue;
        let o: unknown;
        try {
            o = JSON.parse(t);
        } catch {
            continue;
        }
        if (typeof o !== "object" || o === null || typeof (o as { type?: unknown }).type !== "string") continue;
        const e = o as { type: string; nodes?: unknown };
        if (e.type === "summary" && typeof e.nodes === "object" && e.nodes !== null) results = e.nodes as RecordedNodes;
        else events.push(o as ProgressEvent);
    }
    return { events, results };
}
