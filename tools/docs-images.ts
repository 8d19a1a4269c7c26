/**
 * Regenerates the documentation's pictures, docs/img/plan.png and docs/img/report.png, with Debian's
 * headless Chromium: `npx tsx tools/docs-images.ts [outDir]`. The plan is that of
 * stacks/Pulumi.production-example.yaml; the run is a synthetic one (report/sample.ts).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { validateConfig } from "../lib/config/schema";
import { projectRoot } from "../engine/env";
import { planWaves, Wave } from "../lib/plan";
import { probe, screenshot } from "./chromium";
import { planSvgLayout, renderPlanSvg } from "../report/plan";
import { renderRunReport } from "../report/run";
import { sampleRunEvents } from "../report/sample";

export function exampleWaves(): Wave[] {
    const file = path.join(projectRoot, "stacks", "Pulumi.production-example.yaml");
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    const raw = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^scm-upgrade:/, ""), v]));
    const r = validateConfig(raw, { fileExists: () => true, readable: () => true });
    if (!r.ok) throw new Error(`example stack invalid: ${JSON.stringify(r.problems)}`);
    return planWaves(r.config);
}

export function makeDocsImages(outDir: string): { plan: string; report: string } {
    fs.mkdirSync(outDir, { recursive: true });
    const waves = exampleWaves();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-docs-img-"));
    try {
        const svg = path.join(tmp, "plan.svg");
        fs.writeFileSync(svg, renderPlanSvg(waves));
        const size = planSvgLayout(waves);
        const plan = path.join(outDir, "plan.png");
        screenshot(svg, plan, size.width, size.height);

        const events = sampleRunEvents(waves, { stack: "production", skipped: ["C/config-server"] });
        const html = path.join(tmp, "report.html");
        fs.writeFileSync(html, renderRunReport({ plan: waves, events }));
        const p = probe(html, "body");
        const report = path.join(outDir, "report.png");
        screenshot(html, report, p.width, p.height);
        return { plan, report };
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

if (require.main === module) {
    const out = makeDocsImages(process.argv[2] ?? path.join(projectRoot, "docs", "img"));
    for (const f of Object.values(out)) process.stdout.write(`${f} (${fs.statSync(f).size} bytes)\n`);
}
