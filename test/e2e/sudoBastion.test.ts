import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { stacksDir, workspaceOptions } from "../../engine/env";
import { projectRoot } from "../../engine/paths";
import { loadFromConfigMap } from "../../lib/config/load";
import { UpgradeConfig } from "../../lib/config/schema";
import { planWaves } from "../../lib/plan";
import { readLiveState } from "../../program/live";
import { readAudit } from "../../sandbox/audit";
import { down, SandboxStatus } from "../../sandbox/cluster";
import { clearFaults, setFault } from "../../sandbox/faults";
import { killSandboxNow } from "../../sandbox/processes";
import { SandboxState } from "../../sandbox/state";
import { sandboxStackConfig, writeSandboxStackConfig } from "../../sandbox/stackConfig";
import { addNetns, Bastion, inNetns, removeNetns, startBastion } from "../helpers/bastion";
import { runCliAsync } from "../helpers/cli";
import { describeWithProvider } from "../helpers/engine";
import { addLocalUsers } from "../helpers/localUsers";
import { upInNetns } from "../helpers/netnsSandbox";

/**
 * How operations teams reach their hosts, through the engine, as `scm-upgrade` subprocesses on one sandbox:
 * - case 10: the hosts' sshd live in a network of their own (a network namespace): from here they refuse;
 *   the only way in is the bastion (`ssh.bastion`), for the command provider and the live-state read alike;
 * - case 9: the tool logs in as an unprivileged user (scmoper) and becomes the install user (scmowner, who owns
 *   the installs and runs the nodes) through sudo (`become: sudo`); real local users, as in sudoOverSsh.test.ts;
 * - case 5: a node that dies a few seconds after `scmupgrade.py` reported success stops the run at that node
 *   (`healthStableSeconds`); the next `up` (cases 9 and 10) resumes there and upgrades the rest.
 * One seed upgrade serves the three: they chain, each test depends on the one before. Needs root, as CI runs.
 */

const NAME = "sudo-bastion";
const NET = 111;
const NETNS = "scm-hosts-111";
const BASTION_ADDRESS = "127.111.0.250";
const LOGIN = "scmoper";
const INSTALL = "scmowner";
const GROUP = "scmowner_grp";
const SUDOERS = "/etc/sudoers.d/scm-upgrade-test-bastion";

const stack = `test-${NAME}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `scm-sandbox-${NAME}-`));
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `scm-${NAME}-state-`));
const env = { PULUMI_BACKEND_URL: `file://${stateDir}` };
process.once("exit", () => killSandboxNow(fs.existsSync(dir) ? fs.realpathSync(dir) : dir));

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8" });
/** The sandbox's command line, inside the hosts' network. */
const sandboxCli = (args: string[]) =>
    inNetns(NETNS, path.join(projectRoot, "node_modules", ".bin", "tsx"), [path.join(projectRoot, "sandbox", "cli.ts"), ...args, "--dir", dir]);
/** Hosts, nodes, versions and health, read inside the hosts' network (the nodes listen there). */
const status = (): SandboxStatus => JSON.parse(sandboxCli(["status", "--json"]));
const cli = (args: string[]) => runCliAsync([...args, "--stack", stack], env, 600000);
const lastLine = (text: string) => text.trim().split("\n").pop() ?? "";

