import * as fs from "fs";
import * as path from "path";
import { stacksDir } from "../../engine/env";
import { planWaves } from "../../lib/plan";
import { readAudit } from "../../sandbox/audit";
import { reset, status } from "../../sandbox/cluster";
import { describeWithProvider } from "../helpers/engine";
import { SandboxFixture } from "../sandbox/fixture";
import { useStackSandbox } from "../helpers/stackSandbox";
import { loggingPulumiHome, runCli, runCliOnTerminal } from "../helpers/cli";
import { UpgradeConfig } from "../../lib/config/schema";

/**
 * `scm-upgrade` as a subprocess against a sandbox of its own, with the real engine and the command
 * provider (official or the offline stand-in). Each case has its own sandbox, stack and state, so
 * each can run alone.
 */
const useCliSandbox = (name: string, net: number) => useStackSandbox(name, net);

function planOrder(config: () => UpgradeConfig): string[] {
    return planWaves(config()).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
}

const actionsSince = (sb: SandboxFixture, action: string, t: string) =>
    readAudit(sb.dir)
        .filter((e) => e.action === action && e.outcome === "begin" && e.time >= t)
        .map((e) => `${e.host}/${e.service}`);

async function versions(sb: SandboxFixture): Promise<Record<string, string>> {
    const st = await status({ dir: sb.dir });
    return Object.fromEntries(st.hosts.flatMap((h) => h.nodes.map((n) => [`${h.name}/${n.service}/${n.port}`, String(n.version)])));
}

describeWithProvider("scm-upgrade preview", () => {
    const { sb, cli, config } = useCliSandbox("cli-preview", 44);
    test("runs nothing on hosts and lists every node", () => {
        const r = cli(["preview"]);
        expect(r.code).toBe(0);
        expect(readAudit(sb.dir)).toEqual([]);
        for (const n of planOrder(config)) expect(r.stdout + r.stderr).toMatch(new RegExp(`${n}\\s+would upgrade`));
        // --json: the engine's count of changes ends the events, as the text's last line says it.
        const j = cli(["preview", "--json"]);
        expect(j.code).toBe(0);
        const last = JSON.parse(j.stdout.trim().split("\n").pop()!);
        expect(last).toMatchObject({ type: "preview-result" });
        expect(r.stdout).toContain(
            `preview: ${Object.entries(last.changes)
                .map(([k, v]) => `${v} to ${k}`)
                .join(", ")}`,
        );
        expect(last.changes.create).toBeGreaterThan(0);
        expect(readAudit(sb.dir)).toEqual([]);
    });
});

