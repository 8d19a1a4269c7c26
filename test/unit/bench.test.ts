import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { validateConfig, UpgradeConfig } from "../../lib/config/schema";
import { nodeKey, planWaves, PlanNode, soakSteps } from "../../lib/plan";
import { AuditEntry } from "../../sandbox/audit";
import { batchTimes, checkBatches, handoverSeconds, maxOverlap, renderVariants, upgradeSpans } from "../../bench/variants";
import { scaledTopology } from "../../sandbox/topology";
import { ansibleDir, ansibleInventory, ansiblePlaybook, Inventory, Play, playbookNodeOrder, waveGroup, writeAnsibleFiles } from "../../bench/ansible/generate";
import { criticalPath, nodeShape, ratio, TARGETS } from "../../bench/critical";
import { cell, fig, na, ratioFigure, renderReport, Report, reportJson } from "../../bench/report";
import {
    floorOf,
    NODE_BUCKETS,
    NodeProfile,
    parseTrace,
    profileNodeScript,
    profileNodes,
    renderFloor,
    renderProfile,
    runPhases,
    sessionKind,
    traceBashrc,
    traceEnvScript,
} from "../../bench/profile";
import { hostLockLines } from "../../lib/shell";
import { seedHosts } from "../helpers/seed";

const files = { fileExists: () => true, readable: () => true };

function config(hosts: unknown[], extra: Record<string, unknown> = {}): UpgradeConfig {
    const r = validateConfig(
        {
            package: { remotePath: "/srv/sequoiacm-3.2.0-release.tar.gz" },
            ssh: { user: "scmadmin", port: 2222, privateKeyFile: "/keys/id_ed25519" },
            hosts,
            ...extra,
        },
        files,
    );
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.config;
}

const scaledHosts = (n: number) =>
    scaledTopology(n, 60).map((h) => ({
        name: h.name,
        address: h.address,
        center: h.center,
        services: h.services,
        ...(h.site ? { site: h.site, rootSite: !!h.rootSite } : {}),
    }));

const planOrder = (c: UpgradeConfig) => planWaves(c).flatMap((w) => w.nodes.map(nodeKey));

describe("critical path arithmetic", () => {
    const c = config(seedHosts);
    const waves = planWaves(c);
    const times: Record<string, number> = { cloud: 1.5, "config-server": 1.25, "content-server": 3, "schedule-server": 1 };
    const nodeSeconds = (n: PlanNode) => times[n.service];

    test("parallelism 1: staging once + the sum of every node's minimal time", () => {
        const cp = criticalPath({ stagingSeconds: 0.5, waves, parallelism: 1, nodeSeconds });
        // 4 cloud, 2 config, 4 content, 2 schedule nodes.
        expect(cp.wavesSeconds).toBeCloseTo(4 * 1.5 + 2 * 1.25 + 4 * 3 + 2 * 1);
        expect(cp.totalSeconds).toBeCloseTo(0.5 + 22.5);
        expect(cp.nodes).toBe(12);
        expect(cp.waves.map((w) => w.id)).toEqual(waves.map((w) => w.id));
        expect(cp.waves[0]).toEqual({ index: 1, id: "cloud/standby", seconds: 3 });
    });

    test("parallelism 2: a batch lasts as long as its slowest node", () => {
        const slowD = (n: PlanNode) => (n.host === "D" ? 5 : nodeSeconds(n));
        const cp = criticalPath({ stagingSeconds: 0, waves, parallelism: 2, nodeSeconds: slowD });
        // cloud/standby = C, D in one batch: max(1.5, 5); cloud/primary = A, B: 1.5; single-node waves as before.
        expect(cp.waves[0].seconds).toBe(5);
        expect(cp.waves[1].seconds).toBe(1.5);
        expect(cp.totalSeconds).toBeCloseTo(5 + 1.5 + 1.25 + 1.25 + 3 + 3 + 5 + 3 + 5 + 1);
    });

    test("a node without a time, or a negative staging time, is an error, not a zero", () => {
        expect(() => criticalPath({ stagingSeconds: 0, waves, parallelism: 1, nodeSeconds: () => NaN })).toThrow(/no minimal time for node C\/cloud/);
        expect(() => criticalPath({ stagingSeconds: -1, waves, parallelism: 1, nodeSeconds })).toThrow(/stagingSeconds/);
        expect(() => criticalPath({ stagingSeconds: 0, waves, parallelism: 0, nodeSeconds })).toThrow(/parallelism/);
    });

    test("node shapes ignore the order of node types; ratios need both sides", () => {
        expect(nodeShape("cloud", ["service-center", "gateway"])).toBe(nodeShape("cloud", ["gateway", "service-center"]));
        expect(ratio(23, 20)).toBeCloseTo(1.15);
        expect(ratio(undefined, 20)).toBeUndefined();
        expect(ratio(1, 0)).toBeUndefined();
    });
});

