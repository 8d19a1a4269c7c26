import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { LocalWorkspaceOptions, PulumiCommand } from "@pulumi/pulumi/automation";

import { projectRoot } from "./paths";

export { projectName, projectRoot, stacksDir } from "./paths";

export interface EngineEnvOptions {
    /** Pulumi home (CLI under bin/, plugins under plugins/). Default `$SCM_UPGRADE_PULUMI_HOME` or `<repo>/.pulumi-home`. */
    pulumiHome?: string;
    /** Backend URL. Default `$PULUMI_BACKEND_URL`, else `file://<repo>/.state` (the embedded default). */
    backendUrl?: string;
    /** Passphrase file for the passphrase secrets provider. Default: a random one created once in the Pulumi home. */
    passphraseFile?: string;
}

export function pulumiHome(o: EngineEnvOptions = {}): string {
    return o.pulumiHome ?? process.env.SCM_UPGRADE_PULUMI_HOME ?? path.join(projectRoot, ".pulumi-home");
}

export function defaultStateDir(): string {
    return path.join(projectRoot, ".state");
}

/** The CLI the bootstrap put in place (a link to a cached build, or to a `pulumi` found on the machine). */
export function pulumiBinary(o: EngineEnvOptions = {}): string {
    return path.join(pulumiHome(o), "bin", "pulumi");
}

/**
 * A passphrase for the passphrase secrets provider. A user's own PULUMI_CONFIG_PASSPHRASE(_FILE) wins;
 * otherwise one random passphrase is made once per Pulumi home, kept 0600, never printed.
 */
function ensurePassphraseFile(home: string, explicit?: string): { PULUMI_CONFIG_PASSPHRASE_FILE?: string } {
    if (explicit) return { PULUMI_CONFIG_PASSPHRASE_FILE: explicit };
    if (process.env.PULUMI_CONFIG_PASSPHRASE !== undefined || process.env.PULUMI_CONFIG_PASSPHRASE_FILE) return {};
    const file = path.join(home, "passphrase");
    if (!fs.existsSync(file)) {
        fs.mkdirSync(home, { recursive: true });
        fs.writeFileSync(file, crypto.randomBytes(24).toString("base64"), { mode: 0o600, flag: "wx" });
    }
    return { PULUMI_CONFIG_PASSPHRASE_FILE: file };
}

/**
 * The environment of every engine call: offline (no update check, no plugin download), a local
 * `file://` backend by default, passphrase secrets. Every CLI call of the Automation API gets it.
 */
export function engineEnv(o: EngineEnvOptions = {}): Record<string, string> {
    const home = pulumiHome(o);
    let backend = o.backendUrl ?? process.env.PULUMI_BACKEND_URL;
    if (!backend) {
        fs.mkdirSync(defaultStateDir(), { recursive: true });
        backend = `file://${defaultStateDir()}`;
    }
    const env: Record<string, string> = {
        PULUMI_HOME: home,
        PULUMI_BACKEND_URL: backend,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        // The engine must find the CLI it was started from, not some other `pulumi` on PATH.
        PATH: `${path.join(home, "bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    };
    const pass = ensurePassphraseFile(home, o.passphraseFile);
    if (pass.PULUMI_CONFIG_PASSPHRASE_FILE) env.PULUMI_CONFIG_PASSPHRASE_FILE = pass.PULUMI_CONFIG_PASSPHRASE_FILE;
    return env;
}

/** True when the bootstrap has put a CLI in place. */
export function toolchainPresent(o: EngineEnvOptions = {}): boolean {
    return fs.existsSync(pulumiBinary(o));
}

/** True when the command provider plugin 1.2.1 is installed in the project's Pulumi home. */
export function commandProviderPresent(o: EngineEnvOptions = {}): boolean {
    const dir = path.join(pulumiHome(o), "plugins", "resource-command-v1.2.1");
    return fs.existsSync(path.join(dir, "pulumi-resource-command"));
}

/**
 * Which command provider the bootstrap installed: the official one, or the project's offline
 * stand-in (provider/, marked in its plugin folder). `undefined` when none is installed.
 */
export function commandProviderKind(o: EngineEnvOptions = {}): "official" | "offline stand-in" | undefined {
    const dir = path.join(pulumiHome(o), "plugins", "resource-command-v1.2.1");
    if (!fs.existsSync(path.join(dir, "pulumi-resource-command"))) return undefined;
    return fs.existsSync(path.join(dir, ".scm-upgrade-standin")) ? "offline stand-in" : "official";
}

/** The CLI handle for the Automation API; explains how to get one when it is missing. */
export async function pulumiCommand(o: EngineEnvOptions = {}): Promise<PulumiCommand> {
    if (!toolchainPresent(o)) {
        throw new Error(`No Pulumi CLI at ${pulumiBinary(o)}. Run \`npm run bootstrap\` once: it builds or links the pinned toolchain.`);
    }
    // Loaded here, not at the top: the Automation API takes seconds to load and most callers of this module never need it.
    const { PulumiCommand: Command } = require("@pulumi/pulumi/automation") as typeof import("@pulumi/pulumi/automation");
    return Command.get({ root: pulumiHome(o), skipVersionCheck: true });
}

/** Workspace options shared by every stack operation: project settings, stack config folder, engine env. */
export async function workspaceOptions(o: EngineEnvOptions & { workDir?: string } = {}): Promise<LocalWorkspaceOptions> {
    return {
        workDir: o.workDir ?? projectRoot,
        pulumiCommand: await pulumiCommand(o),
        // Pulumi.yaml in workDir gives the project name and `stackConfigDir`; never rewritten here.
        envVars: engineEnv(o),
    };
}

const configReads = new Map<string, Promise<string | undefined>>();
const configReadKey = (o: EngineEnvOptions & { stack: string }) => JSON.stringify([o.stack, o.backendUrl ?? "", o.pulumiHome ?? "", o.passphraseFile ?? ""]);

/**
 * Starts `pulumi config --json --show-secrets` for a stack, once: the CLI calls it first thing for an `up`,
 * so the call runs while the rest of the tool loads. `stackConfigText` takes the result.
 */
export function prefetchStackConfig(o: EngineEnvOptions & { stack: string }): void {
    const key = configReadKey(o);
    if (configReads.has(key) || !toolchainPresent(o)) return;
    configReads.set(
        key,
        new Promise((resolve) =>
            execFile(
                pulumiBinary(o),
                ["config", "--json", "--show-secrets", "--stack", o.stack],
                { cwd: projectRoot, env: { ...process.env, ...engineEnv(o) }, maxBuffer: 64 << 20 },
                (err, stdout) => resolve(err ? undefined : stdout),
            ),
        ),
    );
}

/**
 * The stack's config as the CLI prints it (one call, no Automation API), or undefined when the CLI cannot
 * say (e.g. no such stack yet). A prefetched answer is used once: the next call reads again.
 */
export function stackConfigText(o: EngineEnvOptions & { stack: string }): Promise<string | undefined> {
    prefetchStackConfig(o);
    const key = configReadKey(o);
    const p = configReads.get(key) ?? Promise.resolve(undefined);
    configReads.delete(key);
    return p;
}
