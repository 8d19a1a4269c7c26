import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { Center, UpgradeConfig } from "../lib/config/schema";
import { planWaves, Wave } from "../lib/plan";
import { rollbackArgsFor } from "../lib/nodeArgs";
import { ServiceRollback } from "./ServiceRollback";
import { componentName } from "../lib/names";

export interface RollingRollbackArgs {
    config: UpgradeConfig;
    /** The plan of `config` when the caller computed it already (`planWaves(config)`). */
    plan?: Wave[];
    connections: Record<string, pulumi.Input<types.input.remote.ConnectionArgs>>;
    /** Values whose change runs the rollback again (e.g. a request id). */
    triggers: string[];
    /** Roll back only the nodes of these centers (`--only-center`), still in reverse order. Default: both. */
    centers?: Center[];
}

/**
 * The way back, only when asked for: node by node in the exact reverse order of the upgrade plan,
 * one at a time, each with the vendor's `scmupgrade.py --rollback --start`.
 */
export class RollingRollback extends pulumi.ComponentResource {
    public readonly nodes: pulumi.Output<Record<string, { versionBefore: string; versionAfter: string; skipped: boolean }>>;

    constructor(name: string, args: RollingRollbackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sequoiacm:upgrade:RollingRollback", name, {}, opts);
        const c = args.config;
        const centers = args.centers ?? ["standby", "primary"];
        const order = (args.plan ?? planWaves(c))
            .filter((w) => centers.includes(w.center))
            .flatMap((w) => w.nodes)
            .reverse();
        const results: pulumi.Output<[string, { versionBefore: string; versionAfter: string; skipped: boolean }]>[] = [];
        let previous: pulumi.Resource[] = [];
        for (const node of order) {
            const rb = new ServiceRollback(
                componentName.node(name, node.host, node.service),
                { ...rollbackArgsFor(c, node.host, node.service), connection: args.connections[node.host], triggers: args.triggers, after: previous },
                { parent: this },
            );
            previous = [rb];
            results.push(
                pulumi
                    .all([rb.versionBefore, rb.versionAfter, rb.skipped])
                    .apply(([versionBefore, versionAfter, skipped]): [string, { versionBefore: string; versionAfter: string; skipped: boolean }] => [
                        `${node.host}/${node.service}`,
                        { versionBefore, versionAfter, skipped },
                    ]),
            );
        }
        this.nodes = pulumi.all(results).apply((rs) => Object.fromEntries(rs));
        this.registerOutputs({ nodes: this.nodes });
    }
}
