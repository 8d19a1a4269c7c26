/** The sandbox's scmupgrade.py driven by hand over real ssh (reference section 3): arguments, steps, traps, rollback, dry run. */
import * as fs from "fs";
import * as path from "path";
import { readAudit } from "../../sandbox/audit";
import { httpJson, nodeHealth } from "../../sandbox/cluster";
import { jars, useSandbox } from "./fixture";

const sb = useSandbox("upgrade", 32);

const q = (s: string) => `'${s}'`;
/** Runs the staged scmupgrade.py on a host from its own folder, as the vendor's procedure does. */
const upgrade = (host: string, args: string) => sb.ssh(host, `cd ${q(path.dirname(sb.script(host)))} && ./scmupgrade.py ${args}`);

beforeAll(async () => {
    await sb.stage("C");
    await sb.stage("D");
});

describe("argument errors exit 2", () => {
    test.each([
        ["", "[ERROR] please set --service"],
        ["--service=nosuch --install-path=/x", "[ERROR] unsupported service:nosuch"],
        ["--service=cloud", "[ERROR] please set --install-path"],
        ["--service=cloud --install-path=/opt/sequoiacm/sequoiacm-config/", "[ERROR] check whether the service and install-path match"],
        ["--service=mq-server --install-path=/opt/sequoiacm/sequoiacm-mq", "[ERROR] can not find a new version of the service installation package"],
    ])("%p", async (args, message) => {
        const r = await upgrade("C", args);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe(`${message}\n`);
    });

    test("an unknown option", async () => {
        const r = await upgrade("C", "--service=cloud --bogus");
        expect(r.code).toBe(2);
        expect(r.stdout.split("\n")[0]).toBe("[ERROR] option --bogus not recognized");
    });

    test("the vendor trap with no fault set: a failing cp exits 0 without the success line", async () => {
        const missing = `${sb.host("C").installRoot}/nowhere/sequoiacm-schedule`;
        const r = await upgrade("C", `--service=schedule-server --install-path=${missing} --start`);
        expect(r.code).toBe(0);
        expect(r.stdout).not.toContain("upgrade success!");
        expect(r.stdout.trim().split("\n").pop()).toBe(`cp -r ${missing}/bin ${path.dirname(sb.script("C"))}/service_tmp/sequoiacm-schedule/backup`);
        expect(r.stderr).toContain("No such file or directory");
    });

    test("-h prints the usage and exits 0", async () => {
        const r = await upgrade("C", "-h");
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^usage: scmupgrade\.py --service=<service> --install-path=<path>/);
    });
});

