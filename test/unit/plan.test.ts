import { validateConfig, UpgradeConfig } from "../../lib/config/schema";
import { batches, nodeKey, planToDot, planToJson, planToMermaid, planWaves, predecessorsOf, renderPlanTable, Wave } from "../../lib/plan";
import { seedHosts } from "../helpers/seed";

const files = { fileExists: () => true, readable: () => true };

function config(raw: Record<string, unknown>): UpgradeConfig {
    const r = validateConfig({ package: { remotePath: "/tmp/sequoiacm-3.2.0-release.tar.gz" }, ...raw }, files);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.config;
}

const seed = (extra: Record<string, unknown> = {}) => config({ hosts: seedHosts, ...extra });

/** `<id>: <hosts>` per wave, the shape the assertions read best in. */
const outline = (plan: Wave[]) => plan.map((w) => `${w.index} ${w.id}: ${w.nodes.map((n) => n.host).join(",")}`);

describe("the seed topology", () => {
    test("site-first (default): cloud C,D then A,B; config C then A; content C, A (root), D, B (branch); schedule D then B", () => {
        expect(outline(planWaves(seed()))).toEqual([
            "1 cloud/standby: C,D",
            "2 cloud/primary: A,B",
            "3 config-server/standby: C",
            "4 config-server/primary: A",
            "5 content-server/standby/rootSite: C",
            "6 content-server/primary/rootSite: A",
            "7 content-server/standby/branchSite1: D",
            "8 content-server/primary/branchSite1: B",
            "9 schedule-server/standby: D",
            "10 schedule-server/primary: B",
        ]);
    });

    test("center-first: content C-root, D-branch, A-root, B-branch; other services unchanged", () => {
        expect(outline(planWaves(seed({ sitePolicy: "center-first" })))).toEqual([
            "1 cloud/standby: C,D",
            "2 cloud/primary: A,B",
            "3 config-server/standby: C",
            "4 config-server/primary: A",
            "5 content-server/standby/rootSite: C",
            "6 content-server/standby/branchSite1: D",
            "7 content-server/primary/rootSite: A",
            "8 content-server/primary/branchSite1: B",
            "9 schedule-server/standby: D",
            "10 schedule-server/primary: B",
        ]);
    });

    test("waves carry every field, content-server nodes their site", () => {
        const plan = planWaves(seed());
        expect(plan[0]).toEqual({
            index: 1,
            id: "cloud/standby",
            service: "cloud",
            center: "standby",
            nodes: [
                { host: "C", address: "10.0.0.3", center: "standby", service: "cloud" },
                { host: "D", address: "10.0.0.4", center: "standby", service: "cloud" },
            ],
        });
        expect(plan[6]).toEqual({
            index: 7,
            id: "content-server/standby/branchSite1",
            service: "content-server",
            center: "standby",
            site: "branchSite1",
            siteRole: "branch",
            nodes: [{ host: "D", address: "10.0.0.4", center: "standby", service: "content-server", site: "branchSite1", rootSite: false }],
        });
        expect(plan[4].siteRole).toBe("root");
        expect(plan[4].nodes[0].rootSite).toBe(true);
    });

    test("the plan table", () => {
        expect(renderPlanTable(planWaves(seed()))).toBe(
            [
                "wave  service          center   site                  hosts",
                "----  ---------------  -------  --------------------  -----",
                "1     cloud            standby  -                     C, D",
                "2     cloud            primary  -                     A, B",
                "3     config-server    standby  -                     C",
                "4     config-server    primary  -                     A",
                "5     content-server   standby  rootSite (root)       C",
                "6     content-server   primary  rootSite (root)       A",
                "7     content-server   standby  branchSite1 (branch)  D",
                "8     content-server   primary  branchSite1 (branch)  B",
                "9     schedule-server  standby  -                     D",
                "10    schedule-server  primary  -                     B",
            ].join("\n"),
        );
    });
});

/** Two centers, a root site and branch sites east, west, north (first seen in that order) and south (standby only). */
const largeHosts = [
    { name: "S1", address: "10.1.0.1", center: "standby", services: ["cloud", "config-server", "content-server"], site: "main", rootSite: true },
    { name: "P1", address: "10.2.0.1", center: "primary", services: ["cloud", "config-server", "content-server"], site: "main", rootSite: true },
    { name: "P2", address: "10.2.0.2", center: "primary", services: ["cloud", "content-server"], site: "east" },
    { name: "S2", address: "10.1.0.2", center: "standby", services: ["content-server", "schedule-server"], site: "west" },
    { name: "S3", address: "10.1.0.3", center: "standby", services: ["cloud", "content-server"], site: "east" },
    { name: "P3", address: "10.2.0.3", center: "primary", services: ["content-server", "schedule-server"], site: "west" },
    { name: "P4", address: "10.2.0.4", center: "primary", services: ["content-server"], site: "north" },
    { name: "S4", address: "10.1.0.4", center: "standby", services: ["content-server"], site: "north" },
    { name: "S5", address: "10.1.0.5", center: "standby", services: ["content-server"], site: "east" },
    { name: "S6", address: "10.1.0.6", center: "standby", services: ["content-server"], site: "south" },
];

