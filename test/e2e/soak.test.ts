import * as fs from "fs";
import { planWaves, soakSteps } from "../../lib/plan";
import { readAudit } from "../../sandbox/audit";
import { status } from "../../sandbox/cluster";
import { clearFaults, setFault } from "../../sandbox/faults";
import { describeWithProvider } from "../helpers/engine";
import { useStackSandbox } from "../helpers/stackSandbox";

/**
 * The soak through the engine, as a subprocess against a sandbox of its own (seed: C, D standby; A, B primary):
 * a standby cloud node that falls over 5 s after its upgrade stops the run in the 15 s soak before the first
 * primary cloud node; with the fault cleared the soak passes and the run completes.
 */
describeWithProvider("scm-upgrade up with a soak", () => {
    const { sb, cli, config } = useStackSandbox("soak", 80, { extra: { soak: { seconds: 15, intervalSeconds: 1 } } });

    test("a standby node unhealthy 5 s after its upgrade stops the run before the primary (exit 1, names it); cleared, the soak passes and the run completes", async () => {
        const waves = planWaves(config());
        const soaks = soakSteps(waves, config().soak);
        expect(soaks[0]).toMatchObject({ id: "soak/cloud/primary", seconds: 15 });
        setFault("C", "cloud", { unhealthyAfterSeconds: 5 }, sb.dir);

        const t0 = new Date().toISOString();
        const failed = cli(["up", "--yes"]);
        expect(failed.code).toBe(1);
        const last = failed.stderr.trim().split("\n").pop() ?? "";
        expect(last).toMatch(/^error: The soak before cloud\/primary failed: C\/cloud:\d+ answered status DOWN on \/internal\/v1\/health/);
        expect(last).toContain("after 2 nodes upgraded in this run");
        expect(failed.stderr).toMatch(/soak\/cloud\/primary on C\s+FAILED at C\/cloud:\d+/);
        // Only the standby cloud nodes ran; nothing at all happened on the primary hosts.
        const audit = readAudit(sb.dir).filter((e) => e.time >= t0);
        expect(audit.filter((e) => e.action === "upgrade" && e.outcome === "begin").map((e) => `${e.host}/${e.service}`)).toEqual(["C/cloud", "D/cloud"]);
        expect(audit.filter((e) => sb.host(e.host).center === "primary")).toEqual([]);
        const before = await status({ dir: sb.dir });
        for (const h of before.hosts.filter((x) => x.center === "primary"))
            for (const n of h.nodes) expect(`${h.name}/${n.service} ${n.version}`).toBe(`${h.name}/${n.service} 3.1.2`);

        clearFaults({ dir: sb.dir });
        const t1 = Date.now();
        const ok = cli(["up", "--yes", "--json"]);
        expect(ok.code).toBe(0);
        const events = ok.stdout
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l));
        // Every soak of the plan ran (each watches a standby node this run upgraded, or one its failed soak never passed), and lasted its 15 s.
        const passed = events.filter((e) => e.type === "soak" && e.status === "passed");
        expect([...new Set(passed.map((e) => e.soak))]).toEqual(soaks.map((s) => s.id));
        for (const e of passed) expect(e.seconds).toBeGreaterThanOrEqual(15);
        // The first primary node started after the soak before it passed on every standby host.
        const firstPrimary = events.find((e) => e.type === "node" && e.status === "upgrading" && sb.host(e.host).center === "primary");
        // D's watch of the failed soak had passed (its nodes healthy for the whole 15 s) and D is unchanged since:
        // it is kept; C's, which failed, runs again.
        expect(failed.stderr).toMatch(/soak\/cloud\/primary on D\s+passed: D\/cloud stayed healthy/);
        const cloudSoak = passed.filter((e) => e.soak === "soak/cloud/primary");
        expect(cloudSoak.map((e) => e.host)).toEqual(["C"]);
        for (const e of cloudSoak) expect(Date.parse(firstPrimary.time)).toBeGreaterThanOrEqual(Date.parse(e.time));
        const watchStarted = events.find((e) => e.type === "soak" && e.status === "watching" && e.soak === "soak/cloud/primary");
        expect(Date.parse(firstPrimary.time) - Date.parse(watchStarted.time)).toBeGreaterThanOrEqual(15000);
        // The report shows the soaks as their own bars.
        const report = events.find((e) => e.type === "report");
        const html = fs.readFileSync(report.path, "utf8");
        fs.rmSync(report.path, { force: true });
        for (const s of soaks) expect(html).toContain(`data-soak-bar="${s.id}"`);
        const st = await status({ dir: sb.dir });
        for (const h of st.hosts)
            for (const n of h.nodes) expect(`${h.name}/${n.service}:${n.port} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service}:${n.port} 3.2.0 UP`);
        expect(Date.now() - t1).toBeLessThan(400000);
    }, 900000);
});
