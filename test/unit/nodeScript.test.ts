import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import {
    healthBase,
    healthPath,
    HOST_LOCK_WAIT_SECONDS,
    hostLockPath,
    NODE_PORTS_FNS,
    parseMarkers,
    renderServiceRollback,
    renderServiceUpgrade,
    renderUnpack,
    serviceFilesOf,
    shQuote,
    TOP_STATUS_FN,
    unfinishedMark,
    finishedMark,
} from "../../lib/shell";

// The node script against a fake host whose one config-server node is a real HTTP server in this
// process, and whose control script keeps which nodes run in files: the health gate, resume safety,
// the newest scmupgrade.py's refusal of a second run. Then the staging's interpreter check and its
// one-archive-per-service rule. All run with bash, locally.

/** Runs a script with bash without blocking this process (the fake node answers from it). */
function bash(script: string, env?: Record<string, string>): Promise<{ status: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const c = spawn("bash", ["-c", script], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
        let stdout = "";
        let stderr = "";
        c.stdout.on("data", (d) => (stdout += d));
        c.stderr.on("data", (d) => (stderr += d));
        c.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
    });
}

const UP_DOC = { status: "UP", diskSpace: { status: "UP", total: 1, free: 1, threshold: 1 }, refreshScope: { status: "UP" } };
const DOWN_NESTED_UP = { status: "DOWN", diskSpace: { status: "UP", total: 1, free: 1, threshold: 1 }, refreshScope: { status: "UP" } };

let server: http.Server;
let port = 0;
let doc: unknown = UP_DOC;
let requests: string[] = [];
/** The first this many health requests answer DOWN (with nested UP components), whatever `doc` says. */
let downForRequests = 0;

beforeAll(async () => {
    server = http.createServer((req, res) => {
        requests.push(req.url ?? "");
        // 3.2's endpoint, and 3.1's (a rolled-back node)
        if (req.url !== "/internal/v1/health" && req.url !== "/health") {
            res.writeHead(404, { "content-type": "application/json" });
            res.end(JSON.stringify({ status: 404, error: "Not Found" }));
            return;
        }
        // SequoiaCM 3.2's internal health: HTTP 200 whatever the status.
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(requests.length <= downForRequests ? DOWN_NESTED_UP : doc));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
    doc = UP_DOC;
    requests = [];
    downForRequests = 0;
});

/** A control script whose `list` reads `running`/`local` files next to it, `start -p` appends to `running`. */
const CTL = `#!/bin/bash
d=$(cd "$(dirname "$0")" && pwd)
echo "$*" >> "$d/calls"
case "$1" in
  list) if [ -f "$d/listfails" ]; then echo "confctl.sh: line 12: java: command not found" >&2; exit 127; fi
    mode=run; [ "\${2:-}" = -m ] && mode=$3; n=0
    for p in $(cat "$d/local"); do
      if grep -qx "$p" "$d/running" 2>/dev/null; then echo "CONFIG-SERVER($p) (4242)"; n=$((n+1));
      elif [ "$mode" = local ]; then echo "CONFIG-SERVER($p) (-)"; n=$((n+1)); fi
    done
    echo "Total:$n"; [ $n -gt 0 ];;
  start) if [ -f "$d/startfails" ]; then echo "Failed:CONFIG-SERVER($3) failed to start"; echo "Total:1;Success:0;Failed:1"; exit 8; fi
    echo "$3" >> "$d/running"; echo "Success:CONFIG-SERVER($3) is successfully started (4242)";;
  stop) if [ "\${2:-}" = -p ]; then grep -vx "$3" "$d/running" > "$d/running.new"; mv "$d/running.new" "$d/running"; else : > "$d/running"; fi
    echo "Total:1;Success:1;Failed:0";;
esac
`;

function fakeHost(o: {
    version: string;
    running: boolean;
    script?: string;
    confPorts?: number[];
    healthTimeoutSeconds?: number;
    healthStableSeconds?: number;
    rollbackOnHealthFailure?: boolean;
}) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "scm-node-test-"));
    const install = path.join(root, "opt", "sequoiacm");
    const svc = path.join(install, "sequoiacm-config");
    const bin = path.join(svc, "bin");
    fs.mkdirSync(path.join(svc, "jars"), { recursive: true });
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(svc, "jars", `sequoiacm-config-server-${o.version}.jar`), "");
    fs.writeFileSync(path.join(bin, "confctl.sh"), CTL, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "local"), [port, ...(o.confPorts ?? [])].map((p) => `${p}\n`).join(""));
    // conf/<type>/<port>/: the nodes configured on the host (scmupgrade.py --start starts every one)
    for (const p of [port, ...(o.confPorts ?? [])]) fs.mkdirSync(path.join(svc, "conf", "config-server", String(p)), { recursive: true });
    fs.writeFileSync(path.join(bin, "running"), o.running ? `${port}\n` : "");
    const staging = path.join(root, "opt", "scm_upgrade");
    const pkg = path.join(staging, "sequoiacm");
    fs.mkdirSync(pkg, { recursive: true });
    const ran = path.join(root, "ran");
    const script =
        o.script ??
        `#!/bin/bash\necho "$@" >> ${shQuote(ran)}\nmv ${shQuote(svc)}/jars/*.jar ${shQuote(svc)}/jars/sequoiacm-config-server-3.2.0.jar\necho ${port} >> ${shQuote(path.join(bin, "running"))}\necho "[INFO] upgrade success!"\n`;
    fs.writeFileSync(path.join(pkg, "scmupgrade.py"), script, { mode: 0o755 });
    const text = renderServiceUpgrade({
        host: "C",
        healthAddress: "127.0.0.1",
        installRoot: install,
        stagingDir: staging,
        installUser: os.userInfo().username,
        become: "login",
        targetVersion: "3.2.0",
        service: serviceFilesOf("config-server"),
        healthTimeoutSeconds: o.healthTimeoutSeconds ?? 2,
        healthStableSeconds: o.healthStableSeconds,
        rollbackOnHealthFailure: o.rollbackOnHealthFailure ?? false,
    });
    const calls = () => (fs.existsSync(path.join(bin, "calls")) ? fs.readFileSync(path.join(bin, "calls"), "utf8").trim().split("\n") : []);
    return { root, svc, bin, pkg, ran, text, calls };
}

