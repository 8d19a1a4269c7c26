import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { Center, UpgradeConfig, effectiveHost } from "../lib/config/schema";
import { batches, planWaves, SoakStep, soakSettings, soakSteps, Wave } from "../lib/plan";
import { preflightArgsFor, soakArgsFor, upgradeArgsFor } from "../lib/nodeArgs";
import { Preflight } from "./Preflight";
import { ServiceUpgrade } from "./ServiceUpgrade";
import { Soak } from "./Soak";
import { StagedPackage } from "./StagedPackage";
import { RegistrationWindow } from "./window";
import { componentName } from "../lib/names";
import { LiveState, liveKey } from "../lib/probe";
import { hostLockWait } from "../lib/shell";
import { NodeResult } from "../lib/results";

export type { NodeResult } from "../lib/results";

/** Resources a preview keeps waiting for the engine at once (components/window.ts). */
const REGISTRATION_WINDOW = 64;

export interface RollingUpgradeArgs {
    /** A validated configuration (lib/config). */
    config: UpgradeConfig;
    /** The plan of `config` when the caller computed it already (`planWaves(config)`). */
    plan?: Wave[];
    /** sha256 of `config.package.localPath`, when the package is uploaded from this machine. */
    packageSha256?: string;
    /** sha256 of `config.upgradeScript`, when set. */
    upgradeScriptSha256?: string;
    /** KiB of `config.package.localPath`, when uploaded: the preflight asks for room to stage it. */
    packageKiB?: number;
    /** SSH connection per host name (secrets already wrapped as Pulumi secrets). */
    connections: Record<string, pulumi.Input<types.input.remote.ConnectionArgs>>;
    /** Free space needed in the staging and install folders, MiB. Default 200. */
    minFreeMb?: number;
    /**
     * Upgrade only the nodes of these centers (the stop point between centers: `["standby"]` first,
     * then everything). Default: both.
     */
    centers?: Center[];
    /**
     * The nodes as they are now, read over SSH before the run. A node at the target and healthy is
     * settled (nothing runs for it, whatever the state says); every other node runs, with `runId` in
     * its triggers so that the engine runs it even when the state says it was done. Without it
     * (graph tests), the state's triggers alone decide.
     */
    live?: LiveState;
    /** A token unique to this run (e.g. its start time). */
    runId?: string;
    /** The soak's length in seconds instead of the config's (`--soak`); 0: no soak. */
    soakSeconds?: number;
    /**
     * Nodes (`host/service`) of the centers not in `centers` that the state holds: registered as they are
     * (ServiceUpgrade `kept`), so that a run of one center keeps what the state recorded of the other. Any
     * other node of those centers is left out.
     */
    keep?: string[];
}

/**
 * The whole rolling upgrade: the package staged and checked on every host, then one
 * ServiceUpgrade per node, wave after wave in the plan's order (standby before primary, root
 * site before branch sites), each wave waiting on the one before through explicit `dependsOn`.
 */
export class RollingUpgrade extends pulumi.ComponentResource {
    /** Per node, keyed `<host>/<service>`. */
    public readonly nodes: pulumi.Output<Record<string, NodeResult>>;
    /** Preflight warnings of every host. */
    public readonly warnings: pulumi.Output<string[]>;
    /** The plan the resources were built from. */
    public readonly plan: Wave[];
    /** The soaks in this run, each before its primary wave. */
    public readonly soaks: SoakStep[];