describe("the report never makes a figure up", () => {
    const NA = "command provider not installed: see README";
    const rep: Report = {
        machine: "test machine",
        slowSeconds: 1,
        method: ["m"],
        runs: [
            {
                hosts: 4,
                nodes: 12,
                waves: 10,
                criticalPath: fig(20),
                stagingSeconds: 0.02,
                wavesSeconds: 19.98,
                ours: na(NA),
                ansible: fig(50),
                scripts: fig(30),
                oursPeakRssMiB: na(NA),
            },
        ],
        planInProcessMs: fig(0.2),
        planCli: fig(2),
        planCliCold: fig(3),
        planCliPeakRssMiB: fig(170),
        previews: [
            { hosts: 200, seconds: na(NA), rssMiB: na(NA) },
            { hosts: 1000, seconds: fig(31), rssMiB: fig(390) },
        ],
        planHosts: 1000,
        providerKind: "offline stand-in",
        benchPeakRssMiB: 100,
        notes: [],
    };

    test("a missing figure stays n/a through the ratios, with its reason", () => {
        expect(ratioFigure(na(NA), fig(20))).toEqual(na(NA));
        expect(cell(ratioFigure(fig(50), fig(20)), (x) => x.toFixed(2))).toBe("2.50");
        const text = renderReport(rep);
        const line = (label: string) => text.split("\n").find((l) => l.startsWith(label)) ?? "";
        expect(line("scm-upgrade up wall time")).toContain(`n/a (${NA})`);
        expect(line("ours / critical path")).toContain(`n/a (${NA})`);
        expect(line("ours / critical path")).toContain(`<= ${TARGETS.oursOverCriticalPath}`);
        expect(line("ours / critical path")).toContain("not measured");
        expect(line("Ansible / critical path")).toContain("2.50");
        // per node over the critical path: (30 - 20) s over 12 nodes; n/a with the reason when `up` was not measured
        expect(line("[reference] scripts over the critical path, per node (ms)")).toMatch(/\s833$/);
        expect(line("  ours over the critical path, per node (ms)")).toContain(`n/a (${NA})`);
        expect(line("scm-upgrade up wall time, offline stand-in provider")).toContain(`n/a (${NA})`);
        expect(line("scm-upgrade plan, 1000 hosts, subprocess")).toContain("NOT met");
        expect(line("scm-upgrade preview --no-live, 200 hosts, offline stand-in provider")).toContain(`n/a (${NA})`);
        expect(line("scm-upgrade preview --no-live, 1000 hosts")).toMatch(/31\.00\s+<= 30 s\s+NOT met$/);
        expect(
            text
                .split("\n")
                .filter((l) => l.startsWith("peak RSS of that preview"))
                .pop(),
        ).toMatch(/390\s+<= 400 MiB\s+met$/);
        expect(text).toContain("[reference, NOT the tool]");
        // The heading names its column, nothing outside the repository (no issue numbers).
        const heading = text.split("\n").find((l) => l.includes("verdict")) ?? "";
        expect(heading).toMatch(/\btarget\s+verdict$/);
        expect(text).not.toMatch(/issue\s*#?\d/i);
    });

    test("with --runs, the up line says its figure is the median of that many runs", () => {
        const line = (text: string) => text.split("\n").find((l) => l.startsWith("scm-upgrade up wall time")) ?? "";
        expect(line(renderReport(rep))).toMatch(/^scm-upgrade up wall time, offline stand-in provider \(s\)/);
        expect(line(renderReport({ ...rep, upRuns: 1 }))).toMatch(/^scm-upgrade up wall time, offline stand-in provider \(s\)/);
        expect(line(renderReport({ ...rep, upRuns: 3 }))).toMatch(/^scm-upgrade up wall time, offline stand-in provider, median of 3 runs \(s\)/);
    });

    test("the engine's automatic logs, when they were on, are named beside the provider in the text and the JSON", () => {
        const on = { ...rep, providerKind: "official", engineLogs: true };
        const text = renderReport(on);
        expect(text).toMatch(/^scm-upgrade up wall time, official provider, Pulumi's automatic logs on \(s\)/m);
        expect(text).toMatch(/^scm-upgrade preview --no-live, 200 hosts, official provider, Pulumi's automatic logs on \(s\)/m);
        expect(renderReport(rep)).not.toContain("automatic logs");
        const j = reportJson(on) as { runs: { engineLogs: boolean }[]; previews: { engineLogs: boolean }[] };
        expect(j.runs[0].engineLogs).toBe(true);
        expect(j.previews.every((p) => p.engineLogs)).toBe(true);
        expect((reportJson(rep) as { previews: { engineLogs: boolean }[] }).previews[0].engineLogs).toBe(false);
    });

    test("a bench run with delayed ACKs off (--quickack) says so in its header, beside every figure of the tool, and in the JSON", () => {
        const q = { ...rep, network: "quickack" as const };
        const text = renderReport(q);
        expect(text).toMatch(/^network: a namespace of its own, its loopback route with quickack 1 .*not this machine's default$/m);
        expect(text).toMatch(/^scm-upgrade up wall time, offline stand-in provider, delayed ACKs off \(--quickack\) \(s\)/m);
        expect(text).toMatch(/^scm-upgrade preview --no-live, 200 hosts, offline stand-in provider, delayed ACKs off \(--quickack\)/m);
        expect((reportJson(q) as { network: string }).network).toBe("quickack");
        expect(renderReport(rep)).not.toMatch(/quickack/);
        expect((reportJson(rep) as { network: string }).network).toBe("default");
    });

    test("JSON: n/a is null with the reason beside it", () => {
        const j = reportJson(rep) as {
            runs: {
                oursSeconds: unknown;
                oursNotMeasured: string;
                ratios: Record<string, unknown>;
                oursOverPerNodeMs: unknown;
                scriptsOverPerNodeMs: number;
            }[];
            previews: { seconds: unknown; provider: string }[];
        };
        expect(j.runs[0].oursSeconds).toBeNull();
        expect(j.runs[0].oursNotMeasured).toBe(NA);
        expect(j.runs[0].ratios.oursOverCriticalPath).toBeNull();
        expect(j.runs[0].ratios.ansibleOverCriticalPath).toBe(2.5);
        expect(j.runs[0].scriptsOverPerNodeMs).toBeCloseTo(833.33, 2);
        expect(j.runs[0].oursOverPerNodeMs).toBeNull();
        expect(j.previews[0].seconds).toBeNull();
        expect(j.previews[1]).toMatchObject({ hosts: 1000, seconds: 31, peakRssMiB: 390, provider: "offline stand-in" });
    });
});

describe("the Ansible inventory and playbook follow planWaves", () => {
    test("seed topology: one play per wave, serial 1, its group's hosts in plan order", () => {
        const c = config(seedHosts);
        const waves = planWaves(c);
        const inv = ansibleInventory(c, waves, "/srv/sequoiacm-3.2.0-release.tar.gz");
        const book = ansiblePlaybook(waves, c.parallelism);
        expect(playbookNodeOrder(inv, book)).toEqual(planOrder(c));
        expect(book[0]).toEqual({ import_playbook: path.join(ansibleDir, "stage.yml") });
        const plays = book.slice(1) as Play[];
        expect(plays.map((p) => p.name)).toEqual(waves.map((w) => `wave ${w.index}/10: ${w.id}`));
        for (const p of plays) expect({ serial: p.serial, order: p.order, fatal: p.any_errors_fatal }).toEqual({ serial: 1, order: "inventory", fatal: true });
        expect(Object.keys(inv.all.children.wave_01.hosts)).toEqual(["C", "D"]);
        expect(inv.all.hosts.C).toEqual({
            ansible_host: "10.0.0.3",
            ansible_port: 2222,
            ansible_user: "scmadmin",
            ansible_ssh_private_key_file: "/keys/id_ed25519",
            installRoot: "/opt/sequoiacm",
            stagingDir: "/opt/scm_upgrade",
            center: "standby",
            services: ["cloud", "config-server", "content-server"],
            site: "rootSite",
            rootSite: true,
        });
        expect(inv.all.vars.scm_service_files["content-server"]).toMatchObject({ folder: "sequoiacm-content", jarDir: "lib", ctl: "scmctl.sh" });
        expect(inv.all.vars.scm_target_version).toBe("3.2.0");
    });

    test("parallelism 2 gives serial 2; the group names sort in plan order", () => {
        const c = config(seedHosts, { parallelism: 2 });
        const waves = planWaves(c);
        expect((ansiblePlaybook(waves, c.parallelism)[1] as Play).serial).toBe(2);
        expect(waveGroup({ index: 3 }, 120)).toBe("wave_003");
        const names = waves.map((w) => waveGroup(w, waves.length));
        expect([...names].sort()).toEqual(names);
    });

    test("the written YAML, read back, keeps the order (40 hosts, 5 sites)", () => {
        const c = config(scaledHosts(40));
        const waves = planWaves(c);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-bench-unit-"));
        try {
            const f = writeAnsibleFiles(dir, c, waves, "/srv/pkg.tar.gz");
            const inv = yaml.load(fs.readFileSync(f.inventory, "utf8")) as Inventory;
            const book = yaml.load(fs.readFileSync(f.playbook, "utf8")) as Play[];
            expect(playbookNodeOrder(inv, book)).toEqual(planOrder(c));
            expect(Object.keys(inv.all.hosts)).toHaveLength(40);
            expect(book).toHaveLength(waves.length + 1);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("the static role and staging play exist and use the inventory's variables", () => {
        const role = fs.readFileSync(path.join(ansibleDir, "roles", "scm_node_upgrade", "tasks", "main.yml"), "utf8");
        const defaults = fs.readFileSync(path.join(ansibleDir, "roles", "scm_node_upgrade", "defaults", "main.yml"), "utf8");
        const stage = fs.readFileSync(path.join(ansibleDir, "stage.yml"), "utf8");
        expect(yaml.load(role)).toEqual(expect.any(Array));
        expect(yaml.load(stage)).toEqual(expect.any(Array));
        expect(role).toContain("'upgrade success!' not in scm_upgrade.stdout");
        expect(role).toContain("when: scm_version_before != [scm_target_version]");
        expect(role).toMatch(/until:[\s\S]*Node-Status[\s\S]*retries:/);
        expect(defaults).toContain("scm_service_files[scm_service]");
        expect(stage).toContain("{{ scm_package_path }}");
        expect(stage).toContain("{{ stagingDir }}");
    });
});

describe("the profile of one node: a traced session joined with the tool's events", () => {
    const trace = [
        "+ 100.000000 42 bash -c 'set -u",
        "export LC_ALL=C'",
        "+ 100.010000 42 set -u",
        "+ 100.010100 42 host=C",
        "+ 100.010200 42 svc=cloud",
        "+ 100.010300 42 health_path=/internal/v1/health",
        "+ 100.010400 42 timeout=60",
        "++ 100.011000 42 installed_version /x",
        "+++ 100.012000 42 ls -1 /x/jars",
        "+ 100.030000 42 before=3.1.2",
        "++ 100.030000 42 running_ports",
        "++ 100.031000 42 /x/bin/ctl list -m run",
        "+ 100.130000 42 'must_run=8080 '",
        // its output held in a variable: the substitution's command one level deeper, then the assignment
        "++ 100.131000 42 ./scmupgrade.py --service cloud --install-path /x --start",
        "+ 101.130000 42 'out=[INFO] upgrade success!'",
        "+ 101.131000 42 rc=0",
        "++ 101.140000 42 gate 8080",
        "++ 101.141000 42 healthy 8080",
        "+++ 101.142000 42 curl -gsS -m 3 http://127.0.0.1:8080/internal/v1/health",
        "++ 101.160000 42 sleep 0.05",
        "++ 101.210000 42 healthy 8080",
        "+ 101.230000 42 sick=",
        "+ 101.240000 42 echo 'SCMUP result=upgraded'",
        "+ 101.250000 77 a line of another shell in the same file is not this session's",
    ].join("\n");
    const iso = (s: number) => new Date(s * 1000).toISOString();
    const events = [
        { type: "run-started", time: iso(90) },
        { type: "staging", host: "C", status: "staged", time: iso(99) },
        { type: "node", host: "C", service: "cloud", status: "upgrading", time: iso(99.5) },
        { type: "node", host: "C", service: "cloud", status: "healthy", time: iso(101.5) },
        { type: "run-finished", time: iso(102) },
    ];

    test("the session is a node's; its script time goes to version reads, list calls, scmupgrade.py and the gate", () => {
        const s = parseTrace(trace, 42);
        expect(sessionKind(s)).toBe("node");
        expect(s.lines.every((l) => l.t < 101.25)).toBe(true);
        const p = profileNodeScript(s);
        expect({ host: p.host, service: p.service, polls: p.polls, listCalls: p.listCalls }).toEqual({ host: "C", service: "cloud", polls: 2, listCalls: 1 });
        expect(p.ms["version reads (jar names)"]).toBeCloseTo(19, 3);
        expect(p.ms["control script list calls"]).toBeCloseTo(101, 3);
        expect(p.ms["scmupgrade.py (stop, replace, start, T)"]).toBeCloseTo(1000, 3);
        expect(p.ms["health gate: sleeps"]).toBeCloseTo(50, 3);
        expect(p.ms["health gate: polls"]).toBeCloseTo(50, 3);
        expect(p.firstPollDelayMs).toBeCloseTo(10, 3);
        // every ms of the script is in one bucket
        const sum = Object.values(p.ms).reduce((a, x) => a + x, 0);
        expect(sum).toBeCloseTo((101.24 - 100.01) * 1000, 3);
    });

    test("a trace that ends before the script's result line is refused, not profiled with the rest of the script in no bucket", () => {
        const cut = trace
            .split("\n")
            .filter((l) => !l.includes("SCMUP result="))
            .join("\n");
        expect(() => profileNodeScript(parseTrace(cut, 42))).toThrow("session 42: the node script's trace ends before its result line");
    });

    test("the trace set-up traces a script that takes the host's lock to its end (the lock's descriptor is not the trace's)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-trace-"));
        try {
            const traces = path.join(dir, "traces");
            fs.mkdirSync(traces);
            fs.writeFileSync(path.join(dir, "env.sh"), traceEnvScript(traces));
            fs.writeFileSync(path.join(dir, ".bashrc"), traceBashrc(path.join(dir, "env.sh")));
            const script = ['fail() { echo "$*"; exit 1; }', "host=A", ...hostLockLines(path.join(dir, "staging")), 'echo "SCMUP result=upgraded"'].join("\n");
            fs.mkdirSync(path.join(dir, "staging"));
            // as an SSH session runs it: a login shell that reads the .bashrc, then the script's own bash -c
            execFileSync("bash", ["-c", `. "${dir}/.bashrc"; bash -c "$1"`, "login", script], { env: { ...process.env, HOME: dir }, stdio: "ignore" });
            const sessions = fs.readdirSync(traces).map((f) => fs.readFileSync(path.join(traces, f), "utf8"));
            const inner = sessions.find((t) => t.includes("flock -n"));
            expect(inner).toBeDefined();
            expect(inner).toContain("echo 'SCMUP result=upgraded'");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("through the engine: the engine's gap, SSH and login, the script, and the way back add up to the node's time", () => {
        const [n] = profileNodes(events, [parseTrace(trace, 42)]);
        expect(n.node).toBe("C/cloud");
        expect(n.ms["engine: previous node recorded -> this node's command started"]).toBeCloseTo(500, 3);
        expect(n.ms["SSH dial, handshake, auth, session, login shell"]).toBeCloseTo(500, 3);
        expect(n.ms["login shell -> node script's bash -c running"]).toBeCloseTo(10, 3);
        expect(n.ms["script ended -> engine has the result"]).toBeCloseTo(260, 3);
        expect(n.totalMs).toBeCloseTo((101.5 - 99) * 1000, 3);
        const text = renderProfile({
            hosts: 4,
            slowSeconds: 0.5,
            upSeconds: 12,
            nodes: [n],
            phases: runPhases(events, 89, 103),
            minimalSeconds: { "C/cloud": 1.1 },
            load: "0.5",
            provider: "offline stand-in",
        });
        expect(text).toContain("offline stand-in command provider");
        expect(text).toMatch(/overhead over the minimal time\s+1400/);
        expect(text).toMatch(/CLI start, config, stack selected\s+1\.00/);
    });
});

describe("the floor of up: the critical path plus its parts, with no work of the tool's own", () => {
    // Two nodes whose buckets differ: the floor takes each part's mean, and nothing else of the node's time.
    const node = (name: string, ssh: number, list: number, gap: number, back: number): NodeProfile => {
        const ms = Object.fromEntries(NODE_BUCKETS.map((b) => [b, 1000])) as NodeProfile["ms"];
        ms["SSH dial, handshake, auth, session, login shell"] = ssh;
        ms["script: control script list calls"] = list;
        ms["engine: previous node recorded -> this node's command started"] = gap;
        ms["script ended -> engine has the result"] = back;
        return { node: name, totalMs: 0, ms, polls: 0, listCalls: 1, firstPollDelayMs: 0 };
    };
    const nodes = [node("C/cloud", 80, 50, 10, 20), node("D/cloud", 100, 70, 0, 10)];

    test("per node the SSH login, the control script's list and the engine's step; fixed the SDK, the CLI and two logins", () => {
        const f = floorOf(nodes, 2, 10, { sdkLoadSeconds: 0.5, cliStartSeconds: 0.6 });
        expect(f.perNodeMs).toBeCloseTo(90 + 60 + 5 + 15, 6);
        expect(f.rows.map((r) => r.seconds)).toEqual([10, 0.5, 0.6, expect.closeTo(0.18, 6), expect.closeTo(0.34, 6)]);
        expect(f.seconds).toBeCloseTo(10 + 0.5 + 0.6 + 0.18 + 0.34, 6);
        const text = renderFloor(f, 4);
        expect(text).toContain("2 nodes x 170 ms: SSH login 90, control-script list 60, engine step 20");
        expect(text).toMatch(/floor\s+11\.62 {2}= 1\.16 x the critical path \(target of `up`: <= 1\.15 x\)/);
    });
});

describe("up variants: audit spans, batches, soak handover (bench/variants.ts)", () => {
    const c = config(seedHosts);
    const waves = planWaves(c);
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
    const entry = (node: string, outcome: string, s: number): AuditEntry => {
        const [host, service] = node.split("/");
        return { time: at(s), host, service, user: "scmadmin", action: "upgrade", version: "3.1.2", outcome };
    };
    const spansOf = (list: [string, number, number][]) =>
        upgradeSpans(list.flatMap(([n, b, e]) => [entry(n, "begin", b), entry(n, "success", e)]).sort((x, y) => (x.time < y.time ? -1 : 1)));

    test("spans pair each begin with its end; overlap counts upgrades running at one moment (touching ends do not overlap)", () => {
        const s = spansOf([
            ["C/cloud", 0, 2],
            ["D/cloud", 1, 3],
            ["A/cloud", 3, 4],
        ]);
        expect(s).toEqual([
            { node: "C/cloud", begin: Date.parse(at(0)), end: Date.parse(at(2)) },
            { node: "D/cloud", begin: Date.parse(at(1)), end: Date.parse(at(3)) },
            { node: "A/cloud", begin: Date.parse(at(3)), end: Date.parse(at(4)) },
        ]);
        expect(maxOverlap(s)).toBe(2);
        expect(maxOverlap(s.slice(1))).toBe(1);
    });

    test("the batch check: the plan run node after node passes at parallelism 1; overlapping waves, too many at once, or a node missing fail", () => {
        const order = waves.flatMap((w) => w.nodes.map(nodeKey));
        const serial = spansOf(order.map((k, i) => [k, i * 2, i * 2 + 1]));
        expect(checkBatches(serial, waves, 1)).toEqual([]);
        // cloud/standby's two nodes at once: fine at parallelism 2, not at 1.
        const both = spansOf(order.map((k, i) => [k, i < 2 ? 0 : i * 2, i < 2 ? 1 : i * 2 + 1]));
        expect(checkBatches(both, waves, 2)).toEqual([]);
        expect(checkBatches(both, waves, 1)).toEqual([
            "2 upgrades ran at once (parallelism 1)",
            "cloud/standby batch 2 began 1000 ms before cloud/standby batch 1 ended",
        ]);
        // cloud/primary's first node begins before cloud/standby's last ended.
        const early = spansOf(order.map((k, i) => [k, i === 2 ? 2.5 : i * 2, i * 2 + 1]));
        expect(checkBatches(early, waves, 2)).toContain("cloud/primary batch 1 began 500 ms before cloud/standby batch 1 ended");
        expect(checkBatches(serial.slice(1), waves, 1)[0]).toBe(`not upgraded: ${order[0]}`);
    });

    test("where a run's time went: upgrades running per batch, and the gaps between batches", () => {
        const order = waves.flatMap((w) => w.nodes.map(nodeKey));
        // Parallelism 2: cloud/standby's C and D at once (0-2 s, 1-3 s); then every node 1 s long, 2 s apart,
        // so cloud/primary's A (5-6 s) and B (8-9 s) make one batch of 4 s; 8 one-node batches after it.
        const s = spansOf(order.map((k, i) => (i < 2 ? [k, i, i + 2] : [k, 3 * i - 1, 3 * i]) as [string, number, number]));
        expect(batchTimes(s, waves, 2)).toEqual({ running: 3 + 4 + 8, between: 2 + 2 * 8, batches: 10 });
    });

    test("soak handover: from the standby wave's last end to its primary wave's first begin", () => {
        const order = waves.flatMap((w) => w.nodes.map(nodeKey));
        const s = spansOf(order.map((k, i) => [k, i * 2 + (i >= 2 ? 10 : 0), i * 2 + 1 + (i >= 2 ? 10 : 0)]));
        const [cloud] = soakSteps(waves, { seconds: 10, intervalSeconds: 1 });
        expect(cloud.beforeWave).toBe(2);
        // cloud/standby ends at 3 s, cloud/primary begins at 14 s.
        expect(handoverSeconds(s, waves, cloud)).toBe(11);
        expect(handoverSeconds(s.slice(0, 2), waves, cloud)).toBeUndefined();
    });

    test("the variants section shows every figure with the load, or why there is none", () => {
        const text = renderVariants({
            loadAtStart: [1.5, 1, 0.5],
            loadAtEnd: [2, 1, 0.5],
            soak: {
                seconds: 5,
                intervalSeconds: 1,
                configuredTotal: 10,
                wallWith: fig(40.5),
                wallWithout: fig(30),
                soaks: [
                    { id: "soak/cloud/primary", withSoak: 6.2, without: 1.1, cost: 5.1, overhead: 0.1, watched: { C: 5, D: 5 } },
                    { id: "soak/config-server/primary", watched: {} },
                ],
            },
            parallel: {
                hosts: 40,
                parallelism: 3,
                criticalPath: fig(40),
                criticalPathSerial: fig(82.5),
                up: fig(50),
                maxOverlap: 3,
                problems: [],
                time: { running: 30, between: 12.5, batches: 24 },
            },
            backends: { na: "PostgreSQL: not installed" },
        });
        expect(text).toContain("load average 1.50 1.00 0.50 at their start, 2.00 1.00 0.50 at their end");
        expect(text).toContain("up --soak 5 40.5 s, up --soak 0 30.0 s: difference 10.5 s for 10 s configured (+0.50 s)");
        expect(text).toMatch(/soak\/cloud\/primary\s+6\.20\s+1\.10\s+5\.10\s+\+0\.10\s+C 5, D 5/);
        expect(text).toMatch(/soak\/config-server\/primary\s+-\s+-\s+-\s+-\s+-/);
        expect(text).toMatch(/scm-upgrade up, parallelism 3\s+50\.0\s+1\.25/);
        expect(text).toContain("audit: at most 3 upgrades at once; batches and waves never overlapped");
        expect(text).toContain("of the 50.0 s: 30.0 s with upgrades running (24 batches, first scmupgrade.py begun to last ended), 12.5 s between batches");
        expect(text).toContain("7.5 s before the first and after the last");
        expect(text).toContain("state in PostgreSQL: n/a (PostgreSQL: not installed)");
        const backends = renderVariants({ loadAtStart: [1, 1, 1], backends: { hosts: 4, file: fig(30), postgres: fig(36), fileAfter: fig(30) } });
        expect(backends).toMatch(/state in file:\/\/\s+30\.0\n/);
        expect(backends).toMatch(/state in PostgreSQL\s+36\.0\s+1\.20\n/);
        expect(backends).toMatch(/state in file:\/\/ again\s+30\.0$/);
    });
});