describe("top_status: the top-level status of a JSON document", () => {
    test.each([
        ['{"status":"UP"}', "UP"],
        ['{"status":"DOWN","diskSpace":{"status":"UP","total":1}}', "DOWN"],
        ['{"diskSpace":{"status":"UP"},"db":{"status":"UP","x":[{"status":"UP"}]},"status":"DOWN"}', "DOWN"],
        ['{ "status" : "UP" , "a" : { "status" : "DOWN" } }', "UP"],
        ['{"note":"a \\"status\\":\\"UP\\" inside a string","status":"OUT_OF_SERVICE"}', "OUT_OF_SERVICE"],
        ['{"diskSpace":{"status":"UP"}}', ""],
        ['{"status":404,"error":"Not Found"}', ""],
        ["not json", ""],
    ])("%s -> %j", async (json, want) => {
        const r = await bash(`${TOP_STATUS_FN}\nprintf '%s' ${shQuote(json)} | top_status`);
        expect(r.stdout.trim()).toBe(want);
    });
});

describe("health URL", () => {
    test("IPv6 addresses are bracketed, IPv4 and names are not; the path follows the version", () => {
        expect(healthBase("fd00::11")).toBe("http://[fd00::11]");
        expect(healthBase("[::1]")).toBe("http://[::1]");
        expect(healthBase("10.0.0.11")).toBe("http://10.0.0.11");
        expect(healthBase("scm-a.example")).toBe("http://scm-a.example");
        expect(healthPath("3.2.0")).toBe("/internal/v1/health");
        expect(healthPath("3.1.2")).toBe("/health");
    });

    test("curl reaches a node on an IPv6 loopback through the bracketed URL", async () => {
        const v6 = http.createServer((_q, s) => s.end(JSON.stringify(UP_DOC)));
        const ok = await new Promise<boolean>((r) => {
            v6.once("error", () => r(false));
            v6.listen(0, "::1", () => r(true));
        });
        expect(ok).toBe(true); // the machine has IPv6 loopback: otherwise this test would prove nothing
        const p = (v6.address() as AddressInfo).port;
        const r = await bash(`${TOP_STATUS_FN}\ncurl -gsS -m 3 ${shQuote(healthBase("::1"))}":${p}/internal/v1/health" | top_status`);
        await new Promise((res) => v6.close(res));
        expect(r.stdout.trim()).toBe("UP");
    });
});

