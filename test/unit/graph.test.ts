import * as pulumi from "@pulumi/pulumi";
import { validateConfig, UpgradeConfig } from "../../lib/config/schema";
import { planWaves, predecessorsOf, nodeKey } from "../../lib/plan";
import { seedHosts } from "../helpers/seed";

// The resource graph of RollingUpgrade under Pulumi's mocks: which resources exist, and for each
// node, exactly which other nodes must finish before it (the transitive closure of dependsOn).

pulumi.runtime.setMocks(
    {
        newResource: (a) => ({ id: `${a.name}-id`, state: { ...a.inputs, stdout: "" } }),
        call: (a) => {
            throw new Error(`unmocked call ${a.token}`);
        },
    },
    "scm-upgrade",
    "unit",
);

// Import after setMocks, as Pulumi's docs require.
const { RollingUpgrade } = require("../../components/RollingUpgrade") as typeof import("../../components/RollingUpgrade");

interface Recorded {
    name: string;
    type: string;
    dependsOn: pulumi.Resource[];
    ignoreChanges?: string[];
    create?: string;
}

const urnOf = (r: pulumi.Resource) => new Promise<string>((resolve) => r.urn.apply(resolve));
const nameOfUrn = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

function config(raw: Record<string, unknown>): UpgradeConfig {
    const r = validateConfig(raw, { fileExists: () => true, readable: () => true });
    if (!r.ok) throw new Error(JSON.stringify(r.problems, null, 2));
    return r.config;
}

const seed = {
    package: { localPath: "/releases/sequoiacm-3.2.0-release.tar.gz" },
    ssh: { user: "scmadmin", privateKeyFile: "/keys/id" },
    hosts: seedHosts,
};

/** Build the component, return for each ServiceUpgrade the set of ServiceUpgrade nodes it transitively waits for. */
async function graphOf(c: UpgradeConfig, more: { centers?: ("standby" | "primary")[]; keep?: string[] } = {}) {
    const recorded: Recorded[] = [];
    const ru = new RollingUpgrade(
        "scm",
        {
            config: c,
            packageSha256: "0".repeat(64),
            connections: Object.fromEntries(c.hosts.map((h) => [h.name, { host: h.address, user: "scmadmin" }])),
            ...more,
        },
        {
            transformations: [
                (a) => {
                    recorded.push({
                        name: a.name,
                        type: a.type,
                        dependsOn: ((a.opts.dependsOn as pulumi.Resource[]) ?? []).slice(),
                        ignoreChanges: a.opts.ignoreChanges,
                        create: typeof a.props.create === "string" ? a.props.create : undefined,
                    });
                    return undefined;
                },
            ],
        },
    );
    await new Promise((r) => ru.urn.apply(r));
    // Direct edges by resource name.
    const edges = new Map<string, string[]>();
    for (const r of recorded) {
        edges.set(r.name, await Promise.all(r.dependsOn.map(async (d) => nameOfUrn(await urnOf(d)))));
    }
    // A component's edges include its children's (dependsOn on a component waits for all of them).
    const childrenOf = (name: string) => recorded.filter((r) => r.name.startsWith(`${name}-`)).map((r) => r.name);
    const nodeOfRun = new Map<string, string>();
    for (const h of c.hosts)
        for (const s of h.services) if (recorded.some((r) => r.name === `scm-${h.name}-${s}-run`)) nodeOfRun.set(`scm-${h.name}-${s}`, `${h.name}/${s}`);
    const closure = (start: string) => {
        const seen = new Set<string>();
        const stack = [...(edges.get(start) ?? [])];
        while (stack.length) {
            const n = stack.pop()!;
            if (seen.has(n)) continue;
            seen.add(n);
            stack.push(...(edges.get(n) ?? []), ...childrenOf(n));
        }
        return seen;
    };
    const result = new Map<string, Set<string>>();
    for (const [comp, key] of nodeOfRun) {
        const deps = closure(`${comp}-run`);
        result.set(key, new Set([...deps].filter((d) => nodeOfRun.has(d)).map((d) => nodeOfRun.get(d)!)));
        // Every upgrade waits for the staging (and, through it, the preflight) of every host.
        for (const h of c.hosts) {
            expect(deps).toContain(`scm-${h.name}-stage-unpack`);
            expect(deps).toContain(`scm-${h.name}-preflight-checks`);
        }
    }
    return { result, recorded, edges };
}

const sorted = (m: Map<string, Set<string>>) => Object.fromEntries([...m].map(([k, v]) => [k, [...v].sort()]).sort());