describeWithProvider("scm-upgrade up twice", () => {
    const { sb, stack } = useCliSandbox("cli-twice", 48);
    const counting = loggingPulumiHome();
    test("the second up runs no scmupgrade.py and starts no Pulumi CLI; --json events are JSON lines", () => {
        // The stack's SSH key is a passphrase secret, opened in the tool's process: the engine's `up` is the only
        // CLI process of a first run; a second with nothing to do starts none.
        expect(sb.state()).toBeDefined();
        expect(fs.readFileSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), "utf8")).toMatch(/sshPrivateKey:\n\s+secure: v1:/);
        expect(runCli(["up", "--yes", "--stack", stack], counting.env, 600000).code).toBe(0);
        expect(counting.commands()).toEqual(["up"]);
        const before = readAudit(sb.dir).filter((e) => e.action === "upgrade").length;
        const r = runCli(["up", "--yes", "--json", "--stack", stack], counting.env, 600000);
        expect(r.code).toBe(0);
        expect(counting.commands()).toEqual(["up"]);
        const events = r.stdout
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l));
        expect(events[0]).toMatchObject({ type: "run-started", operation: "up" });
        expect(events.find((e) => e.type === "run-finished")).toMatchObject({ result: "succeeded" });
        expect(events.filter((e) => e.type === "node")).toEqual([]);
        expect(readAudit(sb.dir).filter((e) => e.action === "upgrade").length).toBe(before);
    });
    test("status reads the state, the last run and the config in the tool's process (no Pulumi CLI) and shows no secret's value", () => {
        const r = runCli(["status", "--json", "--stack", stack], counting.env, 120000);
        expect(r.code).toBe(0);
        const st = JSON.parse(r.stdout.trim().split("\n").pop()!);
        expect(st.type).toBe("status");
        expect(Object.keys(st.nodes).sort()).toEqual(Object.keys(st.live).sort());
        for (const [k, n] of Object.entries(st.nodes as Record<string, { versionBefore: string; versionAfter: string }>)) {
            expect(`${k} ${n.versionBefore} -> ${n.versionAfter} ${st.live[k].done}`).toBe(`${k} 3.1.2 -> 3.2.0 true`);
        }
        // The second up had nothing to do and recorded no update: the last run is the first.
        expect(st.lastRun).toMatchObject({ kind: "update", message: "scm-upgrade up", result: "succeeded" });
        expect(new Date(st.lastRun.endTime).getTime()).toBeGreaterThanOrEqual(new Date(st.lastRun.startTime).getTime());
        expect(st.lastRun.config["scm-upgrade:sshPrivateKey"]).toEqual({ secret: true });
        expect(st.lastRun.config["scm-upgrade:targetVersion"]).toEqual({ value: "3.2.0", secret: false });
        expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
        expect(counting.commands()).toEqual(["up"]);
        const text = runCli(["status", "--stack", stack], counting.env, 120000);
        expect(text.code).toBe(0);
        expect(text.stdout).toMatch(/^last run: scm-upgrade up succeeded, \S+Z -> \S+Z \(\d+ s\)$/m);
        expect(counting.commands()).toEqual(["up"]);
    });
    test("on a terminal up asks first: n or Ctrl-C at the question changes nothing (exit 6, exit 130)", () => {
        const before = readAudit(sb.dir).length;
        const question = `Proceed to upgrade on stack ${stack}? [y/N] `;
        const no = runCliOnTerminal(["up", "--stack", stack], counting.env, question, "n\r");
        expect(no.out).toContain("Not confirmed: nothing was done.");
        expect(no.code).toBe(6);
        const interrupted = runCliOnTerminal(["up", "--stack", stack], counting.env, question, "\x03");
        expect(interrupted.out).toContain("Interrupted at the question: nothing was done.");
        expect(interrupted.code).toBe(130);
        expect(readAudit(sb.dir).length).toBe(before);
    });
    test("a state this process cannot read (zstd): status asks the Pulumi CLI instead, and still shows no secret's value", () => {
        const zstd = { ...counting.env, PULUMI_DIY_BACKEND_ZSTD: "true" };
        expect(runCli(["refresh", "--stack", stack], zstd, 300000).code).toBe(0);
        const stacks = path.join(new URL(String(process.env.PULUMI_BACKEND_URL)).pathname, ".pulumi", "stacks", "scm-upgrade");
        expect(fs.readdirSync(stacks)).toContain(`${stack}.json.zst`);
        const before = counting.commands().length;
        const r = runCli(["status", "--json", "--stack", stack], zstd, 120000);
        expect(r.code).toBe(0);
        const st = JSON.parse(r.stdout.trim().split("\n").pop()!);
        expect(st.lastRun).toMatchObject({ kind: "refresh", message: "scm-upgrade refresh", result: "succeeded" });
        expect(st.lastRun.config["scm-upgrade:sshPrivateKey"]).toEqual({ secret: true });
        expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
        for (const [k, n] of Object.entries(st.nodes as Record<string, { versionAfter: string }>)) expect(`${k} ${n.versionAfter}`).toBe(`${k} 3.2.0`);
        expect(Object.keys(st.nodes)).toHaveLength(12);
        expect(counting.commands().slice(before)).toContain("stack");
    });
});

