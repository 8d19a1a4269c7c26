import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { RemoteCommand } from "./RemoteCommand";
import { NodeUpgradeArgs, parseMarkers, renderKeptNode, renderServiceUpgrade } from "../lib/shell";
import { childName } from "../lib/names";
import { settledOptions } from "./settled";

export interface ServiceUpgradeArgs extends NodeUpgradeArgs {
    connection: pulumi.Input<types.input.remote.ConnectionArgs>;
    /** Values whose change runs the upgrade again (target version, package checksum). */
    triggers: string[];
    /** What must finish first: staging and preflight everywhere, and the previous wave. */
    after: pulumi.Input<pulumi.Resource>[];
    /** Read live before the run: at the target and healthy. Nothing runs for it, whatever changed. */
    settled?: boolean;
    /**
     * A node of the center a run leaves alone (`--only-center`), kept as the state holds it: settled, and its
     * command one that fails without touching the host, should the state have lost it (lib/shell renderKeptNode).
     */
    kept?: boolean;
}

/**
 * One SequoiaCM service upgraded on one host with the vendor's `scmupgrade.py --start`, as the
 * install user. Skipped when already at the target. Succeeds only on the success line, the target
 * version in the jars, and healthy nodes (see renderServiceUpgrade).
 */
export class ServiceUpgrade extends pulumi.ComponentResource {
    public readonly versionBefore: pulumi.Output<string>;
    public readonly versionAfter: pulumi.Output<string>;
    public readonly skipped: pulumi.Output<boolean>;
    /** Seconds the upgrade took on the host (0 when skipped). */
    public readonly seconds: pulumi.Output<number>;
    /** When the upgrade finished on the host (UTC, ISO 8601); empty when skipped. */
    public readonly finishedAt: pulumi.Output<string>;
    /** The command that runs on the host. */
    public readonly command: RemoteCommand;

    constructor(name: string, args: ServiceUpgradeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sequoiacm:upgrade:ServiceUpgrade", name, {}, opts);
        const { connection, triggers, after, settled, kept, ...script } = args;
        const run = new RemoteCommand(
            childName.nodeRun(name),
            { connection, create: kept ? renderKeptNode(script.host, script.service.service) : renderServiceUpgrade(script), triggers },
            { parent: this, dependsOn: after, ...settledOptions(settled || kept) },
        );
        this.command = run;
        const markers = run.stdout.apply((out) => parseMarkers(out).values);
        this.versionBefore = markers.apply((m) => m["version-before"] ?? "unknown");
        this.versionAfter = markers.apply((m) => m["version-after"] ?? "unknown");
        this.skipped = markers.apply((m) => m.result === "skipped");
        this.seconds = markers.apply((m) => Number(m.seconds ?? 0));
        this.finishedAt = markers.apply((m) => m["finished-at"] ?? "");
        // The values above are read in this process (RollingUpgrade's `nodes`, the stack's outputs). Registering
        // them as the component's outputs would cost one more write of the whole state in the chain of every node,
        // after its command and before the next node starts: ~20 ms per node at 40 hosts (bench/README.md).
        this.registerOutputs({});
    }
}
