/** Fault injection, set from outside (faults.json) with no code edit: each fault triggers as set, and clearing it heals. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { readAudit } from "../../sandbox/audit";
import { httpJson, startHostSshd, stopHostSshd } from "../../sandbox/cluster";
import { clearFaults, readFaults, setFault, setInterpreterFault } from "../../sandbox/faults";
import { jars, useSandbox } from "./fixture";

const sb = useSandbox("faults", 33);

const upgrade = (host: string, args: string) => sb.ssh(host, `cd '${path.dirname(sb.script(host))}' && ./scmupgrade.py ${args}`);
const lastEnd = (host: string, service: string) =>
    readAudit(sb.dir)
        .filter((e) => e.host === host && e.service === service && e.action === "upgrade" && e.outcome !== "begin")
        .pop()!;

beforeAll(async () => {
    for (const h of ["A", "B", "C", "D"]) await sb.stage(h);
});
afterEach(() => clearFaults({ dir: sb.dir }));

describe("a failing step of scmupgrade.py: only what the vendor script can do", () => {
    const cases = [
        ["untar", "first", "[INFO] untar the service installation package", /^mkdir -p /],
        ["untar", "middle", "[INFO] untar the service installation package", /^tar -zxvf .*package\/sequoiacm-content-3\.2\.0-release\.tar\.gz /],
        ["backup", "last", "[INFO] backup", /^touch .*\/backup\/\.backup_completed$/],
        ["replace", "first", "[INFO] replace the new version of the resource package", /^rm -rf .*upgrade_tmp\/sequoiacm-content$/],
    ] as const;

    test.each(cases)("a failing command at %s (%s): exit 0 and no success line", async (step, at, announce, command) => {
        setFault("A", "content-server", { step, at }, sb.dir);
        expect(readFaults("A", sb.dir).services["content-server"]).toEqual({ step, at, mode: "exit0" });
        const r = await upgrade("A", `--service=content-server --install-path=${sb.install("A", "content-server")} --start`);
        expect(r.code).toBe(0);
        expect(r.stdout).not.toContain("upgrade success!");
        const lines = r.stdout.trim().split("\n");
        expect(lines.filter((l) => l.startsWith("[INFO]")).pop()).toBe(announce);
        // the failing command is the last one echoed
        expect(lines[lines.length - 1]).toMatch(command);
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

    test("a failing mv in the middle of replace leaves a half-replaced install (bin/ moved away, old jars), exit 0", async () => {
        const install = sb.install("B", "schedule-server");
        setFault("B", "schedule-server", { step: "replace", at: "middle" }, sb.dir);
        const r = await upgrade("B", `--service=schedule-server --install-path=${install} --start`);
        expect(r.code).toBe(0);
        expect(r.stdout).not.toContain("upgrade success!");
        expect(r.stdout.trim().split("\n").pop()).toBe(`mv ${install}/jars ${path.dirname(sb.script("B"))}/upgrade_tmp/sequoiacm-schedule`);
        expect(fs.existsSync(path.join(install, "bin"))).toBe(false);
        expect(jars(install, "schedule-server")).toEqual(["sequoiacm-schedule-server-3.1.2.jar"]);
        expect(lastEnd("B", "schedule-server")).toMatchObject({ outcome: "failed", exitCode: 0, step: "replace", version: "3.1.2" });
        // the vendor's way back: --rollback restores the backup from step 2
        clearFaults({ dir: sb.dir });
        const back = await upgrade("B", `--service=schedule-server --install-path=${install} --rollback --start`);
        expect(back.stdout.trim().split("\n").pop()).toBe("[INFO] rollback success!");
        expect(fs.existsSync(path.join(install, "bin", "schctl.sh"))).toBe(true);
    });

    test("a failing command as the last one of replace: new bin/, jars gone", async () => {
        const install = sb.install("B", "schedule-server");
        setFault("B", "schedule-server", { step: "replace", at: "last" }, sb.dir);
        const r = await upgrade("B", `--service=schedule-server --install-path=${install} --start`);
        expect(r.code).toBe(0);
        expect(r.stdout.trim().split("\n").pop()).toMatch(/^cp -r .*service_tmp\/sequoiacm-schedule\/jars /);
        expect(fs.existsSync(path.join(install, "jars"))).toBe(false);
        expect(fs.readFileSync(path.join(install, "bin", "schctl.sh"), "utf8")).toContain("SequoiaCM 3.2.0 control script");
        clearFaults({ dir: sb.dir });
        await upgrade("B", `--service=schedule-server --install-path=${install} --rollback --start`);
    });

    test("modes the vendor script cannot produce are refused", () => {
        expect(() => setFault("A", "config-server", { step: "replace", mode: "exit1" }, sb.dir)).toThrow(
            "Invalid fault for A/config-server: mode exit1 at replace is not what the vendor script does: a failing tar/cp/mv exits 0 without the success line (mode exit0).",
        );
        expect(() => setFault("A", "config-server", { step: "start", mode: "exit0" }, sb.dir)).toThrow(
            /mode exit0 at start is not what the vendor script does/,
        );
        expect(() => setFault("A", "config-server", { step: "stop", at: "last" }, sb.dir)).toThrow(
            /at applies to the shell commands of untar, backup and replace, not to stop/,
        );
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
        setFault("A", "config-server", { step: "replace" }, sb.dir);
        const r = await upgrade("A", `--service=config-server --install-path=${sb.install("A", "config-server")} --rollback --start`);
        expect(r.code).toBe(0);
        expect(r.stdout.trim().split("\n").pop()).toBe("[INFO] rollback success!");
        expect(jars(sb.install("A", "config-server"), "config-server")).toEqual(["sequoiacm-config-server-3.1.2.jar"]);
    });
});

describe("the interpreter named by the first line (3.2.0: #!/usr/bin/python)", () => {
    test("the staged script names the host's /usr/bin/python and is marked Python 2 only", () => {
        const first = fs.readFileSync(sb.script("C"), "utf8").split("\n").slice(0, 3);
        expect(first[0]).toBe("#!/proc/self/cwd/../../../usr/bin/python");
        expect(first[2]).toMatch(/^# scm-sandbox: python2-only/);
        expect(fs.readlinkSync(path.join(sb.host("C").root, "usr/bin/python"))).toMatch(/python3/);
    });

    test("missing: the script cannot start at all; nothing changes; clearing repairs it", async () => {
        setInterpreterFault("C", "missing", sb.dir);
        const before = readAudit(sb.dir).length;
        const r = await upgrade("C", `--service=config-server --install-path=${sb.install("C", "config-server")} --start`);
        expect([126, 127]).toContain(r.code);
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(/scmupgrade\.py: .*(required file not found|bad interpreter: No such file or directory)/);
        expect(jars(sb.install("C", "config-server"), "config-server")).toEqual(["sequoiacm-config-server-3.1.2.jar"]);
        expect(readAudit(sb.dir).length).toBe(before);
        clearFaults({ host: "C", dir: sb.dir });
        expect((await upgrade("C", "-h")).code).toBe(0);
    });

    test("python3: a Python 3 at /usr/bin/python fails the 3.2.0 script with a SyntaxError, exit 1", async () => {
        setInterpreterFault("C", "python3", sb.dir);
        expect(readFaults("C", sb.dir).interpreter).toBe("python3");
        const r = await upgrade("C", `--service=config-server --install-path=${sb.install("C", "config-server")} --start`);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/SyntaxError: /);
        expect(jars(sb.install("C", "config-server"), "config-server")).toEqual(["sequoiacm-config-server-3.1.2.jar"]);
    });
});

describe("which archive", () => {
    test("the first os.listdir() match of package/<install-folder>*.tar.gz, not the sorted last", async () => {
        const pkg = path.join(path.dirname(sb.script("D")), "package");
        const orig = path.join(pkg, "sequoiacm-schedule-3.2.0-release.tar.gz");
        for (const extra of ["sequoiacm-schedule-3.1.9-old.tar.gz", "sequoiacm-schedule-9.9.9-zz.tar.gz", "sequoiacm-schedule-0.0.1-aa.tar.gz"])
            fs.copyFileSync(orig, path.join(pkg, extra));
        const listdirFirst = execFileSync(
            "python3",
            ["-c", "import os,sys; print([f for f in os.listdir(sys.argv[1]) if f.startswith('sequoiacm-schedule') and f.endswith('.tar.gz')][0])", pkg],
            { encoding: "utf8" },
        ).trim();
        const r = await upgrade("D", `--service=schedule-server --install-path=${sb.install("D", "schedule-server")} --dryrun`);
        expect(r.stdout).toContain(`tar -zxvf ${path.join(pkg, listdirFirst)} -C `);
        for (const f of fs.readdirSync(pkg)) if (f.startsWith("sequoiacm-schedule-") && !f.startsWith("sequoiacm-schedule-3.2.0")) fs.rmSync(path.join(pkg, f));
    });
});

describe("node faults", () => {
    test("start-fails: the control script reports the failed start with exit 8; scmupgrade --start exits 1", async () => {
        setFault("B", "cloud", { startFails: true, ports: [8810] }, sb.dir);
        const ctl = sb.ctl("B", "cloud");
        await sb.ssh("B", `${ctl} stop -t all`);
        const start = await sb.ssh("B", `${ctl} start -t all`);
        expect(start.code).toBe(8);
        // the two lines come in the order the two outcomes are seen
        const lines = start.stdout.trim().split("\n");
        expect(lines.pop()).toBe("Total:2;Success:1;Failed:1");
        expect(lines.sort()).toEqual([
            expect.stringMatching(/^Failed:AUTH-SERVER\(8810\) failed to start$/),
            expect.stringMatching(/^Success:ADMIN-SERVER\(8900\) is successfully started \(\d+\)$/),
        ]);
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
        expect(await httpJson(addr, 8190, "/health")).toMatchObject({ code: 503, body: { status: "DOWN", diskSpace: { status: "UP" } } });
        const ctl = sb.ctl("C", "config-server");
        await sb.ssh("C", `${ctl} stop -t all`);
        const start = await sb.ssh("C", `${ctl} start -t all`);
        expect(start.code).toBe(0);
        expect(start.stdout).toMatch(/^Success:CONFIG-SERVER\(8190\) is successfully started \(\d+\)\nTotal:1;Success:1;Failed:0\n$/);
        expect(await httpJson(addr, 8190, "/health")).toMatchObject({ code: 503, body: { status: "DOWN", diskSpace: { status: "UP" } } });
        clearFaults({ host: "C", service: "config-server", dir: sb.dir });
        expect(await httpJson(addr, 8190, "/health")).toMatchObject({ code: 200, body: { status: "UP", diskSpace: { status: "UP" } } });
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
        expect(await httpJson(sb.host("D").address, 15000, "/health")).toMatchObject({ code: 200, body: { status: "UP", diskSpace: { status: "UP" } } });
        expect(await startHostSshd("D", sb.dir)).toBe(true);
        const up = await sb.ssh("D", "echo back");
        expect(up).toMatchObject({ code: 0, stdout: "back\n" });
    });
});
