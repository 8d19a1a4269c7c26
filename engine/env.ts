import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { LocalWorkspaceOptions, PulumiCommand } from "@pulumi/pulumi/automation";

import { ConfigEntries, plainStackConfig } from "../lib/config/stackFile";
import { decryptedStackConfig } from "./passphrase";
import { backendKind, stackPresence, stackPresenceNow } from "./locks";
import { projectRoot, stacksDir } from "./paths";

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

const isOwnHome = (home: string) => path.resolve(home) === path.join(projectRoot, ".pulumi-home");

/**
 * Pulumi's CLI writes a debug log of every command it runs to `<home>/logs` (gzip, encrypted once the
 * stack's secrets are open): ~45 % of the engine's CPU in a 200-host preview, and hundreds of MB
 * over a few days of runs. The tool reports on its own (events, run reports), so in the project's own
 * Pulumi home a file stands where that folder would be, and the CLI then writes no log.
 * SCM_UPGRADE_ENGINE_LOGS=1 gives the folder back (and the SDK's debug messages, program/sdk.ts).
 * A Pulumi home given by the user (SCM_UPGRADE_PULUMI_HOME) is left as it is.
 */
export function quietEngineLogs(home: string, own = isOwnHome(home)): void {
    if (!own) return;
    const logs = path.join(home, "logs");
    let st: fs.Stats | undefined;
    try {
        st = fs.lstatSync(logs);
    } catch {
        st = undefined;
    }
    if (process.env.SCM_UPGRADE_ENGINE_LOGS === "1") {
        if (st?.isFile()) fs.rmSync(logs);
        return;
    }
    if (st?.isFile()) return;
    fs.mkdirSync(home, { recursive: true });
    if (st) fs.rmSync(logs, { recursive: true, force: true });
    fs.writeFileSync(logs, "Pulumi's automatic logs are off in this Pulumi home (engine/env.ts): run with SCM_UPGRADE_ENGINE_LOGS=1 to keep them.\n");
}

/**
 * Whether the CLI writes its automatic logs in this Pulumi home: never in the project's own (quietEngineLogs,
 * unless SCM_UPGRADE_ENGINE_LOGS=1); in a home given by the user, unless a file stands where their folder would be.
 */
export function engineLogsOn(o: EngineEnvOptions = {}): boolean {
    const home = pulumiHome(o);
    if (isOwnHome(home)) return process.env.SCM_UPGRADE_ENGINE_LOGS === "1";
    try {
        return !fs.lstatSync(path.join(home, "logs")).isFile();
    } catch {
        return true;
    }
}

/**
 * The environment of every engine call: offline (no update check, no plugin download), a local
 * `file://` backend by default, passphrase secrets. Every CLI call of the Automation API gets it.
 */
export function engineEnv(o: EngineEnvOptions = {}): Record<string, string> {
    const home = pulumiHome(o);
    quietEngineLogs(home);
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
        // The engine writes the stack's whole state at the start and end of every step; at 40 hosts that
        // was ~130 ms per node (its gap 57 ms, and the CPU it takes from the node's SSH session). Every
        // command here checks the hosts before it acts, and `up` reads the nodes live first, so the
        // record of a run killed outright (not Ctrl-C: that writes it) is rebuilt by the next run from
        // the hosts; Pulumi's unsafe name is for resources that would be created twice. The state is
        // written once, when the run ends. SCM_UPGRADE_STATE_EVERY_STEP=1 keeps the per-step writes.
        PULUMI_SKIP_CHECKPOINTS: stateEveryStep() ? "false" : "true",
        // The engine must find the CLI it was started from, not some other `pulumi` on PATH.
        PATH: `${path.join(home, "bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    };
    const pass = ensurePassphraseFile(home, o.passphraseFile);
    if (pass.PULUMI_CONFIG_PASSPHRASE_FILE) env.PULUMI_CONFIG_PASSPHRASE_FILE = pass.PULUMI_CONFIG_PASSPHRASE_FILE;
    return env;
}

/** True when the engine is to write the stack's state at every step (Pulumi's default), not once at the end. */
function stateEveryStep(): boolean {
    return process.env.SCM_UPGRADE_STATE_EVERY_STEP === "1";
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

/**
 * The CLI handle for the Automation API; explains how to get one when it is missing. The Automation
 * API asks the CLI its version (`pulumi version`, about 0.4 s of the CLI's start-up) before every
 * stack; the answer is kept in the Pulumi home, keyed by the binary's path, size and time, and asked
 * again only when the binary changes.
 */
export async function pulumiCommand(o: EngineEnvOptions = {}): Promise<PulumiCommand> {
    if (!toolchainPresent(o)) {
        throw new Error(`No Pulumi CLI at ${pulumiBinary(o)}. Run \`npm run bootstrap\` once: it builds or links the pinned toolchain.`);
    }
    // Loaded here, not at the top: the Automation API takes seconds to load and most callers of this module never need it.
    const automation = require("@pulumi/pulumi/automation") as typeof import("@pulumi/pulumi/automation");
    const binary = pulumiBinary(o);
    const cacheFile = path.join(pulumiHome(o), "cli-version.json");
    const real = fs.realpathSync(binary);
    const st = fs.statSync(real);
    const key = `${real} ${st.size} ${st.mtimeMs}`;
    try {
        const cached = JSON.parse(fs.readFileSync(cacheFile, "utf8")) as { key?: string; version?: string };
        // The SDK's own semver (the version object must be what `get` would have made).
        const semver = require(require.resolve("semver", { paths: [require.resolve("@pulumi/pulumi/automation")] })) as typeof import("semver");
        const version = cached.key === key ? semver.parse(cached.version) : null;
        // The class's own constructor, as `get` calls it: the handle runs the CLI exactly as before.
        if (version) return inOwnProcessGroup(Reflect.construct(automation.PulumiCommand, [binary, version]) as PulumiCommand);
    } catch {
        // No answer kept yet, or an unreadable one: ask the CLI below.
    }
    const cmd = await automation.PulumiCommand.get({ root: pulumiHome(o), skipVersionCheck: true });
    if (cmd.version) {
        try {
            fs.writeFileSync(cacheFile, JSON.stringify({ key, version: cmd.version.version }));
        } catch {
            // A read-only Pulumi home: asked again next time.
        }
    }
    return inOwnProcessGroup(cmd);
}