describe("the node script's health gate and resume safety", () => {
    test("upgrade: a DOWN document with nested UP components (HTTP 200) fails the gate", async () => {
        const h = fakeHost({ version: "3.1.2", running: true });
        doc = DOWN_NESTED_UP;
        const r = await bash(h.text);
        expect(r.status).toBe(1);
        expect(parseMarkers(r.stdout).values.reason).toBe(`nodes ${port} not healthy on the 3.2 endpoints within 2s`);
        expect(requests.length).toBeGreaterThan(1);
        expect(new Set(requests)).toEqual(new Set(["/internal/v1/health"]));
        // not finished: a later run does not call the node done on its version alone
        expect(fs.existsSync(unfinishedMark(path.join(h.root, "opt", "scm_upgrade"), "sequoiacm-config", "3.2.0"))).toBe(true);
    });

    test("rollbackOnHealthFailure: the failure's reason says what the vendor rollback left, the version before or not", async () => {
        for (const [rollsBack, said, mixed] of [
            [true, "; rolled back with the vendor rollback: 3.1.2 installed again", false],
            [false, "; the vendor rollback did not put 3.1.2 back: 3.2.0 installed (its last lines are above)", false],
            // an earlier attempt cut off halfway: both releases' jars, no single version to put back
            [true, "; the vendor rollback left 3.1.2 installed (before this attempt: mixed)", true],
        ] as const) {
            const h = fakeHost({ version: "3.1.2", running: true, rollbackOnHealthFailure: true });
            const jars = shQuote(path.join(h.svc, "jars"));
            if (mixed) fs.writeFileSync(path.join(h.svc, "jars", "sequoiacm-config-server-3.2.0.jar"), "");
            const back = rollsBack
                ? `rm -f ${jars}/*.jar; touch ${jars}/sequoiacm-config-server-3.1.2.jar; echo "[INFO] rollback success!"`
                : 'echo "[ERROR] no backup"; exit 1';
            const script = `#!/bin/bash
if [[ " $* " == *" --rollback "* ]]; then ${back}; exit 0; fi
rm -f ${jars}/*.jar; touch ${jars}/sequoiacm-config-server-3.2.0.jar
echo "[INFO] upgrade success!"
`;
            fs.writeFileSync(path.join(h.pkg, "scmupgrade.py"), script, { mode: 0o755 });
            doc = DOWN_NESTED_UP;
            const r = await bash(h.text);
            expect(r.status).toBe(1);
            const { values } = parseMarkers(r.stdout);
            expect(values["version-before"]).toBe(mixed ? "mixed" : "3.1.2");
            expect(values.reason).toBe(`nodes ${port} not healthy on the 3.2 endpoints within 2s${said}`);
            expect(values["rolled-back"]).toBe(rollsBack ? "3.1.2" : "3.2.0");
        }
    });

    test("rollbackOnHealthFailure: the node stopped before the upgrade is stopped again after the vendor rollback started it", async () => {
        const stopped = port + 1;
        const h = fakeHost({ version: "3.1.2", running: true, confPorts: [stopped], rollbackOnHealthFailure: true });
        const jars = shQuote(path.join(h.svc, "jars"));
        const both = `printf '%s\\n' ${port} ${stopped} > ${shQuote(path.join(h.bin, "running"))}`;
        const script = `#!/bin/bash\nif [[ " $* " == *" --rollback "* ]]; then mv ${jars}/*.jar ${jars}/sequoiacm-config-server-3.1.2.jar; ${both}; echo "[INFO] rollback success!"; exit 0; fi\nmv ${jars}/*.jar ${jars}/sequoiacm-config-server-3.2.0.jar\n${both}\necho "[INFO] upgrade success!"\n`;
        fs.writeFileSync(path.join(h.pkg, "scmupgrade.py"), script, { mode: 0o755 });
        doc = DOWN_NESTED_UP;
        const r = await bash(h.text);
        expect(r.status).toBe(1);
        expect(parseMarkers(r.stdout).values["rolled-back"]).toBe("3.1.2");
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe(String(port));
    });

    test("upgrade: an UP document passes; the running nodes are recorded for a later resume", async () => {
        const h = fakeHost({ version: "3.1.2", running: true });
        const r = await bash(h.text);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(parseMarkers(r.stdout).values).toMatchObject({ result: "upgraded", "version-after": "3.2.0", "running-before": `${port}` });
        expect(fs.readFileSync(path.join(h.pkg, ".scm-upgrade", "sequoiacm-config-3.2.0.running"), "utf8")).toBe(`${port}\n`);
        // finished: the mark gone, the upgrade marked done (a later rollback by hand is told from a failed attempt)
        expect(fs.readdirSync(path.join(h.pkg, ".scm-upgrade")).sort()).toEqual(["sequoiacm-config-3.2.0.finished", "sequoiacm-config-3.2.0.running"]);
    });

    test("upgrade with every configured node running: the control script is asked once what runs, nothing is stopped", async () => {
        const h = fakeHost({ version: "3.1.2", running: true });
        const r = await bash(h.text);
        expect(parseMarkers(r.stdout).values).toMatchObject({ result: "upgraded", "running-before": `${port}` });
        expect(h.calls()).toEqual(["list -m run"]);
    });

    test("upgrade: a configured node that was stopped before is stopped again after --start started it", async () => {
        const stopped = port + 1;
        const h = fakeHost({ version: "3.1.2", running: true, confPorts: [stopped] });
        // --start starts every node of the service
        const script = `#!/bin/bash\nmv ${shQuote(h.svc)}/jars/*.jar ${shQuote(h.svc)}/jars/sequoiacm-config-server-3.2.0.jar\nprintf '%s\\n' ${port} ${stopped} > ${shQuote(path.join(h.bin, "running"))}\necho "[INFO] upgrade success!"\n`;
        fs.writeFileSync(path.join(h.pkg, "scmupgrade.py"), script, { mode: 0o755 });
        const r = await bash(h.text);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(r.stdout).toContain(`stopping node ${stopped}: it was not running before`);
        expect(h.calls()).toEqual(["list -m run", "list -m run", `stop -p ${stopped}`]);
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe(String(port));
    });

    test("the health gate polls at once, then every 0.05 s for 40 polls, every 0.1 s for 80 more, then every second", async () => {
        const h = fakeHost({ version: "3.1.2", running: true, healthTimeoutSeconds: 120 });
        downForRequests = 122;
        // a `sleep` that records how long the gate would wait, and returns at once
        const fake = fs.mkdtempSync(path.join(os.tmpdir(), "scm-sleep-"));
        fs.writeFileSync(path.join(fake, "sleep"), `#!/bin/bash\necho "$*" >> ${shQuote(path.join(fake, "log"))}\n`, { mode: 0o755 });
        const r = await bash(h.text, { PATH: `${fake}:${process.env.PATH}` });
        expect(parseMarkers(r.stdout).values.result).toBe("upgraded");
        // 122 polls answered DOWN, the 123rd UP: a sleep between each two, none before the first
        expect(requests.length).toBe(123);
        expect(fs.readFileSync(path.join(fake, "log"), "utf8").split("\n").filter(Boolean)).toEqual([
            ...Array(40).fill("0.05"),
            ...Array(80).fill("0.1"),
            "1",
            "1",
        ]);
    });

    test("at the target, running and healthy: skipped, scmupgrade.py not run, nothing started", async () => {
        const h = fakeHost({ version: "3.2.0", running: true });
        const r = await bash(h.text);
        expect(r.status).toBe(0);
        expect(parseMarkers(r.stdout).values).toMatchObject({ result: "skipped", "version-before": "3.2.0", "version-after": "3.2.0" });
        expect(fs.existsSync(h.ran)).toBe(false);
        expect(h.calls().filter((c) => c.startsWith("start"))).toEqual([]);
    });

    test("an earlier attempt cut off after scmupgrade.py (its mark left): the node --start started that did not run before is stopped again, then gated", async () => {
        const stopped = port + 1;
        const h = fakeHost({ version: "3.2.0", running: true, confPorts: [stopped] });
        // What the cut-off attempt left: the record (only $port ran before), its mark, and both nodes running.
        const staging = path.join(h.root, "opt", "scm_upgrade");
        fs.mkdirSync(path.join(h.pkg, ".scm-upgrade"));
        fs.writeFileSync(path.join(h.pkg, ".scm-upgrade", "sequoiacm-config-3.2.0.running"), `${port}\n`);
        fs.writeFileSync(unfinishedMark(staging, "sequoiacm-config", "3.2.0"), "");
        fs.writeFileSync(path.join(h.bin, "running"), `${port}\n${stopped}\n`);
        const r = await bash(h.text);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(r.stdout).toContain("an earlier attempt on config-server did not finish after scmupgrade.py: putting back the nodes that ran before it");
        expect(r.stdout).toContain(`stopping node ${stopped}: it was not running before`);
        expect(parseMarkers(r.stdout).values).toMatchObject({ result: "started", "version-after": "3.2.0" });
        expect(fs.existsSync(h.ran)).toBe(false);
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe(String(port));
        expect(requests.length).toBeGreaterThan(0);
        expect(fs.existsSync(unfinishedMark(staging, "sequoiacm-config", "3.2.0"))).toBe(false);
        // Finished now: the next run finds nothing to do, and a node started by hand since is left running.
        fs.writeFileSync(path.join(h.bin, "running"), `${port}\n${stopped}\n`);
        const again = await bash(h.text);
        expect(parseMarkers(again.stdout).values.result).toBe("skipped");
        expect(again.stdout).not.toContain("stopping node");
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim().split("\n")).toEqual([String(port), String(stopped)]);
    });

    test("at the target but not running: started with the control script, gated, result started", async () => {
        const h = fakeHost({ version: "3.2.0", running: false });
        const r = await bash(h.text);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(parseMarkers(r.stdout).values).toMatchObject({ result: "started", started: String(port), "version-after": "3.2.0" });
        expect(h.calls()).toContain(`start -p ${port}`);
        expect(fs.existsSync(h.ran)).toBe(false);
        expect(requests).toContain("/internal/v1/health");
    });

    test("at the target, not running, and its start fails: fails naming the node", async () => {
        const h = fakeHost({ version: "3.2.0", running: false });
        fs.writeFileSync(path.join(h.bin, "startfails"), "");
        const r = await bash(h.text);
        expect(r.status).toBe(1);
        expect(parseMarkers(r.stdout).values.reason).toBe(`node ${port} of config-server on C is at 3.2.0 but does not start (control script exit status 8)`);
    });

    test("at the target, running but DOWN with nested UP: never skipped, fails naming the node", async () => {
        const h = fakeHost({ version: "3.2.0", running: true });
        doc = DOWN_NESTED_UP;
        const r = await bash(h.text);
        expect(r.status).toBe(1);
        expect(parseMarkers(r.stdout).values.reason).toBe(`nodes ${port} of config-server on C are at 3.2.0 but not healthy on /internal/v1/health within 2s`);
        expect(parseMarkers(r.stdout).values.result).toBe("failed");
    });

    test("healthStableSeconds: a node that answers UP, then DOWN 0.7 s later fails after its gate passed, naming what it answered", async () => {
        const h = fakeHost({ version: "3.1.2", running: true, healthStableSeconds: 3 });
        // DOWN from 0.7 s after the first health request the gate made (answered UP).
        const watch = setInterval(() => {
            if (!requests.length) return;
            clearInterval(watch);
            setTimeout(() => (doc = DOWN_NESTED_UP), 700);
        }, 20);
        const r = await bash(h.text);
        clearInterval(watch);
        expect(r.status).toBe(1);
        const m = parseMarkers(r.stdout).values;
        expect(m["version-after"]).toBe("3.2.0");
        expect(m.reason).toMatch(
            new RegExp(
                `^node ${port} of config-server on C was healthy, then status DOWN on /internal/v1/health [0-2]s later: it must stay healthy 3s after its health gate \\(healthStableSeconds\\)$`,
            ),
        );
        expect(r.stdout).not.toContain("SCMUP result=upgraded");
    });

    test("healthStableSeconds: a node that stays UP passes after that long; without it the script text has no such wait", async () => {
        const h = fakeHost({ version: "3.1.2", running: true, healthStableSeconds: 2 });
        const t0 = Date.now();
        const r = await bash(h.text);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(parseMarkers(r.stdout).values.result).toBe("upgraded");
        expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
        expect(fakeHost({ version: "3.1.2", running: true }).text).not.toContain("hold");
    });

    test("a node stopped before the upgrade stays stopped on a resumed run (the record says which nodes run)", async () => {
        const h = fakeHost({ version: "3.2.0", running: false });
        fs.mkdirSync(path.join(h.pkg, ".scm-upgrade"));
        fs.writeFileSync(path.join(h.pkg, ".scm-upgrade", "sequoiacm-config-3.2.0.running"), "");
        const r = await bash(h.text);
        expect(parseMarkers(r.stdout).values.result).toBe("skipped");
        expect(h.calls().filter((c) => c.startsWith("start"))).toEqual([]);
    });

    test("a control script whose list fails (exit 127: its Java not found): the script stops, naming it, before scmupgrade.py; no node is stopped", async () => {
        const h = fakeHost({ version: "3.1.2", running: true });
        fs.writeFileSync(path.join(h.bin, "listfails"), "");
        const r = await bash(h.text);
        expect(r.status).toBe(1);
        const { values } = parseMarkers(r.stdout);
        expect(values.result).toBe("failed");
        expect(values.reason).toBe(
            `${path.join(h.svc, "bin", "confctl.sh")} list -m run on C failed (its last lines are above): which nodes of config-server run cannot be told, so the script stops here; fix the control script, then run again`,
        );
        expect(r.stderr).toContain("    | confctl.sh: line 12: java: command not found\n    (exit status 127)");
        expect(fs.existsSync(h.ran)).toBe(false);
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe(String(port));
        // At the target, the same: it is not taken for "no node must run".
        const at = fakeHost({ version: "3.2.0", running: true });
        fs.writeFileSync(path.join(at.bin, "listfails"), "");
        const s = await bash(at.text);
        expect([s.status, parseMarkers(s.stdout).values.result]).toEqual([1, "failed"]);
    });

    test.each([
        ["with its mark", true],
        ["without a mark, as an older scm-upgrade left it", false],
    ])(
        "a retry after an attempt that stopped the nodes and failed, install intact, its record %s: the nodes that ran before the first attempt run afterwards",
        async (_how, marked) => {
            // The first attempt's `stop all` stopped the node, then the vendor script failed before replacing anything.
            const h = fakeHost({ version: "3.1.2", running: false });
            fs.mkdirSync(path.join(h.pkg, ".scm-upgrade"));
            fs.writeFileSync(path.join(h.pkg, ".scm-upgrade", "sequoiacm-config-3.2.0.running"), `${port}\n`);
            if (marked) fs.writeFileSync(unfinishedMark(path.dirname(h.pkg), "sequoiacm-config", "3.2.0"), "");
            // A record an earlier upgrade (to another version) left in the same staging folder says nothing of this one.
            fs.writeFileSync(path.join(h.pkg, ".scm-upgrade", "sequoiacm-config-3.1.2.running"), `${port + 7}\n`);
            const r = await bash(h.text);
            expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
            expect(parseMarkers(r.stdout).values).toMatchObject({ result: "upgraded", "running-before": `${port}` });
            expect(r.stdout).not.toContain("stopping node");
            expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe(String(port));
            expect(requests.length).toBeGreaterThan(0);
        },
    );

    test("an upgrade that finished, undone since by the vendor's rollback by hand, then its node stopped on purpose: the next upgrade leaves it stopped", async () => {
        const h = fakeHost({ version: "3.1.2", running: true });
        const first = await bash(h.text);
        expect(parseMarkers(first.stdout).values).toMatchObject({ result: "upgraded", "running-before": `${port}` });
        // By hand: the vendor's rollback puts 3.1.2 back; then the node is stopped on purpose.
        fs.renameSync(path.join(h.svc, "jars", "sequoiacm-config-server-3.2.0.jar"), path.join(h.svc, "jars", "sequoiacm-config-server-3.1.2.jar"));
        fs.writeFileSync(path.join(h.bin, "running"), "");
        const r = await bash(h.text);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(parseMarkers(r.stdout).values).toMatchObject({ result: "upgraded", "running-before": "none" });
        // scmupgrade.py --start started it; it is stopped again, as it was
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe("");
        expect(h.calls()).toContain(`stop -p ${port}`);
    });
});

