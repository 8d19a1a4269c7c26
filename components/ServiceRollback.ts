import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { RemoteCommand } from "./RemoteCommand";
import { NodeRollbackArgs, parseMarkers, renderServiceRollback } from "../lib/shell";
import { childName } from "../lib/names";

export interface ServiceRollbackArgs extends NodeRollbackArgs {
    connection: pulumi.Input<types.input.remote.ConnectionArgs>;
    /** Values whose change runs the rollback again. */
    triggers: string[];
    /** What must finish first: the rollback of every node upgraded after this one. */
    after: pulumi.Input<pulumi.Resource>[];
}

/** The vendor's way back for one service on one host (`scmupgrade.py --rollback --start`). */
export class ServiceRollback extends pulumi.ComponentResource {
    public readonly versionBefore: pulumi.Output<string>;
    public readonly versionAfter: pulumi.Output<string>;
    public readonly skipped: pulumi.Output<boolean>;

    constructor(name: string, args: ServiceRollbackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sequoiacm:upgrade:ServiceRollback", name, {}, opts);
        const { connection, triggers, after, ...script } = args;
        const run = new RemoteCommand(
            childName.nodeRollback(name),
            { connection, create: renderServiceRollback(script), triggers },
            { parent: this, dependsOn: after },
        );
        const markers = run.stdout.apply((out) => parseMarkers(out).values);
        this.versionBefore = markers.apply((m) => m["version-before"] ?? "unknown");
        this.versionAfter = markers.apply((m) => m["version-after"] ?? "unknown");
        this.skipped = markers.apply((m) => m.result === "skipped");
        this.registerOutputs({ versionBefore: this.versionBefore, versionAfter: this.versionAfter, skipped: this.skipped });
    }
}