describe("a manual upgrade of one content-server node", () => {
    let before: number;
    test("moves its jars to 3.2.0, restarts it, and it answers on the 3.2 health path", async () => {
        const install = sb.install("C", "content-server");
        before = Number((await sb.ssh("C", `${sb.ctl("C", "content-server")} list`)).stdout.match(/\) \((\d+)\)/)![1]);
        const r = await upgrade("C", `--service content-server --install-path ${install}/ --start`);
        expect(r.code).toBe(0);
        const lines = r.stdout.trim().split("\n");
        const steps = lines.filter((l) => l.startsWith("["));
        expect(steps).toEqual([
            "[INFO] untar the service installation package",
            "[INFO] backup",
            "[INFO] stop node",
            "[INFO] replace the new version of the resource package",
            "[INFO] start node",
            "[INFO] upgrade success!",
        ]);
        // every shell command is echoed
        expect(lines).toContain(
            `tar -zxvf ${path.dirname(sb.script("C"))}/package/sequoiacm-content-3.2.0-release.tar.gz -C ${path.dirname(sb.script("C"))}/service_tmp`,
        );
        expect(lines).toContain(`${install}/bin/scmctl.sh stop --all`);
        expect(lines).toContain(`${install}/bin/scmctl.sh start --all`);
        expect(lines.some((l) => /^Success:CONTENT-SERVER\(15000\) is successfully started \(\d+\)$/.test(l))).toBe(true);

        expect(jars(install, "content-server")).toEqual(["sequoiacm-content-server-3.2.0.jar"]);
        const addr = sb.host("C").address;
        expect(await httpJson(addr, 15000, "/internal/v1/health")).toMatchObject({ code: 200, body: { status: "UP", diskSpace: { status: "UP" } } });
        expect((await httpJson(addr, 15000, "/health")).code).toBe(404);
        // actuator on the management port = port + 1
        expect(await httpJson(addr, 15001, "/health")).toMatchObject({ code: 200, body: { status: "UP", diskSpace: { status: "UP" } } });
        expect((await httpJson(addr, 15001, "/info")).body.app.version).toBe("3.2.0");
        const v = (await sb.ssh("C", `${sb.ctl("C", "content-server")} --version`)).stdout;
        expect(v.split("\n")[0]).toBe("SequoiaCM tools version:3.2.0");
        // conf/ and log/ untouched; the backup and its marker exist
        expect(fs.readFileSync(path.join(install, "conf/content-server/15000/application.properties"), "utf8")).toContain("spring.application.name=rootSite");
        const backup = path.join(path.dirname(sb.script("C")), "service_tmp/sequoiacm-content/backup");
        expect(fs.existsSync(path.join(backup, ".backup_completed"))).toBe(true);
        expect(fs.readdirSync(path.join(backup, "lib"))).toEqual(["sequoiacm-content-server-3.1.2.jar"]);
    });

    test("content-server reports Node-Status starting, then running", async () => {
        const addr = sb.host("C").address;
        const first = await httpJson(addr, 15000, "/api/v1/conf-properties?keys=SCM-Version,Node-Status");
        expect(first.body.conf["SCM-Version"]).toBe("3.2.0");
        expect(["starting", "running"]).toContain(first.body.conf["Node-Status"]);
        const deadline = Date.now() + 10000;
        let health = await nodeHealth(addr, "content-server", 15000, "3.2.0");
        while (Date.now() < deadline && health !== "UP") {
            await new Promise((r) => setTimeout(r, 200));
            health = await nodeHealth(addr, "content-server", 15000, "3.2.0");
        }
        expect(health).toBe("UP");
        const later = await httpJson(addr, 15000, "/api/v1/conf-properties?keys=SCM-Version,Node-Status");
        expect(later.body).toEqual({ conf: { "SCM-Version": "3.2.0", "Node-Status": "running" } });
    });

    test("no version check: running it again upgrades again and restarts the node", async () => {
        const install = sb.install("C", "content-server");
        const pidBefore = (await sb.ssh("C", `${sb.ctl("C", "content-server")} list`)).stdout;
        const r = await upgrade("C", `--service content-server --install-path ${install} --start`);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("[INFO] upgrade success!");
        // the marker exists: the backup is not redone, the 3.1.2 backup is kept
        expect(r.stdout).not.toContain("cp -r " + install + "/lib");
        const pidAfter = (await sb.ssh("C", `${sb.ctl("C", "content-server")} list`)).stdout;
        expect(pidAfter).not.toBe(pidBefore);
        expect(Number(pidAfter.match(/\) \((\d+)\)/)![1])).not.toBe(before);
    });

    test("--rollback --start brings 3.1.2 back, on the 3.1 health path", async () => {
        const install = sb.install("C", "content-server");
        const r = await upgrade("C", `--service content-server --install-path ${install} --rollback --start`);
        expect(r.code).toBe(0);
        expect(r.stdout.trim().split("\n").pop()).toBe("[INFO] rollback success!");
        expect(jars(install, "content-server")).toEqual(["sequoiacm-content-server-3.1.2.jar"]);
        const addr = sb.host("C").address;
        expect(await httpJson(addr, 15000, "/health")).toMatchObject({ code: 200, body: { status: "UP", diskSpace: { status: "UP" } } });
        expect((await httpJson(addr, 15000, "/internal/v1/health")).code).toBe(404);
        expect((await sb.ssh("C", `${sb.ctl("C", "content-server")} -v`)).stdout).toMatch(/^SequoiaCM tools version:3\.1\.2\n/);
        // the marker is gone: a second rollback is refused
        const again = await upgrade("C", `--service content-server --install-path ${install} --rollback`);
        expect(again.code).toBe(1);
        expect(again.stdout).toMatch(/^\[ERROR\] backup of service is incomplete: .*service_tmp\/sequoiacm-content\/backup\n$/);
    });

    test("the audit log has begin and end of each run, with versions and outcomes", () => {
        const runs = readAudit(sb.dir).filter((e) => e.host === "C" && e.service === "content-server" && (e.action === "upgrade" || e.action === "rollback"));
        const trap = readAudit(sb.dir).filter((e) => e.host === "C" && e.service === "schedule-server");
        expect(trap.map((e) => [e.action, e.outcome, e.exitCode, e.step])).toEqual([
            ["upgrade", "begin", undefined, undefined],
            ["upgrade", "failed", 0, "backup"],
        ]);
        expect(runs.map((e) => [e.action, e.outcome, e.version, e.exitCode])).toEqual([
            ["upgrade", "begin", "3.1.2", undefined],
            ["upgrade", "success", "3.2.0", 0],
            ["upgrade", "begin", "3.2.0", undefined],
            ["upgrade", "success", "3.2.0", 0],
            ["rollback", "begin", "3.2.0", undefined],
            ["rollback", "success", "3.1.2", 0],
            ["rollback", "begin", "3.1.2", undefined],
            ["rollback", "failed", "3.1.2", 1],
        ]);
        expect(runs[0].service).toBe("content-server");
        expect(runs[0].target).toBe("3.2.0");
        const nodeEvents = readAudit(sb.dir).filter((e) => e.host === "C" && e.service === "content-server" && (e.action === "start" || e.action === "stop"));
        expect(nodeEvents.map((e) => `${e.action}:${e.version}`)).toEqual([
            "stop:3.1.2",
            "start:3.2.0",
            "stop:3.2.0",
            "start:3.2.0",
            "stop:3.2.0",
            "start:3.1.2",
        ]);
    });
});