describe("the rollback: the run state put back, then a health gate on the source version's endpoint", () => {
    /** The host's install at 3.2.0, whose scmupgrade.py --rollback puts 3.1.2 back and starts `started`. */
    /** `record`: the upgrade's record of running nodes; `cutOff`: its unfinished mark too (cut off after --start). */
    function rolledBackHost(o: { confPorts?: number[]; started: number[]; record?: string; cutOff?: boolean }) {
        const h = fakeHost({ version: "3.2.0", running: true, confPorts: o.confPorts });
        const staging = path.join(h.root, "opt", "scm_upgrade");
        if (o.record !== undefined) {
            fs.mkdirSync(path.join(h.pkg, ".scm-upgrade"));
            fs.writeFileSync(path.join(h.pkg, ".scm-upgrade", "sequoiacm-config-3.2.0.running"), o.record);
            if (o.cutOff) fs.writeFileSync(unfinishedMark(staging, "sequoiacm-config", "3.2.0"), "");
        }
        const jars = shQuote(path.join(h.svc, "jars"));
        const script = `#!/bin/bash\necho "$@" >> ${shQuote(h.ran)}\nmv ${jars}/*.jar ${jars}/sequoiacm-config-server-3.1.2.jar\nprintf '%s\\n' ${o.started.join(" ")} > ${shQuote(path.join(h.bin, "running"))}\necho "[INFO] rollback success!"\n`;
        fs.writeFileSync(path.join(h.pkg, "scmupgrade.py"), script, { mode: 0o755 });
        const text = renderServiceRollback({
            host: "C",
            healthAddress: "127.0.0.1",
            installRoot: path.join(h.root, "opt", "sequoiacm"),
            stagingDir: staging,
            installUser: os.userInfo().username,
            become: "login",
            sourceVersion: "3.1.2",
            targetVersion: "3.2.0",
            service: serviceFilesOf("config-server"),
            healthTimeoutSeconds: 2,
        });
        const left = () => (fs.existsSync(path.join(h.pkg, ".scm-upgrade")) ? fs.readdirSync(path.join(h.pkg, ".scm-upgrade")) : []);
        return { ...h, text, upgrade: h.text, left };
    }

    test("a node stopped before the upgrade is stopped again after --rollback --start; the others gated on 3.1's /health; the upgrade's record and mark go", async () => {
        const stopped = port + 1;
        const h = rolledBackHost({ confPorts: [stopped], started: [port, stopped], record: `${port}\n`, cutOff: true });
        const r = await bash(h.text);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(parseMarkers(r.stdout).values).toMatchObject({ result: "rolled-back", "version-before": "3.2.0", "version-after": "3.1.2" });
        expect(r.stdout).toContain(`stopping node ${stopped}: it was not running before`);
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe(String(port));
        expect(new Set(requests)).toEqual(new Set(["/health"]));
        expect(h.left()).toEqual([]);
    });

    test("after an upgrade cut off after its --start (every node runs, the mark is there): the node stopped before is stopped again", async () => {
        const stopped = port + 1;
        const h = rolledBackHost({ confPorts: [stopped], started: [port, stopped], record: `${port}\n`, cutOff: true });
        fs.writeFileSync(path.join(h.bin, "running"), `${port}\n${stopped}\n`);
        const r = await bash(h.text);
        expect({ status: r.status, result: parseMarkers(r.stdout).values.result }).toEqual({ status: 0, result: "rolled-back" });
        expect(r.stdout).toContain(`stopping node ${stopped}: it was not running before`);
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe(String(port));
    });

    test("a node that ran before the upgrade and is down now (why the rollback) runs afterwards", async () => {
        const h = rolledBackHost({ started: [port], record: `${port}\n` });
        fs.writeFileSync(path.join(h.bin, "running"), "");
        const r = await bash(h.text);
        expect(parseMarkers(r.stdout).values.result).toBe("rolled-back");
        expect(r.stdout).not.toContain("stopping node");
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe(String(port));
    });

    test("no record (an upgrade by other means): every node stays as the vendor started it, and is gated", async () => {
        const h = rolledBackHost({ started: [port] });
        const r = await bash(h.text);
        expect({ status: r.status, result: parseMarkers(r.stdout).values.result }).toEqual({ status: 0, result: "rolled-back" });
        expect(h.calls().filter((c) => c.startsWith("stop"))).toEqual([]);
        expect(requests.length).toBeGreaterThan(0);
    });

    test("nodes that do not come up after the rollback: it fails naming them; the next rollback finishes it (the jars are back: no vendor script again)", async () => {
        const stopped = port + 1;
        const h = rolledBackHost({ confPorts: [stopped], started: [port, stopped], record: `${port}\n` });
        doc = DOWN_NESTED_UP;
        const r = await bash(h.text);
        expect(r.status).toBe(1);
        const { values } = parseMarkers(r.stdout);
        expect(values["version-after"]).toBe("3.1.2");
        expect(values.reason).toBe(`rolled back to 3.1.2, but nodes ${port} of config-server on C are not healthy on /health within 2s`);
        expect(h.left().sort()).toEqual(["sequoiacm-config-3.2.0.rollback", "sequoiacm-config-3.2.0.running"]);
        // As after a rollback cut off there: the node the vendor started runs again.
        fs.writeFileSync(path.join(h.bin, "running"), `${port}\n${stopped}\n`);
        doc = UP_DOC;
        const again = await bash(h.text);
        expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: "" });
        expect(again.stdout).toContain(
            "an earlier rollback of config-server did not finish after scmupgrade.py --rollback: putting back the nodes that ran before it",
        );
        expect(parseMarkers(again.stdout).values).toMatchObject({ result: "rolled-back", "version-before": "3.1.2", "version-after": "3.1.2" });
        expect(again.stdout).toContain(`stopping node ${stopped}: it was not running before`);
        expect(fs.readFileSync(h.ran, "utf8").trim().split("\n")).toHaveLength(1);
        expect(h.left()).toEqual([]);
    });

    test("a finished upgrade's rollback that failed at its gate, then an upgrade instead: the node that ran before the first upgrade runs afterwards", async () => {
        const h = rolledBackHost({ started: [port], record: `${port}\n` });
        fs.writeFileSync(finishedMark(path.join(h.root, "opt", "scm_upgrade"), "sequoiacm-config", "3.2.0"), "");
        doc = DOWN_NESTED_UP;
        const r = await bash(h.text);
        expect([r.status, parseMarkers(r.stdout).values["version-after"]]).toEqual([1, "3.1.2"]);
        // The node went down after; the upgrade again, by the vendor's script, which starts it.
        fs.writeFileSync(path.join(h.bin, "running"), "");
        const jars = shQuote(path.join(h.svc, "jars"));
        fs.writeFileSync(
            path.join(h.pkg, "scmupgrade.py"),
            `#!/bin/bash\nmv ${jars}/*.jar ${jars}/sequoiacm-config-server-3.2.0.jar\necho ${port} >> ${shQuote(path.join(h.bin, "running"))}\necho "[INFO] upgrade success!"\n`,
            { mode: 0o755 },
        );
        doc = UP_DOC;
        const up = await bash(h.upgrade);
        expect({ status: up.status, stderr: up.stderr }).toEqual({ status: 0, stderr: "" });
        expect(parseMarkers(up.stdout).values.result).toBe("upgraded");
        expect(fs.readFileSync(path.join(h.bin, "running"), "utf8").trim()).toBe(String(port));
        expect(h.left().sort()).toEqual(["sequoiacm-config-3.2.0.finished", "sequoiacm-config-3.2.0.running"]);
    });

    test("already at the source: skipped, the vendor script not run", async () => {
        const h = rolledBackHost({ started: [port] });
        fs.renameSync(path.join(h.svc, "jars", "sequoiacm-config-server-3.2.0.jar"), path.join(h.svc, "jars", "sequoiacm-config-server-3.1.2.jar"));
        const r = await bash(h.text);
        expect(parseMarkers(r.stdout).values.result).toBe("skipped");
        expect(fs.existsSync(h.ran)).toBe(false);
    });
});

