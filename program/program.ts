import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { RollingRollback } from "../components/RollingRollback";
import { RollingUpgrade } from "../components/RollingUpgrade";
import { Preflight } from "../components/Preflight";
import { Center, formatProblems, UpgradeConfig } from "../lib/config/schema";
import { preflightArgsFor } from "../lib/nodeArgs";
import { CONFIG_NAMESPACE, loadFromConfigMap } from "../lib/config/load";
import { planWaves, Wave } from "../lib/plan";
import { connectionFor, SshSecrets } from "./connection";
import { ROOT_NAME } from "../lib/names";
import { LiveState } from "../lib/probe";
import type { RecordedNodes } from "../lib/results";
import { fileSha256 } from "./digest";
import { readLiveState } from "./live";
import { trimSdk } from "./sdk";
export { whenExportsKnown } from "./sdk";

/**
 * A file's sha256, read once per run (program/digest.ts). Asked once more when the first answer is an error:
 * another run in this process that ended early may have stopped the shared read (stopDigests).
 */
const checksum = (path: string) => fileSha256(path).catch(() => fileSha256(path));

/** KiB of the release tarball uploaded from this machine (the preflight's room for staging it), else undefined. */
const packageKiBOf = (config: UpgradeConfig) => ("localPath" in config.package ? Math.ceil(fs.statSync(config.package.localPath).size / 1024) : undefined);

export interface ProgramOptions {
    /** Upgrade only these centers' nodes (stop point). Default: both. */
    centers?: Center[];
    /** `rollback` builds the vendor rollback in reverse order instead of the upgrade. Default: `upgrade`. */
    mode?: "upgrade" | "rollback" | "preflight";
    /**
     * The nodes' live state: given by the driver (read before the engine starts), `"read"` to read it
     * here over SSH (the default: `pulumi up` without the driver), or `"none"` to let the state's
     * triggers alone decide (graph tests under mocks).
     */
    live?: LiveState | "read" | "none";
    /** A token unique to the run; nodes that are not done carry it in their triggers. Default: now. */
    runId?: string;
    /** The soak before each primary wave, in seconds, instead of the config's `soak.seconds` (`--soak`); 0: none. */
    soakSeconds?: number;
    /** With `centers`: the other center's nodes the state holds, kept as they are (RollingUpgrade `keep`). */
    keep?: string[];
    /** With `centers`: what the state recorded of the other center's nodes it does not keep, exported as it was. */
    carried?: RecordedNodes;
}

/** This run's node records beside those carried over from the state (this run's win). */
const withCarried = <T>(nodes: pulumi.Output<Record<string, T>>, carried: RecordedNodes | undefined) =>
    carried && Object.keys(carried).length ? nodes.apply((n) => ({ ...carried, ...n })) : nodes;

/** The plain value of a secret, for the live-state read only (kept in memory, never logged or exported). */
function plainOf(o: pulumi.Output<string> | undefined): Promise<string | undefined> {
    if (!o) return Promise.resolve(undefined);
    return new Promise((resolve) =>
        o.apply((v) => {
            resolve(v);
            return v;
        }),
    );
}

/** The config and plan the driver validated and computed once for the run; the program does not redo them. */
export interface Validated {
    config: UpgradeConfig;
    waves: Wave[];
}

/**
 * The stack's config validated inside the program (`pulumi up` without the driver), with the same
 * function the driver uses. Secret values are not read here: only which secret keys are set.
 */
function validatedFromStack(): Validated {
    const loaded = loadFromConfigMap(pulumi.runtime.allConfig());
    if (!loaded.ok) {
        throw new pulumi.RunError(formatProblems(loaded.problems, { stackFile: `stacks/Pulumi.${pulumi.getStack()}.yaml` }));
    }
    return { config: loaded.config, waves: planWaves(loaded.config) };
}

/**
 * The Pulumi program: the `pulumi up` CLI (index.ts) and the driver's inline program both run it.
 * Builds the RollingUpgrade from the validated config (handed over by the driver, else validated
 * here) and exports per-node results.
 */
export async function upgradeProgram(opts: ProgramOptions & { validated?: Validated } = {}): Promise<Record<string, unknown>> {
    trimSdk();
    const cfg = new pulumi.Config(CONFIG_NAMESPACE);
    const mode = opts.mode ?? "upgrade";
    const centers = opts.centers;
    const secrets: SshSecrets = {
        privateKey: cfg.getSecret("sshPrivateKey"),
        password: cfg.getSecret("sshPassword"),
        privateKeyPassphrase: cfg.getSecret("sshPrivateKeyPassphrase"),
    };
    const { config, waves } = opts.validated ?? validatedFromStack();
    const connections = Object.fromEntries(config.hosts.map((h) => [h.name, connectionFor(config, h, secrets)]));
    if (mode === "preflight") {
        // Checks only, run afresh each time (a throwaway stack of the driver holds them).
        const checks = config.hosts.map((h) => {
            const pf = new Preflight(`scm-${h.name}-preflight`, {
                ...preflightArgsFor(config, h.name, undefined, packageKiBOf(config)),
                connection: connections[h.name],
                triggers: [String(Date.now())],
            });
            return pulumi.all([h.name, pf.checks]);
        });
        return { mode, checks: pulumi.all(checks).apply((cs) => Object.fromEntries(cs)) };
    }
    if (mode === "rollback") {
        const rollback = new RollingRollback(ROOT_NAME, {
            config,
            plan: waves,
            connections,
            triggers: [config.sourceVersion, config.targetVersion],
            centers: opts.centers,
        });
        return { mode, nodes: withCarried(rollback.nodes, opts.carried) };
    }
    let live: LiveState | undefined;
    // SCM_UPGRADE_LIVE_STATE=none: for graph tests of `pulumi up`'s entry point under mocks only.
    const liveMode = opts.live ?? (process.env.SCM_UPGRADE_LIVE_STATE === "none" ? "none" : "read");
    if (liveMode === "read") {
        live = await readLiveState(config, {
            privateKey: await plainOf(secrets.privateKey),
            password: await plainOf(secrets.password),
            privateKeyPassphrase: await plainOf(secrets.privateKeyPassphrase),
        });
    } else if (liveMode !== "none") {
        live = liveMode;
    }
    const upgrade = new RollingUpgrade(ROOT_NAME, {
        config,
        plan: waves,
        packageSha256: "localPath" in config.package ? await checksum(config.package.localPath) : undefined,
        upgradeScriptSha256: config.upgradeScript ? await checksum(config.upgradeScript) : undefined,
        packageKiB: packageKiBOf(config),
        connections,
        centers,
        live,
        runId: opts.runId ?? new Date().toISOString(),
        soakSeconds: opts.soakSeconds,
        keep: opts.keep,
    });
    return {
        mode,
        targetVersion: config.targetVersion,
        waves: upgrade.plan.map((w) => ({ index: w.index, id: w.id, nodes: w.nodes.map((n) => `${n.host}/${n.service}`) })),
        nodes: withCarried(upgrade.nodes, opts.carried),
        warnings: upgrade.warnings,
    };
}
