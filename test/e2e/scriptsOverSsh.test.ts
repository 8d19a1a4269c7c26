import { validateConfig, UpgradeConfig, effectiveHost } from "../../lib/config/schema";
import { planWaves } from "../../lib/plan";
import { preflightArgsFor, rollbackArgsFor, upgradeArgsFor } from "../../lib/nodeScripts";
import { ServiceName } from "../../lib/services";
import { parseMarkers, renderPreflight, renderServiceRollback, renderServiceUpgrade, renderUnpack } from "../../lib/shell";
import { readAudit } from "../../sandbox/audit";
import { clearFaults, setFault } from "../../sandbox/faults";
import { sandboxStackConfig } from "../../sandbox/stackConfig";
import { useSandbox } from "../sandbox/fixture";

// The exact shell texts the components send, run over real SSH against the sandbox, node by node
// in the plan's order: what the engine does, minus the engine. This proves the scripts against a
// cluster that behaves like SequoiaCM (traps included), with or without the command provider.

const sb = useSandbox("scripts", 41);

function config(): UpgradeConfig {
    const plain = sandboxStackConfig(sb.state());
    const raw = Object.fromEntries(Object.entries(plain).map(([k, v]) => [k.replace(/^scm-upgrade:/, ""), v]));
    // The package is already on every "host" (same machine): stage from that path.
    raw.package = { remotePath: sb.state().packagePath };
    raw.healthTimeoutSeconds = 20;
    const r = validateConfig(raw);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.config;
}

async function onHost(host: string, script: string) {
    const r = await sb.ssh(host, script);
    return { ...r, markers: parseMarkers(r.stdout) };
}

function upgradeText(c: UpgradeConfig, host: string, service: ServiceName, extra: { healthTimeoutSeconds?: number; rollbackOnHealthFailure?: boolean } = {}) {
    return renderServiceUpgrade({ ...upgradeArgsFor(c, host, service), ...extra });
}

describe("the upgrade scripts over SSH against the sandbox", () => {
    test("stage and preflight every host, upgrade in plan order; audit order = plan; second pass skips all", async () => {
        const c = config();
        for (const h of c.hosts) {
            const e = effectiveHost(c, h);
            const staged = await onHost(
                h.name,
                renderUnpack({ stagingDir: e.stagingDir, tarballPath: sb.state().packagePath, installUser: c.installUser, installGroup: c.installGroup, become: c.become }),
            );
            expect(staged.markers.values.result).toBe("staged");
            const pre = await onHost(h.name, renderPreflight(preflightArgsFor(c, h.name, 10)));
            expect(pre.markers.checks.filter((x) => x.status === "fail")).toEqual([]);
            expect(pre.markers.values.result).toBe("ok");
            expect(pre.code).toBe(0);
        }
        const order = planWaves(c).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
        for (const key of order) {
            const [host, service] = key.split("/") as [string, ServiceName];
            const r = await onHost(host, upgradeText(c, host, service));
            expect({ key, result: r.markers.values.result, stderr: r.stderr }).toEqual({ key, result: "upgraded", stderr: "" });
            expect(r.markers.values["version-before"]).toBe("3.1.2");
            expect(r.markers.values["version-after"]).toBe("3.2.0");
        }
        const upgrades = readAudit(sb.dir).filter((e) => e.action === "upgrade" && e.outcome === "begin");
        expect(upgrades.map((e) => `${e.host}/${e.service}`)).toEqual(order);
        // Every node is 3.2.0 and healthy on the 3.2 endpoints.
        const st = await import("../../sandbox/cluster").then((m) => m.status({ dir: sb.dir }));
        // The sandbox's status says UP for a healthy node (content-server: Node-Status running).
        for (const h of st.hosts)
            for (const n of h.nodes)
                expect({ node: `${h.name}:${n.port}`, v: n.version, health: n.health }).toEqual({ node: `${h.name}:${n.port}`, v: "3.2.0", health: "UP" });
        // Second pass: every node skipped, scmupgrade.py never run again.
        const before = readAudit(sb.dir).length;
        for (const key of order) {
            const [host, service] = key.split("/") as [string, ServiceName];
            const r = await onHost(host, upgradeText(c, host, service));
            expect(r.markers.values.result).toBe("skipped");
        }
        expect(readAudit(sb.dir).length).toBe(before);
    });

    test("rollback in reverse order brings every node back to 3.1.2", async () => {
        const c = config();
        const order = planWaves(c).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`)).reverse();
        const t0 = new Date().toISOString();
        for (const key of order) {
            const [host, service] = key.split("/") as [string, ServiceName];
            const r = await onHost(host, renderServiceRollback(rollbackArgsFor(c, host, service)));
            expect({ key, result: r.markers.values.result }).toEqual({ key, result: "rolled-back" });
            expect(r.markers.values["version-after"]).toBe("3.1.2");
        }
        const rollbacks = readAudit(sb.dir).filter((e) => e.action === "rollback" && e.outcome === "begin" && e.time >= t0);
        expect(rollbacks.map((e) => `${e.host}/${e.service}`)).toEqual(order);
    });

    test("faults: exit 1, the exit-0 trap, and a node that never becomes healthy are all caught", async () => {
        const c = config();
        // C's content-server is at 3.1.2 again after the rollback test.
        setFault("C", "content-server", { step: "replace", mode: "exit1" }, sb.dir);
        let r = await onHost("C", upgradeText(c, "C", "content-server"));
        expect(r.code).toBe(1);
        expect(r.markers.values.reason).toBe("scmupgrade.py did not print upgrade success! (exit status 1)");
        expect(r.stderr).toContain("    | ");

        clearFaults({ dir: sb.dir });
        setFault("C", "content-server", { step: "replace", mode: "exit0" }, sb.dir);
        r = await onHost("C", upgradeText(c, "C", "content-server"));
        expect(r.code).toBe(1);
        expect(r.markers.values.reason).toBe("scmupgrade.py did not print upgrade success! (exit status 0)");

        clearFaults({ dir: sb.dir });
        setFault("C", "config-server", { unhealthy: true }, sb.dir);
        r = await onHost("C", upgradeText(c, "C", "config-server", { healthTimeoutSeconds: 5, rollbackOnHealthFailure: true }));
        expect(r.code).toBe(1);
        expect(r.markers.values.reason).toMatch(/^nodes +\d+ not healthy on the 3\.2 endpoints within 5s$/);
        expect(r.markers.values["rolled-back"]).toBe("3.1.2");
        clearFaults({ dir: sb.dir });
    });
});