describe("the host's lock: one unpack, upgrade or rollback at a time on a host", () => {
    const sleepers: number[] = [];
    afterAll(() => {
        for (const pid of sleepers) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                // gone
            }
        }
    });
    const lockOf = (pkg: string) => hostLockPath(path.dirname(pkg));
    const lockFree = (lock: string) => execFileSync("bash", ["-c", `flock -n ${shQuote(lock)} true && echo free || echo held`], { encoding: "utf8" }).trim();

    test("an earlier run's script still at work: the node script waits for it (as long as the vendor steps, the health gate and the hold may take), then reads the install afresh (at the target: skipped, scmupgrade.py not run)", async () => {
        const h = fakeHost({ version: "3.1.2", running: true, healthTimeoutSeconds: 300, healthStableSeconds: 60 });
        const lock = lockOf(h.pkg);
        const began = path.join(h.root, "orphan-began");
        // The earlier run's script: holds the lock, finishes the upgrade 1.5 s later.
        const jar = (v: string) => shQuote(path.join(h.svc, "jars", `sequoiacm-config-server-${v}.jar`));
        const orphan = spawn("flock", [lock, "bash", "-c", `touch ${shQuote(began)}; sleep 1.5; mv ${jar("3.1.2")} ${jar("3.2.0")}`], { stdio: "ignore" });
        const ended = new Promise((r) => orphan.on("close", r));
        for (let i = 0; i < 100 && !fs.existsSync(began); i++) await new Promise((r) => setTimeout(r, 20));
        expect(fs.existsSync(began)).toBe(true);
        const t0 = Date.now();
        const r = await bash(h.text);
        await ended;
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(r.stdout).toContain(
            `an earlier run's script is still at work on C (an upgrade, rollback or staging): waiting for it to end, at most ${HOST_LOCK_WAIT_SECONDS + 300 + 60}s`,
        );
        expect(parseMarkers(r.stdout).values).toMatchObject({ result: "skipped", "version-before": "3.2.0" });
        expect(parseMarkers(r.stdout).values["waited-for-host-lock"]).toBeDefined();
        expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
        expect(fs.existsSync(h.ran)).toBe(false);
        expect(lockFree(lock)).toBe("free");
    });

    test("the nodes scmupgrade.py starts do not hold the lock after the script ends", async () => {
        const pidFile = path.join(os.tmpdir(), `scm-node-test-sleeper-${process.pid}`);
        const h = fakeHost({ version: "3.1.2", running: true });
        // The fake scmupgrade.py also leaves a long-lived process behind, as a started node does.
        fs.appendFileSync(path.join(h.pkg, "scmupgrade.py"), `sleep 60 >/dev/null 2>&1 &\necho $! > ${shQuote(pidFile)}\n`);
        const r = await bash(h.text);
        sleepers.push(Number(fs.readFileSync(pidFile, "utf8")));
        fs.rmSync(pidFile, { force: true });
        expect(parseMarkers(r.stdout).values.result).toBe("upgraded");
        expect(parseMarkers(r.stdout).values["waited-for-host-lock"]).toBeUndefined();
        expect(lockFree(lockOf(h.pkg))).toBe("free");
    });

    test("the unpack takes the same lock, and makes its file for the install user's scripts", () => {
        const unpack = renderUnpack({ stagingDir: "/opt/scm_upgrade", tarballPath: "/tmp/r.tgz", installUser: "scm", installGroup: "scm", become: "sudo" });
        expect(unpack).toContain(`lock=${shQuote(hostLockPath("/opt/scm_upgrade"))}`);
        expect(unpack.indexOf("flock -w")).toBeLessThan(unpack.indexOf('rm -rf -- "$pkg/package"'));
    });
});