describe("a larger topology: branch sites across both centers", () => {
    test("site-first", () => {
        expect(outline(planWaves(config({ hosts: largeHosts })))).toEqual([
            "1 cloud/standby: S1,S3",
            "2 cloud/primary: P1,P2",
            "3 config-server/standby: S1",
            "4 config-server/primary: P1",
            "5 content-server/standby/main: S1",
            "6 content-server/primary/main: P1",
            "7 content-server/standby/east: S3,S5",
            "8 content-server/primary/east: P2",
            "9 content-server/standby/west: S2",
            "10 content-server/primary/west: P3",
            "11 content-server/standby/north: S4",
            "12 content-server/primary/north: P4",
            "13 content-server/standby/south: S6",
            "14 schedule-server/standby: S2",
            "15 schedule-server/primary: P3",
        ]);
    });

    test("center-first", () => {
        expect(outline(planWaves(config({ hosts: largeHosts, sitePolicy: "center-first" })))).toEqual([
            "1 cloud/standby: S1,S3",
            "2 cloud/primary: P1,P2",
            "3 config-server/standby: S1",
            "4 config-server/primary: P1",
            "5 content-server/standby/main: S1",
            "6 content-server/standby/east: S3,S5",
            "7 content-server/standby/west: S2",
            "8 content-server/standby/north: S4",
            "9 content-server/standby/south: S6",
            "10 content-server/primary/main: P1",
            "11 content-server/primary/east: P2",
            "12 content-server/primary/west: P3",
            "13 content-server/primary/north: P4",
            "14 schedule-server/standby: S2",
            "15 schedule-server/primary: P3",
        ]);
    });

    test("the root site leads even when a branch site appears first in the hosts list", () => {
        const hosts = [largeHosts[2], largeHosts[4], largeHosts[0], largeHosts[1]];
        expect(outline(planWaves(config({ hosts }))).filter((l) => l.includes("content-server"))).toEqual([
            "5 content-server/standby/main: S1",
            "6 content-server/primary/main: P1",
            "7 content-server/standby/east: S3",
            "8 content-server/primary/east: P2",
        ]);
    });

    test("every node appears exactly once", () => {
        const c = config({ hosts: largeHosts });
        const keys = planWaves(c).flatMap((w) => w.nodes.map(nodeKey));
        const expected = c.hosts.flatMap((h) => h.services.map((s) => `${h.name}/${s}`));
        expect([...keys].sort()).toEqual([...expected].sort());
        expect(new Set(keys).size).toBe(keys.length);
    });
});

describe("serviceOrder and host order", () => {
    test("services follow serviceOrder; services no host runs are skipped", () => {
        const plan = planWaves(seed({ serviceOrder: ["schedule-server", "mq-server", "cloud", "content-server", "config-server"] }));
        expect(plan.map((w) => w.id)).toEqual([
            "schedule-server/standby",
            "schedule-server/primary",
            "cloud/standby",
            "cloud/primary",
            "content-server/standby/rootSite",
            "content-server/primary/rootSite",
            "content-server/standby/branchSite1",
            "content-server/primary/branchSite1",
            "config-server/standby",
            "config-server/primary",
        ]);
    });

    test("within a wave, nodes are in hosts-list order", () => {
        const hosts = [seedHosts[3], seedHosts[1], seedHosts[2], seedHosts[0]];
        expect(outline(planWaves(config({ hosts }))).slice(0, 2)).toEqual(["1 cloud/standby: D,C", "2 cloud/primary: B,A"]);
    });
});

describe("determinism", () => {
    test("the same config gives the same plan, and the config is not changed", () => {
        const c = seed();
        const before = JSON.stringify(c);
        const first = planWaves(c);
        expect(planWaves(c)).toEqual(first);
        expect(planWaves(seed())).toEqual(first);
        expect(JSON.stringify(c)).toBe(before);
    });

    test("a content-server host without a site is refused (an unvalidated config)", () => {
        expect(() =>
            planWaves({ hosts: [{ name: "X", address: "x", center: "standby", services: ["content-server"] }], serviceOrder: ["content-server"] }),
        ).toThrow("Host X runs content-server but has no site: validate the config first.");
    });

    test("sitePolicy defaults to site-first for a bare plan input", () => {
        const c = seed();
        expect(planWaves({ hosts: c.hosts, serviceOrder: c.serviceOrder })).toEqual(planWaves(c));
    });
});

