/** The sandbox's control scripts, driven by hand over real ssh: subcommands, output lines, exit codes (reference section 2). */
import { readAudit } from "../../sandbox/audit";
import { httpJson } from "../../sandbox/cluster";
import { useSandbox } from "./fixture";

const sb = useSandbox("ctl", 31);

describe("control scripts of SequoiaCM 3.1.2", () => {
    test("the seed's hosts run their nodes, each script lists them", async () => {
        const cloudA = await sb.ssh("A", `${sb.ctl("A", "cloud")} list`);
        expect(cloudA.code).toBe(0);
        expect(cloudA.stdout).toMatch(/^GATEWAY\(8080\) \(\d+\)\nSERVICE-CENTER\(8800\) \(\d+\)\nTotal:2\n$/);
        const cloudB = await sb.ssh("B", `${sb.ctl("B", "cloud")} list -m run`);
        expect(cloudB.stdout).toMatch(/^AUTH-SERVER\(8810\) \(\d+\)\nADMIN-SERVER\(8900\) \(\d+\)\nTotal:2\n$/);
        const conf = await sb.ssh("C", `${sb.ctl("C", "config-server")} list`);
        expect(conf.stdout).toMatch(/^CONFIG-SERVER\(8190\) \(\d+\)\nTotal:1\n$/);
        const sch = await sb.ssh("D", `${sb.ctl("D", "schedule-server")} list -p 8910`);
        expect(sch.stdout).toMatch(/^SCHEDULE-SERVER\(8910\) \(\d+\)\nTotal:1\n$/);
        const content = await sb.ssh("B", `${sb.ctl("B", "content-server")} list`);
        expect(content.stdout).toMatch(/^CONTENT-SERVER\(15000\) \(\d+\)\nTotal:1\n$/);
    });

    test("-v and --version print the tools version, release and build time", async () => {
        for (const flag of ["-v", "--version"]) {
            const r = await sb.ssh("A", `${sb.ctl("A", "content-server")} ${flag}`);
            expect(r.code).toBe(0);
            const lines = r.stdout.trim().split("\n");
            expect(lines[0]).toBe("SequoiaCM tools version:3.1.2");
            expect(lines[1]).toMatch(/^Release:/);
            expect(lines).toHaveLength(3);
        }
    });

    test("stop -p, list -m run/local, start -p: lines and exit codes", async () => {
        const ctl = sb.ctl("C", "cloud");
        const stop = await sb.ssh("C", `${ctl} stop -p 8080`);
        expect(stop.code).toBe(0);
        expect(stop.stdout).toBe("Success:GATEWAY(8080) is successfully stopped\nTotal:1;Success:1;Failed:0\n");
        const again = await sb.ssh("C", `${ctl} stop -p 8080`);
        expect(again.stdout).toBe("Success:GATEWAY(8080) is already stopped\nTotal:1;Success:1;Failed:0\n");

        const run = await sb.ssh("C", `${ctl} list`);
        expect(run.stdout).toMatch(/^SERVICE-CENTER\(8800\) \(\d+\)\nTotal:1\n$/);
        const local = await sb.ssh("C", `${ctl} list -m local`);
        expect(local.stdout).toMatch(/^GATEWAY\(8080\) \(-\)\nSERVICE-CENTER\(8800\) \(\d+\)\nTotal:2\n$/);
        const none = await sb.ssh("C", `${ctl} list -p 8080`);
        expect(none.code).toBe(1);
        expect(none.stdout).toBe("Total:0\n");

        const start = await sb.ssh("C", `${ctl} start -t all`);
        expect(start.code).toBe(0);
        expect(start.stdout).toMatch(
            /^Success:SERVICE-CENTER\(8800\) is already started \(\d+\)\nSuccess:GATEWAY\(8080\) is successfully started \(\d+\)\nTotal:2;Success:2;Failed:0\n$/,
        );
        const health = await httpJson(sb.host("C").address, 8080, "/health");
        expect(health).toMatchObject({ code: 200, body: { status: "UP", diskSpace: { status: "UP" } } });
    });

    test("content-server: --all / -a, and list exits 1 when no node runs", async () => {
        const ctl = sb.ctl("D", "content-server");
        const stop = await sb.ssh("D", `${ctl} stop --all`);
        expect(stop.stdout).toBe("Success:CONTENT-SERVER(15000) is successfully stopped\nTotal:1;Success:1;Failed:0\n");
        const list = await sb.ssh("D", `${ctl} list`);
        expect(list.code).toBe(1);
        expect(list.stdout).toBe("Total:0\n");
        const start = await sb.ssh("D", `${ctl} start -a --timeout 20`);
        expect(start.code).toBe(0);
        expect(start.stdout).toMatch(/^Success:CONTENT-SERVER\(15000\) is successfully started \(\d+\)\nTotal:1;Success:1;Failed:0\n$/);
    });

    test.each([
        ["cloud", "start", "please set -t or -p"],
        ["cloud", "start -t all -p 8080", "please set -t or -p"],
        ["cloud", "stop -t nosuchtype", "unknown node type:nosuchtype"],
        ["cloud", "start -t all --timeout soon", "invalid timeout:soon"],
        ["cloud", "list -m everything", "invalid mode:everything, mode must be 'run' or 'local'"],
        ["cloud", "restart -t all", "unknown subcommand:restart"],
        ["content-server", "start -t all", "Unrecognized option: -t"],
        ["content-server", "stop", "please set -a or -p"],
    ] as const)("%s %s: exit 3, %s", async (service, args, message) => {
        const r = await sb.ssh("A", `${sb.ctl("A", service)} ${args}`);
        expect(r.code).toBe(3);
        expect(r.stdout.split("\n")[0]).toBe(message);
    });

    test("no arguments: usage and exit 3; -h: usage and exit 0", async () => {
        const none = await sb.ssh("A", sb.ctl("A", "config-server"));
        expect(none.code).toBe(3);
        expect(none.stdout).toContain("usage: confctl.sh <subcommand> [options]");
        const help = await sb.ssh("A", `${sb.ctl("A", "config-server")} -h start`);
        expect(help.code).toBe(0);
        expect(help.stdout).toContain("confctl.sh start -t <config-server|all> | -p <port>");
    });

    test("a port with no node: Total:1;Success:0;Failed:1 and exit 3", async () => {
        const r = await sb.ssh("A", `${sb.ctl("A", "cloud")} start -p 9999`);
        expect(r.code).toBe(3);
        expect(r.stdout).toBe("node not found in conf path,port:9999\nTotal:1;Success:0;Failed:1\n");
    });

    test("a type with no node on the host: nothing to do, exit 0", async () => {
        const r = await sb.ssh("A", `${sb.ctl("A", "cloud")} start -t auth-server`);
        expect(r.code).toBe(0);
        expect(r.stdout).toBe("Can't find any node in conf path,type:auth-server\nTotal:0;Success:0;Failed:0\n");
    });

    test("every start and stop above is in the audit log, in order, with host, service, version and outcome", () => {
        const c = readAudit(sb.dir).filter((e) => e.host === "C");
        expect(c.map((e) => [e.action, e.nodeType, e.port, e.outcome, e.service, e.version])).toEqual([
            ["stop", "gateway", 8080, "ok", "cloud", "3.1.2"],
            ["stop", "gateway", 8080, "already", "cloud", "3.1.2"],
            ["start", "service-center", 8800, "already", "cloud", "3.1.2"],
            ["start", "gateway", 8080, "ok", "cloud", "3.1.2"],
        ]);
        for (const e of c) expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        const all = readAudit(sb.dir);
        expect([...all].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0)).map((e) => e.time)).toEqual(all.map((e) => e.time));
    });
});