/**
 * The Pulumi CLIs still at work. A CLI in a process group of its own outlives this process (execa cleans up only
 * the children it did not detach): when this process exits before one ends (a third interrupt, a crash), each is
 * sent SIGTERM, as execa did for it, so the engine stops instead of running on unwatched.
 */
const liveCommands = new Set<{ pid?: number }>();
process.on("exit", () => {
    for (const c of liveCommands) {
        try {
            if (c.pid) process.kill(-c.pid, "SIGTERM");
        } catch {
            // already gone
        }
    }
});

type CommandRun = (
    args: string[],
    cwd: string,
    env: Record<string, string>,
    onOutput?: (text: string) => void,
    onError?: (text: string) => void,
    signal?: AbortSignal,
) => Promise<unknown>;

/**
 * Every Pulumi CLI the Automation API starts runs as the leader of a process group of its own, so that this
 * process alone decides when the engine stops. In this process's group the engine also got what was sent to
 * the group: a closed terminal's SIGHUP killed it mid-node (Go's default), and a terminal's Ctrl-C or
 * `timeout`'s SIGTERM beside the SIGINT this process sends made two signals, which stop it at once, cutting
 * off the nodes in progress. The CLI (cli/main.ts) turns each of those into one SIGINT (the nodes in
 * progress finish) and a second only when asked twice. The API's own runner (`run`, internal to it, not
 * typed), with the process group as the one difference; its errors are made as it makes them.
 */
function inOwnProcessGroup(cmd: PulumiCommand): PulumiCommand {
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/automation"));
    const execa = require(require.resolve("execa", { paths: [sdk] })) as typeof import("execa");
    const { CommandResult } = require(path.join(sdk, "cmd")) as { CommandResult: new (stdout: string, stderr: string, code: number, err?: Error) => unknown };
    const { createCommandError } = require(path.join(sdk, "errors")) as { createCommandError: (r: unknown) => Error };
    const binary = (cmd as unknown as { command: string }).command;
    const run: CommandRun = async (args, cwd, additionalEnv, onOutput, onError, signal) => {
        // non-interactive: a command that would prompt fails instead of waiting for ever
        const argv = args.includes("--non-interactive") ? args : [...args, "--non-interactive"];
        const env: Record<string, string> = { ...additionalEnv, PULUMI_AUTOMATION_API: "true" };
        // the CLI's own folder first: the plugins bundled with it
        if (path.isAbsolute(binary)) env.PATH = `${path.dirname(binary)}${path.delimiter}${additionalEnv.PATH ?? process.env.PATH ?? ""}`;
        try {
            const child = execa(binary, argv, { env, cwd, detached: true });
            liveCommands.add(child);
            child.finally(() => liveCommands.delete(child)).catch(() => undefined);
            if (onError) child.stderr?.on("data", (d: Buffer) => onError(d.toString()));
            if (onOutput) child.stdout?.on("data", (d: Buffer) => onOutput(d.toString()));
            signal?.addEventListener("abort", () => child.kill("SIGINT", { forceKillAfterTimeout: false }));
            const r = await child;
            if (r.exitCode !== 0) throw new Error(r.stderr);
            return new CommandResult(r.stdout, r.stderr, r.exitCode);
        } catch (e) {
            // as the API's runner: a failed command's error carries execa's message (its stderr with it)
            throw createCommandError(new CommandResult("", (e as Error).message, -2, e as Error));
        }
    };
    Object.defineProperty(cmd, "run", { value: run });
    return cmd;
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

const configReads = new Map<string, Promise<ConfigEntries | undefined>>();

/**
 * A config without secrets (keys in files, an agent) is its stack file, read in milliseconds: the CLI
 * (~0.5 s of start-up) is asked only when it must decrypt or merge (lib/config/stackFile.ts).
 */
export const plainConfigOf = (stack: string) => plainStackConfig(path.join(projectRoot, "Pulumi.yaml"), stacksDir, stack);
const configReadKey = (o: EngineEnvOptions & { stack: string }) => JSON.stringify([o.stack, o.backendUrl ?? "", o.pulumiHome ?? "", o.passphraseFile ?? ""]);

/**
 * Starts reading a stack's config with its secrets, once: the CLI calls it first thing for an `up`, so the
 * read runs while the rest of the tool loads. Passphrase secrets are decrypted here (engine/passphrase.ts);
 * anything else, or what does not open, is `pulumi config --json --show-secrets`. `stackConfigEntries`
 * takes the result.
 */
export function prefetchStackConfig(o: EngineEnvOptions & { stack: string }): void {
    const key = configReadKey(o);
    if (configReads.has(key) || !toolchainPresent(o) || plainConfigOf(o.stack)) return;
    const env = { ...process.env, ...engineEnv(o) };
    configReads.set(
        key,
        decryptedStackConfig(path.join(projectRoot, "Pulumi.yaml"), stacksDir, o.stack, env).then(
            (own) =>
                own ??
                runPulumi(o, ["config", "--json", "--show-secrets", "--stack", o.stack]).then((r) =>
                    r.ok ? (JSON.parse(r.stdout) as ConfigEntries) : undefined,
                ),
        ),
    );
}

/**
 * One Pulumi CLI command in the project's folder with the engine's environment, outside the Automation API.
 * `input` goes to its standard input (a secret's value: never an argument, which any user can see in `ps`).
 */
export function runPulumi(o: EngineEnvOptions, args: string[], input?: string): Promise<{ ok: boolean; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = execFile(
            pulumiBinary(o),
            args,
            { cwd: projectRoot, env: { ...process.env, ...engineEnv(o) }, maxBuffer: 64 << 20 },
            (err, stdout, stderr) => resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) }),
        );
        child.stdin?.end(input ?? "");
    });
}