describeWithProvider("scm-upgrade rollback", () => {
    const { sb, cli, config, configure } = useCliSandbox("cli-rollback", 49);
    test("after a full upgrade, returns every node to 3.1.2 in the exact reverse order, the release gone from this machine", async () => {
        expect(cli(["up", "--yes"]).code).toBe(0);
        const reverse = [...planOrder(config)].reverse();
        // The tarball is gone from here: an upgrade needs it (exit 3); the rollback runs the vendor's script already
        // staged on the hosts, and status reads the hosts: neither needs it.
        await configure({ package: { localPath: "/nonexistent/scm-upgrade-test/sequoiacm-3.2.0-release.tar.gz" } });
        const up = cli(["up", "--yes"]);
        expect(up.code).toBe(3);
        expect(up.stderr).toContain("package.localPath: no file at");
        const t0 = new Date().toISOString();
        const r = cli(["rollback", "--yes"]);
        expect(r.stderr.split("\n").filter((l) => l.startsWith("error"))).toEqual([]);
        expect(r.code).toBe(0);
        expect(actionsSince(sb, "rollback", t0)).toEqual(reverse);
        for (const v of Object.values(await versions(sb))) expect(v).toBe("3.1.2");
        const st = cli(["status"]);
        expect(st.code).toBe(0);
        expect(st.stdout).toMatch(/^last run: scm-upgrade rollback succeeded/m);
        // What the state records of each node is the rollback's: no node reads "upgraded".
        expect(st.stdout.match(/rolled back 3\.2\.0 -> 3\.1\.2/g)).toHaveLength(12);
        expect(st.stdout).not.toMatch(/upgraded/);
        expect(r.stdout).toMatch(/rolled back/);
    });
});

