import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { validateConfig, UpgradeConfig } from "../../lib/config/schema";
import { planToJson, planWaves, renderPlanTable, soakSettings, soakSteps } from "../../lib/plan";
import { buildNameIndex, childName, componentName, ROOT_NAME } from "../../lib/names";
import { classify, observe, RunObservations } from "../../engine/driver";
import { makeTranslator, ProgressEvent } from "../../engine/events";
import { renderSoakWatch, serviceFilesOf } from "../../lib/shell";
import { soakArgsFor } from "../../lib/nodeArgs";
import { buildRunModel, renderRunReport } from "../../report/run";
import { renderPlanHtml, renderPlanSvg } from "../../report/plan";
import { seedHosts } from "../helpers/seed";

const base = { package: { localPath: "/releases/sequoiacm-3.2.0-release.tar.gz" }, ssh: { user: "scmadmin", privateKeyFile: "/keys/id" }, hosts: seedHosts };
function config(extra: Record<string, unknown> = {}): UpgradeConfig {
    const r = validateConfig({ ...base, ...extra }, { fileExists: () => true, readable: () => true });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.config;
}
const problems = (extra: Record<string, unknown>) => {
    const r = validateConfig({ ...base, ...extra }, { fileExists: () => true, readable: () => true });
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};

describe("config soak", () => {
    test("off by default; the interval defaults to 10 s or the soak, whichever is shorter", () => {
        expect(config().soak).toBeUndefined();
        expect(config({ soak: { seconds: 600 } }).soak).toEqual({ seconds: 600, intervalSeconds: 10 });
        expect(config({ soak: { seconds: 5 } }).soak).toEqual({ seconds: 5, intervalSeconds: 5 });
        expect(config({ soak: { seconds: 600, intervalSeconds: 30 } }).soak).toEqual({ seconds: 600, intervalSeconds: 30 });
    });
    test("refused with clear errors", () => {
        expect(problems({ soak: { seconds: 0 } })).toEqual(["soak.seconds: 0 is out of range"]);
        expect(problems({ soak: { seconds: 1.5 } })).toEqual(["soak.seconds: 1.5 is out of range"]);
        expect(problems({ soak: { seconds: 60, intervalSeconds: 90 } })).toEqual(["soak.intervalSeconds: intervalSeconds 90 is longer than the soak (60 s)"]);
        expect(problems({ soak: { intervalSeconds: 5 } })).toEqual(["soak.seconds: is missing"]);
        expect(problems({ soak: { seconds: 60, interval: 5 } })[0]).toMatch(/^soak.interval: unknown key "interval"/);
        expect(problems({ soak: "10m" })).toEqual(['soak: must be an object, not the text "10m"']);
    });
});

