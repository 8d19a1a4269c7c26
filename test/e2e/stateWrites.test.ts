import * as fs from "fs";
import * as path from "path";
import { projectName } from "../../engine/paths";
import { childName, componentName, ROOT_NAME } from "../../lib/names";
import { readAudit } from "../../sandbox/audit";
import { reset } from "../../sandbox/cluster";
import { planWaves } from "../../lib/plan";
import { loggingPulumiHome, startCli } from "../helpers/cli";
import { describeWithProvider } from "../helpers/engine";
import { useStackSandbox } from "../helpers/stackSandbox";
import { killGroup, waitFor } from "../helpers/team";

// The engine writes the stack's state once, when a run ends (engine/env.ts PULUMI_SKIP_CHECKPOINTS),
// not at every step: what a run has done is in the state after it stops, Ctrl-C included;
// SCM_UPGRADE_STATE_EVERY_STEP=1 gives the per-step writes back.
describeWithProvider("the stack's state written when a run ends", () => {
    const { sb, stack, config } = useStackSandbox("state-writes", 52);
    const order = () => planWaves(config()).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
    const stateFile = () => path.join(new URL(process.env.PULUMI_BACKEND_URL!).pathname, ".pulumi", "stacks", projectName, `${stack}.json`);
    /** The state's latest checkpoint; empty while the file is not written yet (or half-written). */
    const latest = (): { resources?: { urn: string; outputs?: { stdout?: string } }[]; pending_operations?: unknown[] } => {
        try {
            return JSON.parse(fs.readFileSync(stateFile(), "utf8")).checkpoint.latest ?? {};
        } catch {
            return {};
        }
    };
    /** Nodes whose upgrade the state records as finished at or after `t` (ISO), in plan order. */
    const recorded = (t: string) => {
        const resources = latest().resources ?? [];
        const since = `${t.slice(0, 19)}Z`;
        const finishedAt = (node: string) => {
            const [host, service] = node.split("/");
            const name = childName.nodeRun(componentName.node(ROOT_NAME, host, service));
            const r = resources.find((x) => x.urn.endsWith(`::${name}`));
            return /^SCMUP finished-at=(\S+)$/m.exec(String(r?.outputs?.stdout ?? ""))?.[1];
        };
        return order().filter((n) => (finishedAt(n) ?? "") >= since);
    };
    const succeededSince = (t: string) => readAudit(sb.dir).filter((e) => e.action === "upgrade" && e.outcome === "success" && e.time >= t);
    const begunSince = (t: string) =>
        readAudit(sb.dir)
            .filter((e) => e.action === "upgrade" && e.outcome === "begin" && e.time >= t)
            .map((e) => `${e.host}/${e.service}`);
    const start = (env: Record<string, string> = {}, args = ["up", "--yes"]) => startCli([...args, "--stack", stack], env);
    const logging = loggingPulumiHome();
    test("mid-run the state holds none of the run's nodes; Ctrl-C writes the nodes finished; the resumed run records every node", async () => {
        const t0 = new Date().toISOString();
        const run = start();
        await waitFor("two nodes upgraded", () => succeededSince(t0).length >= 2);
        // Two nodes have finished their upgrade (the first its whole step); the state has not been written.
        expect(recorded(t0)).toEqual([]);
        run.child.kill("SIGINT");
        const r = await run.done;
        expect(r.code).toBe(130);
        const stopped = /Stopped after (\S+) \(wave \d+\): (\d+) nodes? upgraded in this run/.exec(r.out);
        expect(stopped).not.toBeNull();
        const n = Number(stopped![2]);
        expect(n).toBeGreaterThanOrEqual(2);
        expect(recorded(t0)).toEqual(order().slice(0, n));

        const resumed = start();
        const rr = await resumed.done;
        expect(rr.code).toBe(0);
        // Every node upgraded once across both runs, and every one recorded.
        expect(begunSince(t0)).toEqual(order());
        expect(recorded(t0)).toEqual(order());
    }, 900000);

    test("SCM_UPGRADE_STATE_EVERY_STEP=1: the state records each node as its step ends, mid-run", async () => {
        await reset({ dir: sb.dir, stackConfig: false });
        const t1 = new Date().toISOString();
        const run = start({ SCM_UPGRADE_STATE_EVERY_STEP: "1" });
        await waitFor("two nodes upgraded", () => succeededSince(t1).length >= 2);
        expect(recorded(t1)).toContain(order()[0]);
        const r = await run.done;
        expect(r.code).toBe(0);
        expect(recorded(t1)).toEqual(order());
    }, 900000);

    test("a run that wrote every step, killed outright, leaves a pending operation: the next up clears that record and finishes, no node twice", async () => {
        await reset({ dir: sb.dir, stackConfig: false });
        const t2 = new Date().toISOString();
        const run = start({ SCM_UPGRADE_STATE_EVERY_STEP: "1" });
        // Killed (the whole process tree, as a laptop dies) while a node's step is in flight, recorded as a
        // pending operation, after its scmupgrade.py succeeded (its health gate runs): no half-done node.
        const pendingNow = () => latest().pending_operations ?? [];
        await waitFor(
            "a node in flight after its upgrade succeeded",
            () => succeededSince(t2).length >= 2 && succeededSince(t2).length === begunSince(t2).length && pendingNow().length > 0,
        );
        killGroup(run.child, "SIGKILL");
        await run.done;
        expect(pendingNow().length).toBeGreaterThan(0);
        // The dead run's lock stays (as a dead laptop's would): removed by hand, once its engine has died.
        let unlocked = { code: null as number | null, out: "" };
        for (let i = 0; i < 40 && unlocked.code !== 0; i++) {
            if (i) await new Promise((r) => setTimeout(r, 500));
            unlocked = await start({}, ["unlock", "--yes"]).done;
        }
        expect(`${unlocked.code} ${unlocked.out}`).toMatch(/^0 [\s\S]*removed 1 stale lock/);
        const resumed = start(logging.env);
        const r = await resumed.done;
        expect(r.code).toBe(0);
        expect(r.out).toMatch(/clearing the record of scm-\S+-run, interrupted while creating/);
        // The record was rewritten through the CLI with its secrets still encrypted: the SSH key the state holds
        // (each connection's) was in no argument, no file and no standard input given to a Pulumi CLI.
        const keyLines = fs
            .readFileSync(sb.state().clientKeyPath, "utf8")
            .split("\n")
            .filter((l) => l.length > 40);
        const given = [...logging.argv().map((a) => ({ name: a.slice(0, 2).join(" "), text: a.join(" ") })), ...logging.inputs()];
        expect(logging.commands()).toContain("stack");
        expect(given.filter((g) => keyLines.some((k) => g.text.includes(k))).map((g) => g.name)).toEqual([]);
        expect(begunSince(t2)).toEqual(order());
        expect(pendingNow()).toEqual([]);
    }, 900000);
});
