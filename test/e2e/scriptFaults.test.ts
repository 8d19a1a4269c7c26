import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planWaves } from "../../lib/plan";
import { AuditEntry, readAudit } from "../../sandbox/audit";
import { status } from "../../sandbox/cluster";
import { clearFaults, ServiceFault, setFault, setInterpreterFault } from "../../sandbox/faults";
import { renderUpgradeScript } from "../../sandbox/release";
import { describeWithProvider } from "../helpers/engine";
import { useStackSandbox } from "../helpers/stackSandbox";

/**
 * What the vendor's scmupgrade.py really does when a step fails (issue 13; reference section 3), through the
 * engine: `scm-upgrade` as a subprocess on one sandbox and one stack, each `up` stopped by the next fault, so
 * the runs chain and every node is upgraded once in the end:
 *
 *   3.2.0 script   interpreter check (exit 4) -> stop fails -> mv fails halfway -> tar fails -> start fails
 *   newest script  (upgradeScript, the preflight's second fix)  stop fails after its backup -> mv fails
 *                  halfway -> the documented refusal -> the vendor rollback it names -> the last node
 *
 * Each failure is placed on a standby node and each run resumes the one before: the run stops at the faulted
 * node (exit 1, named in the last line), nothing later in the plan is touched (the primary node of that service
 * included), and the next `up` starts at that node and runs no finished node again.
 */

const { sb, cli, config, configure } = useStackSandbox("script-faults", 100);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "scm-script-faults-"));
const timings: string[] = [];
afterAll(() => {
    fs.rmSync(scratch, { recursive: true, force: true });
    if (timings.length) process.stderr.write(`scriptFaults.test timings:\n  ${timings.join("\n  ")}\n`);
});

