import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { RemoteCommand } from "./RemoteCommand";
import { parseMarkers, PreflightArgs as PreflightScriptArgs, renderPreflight } from "../lib/shell";
import { childName } from "../lib/names";
import { settledOptions } from "./settled";

export interface PreflightArgs extends PreflightScriptArgs {
    connection: pulumi.Input<types.input.remote.ConnectionArgs>;
    /** Values whose change runs the checks again (package checksum, versions). */
    triggers: string[];
    /** Nothing to do anywhere in this run (read live): the checks do not run again. */
    settled?: boolean;
}

/**
 * Read-only checks on one host before any node anywhere is upgraded: SSH, folders, install user,
 * staged script, free disk, installed versions, 3.2 prerequisites. Fails the run on any failed check.
 */
export class Preflight extends pulumi.ComponentResource {
    /** Warnings the checks reported (e.g. stale backup markers). */
    public readonly warnings: pulumi.Output<string[]>;
    /** Every check, `<name> <ok|warn|fail> <detail>`. */
    public readonly checks: pulumi.Output<string[]>;

    constructor(name: string, args: PreflightArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sequoiacm:upgrade:Preflight", name, {}, opts);
        const { connection, triggers, settled, ...script } = args;
        const run = new RemoteCommand(
            childName.preflightChecks(name),
            { connection, create: renderPreflight(script), triggers },
            { parent: this, ...settledOptions(settled) },
        );
        this.warnings = run.stdout.apply((out) =>
            parseMarkers(out)
                .checks.filter((c) => c.status === "warn")
                .map((c) => `${args.host}: ${c.name}: ${c.detail}`),
        );
        this.checks = run.stdout.apply((out) => parseMarkers(out).checks.map((c) => `${c.name} ${c.status} ${c.detail}`));
        this.registerOutputs({ warnings: this.warnings, checks: this.checks });
    }
}
