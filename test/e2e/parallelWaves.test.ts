import { batches, nodeKey, planWaves } from "../../lib/plan";
import { AuditEntry, readAudit } from "../../sandbox/audit";
import { status } from "../../sandbox/cluster";
import { clearFaults, setFault } from "../../sandbox/faults";
import { describeWithProvider } from "../helpers/engine";
import { useStackSandbox } from "../helpers/stackSandbox";

/** Each scmupgrade.py run of the audit, from its `begin` line to its `success`/`failed` line. */
function upgradeRuns(audit: AuditEntry[]): { node: string; begin: number; end: number; outcome: string }[] {
    const open = new Map<string, number>();
    const out: { node: string; begin: number; end: number; outcome: string }[] = [];
    for (const e of audit.filter((x) => x.action === "upgrade")) {
        const node = `${e.host}/${e.service}`;
        if (e.outcome === "begin") open.set(node, Date.parse(e.time));
        else if (open.has(node)) {
            out.push({ node, begin: open.get(node)!, end: Date.parse(e.time), outcome: e.outcome });
            open.delete(node);
        }
    }
    if (open.size) throw new Error(`upgrades without an end line: ${[...open.keys()].join(", ")}`);
    return out;
}

const overlap = (a: { begin: number; end: number }, b: { begin: number; end: number }) => a.begin < b.end && b.begin < a.end;

/**
 * `parallelism: 3` on 16 hosts (22 nodes, 14 waves) through the engine. A node of a batch that fails stops the
 * run: the nodes of its batch already running are not stopped, they finish (and count as upgraded); no node of a
 * later batch or wave starts. The next `up` finishes the rest; across both runs at most three upgrades overlap,
 * only inside a batch of one wave, never across waves.
 */
describeWithProvider("scm-upgrade up with parallelism 3 on 16 hosts", () => {
    const { sb, cli, config } = useStackSandbox("parallel", 81, { hosts: 16, extra: { parallelism: 3 } });

    test("a failing node lets its running batch finish and starts nothing later; resumed, waves never overlap and at most 3 nodes run at once", async () => {
        const c = config();
        expect(c.parallelism).toBe(3);
        const waves = planWaves(c);
        const primaryCloud = waves.find((w) => w.id === "cloud/primary")!;
        const [batch, ...laterBatches] = batches(primaryCloud, 3);
        expect(batch.length).toBe(3);
        expect(laterBatches.length).toBeGreaterThan(0);
        const [slowA, failing, slowB] = batch.map((n) => n.host);
        // The failing node fails at once (its first step), while the other two of its batch are still at work.
        setFault(failing, "cloud", { step: "untar" }, sb.dir);
        setFault(slowA, "cloud", { slowSeconds: 4 }, sb.dir);
        setFault(slowB, "cloud", { slowSeconds: 4 }, sb.dir);

        const failed = cli(["up", "--yes", "--json"]);
        const events = failed.stdout
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l));
        const at = (host: string, status: string) =>
            Date.parse(events.find((e) => e.type === "node" && e.host === host && e.service === "cloud" && e.status === status)?.time);
        expect(failed.code).toBe(1);
        const last = failed.stderr.trim().split("\n").pop() ?? "";
        expect(last).toContain(`stopped at ${failing}/cloud`);
        const first = upgradeRuns(readAudit(sb.dir));
        const failedRun = first.find((r) => r.node === `${failing}/cloud`)!;
        expect(failedRun.outcome).toBe("failed");
        // Its batch mates were running when it failed (the engine had started them): they were not stopped, they
        // finished their upgrade after the failure, healthy, and count as upgraded.
        for (const h of [slowA, slowB]) {
            const r = first.find((x) => x.node === `${h}/cloud`)!;
            expect(r.outcome).toBe("success");
            expect(at(h, "upgrading")).toBeLessThan(at(failing, "failed"));
            expect(at(h, "healthy")).toBeGreaterThan(at(failing, "failed"));
            expect(r.end).toBeGreaterThan(failedRun.end);
        }
        // Nothing of a later batch or wave started.
        const ranFirst = new Set(first.map((r) => r.node));
        const before = waves.filter((w) => w.index < primaryCloud.index).flatMap((w) => w.nodes.map(nodeKey));
        expect([...ranFirst].sort()).toEqual([...before, ...batch.map(nodeKey)].sort());
        expect(last).toContain(`after ${before.length + 2} nodes upgraded in this run`);

        clearFaults({ dir: sb.dir });
        const resumed = cli(["up", "--yes"]);
        expect(resumed.code).toBe(0);
        const runs = upgradeRuns(readAudit(sb.dir)).filter((r) => r.outcome === "success");
        // Every node upgraded exactly once with success (the failed one again, after the fault was cleared).
        expect(runs.map((r) => r.node).sort()).toEqual(waves.flatMap((w) => w.nodes.map(nodeKey)).sort());
        const waveOf = new Map(waves.flatMap((w) => w.nodes.map((n) => [nodeKey(n), w.index] as const)));
        const batchOf = new Map(waves.flatMap((w) => batches(w, 3).flatMap((b, i) => b.map((n) => [nodeKey(n), `${w.index}.${i}`] as const))));
        let most = 0;
        for (const a of runs) {
            const together = runs.filter((b) => overlap(a, b));
            most = Math.max(most, together.length);
            for (const b of together) {
                expect(`${a.node} overlaps ${b.node}: wave ${waveOf.get(b.node)}`).toBe(`${a.node} overlaps ${b.node}: wave ${waveOf.get(a.node)}`);
                expect(batchOf.get(b.node)).toBe(batchOf.get(a.node));
            }
        }
        expect(most).toBeLessThanOrEqual(3);
        // Parallelism really happened: some batch ran three at once.
        expect(most).toBe(3);
        // Waves in plan order: each wave's first start comes after the previous wave's last end.
        for (let i = 1; i < waves.length; i++) {
            const prevEnd = Math.max(...runs.filter((r) => waveOf.get(r.node) === waves[i - 1].index).map((r) => r.end));
            const start = Math.min(...runs.filter((r) => waveOf.get(r.node) === waves[i].index).map((r) => r.begin));
            expect(start).toBeGreaterThan(prevEnd);
        }
        const st = await status({ dir: sb.dir });
        for (const h of st.hosts)
            for (const n of h.nodes) expect(`${h.name}/${n.service}:${n.port} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service}:${n.port} 3.2.0 UP`);
    }, 900000);
});
