import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as driver from "../../engine/driver";
import { ProgressEvent } from "../../engine/events";
import { projectRoot, stacksDir } from "../../engine/env";
import { readAudit } from "../../sandbox/audit";
import { status } from "../../sandbox/cluster";
import { writeSandboxStackConfig } from "../../sandbox/stackConfig";
import { describeWithProvider } from "../helpers/engine";
import { useSandbox } from "../sandbox/fixture";

// The whole rolling upgrade of the sandbox with the real engine and the real command provider.
describeWithProvider("rolling upgrade of the sandbox through the engine", () => {
    const sb = useSandbox("engine-upgrade", 42);
    const stack = "test-upgrade";
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "scm-state-"));
    const savedBackend = process.env.PULUMI_BACKEND_URL;
    beforeAll(async () => {
        process.env.PULUMI_BACKEND_URL = `file://${state}`;
        await writeSandboxStackConfig(sb.state(), { stackName: stack });
    });
    afterAll(() => {
        process.env.PULUMI_BACKEND_URL = savedBackend;
        if (savedBackend === undefined) delete process.env.PULUMI_BACKEND_URL;
        fs.rmSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), { force: true });
        fs.rmSync(state, { recursive: true, force: true });
    });

    test("every node ends at 3.2.0 and healthy, in the plan's order; a second up changes nothing", async () => {
        // One host has no staging folder yet (the vendor's step 1 makes it): the preflight lets it through and
        // the upload makes it.
        const bare = sb.state().hosts[1];
        fs.rmSync(bare.stagingDir, { recursive: true, force: true });
        const events: ProgressEvent[] = [];
        const { waves } = await driver.plan({ stack });
        const t0 = Date.now();
        const r = await driver.up({ stack, onEvent: (e) => events.push(e) });
        console.log(`end-to-end upgrade of ${sb.state().hosts.length} hosts: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        expect(r.engineRan).toBe(true);
        expect(r.summary.result).toBe("succeeded");
        // Answered in this process (engine/driver.ts upAnsweredHere): the same as the CLI gives afterwards.
        const opened = await driver.openStack({ stack });
        expect(r.outputs).toEqual(await opened.outputs());
        expect(Object.keys(r.outputs.nodes?.value as object).sort()).toHaveLength(12);
        expect(r.summary.resourceChanges).toEqual((await opened.history(1))[0].resourceChanges);
        const order = waves.flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
        const audited = readAudit(sb.dir).filter((e) => e.action === "upgrade" && e.outcome === "begin");
        expect(audited.map((e) => `${e.host}/${e.service}`)).toEqual(order);
        const healthy = events.filter((e) => e.type === "node" && e.status === "healthy").map((e) => (e.type === "node" ? `${e.host}/${e.service}` : ""));
        expect(healthy).toEqual(order);
        const st = await status({ dir: sb.dir });
        for (const h of st.hosts) for (const n of h.nodes) expect(`${h.name}:${n.port} ${n.version} ${n.health}`).toBe(`${h.name}:${n.port} 3.2.0 UP`);
        expect(fs.statSync(path.join(bare.stagingDir, "sequoiacm", "scmupgrade.py")).mode & 0o111).not.toBe(0);
        const pre = events.find((e) => e.type === "preflight" && e.host === bare.name && e.status === "ok");
        expect(pre).toBeDefined();

        const count = readAudit(sb.dir).length;
        // Every node read live at the target: the engine is not started, nothing runs on the hosts.
        const again = await driver.up({ stack });
        expect(again.engineRan).toBe(false);
        expect(again.summary.result).toBe("succeeded");
        expect(readAudit(sb.dir).length).toBe(count);
        // What the library returns shows no secret's value (the Automation API's summaries show them by default).
        const refreshed = await driver.refresh({ stack });
        expect(refreshed.result).toBe("succeeded");
        expect(refreshed.config?.["scm-upgrade:sshPrivateKey"]).toEqual({ secret: true });
        expect(JSON.stringify(refreshed)).not.toMatch(/PRIVATE KEY/);
        expect(readAudit(sb.dir).length).toBe(count);
    });

    // The README's way to give a cluster its key: the secret `scm-upgrade secret` stores is the key a run uses.
    test("a key stored with `scm-upgrade secret` is the one the preflight logs in with; without it the config is refused (exit 3)", async () => {
        const keyed = `${stack}-secret`;
        // No key file in the config: the secret is its only credential.
        const ssh = { user: sb.state().user, port: sb.state().hosts[0].sshPort };
        await writeSandboxStackConfig(sb.state(), { stackName: keyed, extra: { "scm-upgrade:ssh": ssh } });
        const cli = (args: string[]) =>
            spawnSync(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), ...args, "--stack", keyed], { encoding: "utf8" });
        try {
            const count = readAudit(sb.dir).length;
            expect(cli(["secret", "sshPrivateKey", "--unset"]).status).toBe(0);
            const none = cli(["preflight"]);
            expect(none.status).toBe(3);
            expect(none.stderr).toContain("no SSH credential for hosts A, B, C, D");
            const stored = cli(["secret", "sshPrivateKey", "--from", sb.state().clientKeyPath]);
            expect(stored.stderr).toBe("");
            expect(stored.status).toBe(0);
            const pre = cli(["preflight"]);
            expect(pre.stderr).not.toContain("error");
            expect(pre.status).toBe(0);
            for (const h of sb.state().hosts) expect(pre.stdout).toMatch(new RegExp(`^${h.name}: ok$`, "m"));
            // --json: the same result, every host's check lines included, as the last event.
            const json = cli(["preflight", "--json"]);
            expect(json.status).toBe(0);
            const result = JSON.parse(json.stdout.trim().split("\n").pop()!);
            expect(result.type).toBe("preflight-result");
            expect(result.hosts.map((h: { host: string; ok: boolean }) => `${h.host} ${h.ok}`)).toEqual(sb.state().hosts.map((h) => `${h.name} true`));
            for (const h of result.hosts)
                expect(h.lines).toEqual(expect.arrayContaining([expect.stringMatching(/^free-disk ok /), expect.stringMatching(/^version:cloud ok /)]));
            expect(readAudit(sb.dir).length).toBe(count);
        } finally {
            fs.rmSync(path.join(stacksDir, `Pulumi.${keyed}.yaml`), { force: true });
        }
    });

    test("`scm-upgrade preflight` with become su to an install user the hosts lack: exit 4, each host's su error said, nothing run", async () => {
        const su = `${stack}-su`;
        await writeSandboxStackConfig(sb.state(), { stackName: su, extra: { "scm-upgrade:become": "su", "scm-upgrade:installUser": "nosuch" } });
        try {
            const count = readAudit(sb.dir).length;
            const r = spawnSync(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), "preflight", "--stack", su], { encoding: "utf8" });
            expect(r.status).toBe(4);
            // The wrapper failed before the checks ran: what su said, not just the provider's "Process exited with status 1:".
            for (const h of sb.state().hosts) {
                expect(r.stdout).toMatch(new RegExp(`^${h.name}: FAILED\\n {4}Process exited with status 1: su: user nosuch does not exist`, "m"));
            }
            const json = spawnSync(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), "preflight", "--json", "--stack", su], {
                encoding: "utf8",
            });
            expect(json.status).toBe(4);
            const result = JSON.parse(json.stdout.trim().split("\n").pop()!);
            expect(result.type).toBe("preflight-result");
            for (const h of result.hosts)
                expect(`${h.host} ${h.ok} ${h.lines.join(" ")}`).toMatch(new RegExp(`^${h.host} false .*su: user nosuch does not exist`));
            expect(readAudit(sb.dir).length).toBe(count);
        } finally {
            fs.rmSync(path.join(stacksDir, `Pulumi.${su}.yaml`), { force: true });
        }
    });
});