const stackInits = new Map<string, { made: Promise<boolean>; taken: boolean }>();

/**
 * Starts `pulumi stack init` for a stack its backend does not hold yet (read directly: file:// or
 * postgres://), once: a new stack's first engine command then pays no CLI start-up of its own for it
 * (~0.6 s), the init running while the tool loads (preview) or reads the hosts (up). `takeStackInit`
 * hands the result to the stack's opening; one that is never taken is the caller's to remove.
 */
export function prefetchStackInit(o: EngineEnvOptions & { stack: string }): void {
    const key = configReadKey(o);
    if (stackInits.has(key) || !toolchainPresent(o) || !fs.existsSync(path.join(projectRoot, "Pulumi.yaml"))) return;
    const url = engineEnv(o).PULUMI_BACKEND_URL;
    // As the Automation API's own createStack runs it (non-interactive, in the project's folder).
    const init = async () => (await runPulumi(o, ["stack", "init", o.stack, "--non-interactive"])).ok;
    // file://: known and started now, before the rest of the tool loads; a database answers later.
    const now = stackPresenceNow(url, o.stack);
    if (now === "absent") stackInits.set(key, { made: init(), taken: false });
    else if (now === "unknown" && backendKind(url) === "postgres")
        stackInits.set(key, { made: stackPresence(url, o.stack).then((p) => (p === "absent" ? init() : false)), taken: false });
}

/**
 * Resolves once a prefetched `stack init` of this stack has ended: it may write the stack file (a new
 * `encryptionsalt`, truncated and rewritten in place), so the file is read only after it.
 */
export async function stackInitSettled(o: EngineEnvOptions & { stack: string }): Promise<void> {
    await stackInits.get(configReadKey(o))?.made;
}

/**
 * The prefetched `stack init` of this stack, once: true when it made the stack, false when it did not
 * run or failed (the opening then goes its usual way, and reports the error itself); undefined when
 * none was started.
 */
export function takeStackInit(o: EngineEnvOptions & { stack: string }): Promise<boolean> | undefined {
    const init = stackInits.get(configReadKey(o));
    if (!init || init.taken) return undefined;
    init.taken = true;
    return init.made;
}

/**
 * A stack made early for a run that ended before opening it (nothing to do, a host unreachable, an
 * interrupt) is removed again, so that no empty stack is left behind; its stack file stays as it is.
 */
export async function removeUntakenStackInit(o: EngineEnvOptions & { stack: string }): Promise<void> {
    const made = takeStackInit(o);
    stackInits.delete(configReadKey(o));
    if (made && (await made)) await runPulumi(o, ["stack", "rm", o.stack, "--yes", "--preserve-config", "--non-interactive"]);
}

/**
 * The stack's config as `pulumi config --json --show-secrets` gives it (no Automation API), or undefined when
 * the CLI cannot say (e.g. no such stack yet). A prefetched answer is used once: the next call reads again.
 */
export function stackConfigEntries(o: EngineEnvOptions & { stack: string }): Promise<ConfigEntries | undefined> {
    prefetchStackConfig(o);
    const key = configReadKey(o);
    const p = configReads.get(key) ?? Promise.resolve(undefined);
    configReads.delete(key);
    return p;
}
