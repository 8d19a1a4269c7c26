import * as crypto from "crypto";
import * as path from "path";
import { readAudit } from "../../sandbox/audit";
import { reset, status } from "../../sandbox/cluster";
import { planWaves } from "../../lib/plan";
import { describeWithProvider } from "../helpers/engine";
import { useStackSandbox } from "../helpers/stackSandbox";
import { runCli } from "../helpers/cli";
import { stacksDir } from "../../engine/env";
import { stackPresence } from "../../engine/locks";
import { sandboxStackConfig } from "../../sandbox/stackConfig";
import { serviceFilesOf, unfinishedMark } from "../../lib/shell";
import * as fs from "fs";
import * as os from "os";
import * as yaml from "js-yaml";

// The tool tells the truth about the cluster: every preview and up reads the nodes' live version
// and health first, so a cluster that changed under the state (reset, a manual rollback) is
// upgraded again, and a cluster with nothing to do runs nothing.
describeWithProvider("live state before every preview and up", () => {
    const { sb, cli, config } = useStackSandbox("live-state", 51);
    const order = () => planWaves(config()).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
    const upgradesSince = (t: string) =>
        readAudit(sb.dir)
            .filter((e) => e.action === "upgrade" && e.outcome === "begin" && e.time >= t)
            .map((e) => `${e.host}/${e.service}`);
    const sha = (f: string) => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
    const allAt = async (v: string) => {
        const st = await status({ dir: sb.dir });
        for (const h of st.hosts)
            for (const n of h.nodes) expect(`${h.name}/${n.service}:${n.port} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service}:${n.port} ${v} UP`);
    };

    test("after a reset to 3.1.2 with the same package: preview lists every node, up upgrades every node again", async () => {
        // Two full upgrades, a reset and a preview.
        expect(cli(["up", "--yes"]).code).toBe(0);
        const pkg = sb.state().packagePath;
        const before = sha(pkg);
        await reset({ dir: sb.dir, stackConfig: false });
        expect(sha(pkg)).toBe(before);
        await allAt("3.1.2");

        const pv = cli(["preview"]);
        expect(pv.code).toBe(0);
        for (const n of order()) expect(pv.stderr).toMatch(new RegExp(`${n}\\s+would upgrade`));
        expect(pv.stderr).toContain("0 of 12 nodes at 3.2.0 and healthy");
        expect(pv.stderr).toMatch(/the state was stale: it recorded .* as done/);

        const t0 = new Date().toISOString();
        const r = cli(["up", "--yes"]);
        expect(r.code).toBe(0);
        expect(upgradesSince(t0)).toEqual(order());
        await allAt("3.2.0");
        // The summary shows this run's nodes, each once.
        for (const n of order())
            expect(r.stdout.split("\n").filter((l) => new RegExp(`\\b${n.split("/")[0]}\\s+${n.split("/")[1]}\\s`).test(l))).toHaveLength(1);
    }, 900000);

    test("nothing to do: up runs nothing on the hosts and says so, from what it read live", async () => {
        const count = readAudit(sb.dir).length;
        const t0 = Date.now();
        const r = cli(["up", "--yes"]);
        const seconds = (Date.now() - t0) / 1000;
        console.log(`up with nothing to do (12 nodes, live state read): ${seconds.toFixed(1)} s`);
        expect(r.code).toBe(0);
        expect(r.stderr).toContain("Nothing to do: all 12 nodes are at 3.2.0 and healthy (read live from the hosts).");
        expect(r.stdout).not.toMatch(/upgraded/);
        expect(readAudit(sb.dir).length).toBe(count);
    });

    test("a new stack with a plain config (keys in files): made while the hosts are read, removed again when there is nothing to do, kept when there is work", async () => {
        // A stack the backend does not hold, a config without secrets: `up` starts `pulumi stack init` beside
        // the live read (engine/env.ts prefetchStackInit) instead of after it.
        const stack = "test-live-state-plain";
        const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
        const state = fs.mkdtempSync(path.join(os.tmpdir(), "scm-live-plain-state-"));
        const url = `file://${state}`;
        const text = `# written by liveState.test.ts\n${yaml.dump({ config: sandboxStackConfig(sb.state()) }, { lineWidth: 200 })}`;
        fs.writeFileSync(file, text);
        try {
            const count = readAudit(sb.dir).length;
            const idle = runCli(["up", "--yes", "--stack", stack], { PULUMI_BACKEND_URL: url }, 600000);
            expect(idle.code).toBe(0);
            expect(idle.stderr).toContain("Nothing to do: all 12 nodes are at 3.2.0 and healthy (read live from the hosts).");
            expect(readAudit(sb.dir).length).toBe(count);
            // No empty stack left behind, and the stack file as written (the CLI may only add its encryptionsalt).
            expect(await stackPresence(url, stack)).toBe("absent");
            expect(fs.readFileSync(file, "utf8").replace(/^encryptionsalt: .*\n/m, "")).toBe(text);

            const script = sb.script("D");
            const rb = await sb.ssh(
                "D",
                `cd '${path.dirname(script)}' && ./scmupgrade.py --service cloud --install-path '${sb.install("D", "cloud")}' --rollback --start`,
            );
            expect(rb.stdout).toContain("rollback success!");
            const t0 = new Date().toISOString();
            const r = runCli(["up", "--yes", "--stack", stack], { PULUMI_BACKEND_URL: url }, 600000);
            expect(r.code).toBe(0);
            expect(upgradesSince(t0)).toEqual(["D/cloud"]);
            expect(await stackPresence(url, stack)).toBe("present");
            await allAt("3.2.0");
        } finally {
            fs.rmSync(file, { force: true });
            fs.rmSync(state, { recursive: true, force: true });
        }
    });

    test("a standby node rolled back by hand with the vendor script: up upgrades exactly that node", async () => {
        const h = sb.host("C");
        const script = sb.script("C");
        const rb = await sb.ssh(
            "C",
            `cd '${path.dirname(script)}' && ./scmupgrade.py --service cloud --install-path '${sb.install("C", "cloud")}' --rollback --start`,
        );
        expect(rb.stdout).toContain("rollback success!");
        expect(h.center).toBe("standby");
        // status: what the state recorded beside what the host says now.
        const st = cli(["status"]);
        expect(st.code).toBe(0);
        expect(st.stdout).toMatch(/^last run: scm-upgrade up succeeded, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ -> \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s\)$/m);
        const row = st.stdout.split("\n").find((l) => /\bC\s+cloud\s/.test(l));
        expect(row).toMatch(/upgraded 3\.1\.2 -> 3\.2\.0\s+\S+\s+3\.1\.2\s+installed 3\.1\.2/);
        const t0 = new Date().toISOString();
        const r = cli(["up", "--yes"]);
        expect(r.code).toBe(0);
        expect(upgradesSince(t0)).toEqual(["C/cloud"]);
        await allAt("3.2.0");
    });

    test("an upgrade cut off after scmupgrade.py (its mark left on the host): not done live; up runs that node again without scmupgrade.py, then it is done", async () => {
        const mark = unfinishedMark(sb.host("C").stagingDir, serviceFilesOf("cloud").folder, "3.2.0");
        const made = await sb.ssh("C", `: > '${mark}'`);
        expect(made.code).toBe(0);
        const st = cli(["status"]);
        const row = st.stdout.split("\n").find((l) => /\bC\s+cloud\s/.test(l));
        expect(row).toMatch(/3\.2\.0\s+at 3\.2\.0, the upgrade of an earlier run did not finish/);
        const t0 = new Date().toISOString();
        const r = cli(["up", "--yes"]);
        expect(r.code).toBe(0);
        expect(r.stdout + r.stderr).toContain("the state was stale: it recorded C/cloud as done");
        // the node script put the run state back and gated; the vendor script did not run again
        expect(upgradesSince(t0)).toEqual([]);
        expect((await sb.ssh("C", `test -e '${mark}'`)).code).toBe(1);
        await allAt("3.2.0");
        expect(cli(["up", "--yes"]).stderr).toContain("Nothing to do: all 12 nodes are at 3.2.0 and healthy (read live from the hosts).");
    });
});
