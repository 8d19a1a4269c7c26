import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

// The documents name files that exist: every repository path a page mentions, and every relative link.

const root = path.resolve(__dirname, "..", "..");
const pages = [
    "README.md",
    "bench/README.md",
    "sandbox/README.md",
    ...fs
        .readdirSync(path.join(root, "docs"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f}`),
];
const TRACKED = ["stacks", "docs", "scripts", "lib", "cli", "bench", "sandbox", "test", "components", "bin", ".ci"];

/** Paths named in a page: `](target)` links and `../` paths relative to the page; `stacks/...`-style paths relative to the root (README). */
function namedPaths(text: string, page: string): { named: string; resolved: string }[] {
    const found: { named: string; resolved: string }[] = [];
    const dir = path.dirname(path.join(root, page));
    const clean = (s: string) => s.replace(/[.,:;)]+$/, "").replace(/#.*$/, "");
    const placeholder = (s: string) => /[<>*{}]|\.\.\.|\$/.test(s);
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const t = clean(m[1]);
        if (/^[a-z]+:/.test(t) || t === "" || placeholder(t)) continue;
        found.push({ named: t, resolved: path.resolve(dir, t) });
    }
    for (const m of text.matchAll(/(?:^|[\s`("'])(\.\.\/[^\s`)"']+)/g)) {
        const t = clean(m[1]);
        if (!placeholder(t)) found.push({ named: t, resolved: path.resolve(dir, t) });
    }
    if (page === "README.md") {
        const re = new RegExp(`(?:^|[\\s\`("'])((?:${TRACKED.map((d) => d.replace(".", "\\.")).join("|")})/[A-Za-z0-9_./<>*-]*)`, "g");
        for (const m of text.matchAll(re)) {
            const t = clean(m[1]);
            if (!placeholder(t)) found.push({ named: t, resolved: path.resolve(root, t) });
        }
    }
    const seen = new Set<string>();
    return found.filter((n) => !seen.has(n.resolved) && !!seen.add(n.resolved));
}

/** A file the tools write, which git ignores (such as the sandbox's stack file): named, never committed. */
function generated(abs: string): boolean {
    return spawnSync("git", ["check-ignore", "-q", "--no-index", path.relative(root, abs)], { cwd: root }).status === 0;
}

test.each(pages)("%s names only files and folders of the repository that exist", (page) => {
    const text = fs.readFileSync(path.join(root, page), "utf8");
    const named = namedPaths(text, page);
    const bad = named.filter((n) => !n.resolved.startsWith(root + path.sep) || !(fs.existsSync(n.resolved) || generated(n.resolved))).map((n) => n.named);
    expect(bad).toEqual([]);
});

test("the path finder finds what a page names (so the check above can fail)", () => {
    const text =
        "See `stacks/Pulumi.production.example.yaml`, [the docs](docs/nothere.md) and `../../shared/reference/sequoiacm.md`. Not `.reports/run-<stack>.html`.";
    expect(namedPaths(text, "README.md").map((n) => n.named)).toEqual([
        "docs/nothere.md",
        "../../shared/reference/sequoiacm.md",
        "stacks/Pulumi.production.example.yaml",
    ]);
    expect(generated(path.join(root, "stacks/Pulumi.sandbox.yaml"))).toBe(true);
    expect(generated(path.join(root, "stacks/Pulumi.production.yaml"))).toBe(false);
    expect(namedPaths("[x](../README.md) and [web](https://example.org/a)", "sandbox/README.md").map((n) => n.resolved)).toEqual([
        path.join(root, "README.md"),
    ]);
});