describe("batches", () => {
    const wave = planWaves(config({ hosts: largeHosts }))[0];
    const five = { nodes: ["a", "b", "c", "d", "e"].map((h) => ({ ...wave.nodes[0], host: h })) };

    test("consecutive groups of at most parallelism", () => {
        expect(batches(five, 2).map((b) => b.map((n) => n.host))).toEqual([["a", "b"], ["c", "d"], ["e"]]);
        expect(batches(five, 1).map((b) => b.map((n) => n.host))).toEqual([["a"], ["b"], ["c"], ["d"], ["e"]]);
        expect(batches(five, 5).map((b) => b.map((n) => n.host))).toEqual([["a", "b", "c", "d", "e"]]);
        expect(batches(five, 9).map((b) => b.map((n) => n.host))).toEqual([["a", "b", "c", "d", "e"]]);
    });

    test("parallelism below 1 or fractional is refused", () => {
        expect(() => batches(five, 0)).toThrow("parallelism must be a whole number of 1 or more, not 0.");
        expect(() => batches(five, 1.5)).toThrow("parallelism must be a whole number of 1 or more, not 1.5.");
    });
});

describe("predecessorsOf", () => {
    const ORDER = [
        "C/cloud",
        "D/cloud",
        "A/cloud",
        "B/cloud",
        "C/config-server",
        "A/config-server",
        "C/content-server",
        "A/content-server",
        "D/content-server",
        "B/content-server",
        "D/schedule-server",
        "B/schedule-server",
    ];

    test("parallelism 1: every node waits for every node before it, in plan order", () => {
        const pre = predecessorsOf(planWaves(seed()), 1);
        expect([...pre.keys()]).toEqual(ORDER);
        for (const [i, key] of ORDER.entries()) expect([...pre.get(key)!]).toEqual(ORDER.slice(0, i));
    });

    test("parallelism 2: the nodes of one batch do not wait for each other", () => {
        const pre = predecessorsOf(planWaves(seed()), 2);
        const of = (k: string) => [...pre.get(k)!];
        expect(of("C/cloud")).toEqual([]);
        expect(of("D/cloud")).toEqual([]);
        expect(of("A/cloud")).toEqual(["C/cloud", "D/cloud"]);
        expect(of("B/cloud")).toEqual(["C/cloud", "D/cloud"]);
        expect(of("C/config-server")).toEqual(ORDER.slice(0, 4));
        expect(of("B/schedule-server")).toEqual(ORDER.slice(0, 11));
    });

    test("larger topology, parallelism 1: a batch of two in one wave still runs one after the other", () => {
        const pre = predecessorsOf(planWaves(config({ hosts: largeHosts })), 1);
        expect(pre.get("S5/content-server")!.has("S3/content-server")).toBe(true);
        expect(pre.get("S3/content-server")!.has("S5/content-server")).toBe(false);
        // cloud S1, S3, P1, P2; config S1, P1; content S1, P1, S3, S5.
        expect(pre.get("P2/content-server")!.size).toBe(10);
        expect([...pre.get("P2/content-server")!].slice(-2)).toEqual(["S3/content-server", "S5/content-server"]);
    });

    test("larger topology, parallelism 2: the two standby east nodes share a batch", () => {
        const pre = predecessorsOf(planWaves(config({ hosts: largeHosts })), 2);
        expect(pre.get("S5/content-server")).toEqual(pre.get("S3/content-server"));
        expect(pre.get("P2/content-server")!.has("S5/content-server")).toBe(true);
    });
});

describe("other renderings", () => {
    const small = planWaves(
        config({
            hosts: [
                { name: "A", address: "10.0.0.1", center: "primary", services: ["config-server", "content-server"], site: "root", rootSite: true },
                { name: "C", address: "10.0.0.3", center: "standby", services: ["config-server", "content-server"], site: "root", rootSite: true },
            ],
        }),
    );

    test("JSON round-trips", () => {
        expect(JSON.parse(planToJson(small))).toEqual({ waves: small });
    });

    test("Mermaid", () => {
        expect(planToMermaid(small)).toBe(
            [
                "flowchart TD",
                '    w1["1. config-server / standby<br/>C"]',
                '    w2["2. config-server / primary<br/>A"]',
                '    w3["3. content-server / standby / root (root)<br/>C"]',
                '    w4["4. content-server / primary / root (root)<br/>A"]',
                "    w1 --> w2",
                "    w2 --> w3",
                "    w3 --> w4",
            ].join("\n"),
        );
    });

    test("Graphviz dot", () => {
        expect(planToDot(small)).toBe(
            [
                "digraph plan {",
                "    rankdir=TB;",
                "    node [shape=box];",
                '    w1 [label="1. config-server / standby\\nC"];',
                '    w2 [label="2. config-server / primary\\nA"];',
                '    w3 [label="3. content-server / standby / root (root)\\nC"];',
                '    w4 [label="4. content-server / primary / root (root)\\nA"];',
                "    w1 -> w2;",
                "    w2 -> w3;",
                "    w3 -> w4;",
                "}",
            ].join("\n"),
        );
    });

    test("an empty plan", () => {
        expect(renderPlanTable([])).toBe("(empty plan: no host runs a service of serviceOrder)");
    });
});