describe("the newest scmupgrade.py (with --backup-path) after an earlier attempt left a completed backup", () => {
    /** A stand-in for the newest script: refuses when its backup folder holds a completed backup, as the vendor's does. */
    const latest = (svc: string, bin: string) => `#!/bin/bash
case "$1" in -h|--help) echo " --backup-path     : service backup path"; exit 0;; esac
args="$*"; echo "$args" >> ../ran
bp=service_tmp; set -- "$@"
while [ $# -gt 0 ]; do case "$1" in --backup-path) bp=$2; shift;; esac; shift; done
if [ -f "$bp/sequoiacm-config/backup/.backup_completed" ]; then echo "[ERROR] a backup exists in the specified backup directory:$bp/sequoiacm-config/backup"; exit 2; fi
mkdir -p "$bp/sequoiacm-config/backup" && touch "$bp/sequoiacm-config/backup/.backup_completed"
mv ${shQuote(svc)}/jars/*.jar ${shQuote(svc)}/jars/sequoiacm-config-server-3.2.0.jar
echo ${port} >> ${shQuote(path.join(bin, "running"))}
echo "[INFO] upgrade success!"
`;

    function withBackup(version: string) {
        const h = fakeHost({ version, running: true });
        fs.writeFileSync(path.join(h.pkg, "scmupgrade.py"), latest(h.svc, h.bin), { mode: 0o755 });
        fs.mkdirSync(path.join(h.pkg, "service_tmp", "sequoiacm-config", "backup"), { recursive: true });
        fs.writeFileSync(path.join(h.pkg, "service_tmp", "sequoiacm-config", "backup", ".backup_completed"), "");
        return h;
    }

    test("install intact: the run passes a fresh --backup-path and succeeds; the earlier backup stays", async () => {
        const h = withBackup("3.1.2");
        const r = await bash(h.text);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        const m = parseMarkers(r.stdout).values;
        expect(m.result).toBe("upgraded");
        expect(m["backup-path"]).toMatch(new RegExp(`^${h.pkg}/service_tmp/retry-\\d{8}T\\d{6}Z$`));
        expect(fs.readFileSync(path.join(h.root, "opt", "scm_upgrade", "ran"), "utf8")).toContain(`--backup-path ${m["backup-path"]} --start`);
        expect(fs.existsSync(path.join(h.pkg, "service_tmp", "sequoiacm-config", "backup", ".backup_completed"))).toBe(true);
        expect(fs.existsSync(path.join(m["backup-path"], "sequoiacm-config", "backup", ".backup_completed"))).toBe(true);
    });

    test("install half-replaced: refuses without running the script, naming the backup and the rollback", async () => {
        const h = withBackup("3.1.2");
        fs.writeFileSync(path.join(h.svc, "jars", "sequoiacm-config-server-3.2.0.jar"), "");
        const r = await bash(h.text);
        expect(r.status).toBe(1);
        const reason = parseMarkers(r.stdout).values.reason;
        expect(reason).toContain("config-server on C is half-replaced (installed: mixed)");
        expect(reason).toContain(`completed backup at ${h.pkg}/service_tmp/sequoiacm-config/backup`);
        expect(reason).toContain(`./scmupgrade.py --service config-server --install-path ${h.svc} --rollback --start`);
        expect(fs.existsSync(path.join(h.root, "opt", "scm_upgrade", "ran"))).toBe(false);
    });
});

