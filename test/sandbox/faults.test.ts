/** Fault injection, set from outside (faults.json) with no code edit: each fault triggers as set, and clearing it heals. */
import * as path from "path";
import { readAudit } from "../../sandbox/audit";
import { httpJson, startHostSshd, stopHostSshd } from "../../sandbox/cluster";
import { clearFaults, readFaults, setFault } from "../../sandbox/faults";
import { jars, useSandbox } from "./fixture";

const sb = useSandbox("faults", 33);

const upgrade = (host: string, args: string) => sb.ssh(host, `cd '${path.dirname(sb.script(host))}' && ./scmupgrade.py ${args}`);
const lastEnd = (host: string, service: string) =>
    readAudit(sb.dir).filter((e) => e.host === host && e.service === service && e.action === "upgrade" && e.outcome !== "begin").pop()!;

beforeAll(async () => {
    for (const h of ["A", "B", "C", "D"]) await sb.stage(h);
});
afterEach(() => clearFaults({ dir: sb.dir }));

describe("a failing step of scmupgrade.py", () => {
    const steps = [
        ["untar", "[INFO] untar the service installation package"],
        ["backup", "[INFO] backup"],
        ["stop", "[INFO] stop node"],
        ["replace", "[INFO] replace the new version of the resource package"],
        ["start", "[INFO] start node"],
    ] as const;

    test.each(steps)("mode exit0 at %s: the trap, exit 0 and no success line", async (step, announce) => {
        setFault("A", "content-server", { step, mode: "exit0" }, sb.dir);
        const r = await upgrade("A", `--service=content-server --install-path=${sb.install("A", "content-server")} --start`);
        expect(r.code).toBe(0);
        expect(r.stdout).not.toContain("upgrade success!");
        const infos = r.stdout.split("\n").filter((l) => l.startsWith("[INFO]"));
        expect(infos[infos.length - 1]).toBe(announce);
        expect(r.stderr).toContain("injected failure (sandbox fault)");
        const end = lastEnd("A", "content-server");
        expect([end.outcome, end.exitCode, end.step]).toEqual(["failed", 0, step]);
    });

    test("after the faults are cleared, the same command completes the upgrade", async () => {
        expect(readFaults("A", sb.dir)).toEqual({ services: {} });
        const r = await upgrade("A", `--service=content-server --install-path=${sb.install("A", "content-server")} --start`);
        expect(r.code).toBe(0);
        expect(r.stdout.trim().split("\n").pop()).toBe("[INFO] upgrade success!");
        expect(jars(sb.install("A", "content-server"), "content-server")).toEqual(["sequoiacm-content-server-3.2.0.jar"]);
    });

    test("mode exit1 at replace: an [ERROR] line and exit 1, files untouched", async () => {
        setFault("A", "config-server", { step: "replace", mode: "exit1" }, sb.dir);
        const r = await upgrade("A", `--service=config-server --install-path=${sb.install("A", "config-server")} --start`);
        expect(r.code).toBe(1);
        expect(r.stdout.trim().split("\n").pop()).toBe("[ERROR] mv: injected failure (sandbox fault)");
        expect(jars(sb.install("A", "config-server"), "config-server")).toEqual(["sequoiacm-config-server-3.1.2.jar"]);
        expect(lastEnd("A", "config-server")).toMatchObject({ outcome: "failed", exitCode: 1, step: "replace", version: "3.1.2" });
    });

    test("mode exit1 at stop: the nodes still run, so the vendor's stop error and exit 1", async () => {
        expect((await sb.ssh("A", `${sb.ctl("A", "config-server")} start -t all`)).code).toBe(0);
        setFault("A", "config-server", { step: "stop", mode: "exit1" }, sb.dir);
        const r = await upgrade("A", `--service=config-server --install-path=${sb.install("A", "config-server")} --start`);
        expect(r.code).toBe(1);
        expect(r.stdout.trim().split("\n").pop()).toBe("[ERROR] stop node failed, check and re-execute the upgrade");
        expect(r.stdout).toMatch(/CONFIG-SERVER\(8190\) \(\d+\)\nTotal:1\n/);
    });

    test("mode exit1 at start: the vendor's start error and exit 1, new files in place", async () => {
        setFault("A", "config-server", { step: "start", mode: "exit1" }, sb.dir);
        const r = await upgrade("A", `--service=config-server --install-path=${sb.install("A", "config-server")} --start`);
        expect(r.code).toBe(1);
        expect(r.stdout.trim().split("\n").pop()).toBe("[ERROR] start node failed! check and restart node");
        expect(jars(sb.install("A", "config-server"), "config-server")).toEqual(["sequoiacm-config-server-3.2.0.jar"]);
        expect((await sb.ssh("A", `${sb.ctl("A", "config-server")} list`)).code).toBe(1);
    });

    test("a rollback is never faulted", async () => {
        setFault("A", "config-server", { step: "replace", mode: "exit1" }, sb.dir);
        const r = await upgrade("A", `--service=config-server --install-path=${sb.install("A", "config-server")} --rollback --start`);
        expect(r.code).toBe(0);
        expect(r.stdout.trim().split("\n").pop()).toBe("[INFO] rollback success!");
        expect(jars(sb.install("A", "config-server"), "config-server")).toEqual(["sequoiacm-config-server-3.1.2.jar"]);
    });
});

