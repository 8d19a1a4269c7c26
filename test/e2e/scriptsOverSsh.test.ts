import { validateConfig, UpgradeConfig, effectiveHost } from "../../lib/config/schema";
import { planWaves } from "../../lib/plan";
import { preflightArgsFor, rollbackArgsFor, unpackArgsFor, upgradeArgsFor } from "../../lib/nodeArgs";
import { ServiceName } from "../../lib/services";
import { parseMarkers, renderPreflight, renderServiceRollback, renderServiceUpgrade, renderUnpack } from "../../lib/shell";
import { readAudit } from "../../sandbox/audit";
import { httpJson, status } from "../../sandbox/cluster";
import { clearFaults, setFault, setInterpreterFault } from "../../sandbox/faults";
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
                renderUnpack({
                    stagingDir: e.stagingDir,
                    tarballPath: sb.state().packagePath,
                    installUser: c.installUser,
                    installGroup: c.installGroup,
                    become: c.become,
                }),
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
        const order = planWaves(c)
            .flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`))
            .reverse();
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

    test("a node stopped before the upgrade stays stopped through the upgrade and the rollback (each stops again what --start started)", async () => {
        const c = config();
        const cloudOnC = async () =>
            (await status({ dir: sb.dir })).hosts
                .find((h) => h.name === "C")!
                .nodes.filter((n) => n.service === "cloud")
                .map((n) => `${n.port} ${n.version} ${n.pid ? n.health : "stopped"}`);
        const ports = (await cloudOnC()).map((l) => l.split(" ")[0]);
        expect(ports.length).toBeGreaterThan(1);
        const [stopped, kept] = ports;
        expect((await sb.ssh("C", `'${sb.ctl("C", "cloud")}' stop -p ${stopped}`)).code).toBe(0);
        let r = await onHost("C", upgradeText(c, "C", "cloud"));
        expect({ code: r.code, result: r.markers.values.result }).toEqual({ code: 0, result: "upgraded" });
        expect(await cloudOnC()).toEqual([`${stopped} 3.2.0 stopped`, `${kept} 3.2.0 UP`]);
        r = await onHost("C", renderServiceRollback(rollbackArgsFor(c, "C", "cloud")));
        expect({ code: r.code, result: r.markers.values.result, stderr: r.stderr }).toEqual({ code: 0, result: "rolled-back", stderr: "" });
        expect(r.stdout).toContain(`stopping node ${stopped}: it was not running before`);
        expect(await cloudOnC()).toEqual([`${stopped} 3.1.2 stopped`, `${kept} 3.1.2 UP`]);
        // as it was for the tests after this one
        expect((await sb.ssh("C", `'${sb.ctl("C", "cloud")}' start -p ${stopped}`)).code).toBe(0);
    });

    test("faults: the exit-0 trap, a failed start and resume, a DOWN node with UP components are all caught", async () => {
        const c = config();
        // C's nodes are at 3.1.2 again after the rollback test.
        setFault("C", "content-server", { step: "replace", at: "middle" }, sb.dir);
        let r = await onHost("C", upgradeText(c, "C", "content-server"));
        expect(r.code).toBe(1);
        expect(r.markers.values.reason).toBe("scmupgrade.py did not print upgrade success! (exit status 0)");
        expect(r.stderr).toContain("    | ");
        clearFaults({ dir: sb.dir });
        // half-replaced (the 3.2.0 script keeps its backup and goes on): the next run completes it
        r = await onHost("C", upgradeText(c, "C", "content-server"));
        expect({ result: r.markers.values.result, after: r.markers.values["version-after"] }).toEqual({ result: "upgraded", after: "3.2.0" });

        // start fails: exit 1 from scmupgrade.py, the jars are at the target and the nodes are down
        setFault("C", "config-server", { startFails: true }, sb.dir);
        r = await onHost("C", upgradeText(c, "C", "config-server"));
        expect(r.code).toBe(1);
        expect(r.markers.values.reason).toBe("scmupgrade.py did not print upgrade success! (exit status 1)");
        expect(r.stderr).toContain("| [ERROR] start node failed! check and restart node");
        // resumed with the fault still there: never "skipped", it fails naming the node
        r = await onHost("C", upgradeText(c, "C", "config-server"));
        expect(r.code).toBe(1);
        expect(r.markers.values.reason).toBe("node 8190 of config-server on C is at 3.2.0 but does not start (control script exit status 8)");
        // fixed without touching the jars: the node is started and health-gated, scmupgrade.py not run again
        clearFaults({ dir: sb.dir });
        const upgradesBefore = readAudit(sb.dir).filter((e) => e.action === "upgrade").length;
        r = await onHost("C", upgradeText(c, "C", "config-server"));
        expect({ code: r.code, result: r.markers.values.result, started: r.markers.values.started }).toEqual({ code: 0, result: "started", started: "8190" });
        expect(readAudit(sb.dir).filter((e) => e.action === "upgrade").length).toBe(upgradesBefore);
        expect(
            readAudit(sb.dir)
                .filter((e) => e.host === "C" && e.service === "config-server" && e.action === "start")
                .pop(),
        ).toMatchObject({ outcome: "ok", version: "3.2.0", port: 8190 });
        // and the next run has nothing to do
        expect((await onHost("C", upgradeText(c, "C", "config-server"))).markers.values.result).toBe("skipped");

        // unhealthy: 3.2 answers HTTP 200 with a top-level DOWN over UP components; the gate refuses it
        setFault("C", "config-server", { unhealthy: true }, sb.dir);
        const doc = await httpJson(sb.host("C").address, 8190, "/internal/v1/health");
        expect(doc).toMatchObject({ code: 200, body: { status: "DOWN", diskSpace: { status: "UP" }, refreshScope: { status: "UP" } } });
        r = await onHost("C", upgradeText(c, "C", "config-server", { healthTimeoutSeconds: 5 }));
        expect(r.code).toBe(1);
        expect(r.markers.values.reason).toBe("nodes 8190 of config-server on C are at 3.2.0 but not healthy on /internal/v1/health within 5s");
        clearFaults({ dir: sb.dir });

        // a node that never becomes healthy after an upgrade is rolled back when configured so
        const host = c.hosts.find((x) => x.services.includes("schedule-server") && x.center === "standby")!.name;
        setFault(host, "schedule-server", { unhealthy: true }, sb.dir);
        r = await onHost(host, upgradeText(c, host, "schedule-server", { healthTimeoutSeconds: 5, rollbackOnHealthFailure: true }));
        expect(r.code).toBe(1);
        expect(r.markers.values.reason).toMatch(
            /^nodes +\d+ not healthy on the 3\.2 endpoints within 5s; rolled back with the vendor rollback: 3\.1\.2 installed again$/,
        );
        expect(r.markers.values["rolled-back"]).toBe("3.1.2");
        clearFaults({ dir: sb.dir });
    });

    test("staging checks the script's interpreter on each host: missing or Python 3 fails naming host and fix, before any node changes", async () => {
        const c = config();
        const versions = async () => JSON.stringify((await status({ dir: sb.dir })).hosts.map((h) => h.nodes.map((n) => n.version)));
        const before = await versions();
        const audit = readAudit(sb.dir).length;
        setInterpreterFault("B", "missing", sb.dir);
        let r = await onHost("B", renderUnpack(unpackArgsFor(c, "B", sb.state().packagePath)));
        expect(r.code).toBe(1);
        expect(r.markers.checks).toEqual([{ name: "script-interpreter", status: "fail", detail: "B: /proc/self/cwd/../../../usr/bin/python does not exist" }]);
        expect(r.markers.values.reason).toContain("host B: the staged scmupgrade.py cannot run");
        expect(r.markers.values.reason).toContain("Fix: install Python 2 as /proc/self/cwd/../../../usr/bin/python on B");
        expect(r.markers.values.reason).toContain("or set upgradeScript to a newer scmupgrade.py that runs on Python 3");
        setInterpreterFault("B", "python3", sb.dir);
        r = await onHost("B", renderUnpack(unpackArgsFor(c, "B", sb.state().packagePath)));
        expect(r.code).toBe(1);
        expect(r.markers.checks[0].detail).toMatch(/^B: \/proc\/self\/cwd\/\.\.\/\.\.\/\.\.\/usr\/bin\/python cannot compile it \(SyntaxError: /);
        // nothing changed on any node, no scmupgrade.py ran
        expect(await versions()).toBe(before);
        expect(readAudit(sb.dir).length).toBe(audit);
        clearFaults({ host: "B", dir: sb.dir });
        r = await onHost("B", renderUnpack(unpackArgsFor(c, "B", sb.state().packagePath)));
        expect({ code: r.code, check: r.markers.checks[0] }).toEqual({
            code: 0,
            check: { name: "script-interpreter", status: "ok", detail: "#!/proc/self/cwd/../../../usr/bin/python" },
        });
    });
});
