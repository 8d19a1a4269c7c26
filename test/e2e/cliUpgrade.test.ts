import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planWaves } from "../../lib/plan";
import { stacksDir } from "../../lib/engine/env";
import { readAudit } from "../../sandbox/audit";
import { status } from "../../sandbox/cluster";
import { clearFaults, setFault } from "../../sandbox/faults";
import { sandboxStackConfig, writeSandboxStackConfig } from "../../sandbox/stackConfig";
import { loadFromConfigMap } from "../../lib/config/load";
import { describeWithProvider } from "../helpers/engine";
import { useSandbox } from "../sandbox/fixture";
import { runCli } from "../helpers/cli";

// `scm-upgrade` as a subprocess against the sandbox, with the real engine and provider (issues 5
// and 6). Skipped where the command provider is not installed (see README).
describeWithProvider("scm-upgrade against the sandbox", () => {
    const sb = useSandbox("cli-upgrade", 44);
    const stack = "test-cli-upgrade";
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "scm-cli-state-"));
    const env = { PULUMI_BACKEND_URL: `file://${state}` };
    const saved = process.env.PULUMI_BACKEND_URL;

    beforeAll(async () => {
        process.env.PULUMI_BACKEND_URL = env.PULUMI_BACKEND_URL;
        await writeSandboxStackConfig(sb.state(), { stackName: stack });
    });
    afterAll(() => {
        if (saved === undefined) delete process.env.PULUMI_BACKEND_URL;
        else process.env.PULUMI_BACKEND_URL = saved;
        fs.rmSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), { force: true });
        fs.rmSync(state, { recursive: true, force: true });
    });

    const cli = (args: string[]) => runCli([...args, "--stack", stack], env, 600000);
    const plan = () => {
        const plain = sandboxStackConfig(sb.state());
        const r = loadFromConfigMap(Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
        if (!r.ok) throw new Error(JSON.stringify(r.problems));
        return planWaves(r.config);
    };
    const order = () => plan().flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
    const upgradesSince = (t: string) =>
        readAudit(sb.dir)
            .filter((e) => e.action === "upgrade" && e.outcome === "begin" && e.time >= t)
            .map((e) => `${e.host}/${e.service}`);
    const versions = async () => {
        const st = await status({ dir: sb.dir });
        return Object.fromEntries(st.hosts.flatMap((h) => h.nodes.map((n) => [`${h.name}/${n.service}/${n.port}`, n.version])));
    };

    test("preview runs nothing on hosts", () => {
        const before = readAudit(sb.dir).length;
        const r = cli(["preview"]);
        expect(r.code).toBe(0);
        expect(readAudit(sb.dir).length).toBe(before);
    });

    test("a failing standby content-server stops the run before any primary content-server node; up resumes after the fault is cleared", async () => {
        setFault("C", "content-server", { step: "replace", mode: "exit1" }, sb.dir);
        const t0 = new Date().toISOString();
        const failed = cli(["up", "--yes"]);
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain("C/content-server");
        expect(failed.stderr).toContain("did not print upgrade success! (exit status 1)");
        const done = upgradesSince(t0);
        expect(done).toEqual(order().slice(0, order().indexOf("C/content-server") + 1));
        clearFaults({ dir: sb.dir });
        const t1 = new Date().toISOString();
        const resumed = cli(["up", "--yes"]);
        expect(resumed.code).toBe(0);
        expect(upgradesSince(t1)).toEqual(order().slice(order().indexOf("C/content-server")));
        for (const v of Object.values(await versions())) expect(v).toBe("3.2.0");
    });

    test("a second up says there is nothing to do and runs no scmupgrade.py; --json events are JSON lines", () => {
        const before = readAudit(sb.dir).length;
        const r = cli(["up", "--yes", "--json"]);
        expect(r.code).toBe(0);
        const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
        expect(events[0]).toMatchObject({ type: "run-started", operation: "up" });
        expect(events.find((e) => e.type === "run-finished")).toMatchObject({ result: "succeeded" });
        expect(events.filter((e) => e.type === "node")).toEqual([]);
        expect(readAudit(sb.dir).length).toBe(before);
    });

    test("rollback returns every node to 3.1.2 in the exact reverse order", async () => {
        const t0 = new Date().toISOString();
        const r = cli(["rollback", "--yes"]);
        expect(r.code).toBe(0);
        const rolled = readAudit(sb.dir)
            .filter((e) => e.action === "rollback" && e.outcome === "begin" && e.time >= t0)
            .map((e) => `${e.host}/${e.service}`);
        expect(rolled).toEqual([...order()].reverse());
        for (const v of Object.values(await versions())) expect(v).toBe("3.1.2");
    });

    test("stop point: --only-center standby leaves every primary node at 3.1.2; the next up finishes them", async () => {
        const r = cli(["up", "--yes", "--only-center", "standby"]);
        expect(r.code).toBe(0);
        const st = await status({ dir: sb.dir });
        for (const h of st.hosts) for (const n of h.nodes) expect(`${h.name} ${n.version}`).toBe(`${h.name} ${h.center === "standby" ? "3.2.0" : "3.1.2"}`);
        const t0 = new Date().toISOString();
        expect(cli(["up", "--yes"]).code).toBe(0);
        const rest = upgradesSince(t0);
        expect(rest).toEqual(order().filter((k) => sb.host(k.split("/")[0]).center === "primary"));
    });
});