describe("node faults", () => {
    test("start-fails: the control script reports the failed start with exit 8; scmupgrade --start exits 1", async () => {
        setFault("B", "cloud", { startFails: true, ports: [8810] }, sb.dir);
        const ctl = sb.ctl("B", "cloud");
        await sb.ssh("B", `${ctl} stop -t all`);
        const start = await sb.ssh("B", `${ctl} start -t all`);
        expect(start.code).toBe(8);
        expect(start.stdout).toMatch(/^Failed:AUTH-SERVER\(8810\) failed to start\nSuccess:ADMIN-SERVER\(8900\) is successfully started \(\d+\)\nTotal:2;Success:1;Failed:1\n$/);
        const r = await upgrade("B", `--service=cloud --install-path=${sb.install("B", "cloud")} --start`);
        expect(r.code).toBe(1);
        expect(r.stdout).toContain("Failed:AUTH-SERVER(8810) failed to start");
        expect(r.stdout.trim().split("\n").pop()).toBe("[ERROR] start node failed! check and restart node");
        const audit = readAudit(sb.dir).filter((e) => e.host === "B" && e.action === "start" && e.port === 8810);
        expect(audit.map((e) => e.outcome)).toEqual(["failed", "failed"]);

        clearFaults({ host: "B", dir: sb.dir });
        const again = await sb.ssh("B", `${ctl} start -t all`);
        expect(again.code).toBe(0);
        expect(again.stdout).toMatch(/Success:AUTH-SERVER\(8810\) is successfully started/);
    });

    test("unhealthy: a node starts (its control script is satisfied) but answers DOWN; clearing heals it", async () => {
        const addr = sb.host("C").address;
        setFault("C", "config-server", { unhealthy: true }, sb.dir);
        // running nodes turn DOWN at once
        expect(await httpJson(addr, 8190, "/health")).toEqual({ code: 503, body: { status: "DOWN" } });
        const ctl = sb.ctl("C", "config-server");
        await sb.ssh("C", `${ctl} stop -t all`);
        const start = await sb.ssh("C", `${ctl} start -t all`);
        expect(start.code).toBe(0);
        expect(start.stdout).toMatch(/^Success:CONFIG-SERVER\(8190\) is successfully started \(\d+\)\nTotal:1;Success:1;Failed:0\n$/);
        expect(await httpJson(addr, 8190, "/health")).toEqual({ code: 503, body: { status: "DOWN" } });
        clearFaults({ host: "C", service: "config-server", dir: sb.dir });
        expect(await httpJson(addr, 8190, "/health")).toEqual({ code: 200, body: { status: "UP" } });
    });

    test("unhealthy content-server: Node-Status stays starting", async () => {
        const addr = sb.host("C").address;
        setFault("C", "content-server", { unhealthy: true }, sb.dir);
        const r = await httpJson(addr, 15000, "/api/v1/conf-properties?keys=SCM-Version,Node-Status");
        expect(r.body).toEqual({ conf: { "SCM-Version": "3.1.2", "Node-Status": "starting" } });
        clearFaults({ host: "C", dir: sb.dir });
        const healed = await httpJson(addr, 15000, "/api/v1/conf-properties?keys=Node-Status");
        expect(healed.body).toEqual({ conf: { "Node-Status": "running" } });
    });

    test("slow: the upgrade takes the given seconds longer, with its nodes down meanwhile", async () => {
        setFault("D", "schedule-server", { slowSeconds: 2 }, sb.dir);
        const t0 = Date.now();
        const r = await upgrade("D", `--service=schedule-server --install-path=${sb.install("D", "schedule-server")} --start`);
        expect(r.code).toBe(0);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
        const runs = readAudit(sb.dir).filter((e) => e.host === "D" && e.action === "upgrade");
        const [begin, end] = runs.slice(-2);
        expect(Date.parse(end.time) - Date.parse(begin.time)).toBeGreaterThanOrEqual(2000);
        const stop = readAudit(sb.dir).filter((e) => e.host === "D" && e.service === "schedule-server" && e.action !== "upgrade");
        expect(Date.parse(stop[1].time) - Date.parse(stop[0].time)).toBeGreaterThanOrEqual(2000);
    });

    test("invalid faults are refused with the reason", () => {
        expect(() => setFault("D", "schedule-server", { step: "nope" as never }, sb.dir)).toThrow(
            "Invalid fault for D/schedule-server: step must be one of untar, backup, stop, replace, start, got nope.",
        );
        expect(() => setFault("D", "config-server", { startFails: true }, sb.dir)).toThrow(
            "Host D does not run config-server; it runs cloud, content-server, schedule-server.",
        );
        expect(() => setFault("Z", "cloud", { startFails: true }, sb.dir)).toThrow("No sandbox host named Z; the hosts are A, B, C, D.");
    });
});

describe("a host's sshd", () => {
    test("stopped: ssh fails (exit 255) while the nodes keep running; started again: ssh works", async () => {
        expect(await stopHostSshd("D", sb.dir)).toBe(true);
        expect(await stopHostSshd("D", sb.dir)).toBe(false);
        const down = await sb.ssh("D", "true");
        expect(down.code).toBe(255);
        expect(down.stderr).toMatch(/Connection refused/);
        expect(await httpJson(sb.host("D").address, 15000, "/health")).toEqual({ code: 200, body: { status: "UP" } });
        expect(await startHostSshd("D", sb.dir)).toBe(true);
        const up = await sb.ssh("D", "echo back");
        expect(up).toMatchObject({ code: 0, stdout: "back\n" });
    });
});
