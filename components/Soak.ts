import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { RemoteCommand } from "./RemoteCommand";
import { parseMarkers, renderSoakWatch, SoakWatchArgs } from "../lib/shell";
import { childName } from "../lib/names";
import { settledOptions } from "./settled";

export interface SoakArgs {
    /** The soak's id, e.g. `soak/cloud/primary` (lib/plan soakSteps). */
    soak: string;
    /** One watch per host with standby nodes to watch: its connection and the script's arguments. */
    hosts: { host: string; connection: pulumi.Input<types.input.remote.ConnectionArgs>; script: SoakWatchArgs }[];
    /** Values whose change runs the soak again (the run token when a watched node was upgraded in this run). */
    triggers: string[];
    /** What must finish first: the standby wave before it. */
    after: pulumi.Input<pulumi.Resource>[];
    /** No watched node was pending in this run: a soak that already passed is not run again. */
    settled?: boolean;
}

/**
 * The soak before a primary wave: every standby node upgraded before it is watched for the configured time
 * (health read at the interval, version unchanged), one remote command per host, all at once. The primary
 * wave depends on this component, so the engine starts it only when every watch passed; a failed watch stops
 * the run, naming the node and what was seen.
 */
export class Soak extends pulumi.ComponentResource {
    /** Seconds each host's watch lasted, keyed by host. */
    public readonly seconds: pulumi.Output<Record<string, number>>;

    constructor(name: string, args: SoakArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sequoiacm:upgrade:Soak", name, {}, opts);
        const watches = args.hosts.map(
            (h) =>
                new RemoteCommand(
                    childName.soakWatch(name, h.host),
                    { connection: h.connection, create: renderSoakWatch(h.script), triggers: args.triggers },
                    { parent: this, dependsOn: args.after, ...settledOptions(args.settled) },
                ),
        );
        this.seconds = pulumi
            .all(watches.map((w, i) => w.stdout.apply((out) => [args.hosts[i].host, Number(parseMarkers(out).values.seconds ?? 0)] as const)))
            .apply((xs) => Object.fromEntries(xs));
        this.registerOutputs({ seconds: this.seconds });
    }
}