type Run = ReturnType<typeof cli> & { t: string };
/** `scm-upgrade up --yes`, with the time it started (audit entries from then on are this run's). */
function up(what: string): Run {
    const t = new Date().toISOString();
    const t0 = Date.now();
    const r = cli(["up", "--yes"]);
    timings.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s (exit ${r.code})`);
    return { ...r, t };
}

const key = (e: AuditEntry) => `${e.host}/${e.service}`;
const since = (t: string) => readAudit(sb.dir).filter((e) => e.time >= t);
/** The nodes whose scmupgrade.py (upgrade) began since `t`, in order. */
const upgraded = (t: string) =>
    since(t)
        .filter((e) => e.action === "upgrade" && e.outcome === "begin")
        .map(key);
const lastLine = (r: Run) => r.stderr.trim().split("\n").pop() ?? "";

/** Every node: version, pid and health, keyed host/service:port. */
async function snapshot(): Promise<Record<string, string>> {
    const st = await status({ dir: sb.dir });
    return Object.fromEntries(st.hosts.flatMap((h) => h.nodes.map((n) => [`${h.name}/${n.service}:${n.port}`, `${n.version} pid ${n.pid} ${n.health}`])));
}

describeWithProvider("the vendor script's failures through the engine, on one sandbox", () => {
    let order: string[];
    let initial: Record<string, string>;
    let t0: string;
    beforeAll(async () => {
        order = planWaves(config()).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
        initial = await snapshot();
        t0 = new Date().toISOString();
    });

    /**
     * The run stopped at `node` (exit 1, named in the last line) after upgrading `before` (in order, none of them
     * finished in an earlier run); every node after it in the plan, the other center's included, never touched.
     */
    async function expectStoppedAt(r: Run, node: string, before: string[]) {
        expect(r.code).toBe(1);
        expect(lastLine(r)).toContain(
            `The upgrade stopped at ${node} after ${before.length} node${before.length === 1 ? "" : "s"} upgraded in this run; later nodes were not touched.`,
        );
        expect(r.stderr).not.toMatch(/Preflight failed/);
        const later = order.slice(order.indexOf(node) + 1);
        expect(since(t0).filter((e) => later.includes(key(e)))).toEqual([]);
        const now = await snapshot();
        for (const [k, v] of Object.entries(initial)) if (later.includes(k.split(":")[0])) expect(`${k} ${now[k]}`).toBe(`${k} ${v}`);
    }
    /** Sets `fault` on `node`, runs `up` and clears the fault; the run must stop at `node` after `before`. */
    async function failAt(node: string, fault: ServiceFault, before: string[], what: string): Promise<Run> {
        const [host, service] = node.split("/");
        setFault(host, service, fault, sb.dir);
        const r = up(what);
        clearFaults({ host, service, dir: sb.dir });
        await expectStoppedAt(r, node, before);
        return r;
    }
    /** The audit's last line of `node`'s scmupgrade.py since `t`. */
    const endOf = (t: string, node: string) =>
        since(t)
            .filter((e) => e.action === "upgrade" && e.outcome !== "begin" && key(e) === node)
            .pop();

    test("3.2.0 on a host whose /usr/bin/python is Python 3: `up` exits 4 from the preflight naming host and fix; no node changed anywhere", async () => {
        expect(sb.state().script ?? "3.2.0").toBe("3.2.0");
        setInterpreterFault("B", "python3", sb.dir);
        const r = up("interpreter (exit 4)");
        // The first fix: Python 2 on B.
        clearFaults({ host: "B", dir: sb.dir });
        expect(r.code).toBe(4);
        expect(lastLine(r)).toMatch(
            /^error: Preflight failed on B: the staged release cannot run there; no node was upgraded\. host B: the staged scmupgrade\.py cannot run: .* cannot compile it \(SyntaxError: /,
        );
        expect(lastLine(r)).toContain(
            "Fix: install Python 2 as /proc/self/cwd/../../../usr/bin/python on B (the 3.2.0 scmupgrade.py is Python 2 code), or set upgradeScript to a newer scmupgrade.py that runs on Python 3.",
        );
        expect(since(t0)).toEqual([]);
        expect(await snapshot()).toEqual(initial);
    });

    test("stop fails with the nodes still listed (scmupgrade.py exit 1): the run stops at the standby D/cloud; the primary center untouched", async () => {
        const r = await failAt("D/cloud", { step: "stop" }, ["C/cloud"], "stop fails at D/cloud");
        expect(upgraded(r.t)).toEqual(["C/cloud", "D/cloud"]);
        expect(endOf(r.t, "D/cloud")).toMatchObject({ outcome: "failed", step: "stop", exitCode: 1, version: "3.1.2" });
        expect(r.stderr).toContain("[ERROR] stop node failed, check and re-execute the upgrade");
        expect(since(r.t).filter((e) => ["A", "B"].includes(e.host))).toEqual([]);
    });

    test("mv fails halfway through replace (exit 0, no success line): stops at the standby C/config-server, half-replaced; the resume ran no finished node", async () => {
        const r = await failAt(
            "C/config-server",
            { step: "replace", at: "middle" },
            ["D/cloud", "A/cloud", "B/cloud"],
            "resume + mv fails halfway at C/config-server",
        );
        expect(upgraded(r.t)).toEqual(["D/cloud", "A/cloud", "B/cloud", "C/config-server"]);
        expect(endOf(r.t, "C/config-server")).toMatchObject({ outcome: "failed", step: "replace", exitCode: 0 });
        expect(r.stderr).toContain("scmupgrade.py did not print upgrade success! (exit status 0)");
        // bin/ moved away, the old jars still there: half-replaced.
        expect(fs.existsSync(sb.ctl("C", "config-server"))).toBe(false);
        expect((await snapshot())["C/config-server:8190"]).toMatch(/^3\.1\.2 pid null -$/);
    });

    test("tar fails (exit 0, no success line): stops at the standby C/content-server; the half-replaced C/config-server completed by the resume", async () => {
        // The untar step runs mkdir, tar, chmod: the second one is tar.
        const r = await failAt("C/content-server", { step: "untar", at: 2 }, ["C/config-server", "A/config-server"], "resume + tar fails at C/content-server");
        expect(upgraded(r.t)).toEqual(["C/config-server", "A/config-server", "C/content-server"]);
        expect(endOf(r.t, "C/content-server")).toMatchObject({ outcome: "failed", step: "untar", exitCode: 0, version: "3.1.2" });
        expect(r.stderr).toContain("tar: injected failure");
        expect((await snapshot())["C/config-server:8190"]).toMatch(/^3\.2\.0 pid \d+ UP$/);
    });

    test("start fails (exit 1, files replaced): stops at the standby D/content-server", async () => {
        const r = await failAt("D/content-server", { step: "start" }, ["C/content-server", "A/content-server"], "resume + start fails at D/content-server");
        expect(upgraded(r.t)).toEqual(["C/content-server", "A/content-server", "D/content-server"]);
        expect(endOf(r.t, "D/content-server")).toMatchObject({ outcome: "failed", step: "start", exitCode: 1, version: "3.2.0" });
        expect(r.stderr).toContain("[ERROR] start node failed! check and restart node");
    });

    test("the newest script (upgradeScript, on a Python 3 /usr/bin/python): D/content-server is started, not upgraded again; stop fails after the backup at D/schedule-server", async () => {
        // The preflight's second fix: a newer scmupgrade.py, which runs on the Python 3 that B has again.
        const script = path.join(scratch, "scmupgrade.py");
        fs.writeFileSync(script, renderUpgradeScript("latest"));
        await configure({ upgradeScript: script });
        setInterpreterFault("B", "python3", sb.dir);
        const r = await failAt(
            "D/schedule-server",
            { step: "stop" },
            ["D/content-server", "B/content-server"],
            "newest script: resume + stop fails at D/schedule-server",
        );
        expect(upgraded(r.t)).toEqual(["B/content-server", "D/schedule-server"]);
        // D/content-server's files were replaced before its start failed: its nodes are started by the control script.
        const starts = since(r.t).filter((e) => key(e) === "D/content-server" && e.action === "start");
        expect(starts.length).toBeGreaterThan(0);
        expect(starts.map((e) => `${e.outcome} ${e.version}`)).toEqual(starts.map(() => "ok 3.2.0"));
        const begin = since(r.t).find((e) => e.action === "upgrade" && e.outcome === "begin" && key(e) === "D/schedule-server") as AuditEntry & {
            script?: string;
        };
        expect(begin.script).toBe("latest");
        expect(endOf(r.t, "D/schedule-server")).toMatchObject({ outcome: "failed", step: "stop", exitCode: 1, version: "3.1.2" });
        // It failed after its backup: the newest script would refuse (exit 2) to run as is.
        expect(fs.existsSync(path.join(sb.script("D"), "..", "service_tmp", "sequoiacm-schedule", "backup", ".backup_completed"))).toBe(true);
    });

    test("newest script, resumed: D/schedule-server backs up to a fresh --backup-path (never the script's exit 2); mv fails halfway at the primary B/schedule-server", async () => {
        const r = await failAt(
            "B/schedule-server",
            { step: "replace", at: "middle" },
            ["D/schedule-server"],
            "newest script: resume (fresh --backup-path) + mv fails halfway at B/schedule-server",
        );
        expect(upgraded(r.t)).toEqual(["D/schedule-server", "B/schedule-server"]);
        const begin = since(r.t).find((e) => e.action === "upgrade" && e.outcome === "begin" && key(e) === "D/schedule-server") as AuditEntry & {
            backupPath?: string;
        };
        expect(begin.backupPath).toMatch(/\/opt\/scm_upgrade\/sequoiacm\/service_tmp\/retry-\d{8}T\d{6}Z$/);
        expect(r.stderr).toMatch(
            /warning: backup:schedule-server: stale backup marker \S+\/service_tmp\/sequoiacm-schedule\/backup\/\.backup_completed: .*a newer one refuses to run over it \(the node script then backs up elsewhere\)/,
        );
        expect(endOf(r.t, "D/schedule-server")).toMatchObject({ outcome: "success", version: "3.2.0" });
        expect(endOf(r.t, "B/schedule-server")).toMatchObject({ outcome: "failed", step: "replace", exitCode: 0 });
    });

    let rollbackCommand = "";
    test("newest script, half-replaced over its completed backup: `up` stops at once with the documented message (no scmupgrade.py run, no loop)", async () => {
        const r = up("newest script: half-replaced B/schedule-server refused");
        await expectStoppedAt(r, "B/schedule-server", []);
        expect(since(r.t).filter((e) => e.action === "upgrade")).toEqual([]);
        const m =
            /schedule-server on B is half-replaced \(installed: 3\.1\.2, no control script\) after an earlier attempt that left a completed backup at \S+; this scmupgrade\.py refuses to run over it, and a fresh backup would save the broken install\. Restore the earlier install from that backup: (cd \S+ && \.\/scmupgrade\.py --service schedule-server --install-path \S+ --rollback --start); then run the upgrade again/.exec(
                r.stderr,
            );
        expect(m).not.toBeNull();
        rollbackCommand = m![1];
    });

    test("after the vendor rollback the message names, `up` upgrades the last node and succeeds: every node at 3.2.0, each upgraded to the end exactly once", async () => {
        const rb = await sb.ssh("B", rollbackCommand);
        expect(rb.stdout).toContain("[INFO] rollback success!");
        const r = up("newest script: after the vendor rollback, the last node");
        expect(r.code).toBe(0);
        expect(upgraded(r.t)).toEqual(["B/schedule-server"]);
        // Across the whole chain, every scmupgrade.py run: each failed node once more by the next run (the half-replaced
        // B/schedule-server after its vendor rollback), D/content-server not again (started), no finished node ever
        // again, and never the newest script's refusal (exit 2).
        expect(upgraded(t0)).toEqual([
            ...["C/cloud", "D/cloud", "D/cloud", "A/cloud", "B/cloud", "C/config-server", "C/config-server", "A/config-server"],
            ...["C/content-server", "C/content-server", "A/content-server", "D/content-server", "B/content-server"],
            ...["D/schedule-server", "D/schedule-server", "B/schedule-server", "B/schedule-server"],
        ]);
        expect(since(t0).filter((e) => e.exitCode === 2)).toEqual([]);
        const st = await status({ dir: sb.dir });
        for (const h of st.hosts)
            for (const n of h.nodes) expect(`${h.name}/${n.service}:${n.port} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service}:${n.port} 3.2.0 UP`);
    });
});