    constructor(name: string, args: RollingUpgradeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sequoiacm:upgrade:RollingUpgrade", name, {}, opts);
        const c = args.config;
        for (const h of c.hosts) {
            if (!args.connections[h.name]) {
                throw new pulumi.ResourceError(`No SSH connection was given for host ${h.name}: pass one in \`connections\`.`, this);
            }
        }
        if ("localPath" in c.package && !args.packageSha256) {
            throw new pulumi.ResourceError("`packageSha256` is required when the package is uploaded from this machine.", this);
        }
        const centers = args.centers ?? ["standby", "primary"];
        const fullPlan = args.plan ?? planWaves(c);
        this.plan = fullPlan.filter((w) => centers.includes(w.center));
        // Soaks come from the whole plan (a soak watches every standby node before its primary wave), kept
        // when their primary wave is in this run.
        this.soaks = soakSteps(fullPlan, soakSettings(c.soak, args.soakSeconds)).filter((s) => this.plan.some((w) => w.index === s.beforeWave));
        const identity = args.packageSha256 ?? ("remotePath" in c.package ? c.package.remotePath : "");
        const triggers = [c.targetVersion, identity, args.upgradeScriptSha256 ?? ""];
        const live = args.live;
        const runToken = live ? [`run:${args.runId ?? "unset"}`] : [];
        const pending = (host: string, service: string) => !live?.[liveKey(host, service)]?.done;
        const hostPending = (host: string) => this.plan.some((w) => w.nodes.some((n) => n.host === host && pending(n.host, n.service)));
        const anyPending = this.plan.some((w) => w.nodes.some((n) => pending(n.host, n.service)));

        // Made in an async function so that a preview can pace itself (components/window.ts); without pacing it
        // never awaits, and every resource exists when the constructor returns, as in any component.
        const window = new RegistrationWindow(REGISTRATION_WINDOW);
        const build = async () => {
            // Preflight and staging on every host, each host's staging right after its own preflight (the hosts overlap:
            // staging writes only the staging folder), and every upgrade waits for all of both: an unreachable or unfit
            // host stops the run before any node is changed. One edge per host, not every host's staging on every
            // host's preflight (a million edges at 1,000 hosts).
            const preflights: Preflight[] = [];
            const gate: pulumi.Resource[] = [];
            for (const h of c.hosts) {
                const preflight = new Preflight(
                    componentName.preflight(name, h.name),
                    {
                        ...preflightArgsFor(c, h.name, args.minFreeMb, args.packageKiB),
                        connection: args.connections[h.name],
                        triggers: anyPending ? [...triggers, ...runToken] : triggers,
                        settled: !!live && !anyPending,
                    },
                    { parent: this },
                );
                preflights.push(preflight);
                const e = effectiveHost(c, h);
                const staged = new StagedPackage(
                    componentName.stage(name, h.name),
                    {
                        host: h.name,
                        connection: args.connections[h.name],
                        stagingDir: e.stagingDir,
                        become: c.become,
                        loginUser: e.user,
                        installUser: c.installUser,
                        installGroup: c.installGroup,
                        lockWaitSeconds: hostLockWait(c),
                        package:
                            "localPath" in c.package
                                ? { localPath: c.package.localPath, sha256: args.packageSha256 as string }
                                : { remotePath: c.package.remotePath },
                        upgradeScript:
                            c.upgradeScript && args.upgradeScriptSha256 ? { localPath: c.upgradeScript, sha256: args.upgradeScriptSha256 } : undefined,
                        after: [preflight],
                        extraTriggers: hostPending(h.name) ? runToken : [],
                        settled: !!live && !hostPending(h.name),
                    },
                    { parent: this },
                );
                gate.push(staged);
                const wait = window.admit(staged.command);
                if (wait) await wait;
            }

            const results: pulumi.Output<NodeResult>[] = [];
            let previous: pulumi.Resource[] = [];
            // The first step after staging waits for all of it; every later one for the step before, and so, through
            // it, for the staging too. Not every node on every host's staging: at 1,000 hosts that is millions of
            // dependency edges for the engine to register and check.
            const after = () => (previous.length ? previous : gate);
            const kept = new Set(args.keep ?? []);
            // One node's upgrade after the steps before it, and its result in the outputs.
            const register = async (wave: Wave, node: Wave["nodes"][number], settled: boolean, asKept = false) => {
                const up = new ServiceUpgrade(
                    componentName.node(name, node.host, node.service),
                    {
                        ...upgradeArgsFor(c, node.host, node.service),
                        connection: args.connections[node.host],
                        triggers: settled ? triggers : [...triggers, ...runToken],
                        after: after(),
                        settled,
                        kept: asKept,
                    },
                    { parent: this },
                );
                const wait = window.admit(up.command);
                if (wait) await wait;
                results.push(
                    pulumi
                        .all([up.versionBefore, up.versionAfter, up.skipped, up.seconds, up.finishedAt])
                        .apply(([versionBefore, versionAfter, skipped, seconds, finishedAt]) => ({
                            host: node.host,
                            service: node.service,
                            center: node.center,
                            ...(node.site ? { site: node.site } : {}),
                            wave: wave.index,
                            versionBefore,
                            versionAfter,
                            skipped,
                            seconds,
                            finishedAt,
                        })),
                );
                return up;
            };
            for (const wave of fullPlan) {
                if (!centers.includes(wave.center)) {
                    // A center this run leaves alone: its nodes the state holds stay there as they are, with their
                    // records in the outputs; the others are left out (a new one would be created: run).
                    for (const node of wave.nodes.filter((n) => kept.has(liveKey(n.host, n.service)))) previous = [await register(wave, node, true, true)];
                    continue;
                }
                const soak = this.soaks.find((s) => s.beforeWave === wave.index);
                if (soak) {
                    // Run again whenever a watched node was not done before this run; a soak already passed with
                    // nothing changed since is settled (kept as the state has it, nothing runs).
                    const changed = soak.watch.some((n) => pending(n.host, n.service));
                    const hosts = [...new Set(soak.watch.map((n) => n.host))];
                    const watch = new Soak(
                        componentName.soak(name, soak.service, soak.site),
                        {
                            soak: soak.id,
                            hosts: hosts.map((h) => ({
                                host: h,
                                connection: args.connections[h],
                                script: soakArgsFor(c, soak, h),
                            })),
                            triggers: changed ? [...triggers, ...runToken] : triggers,
                            after: after(),
                            settled: !!live && !changed,
                        },
                        { parent: this },
                    );
                    previous = [watch];
                }
                for (const batch of batches(wave, c.parallelism)) {
                    const current: pulumi.Resource[] = [];
                    for (const node of batch) current.push(await register(wave, node, !pending(node.host, node.service)));
                    previous = current;
                }
            }
            return { results, preflights };
        };
        const built = build();
        this.nodes = pulumi.output(built.then((b) => b.results)).apply((rs) => Object.fromEntries(rs.map((r) => [`${r.host}/${r.service}`, r])));
        this.warnings = pulumi.output(built.then((b) => b.preflights.map((p) => p.warnings))).apply((ws) => ws.flat());
        this.registerOutputs({ nodes: this.nodes, warnings: this.warnings });
    }
}