describe("soak steps in the plan", () => {
    const c = config({ soak: { seconds: 600 } });
    const waves = planWaves(c);
    test("site-first: one before each primary wave, watching every standby node upgraded before it", () => {
        const soaks = soakSteps(waves, c.soak);
        expect(soaks.map((s) => `${s.beforeWave} ${s.id}: ${s.watch.map((n) => `${n.host}/${n.service}`).join(",")}`)).toEqual([
            "2 soak/cloud/primary: C/cloud,D/cloud",
            "4 soak/config-server/primary: C/cloud,D/cloud,C/config-server",
            "6 soak/content-server/primary/rootSite: C/cloud,D/cloud,C/config-server,C/content-server",
            "8 soak/content-server/primary/branchSite1: C/cloud,D/cloud,C/config-server,C/content-server,D/content-server",
            "10 soak/schedule-server/primary: C/cloud,D/cloud,C/config-server,C/content-server,D/content-server,D/schedule-server",
        ]);
        for (const s of soaks) expect(waves[s.beforeWave - 1].center).toBe("primary");
    });
    test("center-first content-server: one soak before the first primary site only", () => {
        const cf = config({ soak: { seconds: 60 }, sitePolicy: "center-first" });
        expect(soakSteps(planWaves(cf), cf.soak).map((s) => s.id)).toEqual([
            "soak/cloud/primary",
            "soak/config-server/primary",
            "soak/content-server/primary/rootSite",
            "soak/schedule-server/primary",
        ]);
    });
    test("none without settings; --soak overrides the seconds (0: off) and keeps the interval at most the soak", () => {
        expect(soakSteps(waves, undefined)).toEqual([]);
        expect(soakSettings(undefined, 600)).toEqual({ seconds: 600, intervalSeconds: 10 });
        expect(soakSettings({ seconds: 600, intervalSeconds: 30 }, 20)).toEqual({ seconds: 20, intervalSeconds: 20 });
        expect(soakSettings({ seconds: 600, intervalSeconds: 30 }, 0)).toBeUndefined();
        expect(soakSettings({ seconds: 600, intervalSeconds: 30 }, undefined)).toEqual({ seconds: 600, intervalSeconds: 30 });
        expect(() => soakSettings(undefined, -1)).toThrow(/whole number/);
    });
    test("table, JSON, SVG and HTML show each soak as its own step before its primary wave", () => {
        const soaks = soakSteps(waves, c.soak);
        const table = renderPlanTable(waves, soaks).split("\n");
        const at = table.findIndex((l) => l.startsWith("soak"));
        expect(table[at]).toMatch(/^soak\s+cloud\s+standby\s+-\s+soak 600 s \(every 10 s\): 2 standby nodes on C, D$/);
        expect(table[at + 1]).toMatch(/^2\s+cloud\s+primary/);
        expect(table.filter((l) => l.startsWith("soak")).length).toBe(5);
        expect(renderPlanTable(waves)).not.toContain("soak");
        expect(JSON.parse(planToJson(waves, soaks)).soaks.map((s: { id: string }) => s.id)).toEqual(soaks.map((s) => s.id));
        expect(JSON.parse(planToJson(waves)).soaks).toBeUndefined();
        const svg = renderPlanSvg(waves, soaks);
        for (const s of soaks) expect(svg).toContain(`data-soak="${s.id}" data-before-wave="${s.beforeWave}"`);
        expect(renderPlanSvg(waves)).not.toContain("data-soak");
        expect(renderPlanHtml(waves, { soaks })).toContain('data-soak-row="soak/cloud/primary"');
    });
});

