import { spawnSync } from "child_process";
import * as path from "path";
import { capHeapGrowth } from "../../cli/heap";

const root = path.join(__dirname, "..", "..");

describe("the heap's soft cap (cli/heap.ts)", () => {
    test("collects each time the heap grows past the headroom; the floor rises with what stays alive (no limit to fail on)", () => {
        // In a process of its own: a test worker's heap holds other tests' garbage, which would move the floor.
        const script = `
            require("tsx/cjs/api").register();
            const { capHeapGrowth } = require(${JSON.stringify(path.join(root, "cli", "heap.ts"))});
            const cap = capHeapGrowth(8, 5);
            const kept = [], floors = [];
            (async () => {
                // 1 MiB of doubles (in the heap itself) kept alive per round.
                for (let round = 0; round < 300 && cap.collections < 4; round++) {
                    kept.push(new Array(128 * 1024).fill(round + 0.5));
                    await new Promise((r) => setTimeout(r, 10));
                    if (cap.collections > floors.length) floors.push(cap.floorBytes);
                }
                cap.stop();
                console.log(JSON.stringify({ collections: cap.collections, ms: cap.milliseconds, floors, keptMiB: kept.length }));
            })();`;
        const r = spawnSync(process.execPath, ["-e", script], { cwd: root, encoding: "utf8", timeout: 60000 });
        expect(r.stderr).toBe("");
        const out = JSON.parse(r.stdout) as { collections: number; ms: number; floors: number[]; keptMiB: number };
        expect(out.collections).toBeGreaterThanOrEqual(4);
        expect(out.ms).toBeGreaterThan(0);
        // Counted from what each collection found alive: it rises at every collection, and ends at what was kept.
        // (How much of each 8 MiB of growth was kept varies with the garbage the loader and the JIT leave between
        // two collections: 2.9 MiB in one CI run, so no per-step share is asserted.)
        for (let i = 1; i < out.floors.length; i++) expect(out.floors[i]).toBeGreaterThan(out.floors[i - 1]);
        expect(out.floors.at(-1)).toBeGreaterThan(out.keptMiB * 0.9 * 1024 * 1024);
    });

    test("a heap that does not grow is never collected", async () => {
        const cap = capHeapGrowth(512, 10);
        try {
            await new Promise((r) => setTimeout(r, 100));
            expect(cap.collections).toBe(0);
        } finally {
            cap.stop();
        }
    });
});
