import { readLocks } from "../../engine/locks";
import { planWaves } from "../../lib/plan";
import { readAudit } from "../../sandbox/audit";
import { freezeHost, status, thawHost } from "../../sandbox/cluster";
import { clearFaults, setFault } from "../../sandbox/faults";
import { sandboxStackConfig } from "../../sandbox/stackConfig";
import { startCli } from "../helpers/cli";
import { describeWithProvider } from "../helpers/engine";
import { useStackSandbox } from "../helpers/stackSandbox";
import { waitFor } from "../helpers/team";

// A host that hangs mid-node (a frozen machine: its port still takes connections, nothing answers) once made
// `up` wait for ever: the command provider's dial has a timeout for the TCP connect only, and an open session
// has no keepalive. The tool asks a host with a step in flight whether it answers SSH (engine/hostWatch.ts);
// after `ssh.unansweredSeconds` without an answer the run stops, naming the host, and frees the stack.
describeWithProvider("a host that hangs mid-run", () => {
    const { sb, stack, config, configure } = useStackSandbox("hung-host", 53);
    const order = () => planWaves(config()).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
    const begunSince = (t: string) =>
        readAudit(sb.dir)
            .filter((e) => e.action === "upgrade" && e.outcome === "begin" && e.time >= t)
            .map((e) => `${e.host}/${e.service}`);
    const start = (args = ["up", "--yes"]) => startCli([...args, "--stack", stack]);
    afterAll(() => {
        // Never leave a frozen host behind, whatever failed (the sandbox may be down already).
        try {
            thawHost("D", sb.dir);
        } catch {
            // no sandbox: nothing frozen
        }
    });

    test("frozen during its node's upgrade: the run stops within unansweredSeconds and a few probes, exit 1 naming the host and the node; no later node touched; no lock left; after the host thaws, `up` finishes with no node twice", async () => {
        const unanswered = 6;
        await configure({ ssh: { ...(sandboxStackConfig(sb.state())["scm-upgrade:ssh"] as object), unansweredSeconds: unanswered } });
        // D/cloud's upgrade lasts long enough to freeze the host in the middle of it (its nodes stopped, the
        // files not yet replaced), and to be still at work after the host thaws and `up` resumes (its sleep
        // goes on counting while the host is frozen).
        setFault("D", "cloud", { slowSeconds: 40 }, sb.dir);
        const plan = order();
        const at = plan.indexOf("D/cloud");
        const t0 = new Date().toISOString();
        const run = start();
        await waitFor("D/cloud's scmupgrade.py under way", () => begunSince(t0).includes("D/cloud"), 300000);
        await new Promise((r) => setTimeout(r, 1000));
        const frozeAt = Date.now();
        expect(freezeHost("D", sb.dir)).toBeGreaterThan(0);
        const r = await run.done;
        const seconds = (r.at - frozeAt) / 1000;
        console.log(`hung host: the run ended ${seconds.toFixed(1)} s after D froze (unansweredSeconds ${unanswered})`);
        expect(r.code).toBe(1);
        const last = r.out.trim().split("\n").pop()!;
        expect(last).toMatch(
            new RegExp(
                `^error: Host D stopped answering SSH while the upgrade of D/cloud ran there \\(no SSH login for \\d+ s: [^)]+\\)\\. ` +
                    `The run stopped after ${at} nodes? upgraded in this run; later nodes were not touched\\. ` +
                    `What that step did on D is not known until the host answers: .* run \`scm-upgrade up --stack ${stack}\` to resume`,
            ),
        );
        expect(r.out).toMatch(/D\/cloud\s+FAILED/);
        // unansweredSeconds of probes (every 2 s here), the first one interval after the freeze, then the engine's end.
        expect(seconds).toBeGreaterThanOrEqual(unanswered);
        expect(seconds).toBeLessThan(unanswered + 25);
        expect(begunSince(t0)).toEqual(plan.slice(0, at + 1));
        expect(await readLocks(process.env.PULUMI_BACKEND_URL!, stack)).toEqual([]);

        // While D hangs, `status` waits for its answer; an interrupt (no terminal: SIGINT) ends it at once, where it
        // used to wait for the read to give up (a command that runs no engine has nothing to finish first).
        const looking = start(["status"]);
        await new Promise((r) => setTimeout(r, 1500));
        const askedAt = Date.now();
        looking.child.kill("SIGINT");
        const st = await looking.done;
        expect({ code: st.code, last: st.out.trim().split("\n").pop() }).toEqual({ code: 130, last: "Interrupt received: status stopped." });
        expect(st.at - askedAt).toBeLessThan(1000);

        // The host comes back: its scmupgrade.py goes on to its end (its SSH client is gone, its script is not). `up`
        // at once: the staging and D/cloud's step wait for that script (the host's lock), then find D/cloud done,
        // instead of unpacking under it or running a second scmupgrade.py beside it.
        thawHost("D", sb.dir);
        clearFaults({ dir: sb.dir });
        const dCloudEnded = () =>
            readAudit(sb.dir).find((e) => e.action === "upgrade" && e.host === "D" && e.service === "cloud" && e.outcome !== "begin" && e.time >= t0);
        expect(dCloudEnded()).toBeUndefined();
        const resumed = await start().done;
        expect(dCloudEnded()?.outcome).toBe("success");
        expect(resumed.out.trim().split("\n").pop()).not.toMatch(/^error/);
        expect(resumed.code).toBe(0);
        expect(begunSince(t0)).toEqual(plan);
        const cluster = await status({ dir: sb.dir });
        for (const h of cluster.hosts)
            for (const n of h.nodes) expect(`${h.name}/${n.service}:${n.port} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service}:${n.port} 3.2.0 UP`);
    }, 900000);
});