describeWithProvider("scm-upgrade up --only-center standby", () => {
    const { sb, cli, config } = useCliSandbox("cli-stop-point", 50);
    const inCenter = (center: string, keys: string[]) => keys.filter((k) => sb.host(k.split("/")[0]).center === center);
    /** What the state recorded of each node, as `status --json` gives it. */
    const recorded = () => JSON.parse(cli(["status", "--json"]).stdout.trim().split("\n").pop()!).nodes as Record<string, { versionAfter: string }>;
    test("leaves every primary node at 3.1.2; the primary alone then, in plan order; neither center's run drops what the state recorded of the other", async () => {
        // The primary alone before the standby is done: refused once the hosts are read, nothing run.
        const early = cli(["up", "--yes", "--only-center", "primary"]);
        expect(early.code).toBe(4);
        expect(early.stderr).toContain(
            "--only-center primary upgrades the primary center after the standby center, and 6 standby node(s) are not at 3.2.0 and healthy: C/cloud (",
        );
        expect(early.stderr).toContain("Run `scm-upgrade up --only-center standby --stack test-cli-stop-point` first");
        expect(readAudit(sb.dir)).toEqual([]);
        const r = cli(["up", "--yes", "--only-center", "standby"]);
        expect(r.code).toBe(0);
        const st = await status({ dir: sb.dir });
        for (const h of st.hosts) for (const n of h.nodes) expect(`${h.name} ${n.version}`).toBe(`${h.name} ${h.center === "standby" ? "3.2.0" : "3.1.2"}`);
        // The primary alone, now that the standby is done: only its nodes run, in plan order, and the state still
        // holds what the first run recorded of the standby (one center's run never drops the other's records).
        const t0 = new Date().toISOString();
        expect(cli(["up", "--yes", "--only-center", "primary"]).code).toBe(0);
        expect(actionsSince(sb, "upgrade", t0)).toEqual(inCenter("primary", planOrder(config)));
        const all = recorded();
        expect(Object.keys(all).sort()).toEqual([...planOrder(config)].sort());
        for (const [k, n] of Object.entries(all)) expect(`${k} ${n.versionAfter}`).toBe(`${k} 3.2.0`);
        // The cluster set back to 3.1.2 (restored from a backup) and the standby upgraded again alone: nothing runs
        // on the primary, and what the state recorded of it stays as it was.
        await reset({ dir: sb.dir, stackConfig: false });
        const pv = cli(["preview", "--only-center", "standby"]);
        expect(pv.code).toBe(0);
        for (const k of inCenter("standby", planOrder(config))) expect(pv.stdout + pv.stderr).toMatch(new RegExp(`${k}\\s+would upgrade`));
        for (const k of inCenter("primary", planOrder(config))) expect(pv.stdout + pv.stderr).not.toMatch(new RegExp(`${k}\\s+would`));
        const t1 = new Date().toISOString();
        expect(cli(["up", "--yes", "--only-center", "standby"]).code).toBe(0);
        expect(actionsSince(sb, "upgrade", t1)).toEqual(inCenter("standby", planOrder(config)));
        const again = recorded();
        expect(Object.keys(again).sort()).toEqual(Object.keys(all).sort());
        for (const k of inCenter("primary", planOrder(config))) expect(again[k]).toEqual(all[k]);
        for (const k of inCenter("standby", planOrder(config))) expect(again[k]).not.toEqual(all[k]);
        // And the primary then, as after the first standby run.
        const t2 = new Date().toISOString();
        expect(cli(["up", "--yes", "--only-center", "primary"]).code).toBe(0);
        expect(actionsSince(sb, "upgrade", t2)).toEqual(inCenter("primary", planOrder(config)));
    });
    test("rollback --only-center: the primary first, in reverse order, the standby only after it; never the whole cluster", async () => {
        const reverse = [...planOrder(config)].reverse();
        const early = cli(["rollback", "--yes", "--only-center", "standby"]);
        expect(early.code).toBe(4);
        expect(early.stderr).toContain(
            "--only-center standby rolls the standby center back after the primary center (the reverse of the upgrade), and 6 primary node(s) are not back at 3.1.2: ",
        );
        expect(early.stderr).toContain("Run `scm-upgrade rollback --only-center primary --stack test-cli-stop-point` first");
        expect(readAudit(sb.dir).filter((e) => e.action === "rollback")).toEqual([]);
        const t0 = new Date().toISOString();
        expect(cli(["rollback", "--yes", "--only-center", "primary"]).code).toBe(0);
        expect(actionsSince(sb, "rollback", t0)).toEqual(inCenter("primary", reverse));
        for (const [k, v] of Object.entries(await versions(sb)))
            expect(`${k} ${v}`).toBe(`${k} ${sb.host(k.split("/")[0]).center === "primary" ? "3.1.2" : "3.2.0"}`);
        // The state still holds what the upgrade recorded of the standby, beside the primary's rollback, each
        // named for what its run did.
        const recordedWithText = () => ({ text: cli(["status"]).stdout, nodes: recorded() });
        const half = recordedWithText();
        expect(Object.keys(half.nodes).sort()).toEqual([...planOrder(config)].sort());
        for (const [k, n] of Object.entries(half.nodes))
            expect(`${k} ${n.versionAfter}`).toBe(`${k} ${sb.host(k.split("/")[0]).center === "primary" ? "3.1.2" : "3.2.0"}`);
        for (const k of planOrder(config)) {
            const [host, service] = k.split("/");
            const did = sb.host(host).center === "primary" ? "rolled back 3.2.0 -> 3.1.2" : "upgraded 3.1.2 -> 3.2.0";
            expect(half.text).toMatch(new RegExp(`\\s${host}\\s+${service}\\s+\\w+\\s+${did}\\s`));
        }
        const t1 = new Date().toISOString();
        expect(cli(["rollback", "--yes", "--only-center", "standby"]).code).toBe(0);
        expect(actionsSince(sb, "rollback", t1)).toEqual(inCenter("standby", reverse));
        for (const v of Object.values(await versions(sb))) expect(v).toBe("3.1.2");
        const whole = recordedWithText();
        expect(Object.keys(whole.nodes).sort()).toEqual([...planOrder(config)].sort());
        for (const k of inCenter("primary", planOrder(config))) expect(whole.nodes[k]).toMatchObject(half.nodes[k]);
        expect(whole.text.match(/rolled back 3\.2\.0 -> 3\.1\.2/g)).toHaveLength(12);
        expect(whole.text).not.toMatch(/upgraded/);
    });
});