/** The refusal (or not) of a TCP connection from this process. */
function dial(address: string, port: number): Promise<string> {
    return new Promise((resolve) => {
        const s = net.connect({ host: address, port });
        const done = (what: string) => {
            s.destroy();
            resolve(what);
        };
        s.setTimeout(3000, () => done("timeout"));
        s.once("connect", () => done("connected"));
        s.once("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    });
}

/** Logins each sshd log accepted, by user (`Accepted publickey for <user> from ...`). */
const acceptedUsers = (logPath: string): string[] =>
    fs.existsSync(logPath) ? [...fs.readFileSync(logPath, "utf8").matchAll(/Accepted publickey for (\S+) from/g)].map((m) => m[1]) : [];

describeWithProvider("through a bastion, as a login user with sudo to the install user", () => {
    let state: SandboxState;
    let bastion: Bastion;
    let config: UpgradeConfig;
    let order: string[];
    let t0 = "";
    let removeUsers: () => void = () => undefined;
    const extra: Record<string, unknown> = {};

    beforeAll(async () => {
        // Real local users: the login user may sudo; the install user owns the installs and runs the nodes.
        removeUsers = addLocalUsers({ login: LOGIN, install: INSTALL, group: GROUP, sudoers: SUDOERS });
        // The sandbox, built and started inside the hosts' network, its installs and nodes the install user's.
        addNetns(NETNS);
        state = upInNetns({ netns: NETNS, dir, net: NET, installUser: INSTALL, installGroup: GROUP });
        bastion = await startBastion({
            netns: NETNS,
            address: BASTION_ADDRESS,
            dir: path.join(dir, "bastion"),
            authorizedKeysFile: state.authorizedKeysFile,
            users: [LOGIN],
            keyEnvironmentHome: true,
        });
        Object.assign(extra, {
            "scm-upgrade:installUser": INSTALL,
            "scm-upgrade:installGroup": GROUP,
            "scm-upgrade:become": "sudo",
            "scm-upgrade:ssh": {
                user: LOGIN,
                port: state.hosts[0].sshPort,
                privateKeyFile: state.clientKeyPath,
                bastion: { host: bastion.address, port: bastion.port },
            },
            "scm-upgrade:healthTimeoutSeconds": 30,
        });
        process.env.PULUMI_BACKEND_URL = env.PULUMI_BACKEND_URL;
        await writeSandboxStackConfig(state, { stackName: stack, extra });
        const plain = { ...sandboxStackConfig(state), ...extra };
        const r = loadFromConfigMap(Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
        if (!r.ok) throw new Error(JSON.stringify(r.problems));
        config = r.config;
        order = planWaves(config).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
    }, 300000);

    afterAll(async () => {
        await bastion?.stop();
        await down({ dir });
        removeNetns(NETNS);
        removeUsers();
        delete process.env.PULUMI_BACKEND_URL;
        fs.rmSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), { force: true });
        fs.rmSync(stateDir, { recursive: true, force: true });
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test("case 10: every host's sshd refuses a dial from here and answers inside its network; the live-state read reaches them through the bastion only", async () => {
        for (const h of state.hosts) {
            expect(`${h.name} ${await dial(h.address, h.sshPort)}`).toBe(`${h.name} ECONNREFUSED`);
            const banner = inNetns(NETNS, "bash", ["-c", `exec 3<>/dev/tcp/${h.address}/${h.sshPort}; head -c 8 <&3`]);
            expect(`${h.name} ${banner}`).toBe(`${h.name} SSH-2.0-`);
        }
        const key = fs.readFileSync(state.clientKeyPath, "utf8");
        const direct = readLiveState({ ...config, ssh: { ...config.ssh, bastion: undefined } }, {});
        await expect(direct).rejects.toThrow(/^Cannot reach host [A-D] \(scmoper@127\.111\.1\.\d:2222\) to read its live state: connect ECONNREFUSED/);
        const before = bastion.sessions();
        const { Client } = await import("ssh2");
        const noDelay = jest.spyOn(Client.prototype, "setNoDelay");
        const live = await readLiveState(config, { privateKey: key });
        // Every client of the read turns Nagle off, the bastion's and the host's: with it on, the handshake
        // waits twice for sshd's delayed ACK (~40 ms each). (mockRestore forgets the calls: read first.)
        const calls = noDelay.mock.calls.slice();
        noDelay.mockRestore();
        expect(calls).toEqual(Array(2 * state.hosts.length).fill([true]));
        expect(Object.keys(live)).toHaveLength(order.length);
        for (const n of Object.values(live)) expect(`${n.host}/${n.service} ${n.version}`).toBe(`${n.host}/${n.service} 3.1.2`);
        expect(bastion.sessions() - before).toBe(state.hosts.length);
    });

    test("case 5: a node that dies 6 s after its start, after scmupgrade.py reported success, stops the run at that node (healthStableSeconds)", async () => {
        const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
        const ws = await LocalWorkspace.create(await workspaceOptions());
        await ws.setConfig(stack, "scm-upgrade:healthStableSeconds", { value: "12" });
        // The first node of the plan; its gateway node exits 6 s after its process starts.
        expect(order[0]).toBe("C/cloud");
        setFault("C", "cloud", { exitAfterSeconds: 6, ports: [8080] }, dir);
        t0 = new Date().toISOString();
        const r = await cli(["up", "--yes"]).finally(async () => {
            clearFaults({ dir });
            await ws.removeConfig(stack, "scm-upgrade:healthStableSeconds");
        });
        expect(r.code).toBe(1);
        expect(r.stdout + r.stderr).toMatch(
            /C\/cloud +FAILED on host C, service cloud:\n +node 8080 of cloud on C was healthy, then no answer \(Failed to connect to 127\.111\.1\.3 port 8080 [^)]*\) on \/internal\/v1\/health \d+s later: it must stay healthy 12s after its health gate \(healthStableSeconds\)\n/,
        );
        expect(lastLine(r.stderr)).toContain("The upgrade stopped at C/cloud after 0 nodes upgraded in this run");
        // The vendor script reported success (as the install user); nothing after that node began.
        const audit = readAudit(dir).filter((e) => e.time >= t0);
        expect(audit.filter((e) => e.action === "upgrade").map((e) => `${e.host}/${e.service} ${e.outcome} ${e.user}`)).toEqual([
            `C/cloud begin ${INSTALL}`,
            `C/cloud success ${INSTALL}`,
        ]);
        const c = status().hosts.find((h) => h.name === "C")!;
        expect(c.nodes.filter((n) => n.service === "cloud").map((n) => `${n.port} ${n.version} ${n.pid ? "running" : "gone"}`)).toEqual([
            "8080 3.2.0 gone",
            "8800 3.2.0 running",
        ]);
    });

    test("cases 9 and 10: `up` resumes through the bastion as scmoper with sudo: every node 3.2.0 and healthy; the vendor script and the nodes ran as the install user; a second `up` reads the live state through the bastion and has nothing to do", async () => {
        const sessions = bastion.sessions();
        const t1 = new Date().toISOString();
        const r = await cli(["up", "--yes"]);
        expect({ code: r.code, last: lastLine(r.stderr) }).toMatchObject({ code: 0 });
        const st = status();
        for (const h of st.hosts)
            for (const n of h.nodes) expect(`${h.name}/${n.service}:${n.port} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service}:${n.port} 3.2.0 UP`);
        // Every node upgraded once, in plan order, across both runs (C/cloud by the run case 5 stopped).
        const audit = readAudit(dir).filter((e) => e.time >= t0);
        expect(audit.filter((e) => e.action === "upgrade" && e.outcome === "begin").map((e) => `${e.host}/${e.service}`)).toEqual(order);
        expect(audit.filter((e) => e.time >= t1 && e.action === "start" && e.host === "C" && e.service === "cloud").map((e) => e.port)).toEqual([8080]);
        // scmupgrade.py and the control scripts ran as the install user, never as the login user or root.
        expect([...new Set(audit.map((e) => e.user))]).toEqual([INSTALL]);
        const nodeUsers = sh("ps", ["-eo", "user:32,args"])
            .split("\n")
            .filter((l) => l.includes("scm-node:") && l.includes(fs.realpathSync(dir)))
            .map((l) => l.trim().split(/\s+/)[0]);
        expect(nodeUsers).toHaveLength(st.hosts.flatMap((h) => h.nodes).length);
        expect([...new Set(nodeUsers)]).toEqual([INSTALL]);
        // Every login on the hosts and the bastion was the login user's; all came through the bastion.
        for (const h of state.hosts) expect([...new Set(acceptedUsers(path.join(h.hostDir, "sshd", "sshd.log")))]).toEqual([LOGIN]);
        expect([...new Set(acceptedUsers(bastion.logPath))]).toEqual([LOGIN]);
        expect(bastion.sessions()).toBeGreaterThan(sessions);

        // The second up reads the live state, one session per host, through the bastion, and stops there.
        const beforeAgain = bastion.sessions();
        const again = await cli(["up", "--yes"]);
        expect(again.code).toBe(0);
        expect(bastion.sessions() - beforeAgain).toBe(state.hosts.length);
        expect(again.stdout + again.stderr).toContain(`Nothing to do: all ${order.length} nodes are at 3.2.0 and healthy (read live from the hosts).`);
        expect(readAudit(dir).filter((e) => e.time >= t1 && e.action === "upgrade" && e.outcome === "begin")).toHaveLength(order.length - 1);
    });
});