describe("soak names, events and failure classification", () => {
    const c = config({ soak: { seconds: 15, intervalSeconds: 1 } });
    const soaks = soakSteps(planWaves(c), c.soak);
    const idx = buildNameIndex(c.hosts, false, ROOT_NAME, soaks);
    const watchC = childName.soakWatch(componentName.soak(ROOT_NAME, "cloud"), "C");
    const urn = (name: string) => `urn:pulumi:s::scm-upgrade::sequoiacm:upgrade:RollingUpgrade$sequoiacm:upgrade:Soak$command:remote:Command::${name}`;
    const failedOutput = `Process exited with status 1: running "bash -c 'x'":\nwatching C/cloud nodes 8080 for 15s, every 1s\nSCMUP soak-node=C/cloud:8080\nSCMUP soak-seen=answered status DOWN on /internal/v1/health\nSCMUP result=failed\nSCMUP reason=soak/cloud/primary: C/cloud node 8080 answered status DOWN on /internal/v1/health after 5s of the 15s soak; the primary center was not touched\n`;
    test("buildNameIndex maps each host's watch back to its soak", () => {
        expect(watchC).toBe("scm-soak-cloud-C-watch");
        expect(idx.get(watchC)).toEqual({ role: "soak", host: "C", soak: "soak/cloud/primary" });
        expect(idx.soaks.get(childName.soakWatch(componentName.soak(ROOT_NAME, "content-server", "branchSite1"), "D"))).toEqual({
            soak: "soak/content-server/primary/branchSite1",
            beforeWave: 8,
            host: "D",
            seconds: 15,
            nodes: ["D/cloud", "D/content-server"],
        });
        expect(buildNameIndex(c.hosts).get(watchC)).toBeUndefined();
    });
    test("a failed watch: exit 1 (upgrade-failed), naming the node and what was seen", () => {
        const seen: RunObservations = { failed: [], upgraded: [] };
        const ev = (e: object) => e as unknown as EngineEvent;
        observe(
            idx,
            seen,
            ev({ resOutputsEvent: { metadata: { op: "create", urn: urn("scm-C-cloud-run"), new: { outputs: { stdout: "SCMUP result=upgraded" } } } } }),
        );
        observe(
            idx,
            seen,
            ev({ resOutputsEvent: { metadata: { op: "create", urn: urn("scm-D-cloud-run"), new: { outputs: { stdout: "SCMUP result=upgraded" } } } } }),
        );
        observe(idx, seen, ev({ diagnosticEvent: { urn: urn(watchC), severity: "error", message: failedOutput } }));
        const e = classify(new Error("update failed"), "update failed", false, { stack: "prod" }, seen);
        expect(e.kind).toBe("upgrade-failed");
        expect(e.message).toBe(
            "The soak before cloud/primary failed: C/cloud:8080 answered status DOWN on /internal/v1/health. The run stopped after 2 nodes upgraded in this run; no node of that primary wave or later was touched. Find out why, then run `scm-upgrade up --stack prod` to soak again and resume.",
        );
    });
    test("progress events: planned in a preview, watching, passed, failed with the node", () => {
        const got: ProgressEvent[] = [];
        const pre = (op: string) => ({ resourcePreEvent: { metadata: { op, urn: urn(watchC) } } }) as unknown as EngineEvent;
        makeTranslator(idx, (e) => got.push(e), true)(pre("create"));
        const t = makeTranslator(idx, (e) => got.push(e), false);
        t(pre("same"));
        t(pre("create-replacement"));
        t({
            resOutputsEvent: {
                metadata: {
                    op: "create-replacement",
                    urn: urn(watchC),
                    new: { outputs: { stdout: "SCMUP polls=16\nSCMUP seconds=15\nSCMUP result=soaked\n" } },
                },
            },
        } as unknown as EngineEvent);
        t({ diagnosticEvent: { urn: urn(watchC), severity: "error", message: failedOutput } } as unknown as EngineEvent);
        const soakEvents = got.filter((e): e is Extract<ProgressEvent, { type: "soak" }> => e.type === "soak");
        expect(soakEvents.map((e) => `${e.soak} ${e.wave} ${e.host} ${e.status} ${e.nodes.join(",")} ${e.seconds}${e.node ? ` ${e.node}` : ""}`)).toEqual([
            "soak/cloud/primary 2 C planned C/cloud 15",
            "soak/cloud/primary 2 C watching C/cloud 15",
            "soak/cloud/primary 2 C passed C/cloud 15",
            "soak/cloud/primary 2 C failed C/cloud 15 C/cloud:8080",
        ]);
        expect(soakEvents[3].message).toMatch(/^soak\/cloud\/primary: C\/cloud node 8080 answered status DOWN/);
    });
});

