import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { UpgradeConfig, effectiveHost } from "../lib/config/schema";
import { planWaves } from "../lib/plan";
import { serviceFilesOf } from "../lib/shell";
import { ServiceRollback } from "./ServiceRollback";

export interface RollingRollbackArgs {
    config: UpgradeConfig;
    connections: Record<string, pulumi.Input<types.input.remote.ConnectionArgs>>;
    /** Values whose change runs the rollback again (e.g. a request id). */
    triggers: string[];
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
        const order = planWaves(c).flatMap((w) => w.nodes).reverse();
        const results: pulumi.Output<[string, { versionBefore: string; versionAfter: string; skipped: boolean }]>[] = [];
        let previous: pulumi.Resource[] = [];
        for (const node of order) {
            const h = c.hosts.find((x) => x.name === node.host)!;
            const e = effectiveHost(c, h);
            const rb = new ServiceRollback(
                `${name}-${node.host}-${node.service}`,
                {
                    connection: args.connections[node.host],
                    installRoot: e.installRoot,
                    stagingDir: e.stagingDir,
                    installUser: c.installUser,
                    become: c.become,
                    sourceVersion: c.sourceVersion,
                    service: serviceFilesOf(node.service),
                    triggers: args.triggers,
                    after: previous,
                },
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
