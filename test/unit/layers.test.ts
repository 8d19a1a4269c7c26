import * as fs from "fs";
import * as path from "path";

// The layers import only downward (docs/architecture.md): lib < components < program < engine < report
// < cli, with tools, sandbox and bench on top. lib/ is the pure core: no Pulumi SDK at all.

const root = path.join(__dirname, "..", "..");
const ORDER = ["lib", "components", "program", "engine", "report", "cli"];
/** What each top folder may import from this repository. */
const ALLOWED: Record<string, string[]> = {
    lib: ["lib"],
    components: ["lib", "components"],
    program: ["lib", "components", "program"],
    engine: ["lib", "components", "program", "engine"],
    report: ["lib", "engine", "report"],
    cli: ORDER,
    tools: [...ORDER, "tools"],
    sandbox: ["lib", "components", "program", "engine", "sandbox"],
    bench: [...ORDER, "sandbox", "bench"],
};

function tsFiles(dir: string): string[] {
    return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) return tsFiles(rel);
        return e.name.endsWith(".ts") ? [rel] : [];
    });
}

/** Every module a file loads: `import ... from`, `export ... from`, `import(...)`, `require(...)`. */
function importsOf(file: string): string[] {
    const text = fs.readFileSync(path.join(root, file), "utf8");
    const specs = [...text.matchAll(/\b(?:from|import|require)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]);
    return specs.map((s) => (s.startsWith(".") ? path.normalize(path.join(path.dirname(file), s)) : s));
}

const layerOf = (p: string) => p.split(path.sep)[0];

describe("layers", () => {
    for (const layer of Object.keys(ALLOWED)) {
        test(`${layer}/ imports only ${ALLOWED[layer].join(", ")}`, () => {
            const wrong = tsFiles(layer).flatMap((f) =>
                importsOf(f)
                    .filter((i) => !i.startsWith("@") && !i.includes("node_modules") && fs.existsSync(path.join(root, layerOf(i))))
                    .filter((i) => !ALLOWED[layer].includes(layerOf(i)))
                    .map((i) => `${f} -> ${i}`),
            );
            expect(wrong).toEqual([]);
        });
    }

    test("lib/ imports no @pulumi package, not even for types", () => {
        const pulumi = tsFiles("lib").flatMap((f) =>
            importsOf(f)
                .filter((i) => i.startsWith("@pulumi/"))
                .map((i) => `${f} -> ${i}`),
        );
        expect(pulumi).toEqual([]);
    });

    test("the check resolves relative imports to their layer (so an upward one would be seen)", () => {
        expect(importsOf("index.ts")).toContain(path.normalize("program/program"));
        expect(importsOf("components/Soak.ts").map(layerOf)).toContain("lib");
        expect(ALLOWED.lib).not.toContain(layerOf(importsOf("index.ts").find((i) => i.startsWith("program"))!));
    });
});

test("the project root the engine uses is this repository (paths hang off it after the move to engine/)", () => {
    const { projectRoot, stacksDir } = require("../../engine/paths") as typeof import("../../engine/paths");
    expect(projectRoot).toBe(root);
    expect(fs.existsSync(path.join(projectRoot, "Pulumi.yaml"))).toBe(true);
    expect(stacksDir).toBe(path.join(root, "stacks"));
    const { reportsDir } = require("../../report") as typeof import("../../report");
    const saved = process.env.SCM_UPGRADE_REPORTS_DIR;
    delete process.env.SCM_UPGRADE_REPORTS_DIR;
    try {
        expect(reportsDir()).toBe(path.join(root, ".reports"));
    } finally {
        if (saved !== undefined) process.env.SCM_UPGRADE_REPORTS_DIR = saved;
    }
});