describe("RollingUpgrade resource graph (mocks)", () => {
    test("seed topology: each node waits for exactly the nodes of earlier waves", async () => {
        const c = config(seed);
        const { result, recorded } = await graphOf(c);
        // Parallelism 1: one total order, the vendor's: standby before primary per service, root site first.
        const order = [
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
        expect(sorted(result)).toEqual(Object.fromEntries(order.map((k, i) => [k, order.slice(0, i).sort()]).sort()));
        // The same as the pure plan says.
        expect(sorted(result)).toEqual(sorted(predecessorsOf(planWaves(c), c.parallelism)));
        // Component types and one remote command per node.
        expect(recorded.filter((r) => r.type === "sequoiacm:upgrade:ServiceUpgrade").length).toBe(12);
        expect(recorded.filter((r) => r.type === "sequoiacm:upgrade:StagedPackage").length).toBe(4);
        expect(recorded.filter((r) => r.type === "sequoiacm:upgrade:Preflight").length).toBe(4);
        expect(recorded.filter((r) => r.type === "command:remote:Command" && r.name.endsWith("-run")).length).toBe(12);
        expect(recorded.filter((r) => r.type === "command:remote:CopyToRemote").length).toBe(4);
    });

    test("staging: the upload follows the host's preflight and makes its own folder; only sudo makes it first, as root", async () => {
        for (const become of ["login", "su", "sudo"] as const) {
            // login: the SSH user is the install user; su: root switches to it; sudo: the SSH user switches to it.
            const ssh = { ...seed.ssh, user: become === "su" ? "root" : "scmadmin" };
            const c = config({ ...seed, ssh, become, installUser: become === "login" ? "scmadmin" : "sdbadmin" });
            const { recorded, edges } = await graphOf(c);
            for (const h of c.hosts) {
                const stage = `scm-${h.name}-stage`;
                const prepare = recorded.find((r) => r.name === `${stage}-prepare`);
                expect(edges.get(`${stage}-unpack`)).toEqual([`${stage}-upload`]);
                if (become === "sudo") {
                    expect(prepare?.type).toBe("command:remote:Command");
                    expect(edges.get(`${stage}-prepare`)).toEqual([`scm-${h.name}-preflight`]);
                    expect(edges.get(`${stage}-upload`)).toEqual([`${stage}-prepare`]);
                } else {
                    expect(prepare).toBeUndefined();
                    expect(edges.get(`${stage}-upload`)).toEqual([`scm-${h.name}-preflight`]);
                }
            }
            expect(recorded.filter((r) => r.name.endsWith("-stage-prepare")).length).toBe(become === "sudo" ? 4 : 0);
        }
    });

    test("larger two-center topology with three branch sites and parallelism 2 matches the plan", async () => {
        const hosts = [];
        const sites = ["rootSite", "branchA", "branchB", "branchC"];
        for (let i = 0; i < 16; i++) {
            const center = i % 2 === 0 ? "standby" : "primary";
            const site = sites[Math.floor(i / 4)];
            const services = i % 4 < 2 ? ["cloud", "config-server", "content-server"] : ["cloud", "schedule-server", "content-server"];
            hosts.push({ name: `h${i}`, address: `10.1.0.${i + 1}`, center, services, site, rootSite: site === "rootSite" ? true : undefined });
        }
        const c = config({ ...seed, hosts, parallelism: 2 });
        const { result } = await graphOf(c);
        const expected = predecessorsOf(planWaves(c), 2);
        expect(sorted(result)).toEqual(sorted(expected));
        // Spot checks on the order itself: no primary content-server node waits for nothing of the standby root site.
        expect([...result.get("h1/content-server")!]).toEqual(expect.arrayContaining(["h0/content-server", "h2/content-server"]));
        expect(result.get("h0/cloud")!.size).toBe(0);
        expect(result.get("h2/cloud")!.size).toBe(0); // same first batch of two
        expect(result.get("h4/cloud")!.has("h0/cloud")).toBe(true); // second batch waits for the first
        expect(nodeKey({ host: "h0", service: "cloud" })).toBe("h0/cloud");
    });
});

describe("RollingUpgrade of one center (mocks)", () => {
    test("the other center's nodes the state holds are registered as they are, in plan order before or after; the others left out", async () => {
        const c = config(seed);
        // The primary alone, the state holding three standby nodes.
        const keep = ["C/cloud", "D/cloud", "C/content-server"];
        const { result, recorded } = await graphOf(c, { centers: ["primary"], keep });
        const runs = recorded.filter((r) => r.type === "command:remote:Command" && r.name.endsWith("-run"));
        // The plan's order: the kept nodes where their waves are, every primary node after the kept ones before it.
        const order = [
            "C/cloud",
            "D/cloud",
            "A/cloud",
            "B/cloud",
            "A/config-server",
            "C/content-server",
            "A/content-server",
            "B/content-server",
            "B/schedule-server",
        ];
        expect(runs.map((r) => r.name)).toEqual(order.map((k) => `scm-${k.replace("/", "-")}-run`));
        for (const r of runs) {
            const kept = keep.some((k) => r.name === `scm-${k.replace("/", "-")}-run`);
            // Kept: the engine diffs it against its own record, whatever the inputs say now, and finds nothing to do;
            // its command, were the state to have lost it, fails without touching the host.
            expect([r.name, r.ignoreChanges?.includes("create") && r.ignoreChanges.includes("triggers")]).toEqual([r.name, kept || undefined]);
            expect([r.name, r.create?.includes("is in the center this run leaves alone"), r.create?.includes("scmupgrade.py")]).toEqual([r.name, kept, !kept]);
        }
        expect([...(result.get("A/cloud") ?? [])].sort()).toEqual(["C/cloud", "D/cloud"]);
        expect([...(result.get("A/content-server") ?? [])].sort()).toEqual(order.slice(0, 6).sort());
        // The standby alone, the state holding a primary node: kept where its wave is; no soak (they come before primary waves).
        const standbyRun = await graphOf(config({ ...seed, soak: { seconds: 5 } }), { centers: ["standby"], keep: ["A/cloud"] });
        expect(standbyRun.recorded.filter((r) => r.type === "command:remote:Command" && r.name.endsWith("-run")).map((r) => r.name)).toEqual(
            ["C/cloud", "D/cloud", "A/cloud", "C/config-server", "C/content-server", "D/content-server", "D/schedule-server"].map(
                (k) => `scm-${k.replace("/", "-")}-run`,
            ),
        );
        expect(standbyRun.recorded.filter((r) => r.type === "sequoiacm:upgrade:Soak")).toEqual([]);
    });
});

describe("RollingRollback resource graph (mocks)", () => {
    const { RollingRollback } = require("../../components/RollingRollback") as typeof import("../../components/RollingRollback");
    /** The node rollbacks in the order they are made: the chain's (each waits for the one made before it). */
    const chain = async (centers?: ("standby" | "primary")[]) => {
        const c = config(seed);
        const made: string[] = [];
        const rb = new RollingRollback(
            "scm",
            { config: c, connections: Object.fromEntries(c.hosts.map((h) => [h.name, { host: h.address, user: "scmadmin" }])), triggers: ["t"], centers },
            {
                transformations: [
                    (a) => {
                        if (a.type === "sequoiacm:upgrade:ServiceRollback") made.push(a.name);
                        return undefined;
                    },
                ],
            },
        );
        await new Promise((r) => rb.urn.apply(r));
        return made;
    };
    test("the exact reverse of the plan; with one center, that center's nodes only, still in reverse order", async () => {
        const reverse = planWaves(config(seed))
            .flatMap((w) => w.nodes)
            .reverse();
        const names = (center?: string) => reverse.filter((n) => !center || n.center === center).map((n) => `scm-${n.host}-${n.service}`);
        expect(await chain()).toEqual(names());
        expect(await chain(["primary"])).toEqual(names("primary"));
        expect(await chain(["standby"])).toEqual(names("standby"));
        expect(names("primary").length).toBeGreaterThan(0);
    });
});

describe("the host's lock", () => {
    const { RollingRollback } = require("../../components/RollingRollback") as typeof import("../../components/RollingRollback");
    test.each([
        [false, 900 + 300 + 60],
        [true, 900 + 300 + 60 + 900],
    ])(
        "staging, each upgrade and each rollback wait as long as an earlier run's upgrade may hold it: the vendor's steps, the gate's timeout and the hold (rollbackOnHealthFailure %s: and the vendor's rollback)",
        async (rollbackOnHealthFailure, wait) => {
            const c = config({ ...seed, healthTimeoutSeconds: 300, healthStableSeconds: 60, rollbackOnHealthFailure });
            const { recorded } = await graphOf(c);
            const rolled: Recorded[] = [];
            const rb = new RollingRollback(
                "scm",
                { config: c, connections: Object.fromEntries(c.hosts.map((h) => [h.name, { host: h.address, user: "scmadmin" }])), triggers: ["t"] },
                {
                    transformations: [
                        (a) => {
                            rolled.push({ name: a.name, type: a.type, dependsOn: [], create: typeof a.props.create === "string" ? a.props.create : undefined });
                            return undefined;
                        },
                    ],
                },
            );
            await new Promise((r) => rb.urn.apply(r));
            const waits = (rs: Recorded[]) =>
                Object.fromEntries(rs.filter((r) => r.create?.includes("flock -w")).map((r) => [r.name, /flock -w (\d+) 9/.exec(r.create as string)?.[1]]));
            const upgrade = waits(recorded);
            const rollback = waits(rolled);
            const nodes = planWaves(c).flatMap((w) => w.nodes);
            expect(Object.keys(upgrade).sort()).toEqual(
                [...c.hosts.map((h) => `scm-${h.name}-stage-unpack`), ...nodes.map((n) => `scm-${n.host}-${n.service}-run`)].sort(),
            );
            expect(Object.keys(rollback)).toHaveLength(nodes.length);
            expect(new Set([...Object.values(upgrade), ...Object.values(rollback)])).toEqual(new Set([String(wait)]));
        },
    );
});