describe("--dryrun and --start", () => {
    test("--dryrun echoes every command, runs none, and still ends with the success line", async () => {
        const install = sb.install("D", "cloud");
        const pids = (await sb.ssh("D", `${sb.ctl("D", "cloud")} list`)).stdout;
        const r = await upgrade("D", `--service=cloud --install-path=${install} --start --dryrun`);
        expect(r.code).toBe(0);
        const lines = r.stdout.trim().split("\n");
        expect(lines[0]).toBe("[INFO] dry run mode!");
        expect(lines).toContain(`${install}/bin/scmcloudctl.sh stop -t all`);
        expect(lines).toContain(`${install}/bin/scmcloudctl.sh start -t all`);
        expect(lines[lines.length - 1]).toBe("[INFO] upgrade success!");
        expect(lines.some((l) => l.startsWith("Success:"))).toBe(false);
        expect(jars(install, "cloud")).toContain("sequoiacm-cloud-authserver-3.1.2.jar");
        expect(fs.existsSync(path.join(path.dirname(sb.script("D")), "service_tmp"))).toBe(false);
        expect((await sb.ssh("D", `${sb.ctl("D", "cloud")} list`)).stdout).toBe(pids);
    });

    test("--start starts every node of the service, also one that was stopped before", async () => {
        const install = sb.install("D", "cloud");
        await sb.ssh("D", `${sb.ctl("D", "cloud")} stop -p 8900`);
        const r = await upgrade("D", `--service=cloud --install-path=${install} --start`);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("Success:ADMIN-SERVER(8900) is already stopped");
        expect(r.stdout).toMatch(/Success:ADMIN-SERVER\(8900\) is successfully started \(\d+\)/);
        expect(r.stdout).toMatch(/Success:AUTH-SERVER\(8810\) is successfully started \(\d+\)/);
        expect(jars(install, "cloud")).toEqual([
            "sequoiacm-cloud-adminserver-3.2.0.jar",
            "sequoiacm-cloud-authserver-3.2.0.jar",
            "sequoiacm-cloud-gateway-3.2.0.jar",
            "sequoiacm-cloud-servicecenter-3.2.0.jar",
            "sequoiacm-cloud-servicetrace-3.2.0.jar",
        ]);
        expect(await httpJson(sb.host("D").address, 8900, "/internal/v1/health")).toMatchObject({
            code: 200,
            body: { status: "UP", diskSpace: { status: "UP" } },
        });
    });

    test("without --start the nodes stay stopped; --nocheck accepts another folder name", async () => {
        const install = sb.install("D", "schedule-server");
        const r = await upgrade("D", `--service=schedule-server --install-path=${install}/ --nocheck`);
        expect(r.code).toBe(0);
        expect(r.stdout).not.toContain("[INFO] start node");
        expect(r.stdout.trim().split("\n").pop()).toBe("[INFO] upgrade success!");
        const list = await sb.ssh("D", `${sb.ctl("D", "schedule-server")} list`);
        expect(list.code).toBe(1);
        const start = await sb.ssh("D", `${sb.ctl("D", "schedule-server")} start -t schedule-server`);
        expect(start.code).toBe(0);
        expect(await httpJson(sb.host("D").address, 8910, "/internal/v1/health")).toMatchObject({
            code: 200,
            body: { status: "UP", diskSpace: { status: "UP" } },
        });
    });

    test("stop fails only when nodes still run; no nodes and no files: a DEBUG line, and on", async () => {
        // An install folder whose control script is missing: stop fails, list fails too.
        const fake = path.join(sb.host("D").installRoot, "elsewhere", "sequoiacm-config");
        fs.mkdirSync(path.join(fake, "jars"), { recursive: true });
        fs.mkdirSync(path.join(fake, "bin"), { recursive: true });
        const r = await upgrade("D", `--service=config-server --install-path=${fake}`);
        expect(r.stdout).toContain("[DEBUG] no running nodes or missing files");
        expect(r.stdout.trim().split("\n").pop()).toBe("[INFO] upgrade success!");
        expect(fs.readdirSync(path.join(fake, "jars"))).toEqual(["sequoiacm-config-server-3.2.0.jar"]);
    });
});
