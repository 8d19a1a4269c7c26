/** up / status / down / reset, the release package, the topology and the stack config of the sandbox. */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { down, installedVersion, nothingRunning, reset, status, up } from "../../sandbox/cluster";
import { killSandboxNow, listProcesses, sandboxProcesses } from "../../sandbox/processes";
import { buildRelease } from "../../sandbox/release";
import { pidAlive } from "../../sandbox/sshd";
import { readState, SandboxState } from "../../sandbox/state";
import { sandboxStackConfig, toConfigJson } from "../../sandbox/stackConfig";
import { scaledTopology, seedTopology, topologyProblems } from "../../sandbox/topology";
import { sshRun } from "../helpers/sshd";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-sandbox-lifecycle-"));
const NET = 34;
process.once("exit", () => killSandboxNow(fs.realpathSync(dir)));
afterAll(async () => {
    await down({ dir });
    fs.rmSync(dir, { recursive: true, force: true });
});

const ssh = (s: SandboxState, host: string, cmd: string) => {
    const h = s.hosts.find((x) => x.name === host)!;
    return sshRun({ address: h.address, port: h.sshPort, user: s.user, keyPath: s.clientKeyPath }, cmd);
};

describe("sandbox lifecycle", () => {
    let state: SandboxState;
    test("up builds the seed's cluster in a few seconds; a second up does nothing", async () => {
        const t0 = Date.now();
        const r = await up({ dir, net: NET, stackConfig: false });
        const ms = Date.now() - t0;
        state = r.state;
        expect(r.alreadyUp).toBe(false);
        expect(r.started).toEqual({ sshd: 4, nodes: 16 });
        expect(ms).toBeLessThan(15000);
        expect(state.hosts.map((h) => [h.name, h.address, h.center, h.site])).toEqual([
            ["A", "127.34.1.1", "primary", "rootSite"],
            ["B", "127.34.1.2", "primary", "branchSite1"],
            ["C", "127.34.1.3", "standby", "rootSite"],
            ["D", "127.34.1.4", "standby", "branchSite1"],
        ]);
        const again = await up({ dir, stackConfig: false });
        expect(again.alreadyUp).toBe(true);
        await expect(up({ dir, hosts: 6, stackConfig: false })).rejects.toThrow(
            `The sandbox at ${fs.realpathSync(dir)} has 4 hosts, not 6: run \`npm run sandbox -- reset --hosts 6\` to rebuild it.`,
        );
    });

    test("each host is its own root: install folders, jars, conf with the real keys", () => {
        const a = state.hosts[0];
        expect(a.installRoot).toBe(path.join(fs.realpathSync(dir), "hosts/A/root/opt/sequoiacm"));
        expect(a.stagingDir).toBe(path.join(fs.realpathSync(dir), "hosts/A/root/opt/scm_upgrade"));
        expect(fs.readdirSync(a.installRoot).sort()).toEqual(["sequoiacm-cloud", "sequoiacm-config", "sequoiacm-content"]);
        expect(fs.readdirSync(path.join(state.hosts[1].installRoot)).sort()).toEqual(["sequoiacm-cloud", "sequoiacm-content", "sequoiacm-schedule"]);
        expect(fs.readdirSync(path.join(a.installRoot, "sequoiacm-cloud/jars")).sort()).toEqual([
            "sequoiacm-cloud-adminserver-3.1.2.jar",
            "sequoiacm-cloud-authserver-3.1.2.jar",
            "sequoiacm-cloud-gateway-3.1.2.jar",
            "sequoiacm-cloud-servicecenter-3.1.2.jar",
            "sequoiacm-cloud-servicetrace-3.1.2.jar",
        ]);
        expect(fs.readdirSync(path.join(a.installRoot, "sequoiacm-content/lib"))).toEqual(["sequoiacm-content-server-3.1.2.jar"]);
        expect(fs.readdirSync(path.join(a.installRoot, "sequoiacm-cloud/conf")).sort()).toEqual(["gateway", "service-center"]);
        const sc = fs.readFileSync(path.join(a.installRoot, "sequoiacm-cloud/conf/service-center/8800/application.properties"), "utf8");
        for (const key of ["server.port=8800", "scm.store.sequoiadb.urls=", "scm.store.sequoiadb.username=", "scm.store.sequoiadb.password="]) {
            expect(sc).toContain(key);
        }
        const content = fs.readFileSync(path.join(state.hosts[1].installRoot, "sequoiacm-content/conf/content-server/15000/application.properties"), "utf8");
        expect(content).toContain("server.port=15000\nspring.application.name=branchSite1\n");
        for (const s of ["cloud", "config-server", "content-server"] as const) {
            expect(
                installedVersion(
                    path.join(a.installRoot, { cloud: "sequoiacm-cloud", "config-server": "sequoiacm-config", "content-server": "sequoiacm-content" }[s]),
                    s,
                ),
            ).toBe("3.1.2");
        }
        expect(fs.statSync(path.join(a.installRoot, "sequoiacm-cloud/bin/scmcloudctl.sh")).mode & 0o100).toBeTruthy();
    });

    test("status: every sshd accepts, every node runs 3.1.2 and is healthy", async () => {
        const s = await status({ dir });
        expect(s.hosts.every((h) => h.sshd.accepting)).toBe(true);
        const nodes = s.hosts.flatMap((h) => h.nodes);
        expect(nodes).toHaveLength(16);
        expect(nodes.every((n) => n.version === "3.1.2" && n.pid && n.health === "UP")).toBe(true);
    });

    test("the release package: top folder sequoiacm/, scmupgrade.py, one package per service; reproducible", () => {
        const listing = execFileSync("tar", ["-tzf", state.packagePath], { encoding: "utf8" }).trim().split("\n").sort();
        expect(listing).toEqual([
            "sequoiacm/",
            "sequoiacm/package/",
            "sequoiacm/package/sequoiacm-cloud-3.2.0-release.tar.gz",
            "sequoiacm/package/sequoiacm-config-3.2.0-release.tar.gz",
            "sequoiacm/package/sequoiacm-content-3.2.0-release.tar.gz",
            "sequoiacm/package/sequoiacm-schedule-3.2.0-release.tar.gz",
            "sequoiacm/scmupgrade.py",
        ]);
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-release-"));
        try {
            execFileSync("tar", ["-xzf", state.packagePath, "-C", tmp]);
            const inner = execFileSync("tar", ["-tzf", path.join(tmp, "sequoiacm/package/sequoiacm-content-3.2.0-release.tar.gz")], { encoding: "utf8" });
            expect(inner.trim().split("\n").sort()).toEqual([
                "sequoiacm-content/",
                "sequoiacm-content/bin/",
                "sequoiacm-content/bin/sandbox_ctl.py",
                "sequoiacm-content/bin/sandbox_node.py",
                "sequoiacm-content/bin/scmctl.sh",
                "sequoiacm-content/lib/",
                "sequoiacm-content/lib/sequoiacm-content-server-3.2.0.jar",
            ]);
            const script = fs.readFileSync(path.join(tmp, "sequoiacm/scmupgrade.py"), "utf8");
            expect(script).not.toContain("@@SANDBOX_COMMON@@");
            const other = path.join(tmp, "again");
            const sha = (f: string) => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
            expect(sha(buildRelease(other))).toBe(sha(state.packagePath));
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    test("down leaves no process behind, also not the SSH sessions or the nodes they started", async () => {
        // a node restarted over ssh (so it is not a child of this process) and a session still open
        const ctl = path.join(state.hosts[2].installRoot, "sequoiacm-cloud/bin/scmcloudctl.sh");
        expect((await ssh(state, "C", `${ctl} stop -p 8080 && ${ctl} start -p 8080`)).code).toBe(0);
        const session = ssh(state, "D", "sleep 60");
        // and a script whose session is gone (a killed run's scmupgrade.py goes on): adopted by init, in a host's folder
        expect((await ssh(state, "B", `cd ${state.hosts[1].hostDir} && { nohup sleep 61 >/dev/null 2>&1 & }`)).code).toBe(0);
        await new Promise((r) => setTimeout(r, 500));
        const orphan = listProcesses().find((p) => p.args.join(" ") === "sleep 61");
        expect(orphan?.ppid).toBe(1);
        const before = sandboxProcesses(fs.realpathSync(dir));
        expect(before.length).toBeGreaterThanOrEqual(4 + 16 + 1);
        const r = await down({ dir });
        expect(r.stopped).toBeGreaterThanOrEqual(before.length);
        expect((await session).code).not.toBe(0);
        expect(nothingRunning(dir)).toBe(true);
        expect(before.filter((p) => pidAlive(p.pid))).toEqual([]);
        expect(pidAlive(orphan!.pid)).toBe(false);
        const stray = listProcesses().filter((p) => p.args.join(" ").includes(fs.realpathSync(dir)));
        expect(stray).toEqual([]);
        const s = await status({ dir });
        expect(s.hosts.every((h) => !h.sshd.pid && h.nodes.every((n) => n.pid === null && n.health === "-"))).toBe(true);
        expect((await down({ dir })).stopped).toBe(0);
    });

    test("up after down starts everything again, keeping the installed versions", async () => {
        const r = await up({ dir, stackConfig: false });
        expect(r.started).toEqual({ sshd: 4, nodes: 16 });
        expect((await ssh(r.state, "A", "echo ok")).stdout).toBe("ok\n");
    });

    test("reset gives a fresh 3.1.2 cluster after an upgrade, same host keys", async () => {
        const c = state.hosts[2];
        const install = path.join(c.installRoot, "sequoiacm-content");
        for (const j of fs.readdirSync(path.join(install, "lib")))
            fs.renameSync(path.join(install, "lib", j), path.join(install, "lib", j.replace("3.1.2", "3.2.0")));
        fs.writeFileSync(path.join(c.hostDir, "faults.json"), JSON.stringify({ services: { cloud: { startFails: true } } }));
        const hostKey = fs.readFileSync(path.join(c.hostDir, "sshd/ssh_host_ed25519_key.pub"), "utf8");
        const r = await reset({ dir, stackConfig: false });
        expect(r.state.hosts).toHaveLength(4);
        expect(installedVersion(install, "content-server")).toBe("3.1.2");
        expect(fs.existsSync(path.join(c.hostDir, "faults.json"))).toBe(false);
        expect(fs.readFileSync(path.join(c.hostDir, "sshd/ssh_host_ed25519_key.pub"), "utf8")).toBe(hostKey);
        const s = await status({ dir });
        expect(s.hosts.flatMap((h) => h.nodes).every((n) => n.health === "UP" && n.version === "3.1.2")).toBe(true);
        expect(readState(dir)!.hosts.every((h) => h.sshdPid && pidAlive(h.sshdPid))).toBe(true);
    });
});

describe("topology", () => {
    test("the seed: A, B primary; C, D standby; both centers run every service; one root site", () => {
        const t = seedTopology(10);
        expect(t.map((h) => [h.name, h.center, h.nodes.map((n) => `${n.type}:${n.port}`)])).toEqual([
            ["A", "primary", ["gateway:8080", "service-center:8800", "config-server:8190", "content-server:15000"]],
            ["B", "primary", ["auth-server:8810", "admin-server:8900", "schedule-server:8910", "content-server:15000"]],
            ["C", "standby", ["gateway:8080", "service-center:8800", "config-server:8190", "content-server:15000"]],
            ["D", "standby", ["auth-server:8810", "admin-server:8900", "schedule-server:8910", "content-server:15000"]],
        ]);
        expect(topologyProblems(t)).toEqual([]);
    });

    test.each([5, 6, 7, 8, 9, 13, 20, 64, 200, 401])("%i hosts: valid, at most 4 nodes per host (3 from 8 hosts), several sites", (n) => {
        const t = scaledTopology(n, 10);
        expect(t).toHaveLength(n);
        expect(topologyProblems(t)).toEqual([]);
        expect(Math.max(...t.map((h) => h.nodes.length))).toBeLessThanOrEqual(n >= 8 ? 3 : 4);
        const sites = new Set(t.filter((h) => h.site).map((h) => h.site));
        expect(sites.size).toBeGreaterThanOrEqual(n >= 20 ? 3 : 1);
        expect(sites.size).toBeLessThanOrEqual(5);
        for (const site of sites) {
            const centers = new Set(t.filter((h) => h.site === site).map((h) => h.center));
            expect(centers).toEqual(new Set(["primary", "standby"]));
        }
        expect(t.every((h) => !h.address.startsWith("127.0.0."))).toBe(true);
    });

    test("a bigger sandbox comes up and down", async () => {
        const big = fs.mkdtempSync(path.join(os.tmpdir(), "scm-sandbox-big-"));
        try {
            const r = await up({ dir: big, net: NET + 1, hosts: 12, stackConfig: false });
            expect(r.state.hosts.map((h) => h.name)).toEqual(["p001", "p002", "p003", "p004", "p005", "p006", "s001", "s002", "s003", "s004", "s005", "s006"]);
            const s = await status({ dir: big });
            expect(s.hosts.flatMap((h) => h.nodes).every((n) => n.health === "UP")).toBe(true);
        } finally {
            await down({ dir: big });
            expect(nothingRunning(big)).toBe(true);
            fs.rmSync(big, { recursive: true, force: true });
        }
    });
});

describe("stack config", () => {
    test("has the shape of docs/architecture.md and knows nothing of the sandbox but its paths", () => {
        const st = readState(dir)!;
        const c = sandboxStackConfig(st);
        expect(Object.keys(c).sort()).toEqual([
            "scm-upgrade:become",
            "scm-upgrade:hosts",
            "scm-upgrade:installGroup",
            "scm-upgrade:installUser",
            "scm-upgrade:package",
            "scm-upgrade:sourceVersion",
            "scm-upgrade:ssh",
            "scm-upgrade:targetVersion",
        ]);
        expect(c["scm-upgrade:package"]).toEqual({ localPath: st.packagePath });
        expect(c["scm-upgrade:become"]).toBe("login");
        expect(c["scm-upgrade:installUser"]).toBe(os.userInfo().username);
        expect(c["scm-upgrade:ssh"]).toEqual({ user: os.userInfo().username, port: 2222, privateKeyFile: st.clientKeyPath });
        expect((c["scm-upgrade:hosts"] as unknown[])[2]).toEqual({
            name: "C",
            address: "127.34.1.3",
            center: "standby",
            services: ["cloud", "config-server", "content-server"],
            site: "rootSite",
            rootSite: true,
            installRoot: st.hosts[2].installRoot,
            stagingDir: st.hosts[2].stagingDir,
        });
        const json = JSON.parse(toConfigJson(c));
        expect(Object.values(json).every((v) => (v as { secret: boolean }).secret === false)).toBe(true);
        expect(json["scm-upgrade:hosts"].objectValue).toHaveLength(4);
        expect(json["scm-upgrade:become"]).toEqual({ value: "login", secret: false });
    });
});