describe("staging: the script's interpreter and one archive per service", () => {
    const me = os.userInfo().username;
    const group = execFileSync("id", ["-gn"], { encoding: "utf8" }).trim();

    /** A release tarball whose scmupgrade.py has the given text, and these archives in package/. */
    function release(script: string, archives: string[]) {
        const src = fs.mkdtempSync(path.join(os.tmpdir(), "scm-rel-"));
        fs.mkdirSync(path.join(src, "sequoiacm", "package"), { recursive: true });
        fs.writeFileSync(path.join(src, "sequoiacm", "scmupgrade.py"), script);
        for (const a of archives) fs.writeFileSync(path.join(src, "sequoiacm", "package", a), "");
        const tarball = path.join(src, "release.tar.gz");
        execFileSync("tar", ["-czf", tarball, "-C", src, "sequoiacm"]);
        return tarball;
    }
    const stage = (stagingDir: string, tarballPath: string) =>
        bash(renderUnpack({ host: "C", stagingDir, tarballPath, installUser: me, installGroup: group, become: "login" }));

    test("a Python 3 script under /usr/bin/python3 passes", async () => {
        const staging = fs.mkdtempSync(path.join(os.tmpdir(), "scm-stage-"));
        const r = await stage(staging, release("#!/usr/bin/python3\nimport sys\nprint('ok')\n", []));
        expect(r.status).toBe(0);
        expect(parseMarkers(r.stdout).checks).toEqual([{ name: "script-interpreter", status: "ok", detail: "#!/usr/bin/python3" }]);
        expect(fs.readdirSync(path.join(staging, "sequoiacm"))).not.toContain("__pycache__");
    });

    test("Python 2 code under a Python 3 interpreter: the real SyntaxError fails the staging, naming host, interpreter and fix", async () => {
        const staging = fs.mkdtempSync(path.join(os.tmpdir(), "scm-stage-"));
        const r = await stage(staging, release("#!/usr/bin/python3\nimport getopt\ntry:\n    pass\nexcept getopt.GetoptError, e:\n    pass\n", []));
        expect(r.status).toBe(1);
        const m = parseMarkers(r.stdout);
        expect(m.checks[0]).toMatchObject({ name: "script-interpreter", status: "fail" });
        expect(m.checks[0].detail).toMatch(/^C: \/usr\/bin\/python3 cannot compile it \(SyntaxError: /);
        expect(m.values.reason).toContain("host C: the staged scmupgrade.py cannot run: its first line is '#!/usr/bin/python3'");
        expect(m.values.reason).toContain(
            "Fix: install Python 2 as /usr/bin/python3 on C (the 3.2.0 scmupgrade.py is Python 2 code), or set upgradeScript to a newer scmupgrade.py that runs on Python 3",
        );
        expect(m.values.result).toBe("failed");
    });

    test("a missing interpreter fails the staging", async () => {
        const staging = fs.mkdtempSync(path.join(os.tmpdir(), "scm-stage-"));
        const r = await stage(staging, release("#!/nonexistent/bin/python\nprint('x')\n", []));
        expect(r.status).toBe(1);
        expect(parseMarkers(r.stdout).checks[0]).toEqual({ name: "script-interpreter", status: "fail", detail: "C: /nonexistent/bin/python does not exist" });
    });

    test("#!/usr/bin/env python3 (an interpreter with an argument) passes", async () => {
        const staging = fs.mkdtempSync(path.join(os.tmpdir(), "scm-stage-"));
        const r = await stage(staging, release("#!/usr/bin/env python3\nprint('x')\n", []));
        expect(parseMarkers(r.stdout).checks[0]).toEqual({ name: "script-interpreter", status: "ok", detail: "#!/usr/bin/env python3" });
    });

    test("re-staging a newer release leaves one archive per service; two in one release fail", async () => {
        const staging = fs.mkdtempSync(path.join(os.tmpdir(), "scm-stage-"));
        const py = "#!/usr/bin/python3\nprint('x')\n";
        expect((await stage(staging, release(py, ["sequoiacm-config-3.2.0-release.tar.gz", "sequoiacm-cloud-3.2.0-release.tar.gz"]))).status).toBe(0);
        // a backup of an earlier run must survive
        fs.mkdirSync(path.join(staging, "sequoiacm", "service_tmp", "sequoiacm-config", "backup"), { recursive: true });
        expect((await stage(staging, release(py, ["sequoiacm-config-3.2.1-release.tar.gz", "sequoiacm-cloud-3.2.1-release.tar.gz"]))).status).toBe(0);
        expect(fs.readdirSync(path.join(staging, "sequoiacm", "package")).sort()).toEqual([
            "sequoiacm-cloud-3.2.1-release.tar.gz",
            "sequoiacm-config-3.2.1-release.tar.gz",
        ]);
        expect(fs.existsSync(path.join(staging, "sequoiacm", "service_tmp", "sequoiacm-config", "backup"))).toBe(true);
        const two = await stage(staging, release(py, ["sequoiacm-config-3.2.0-release.tar.gz", "sequoiacm-config-3.2.1-release.tar.gz"]));
        expect(two.status).toBe(1);
        expect(parseMarkers(two.stdout).values.reason).toBe(
            "package/ holds 2 archives of sequoiacm-config: sequoiacm-config-3.2.0-release.tar.gz sequoiacm-config-3.2.1-release.tar.gz; scmupgrade.py would take whichever the directory lists first: keep one per service in the release",
        );
    });
});

describe("running nodes of every service are seen", () => {
    test("the list pattern matches S3-SERVER(16000) (pid) lines, and not stopped nodes", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-s3-"));
        const ctl = path.join(dir, "s3ctl.sh");
        fs.writeFileSync(ctl, "#!/bin/bash\nprintf 'S3-SERVER(16000) (31337)\\nS3-SERVER(16002) (-)\\nTotal:2\\n'\n", { mode: 0o755 });
        const r = await bash(`ctl=${shQuote(ctl)}\n${NODE_PORTS_FNS}\nrunning_ports; echo --; local_ports`);
        // one line of ports, each followed by a space (the form the node script matches " $p " against)
        expect(r.stdout).toBe("16000 --\n16000 16002 ");
    });

    test("conf_ports and file_ports: each port once, in numeric order; an empty record gives nothing", async () => {
        const install = fs.mkdtempSync(path.join(os.tmpdir(), "scm-conf-"));
        for (const d of ["content-server/15000", "other-server/15000", "content-server/9000", "content-server/800", "content-server/not-a-port"])
            fs.mkdirSync(path.join(install, "conf", d), { recursive: true });
        const record = path.join(install, "running");
        fs.writeFileSync(record, "8080\n8800\n");
        const empty = path.join(install, "empty");
        fs.writeFileSync(empty, "");
        const r = await bash(
            `install=${shQuote(install)}\nctl=/nonexistent\n${NODE_PORTS_FNS}\nconf_ports; echo -; local_ports; echo -; file_ports ${shQuote(record)}; echo -; file_ports ${shQuote(empty)}; echo -`,
        );
        expect(r.stdout).toBe("800 9000 15000 -\n800 9000 15000 -\n8080 8800 -\n-\n");
    });
});