describe("the soak's shell text", () => {
    const c = config({ soak: { seconds: 15, intervalSeconds: 1 } });
    const soak = soakSteps(planWaves(c), c.soak)[2];
    test("watches the host's standby services of the soak, for its time, at its interval; valid bash", () => {
        const a = soakArgsFor(c, soak, "C");
        expect(a.services.map((s) => s.service)).toEqual(["cloud", "config-server", "content-server"]);
        const text = renderSoakWatch(a);
        expect(text).toContain("seconds=15");
        expect(text).toContain("interval=1");
        expect(text).toContain("health_path=/internal/v1/health");
        expect(text).toContain("check_0; check_1; check_2");
        const inner = /^bash -c '([\s\S]*)'$/.exec(text)![1].replace(/'\\''/g, "'");
        execFileSync("bash", ["-n", "-c", inner]);
    });
    test("run against a healthy node: lasts its time to the tenth of a second (not up to a second less or more), health read at the start, every interval and at the end", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "scm-soak-watch-"));
        const server = http.createServer((_req, res) => res.end('{"status":"UP"}'));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        try {
            const cloud = serviceFilesOf("cloud");
            const a = { ...soakArgsFor(c, soak, "C"), services: [cloud], seconds: 2, intervalSeconds: 1, healthAddress: "127.0.0.1" };
            a.installRoot = path.join(root, "opt");
            a.stagingDir = path.join(root, "stage");
            fs.mkdirSync(path.join(a.installRoot, cloud.folder, cloud.jarDir), { recursive: true });
            fs.writeFileSync(path.join(a.installRoot, cloud.folder, cloud.jarDir, `${cloud.jarPrefixes[0]}3.2.0.jar`), "");
            fs.mkdirSync(path.join(a.stagingDir, "sequoiacm", ".scm-upgrade"), { recursive: true });
            fs.writeFileSync(
                path.join(a.stagingDir, "sequoiacm", ".scm-upgrade", `${cloud.folder}-${a.targetVersion}.running`),
                `${(server.address() as AddressInfo).port}\n`,
            );
            const inner = /^bash -c '([\s\S]*)'$/.exec(renderSoakWatch(a))![1].replace(/'\\''/g, "'");
            const t0 = Date.now();
            const out = await new Promise<string>((resolve, reject) =>
                execFile("bash", ["-c", inner], (e, stdout, stderr) => (e ? reject(new Error(stderr + stdout)) : resolve(stdout))),
            );
            const wall = (Date.now() - t0) / 1000;
            expect(out).toContain("SCMUP result=soaked");
            // At 0, 1 and 2 s (a loaded machine whose check takes over a second may merge two).
            expect(Number(/^SCMUP polls=(\d+)$/m.exec(out)![1])).toBeGreaterThanOrEqual(2);
            // Its time plus the last check: never less, and not a second more.
            const seconds = Number(/^SCMUP seconds=(\S+)$/m.exec(out)![1]);
            expect(seconds).toBeGreaterThanOrEqual(2);
            expect(seconds).toBeLessThan(2.8);
            expect(wall).toBeGreaterThanOrEqual(2);
        } finally {
            server.close();
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
    test("refuses a soak of no time", () => {
        expect(() => renderSoakWatch({ ...soakArgsFor(c, soak, "C"), seconds: 0 })).toThrow(/1 or more/);
        expect(() => renderSoakWatch({ ...soakArgsFor(c, soak, "C"), intervalSeconds: 0.5 })).toThrow(/whole number/);
        expect(serviceFilesOf("cloud").service).toBe("cloud");
    });
});

describe("the run report's soak bar", () => {
    const waves = planWaves(config());
    const t = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
    const soakEv = (host: string, status: string, s: number, extra: object = {}) => ({
        type: "soak",
        soak: "soak/cloud/primary",
        wave: 2,
        host,
        status,
        nodes: [`${host}/cloud`],
        seconds: 15,
        time: t(s),
        ...extra,
    });
    const events = [
        { type: "run-started", operation: "up", stack: "s", time: t(0) },
        soakEv("C", "watching", 10),
        soakEv("D", "watching", 10),
        soakEv("C", "passed", 25),
        soakEv("D", "failed", 15, { node: "D/cloud:8080", message: "D/cloud node 8080 answered status DOWN" }),
        { type: "run-finished", operation: "up", result: "failed", elapsedSeconds: 30, time: t(30) },
    ] as ProgressEvent[];
    test("one bar per soak, from its first watch to its last end, failed when one host failed", () => {
        const m = buildRunModel({ plan: waves, events });
        expect(m.soaks).toEqual([
            expect.objectContaining({
                id: "soak/cloud/primary",
                wave: 2,
                status: "failed",
                hosts: ["C", "D"],
                nodes: ["C/cloud", "D/cloud"],
                start: Date.parse(t(10)),
                end: Date.parse(t(25)),
            }),
        ]);
        const html = renderRunReport({ plan: waves, events });
        expect(html).toContain('data-soak="soak/cloud/primary" data-status="failed"');
        expect(html).toContain('data-soak-bar="soak/cloud/primary"');
        // The soak's row comes before its primary wave's group.
        expect(html.indexOf('data-soak-bar="soak/cloud/primary"')).toBeLessThan(html.indexOf('data-group="2"'));
        expect(html.indexOf('data-soak-bar="soak/cloud/primary"')).toBeGreaterThan(html.indexOf('data-group="1"'));
        expect(renderRunReport({ plan: waves, events: events.filter((e) => e.type !== "soak") })).not.toContain("data-soak-bar");
    });
});
