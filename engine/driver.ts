import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent, OutputMap, Stack, UpdateSummary, UpResult } from "@pulumi/pulumi/automation";
import { Center, ConfigProblem, UpgradeConfig } from "../lib/config/schema";
import { DriverError } from "./errors";
import { CONFIG_NAMESPACE, loadFromConfigMap } from "../lib/config/load";
import { SECRET_KEYS } from "../lib/config/vocabulary";
import { centerFirst, planWaves, soakSettings, soakSteps, Wave } from "../lib/plan";
import type { ProgramOptions, Validated } from "../program/program";
import { LiveState, liveKey } from "../lib/probe";
import { fileSha256, stopDigests } from "../program/digest";
import { LiveStateError, readLiveState, SshCredentials, sshAnswer } from "../program/live";
import { EngineSignal } from "./engineSignal";
import { readStackRecord } from "./stackRecord";
import { HostWatch, LostHost, watchHosts } from "./hostWatch";
import { buildNameIndex, makeTranslator, ProgressEvent, withoutCommandText } from "./events";
import { componentName, childName, NameIndex, nameOfUrn, ResourceRole, ROOT_NAME } from "../lib/names";
import { parseMarkers } from "../lib/shell";
import type { RecordedNodes } from "../lib/results";
import {
    commandProviderPresent,
    plainConfigOf,
    prefetchStackInit,
    projectName,
    removeUntakenStackInit,
    runPulumi,
    stackConfigEntries,
    stackInitSettled,
    projectRoot,
    stacksDir,
    takeStackInit,
    workspaceOptions,
    EngineEnvOptions,
    engineEnv,
    toolchainPresent,
} from "./env";
import {
    backendKind,
    describeLock,
    locksInEngineText,
    PendingOperation,
    readLocks,
    readPendingOperations,
    readStateResources,
    redactUrl,
    removeLocks,
    StackLock,
    stackPresence,
    StateResource,
    takeLock,
} from "./locks";

// The Automation API and the program (with the Pulumi SDK and the components) take seconds to load on
// a busy machine; they are loaded when an engine call needs them, so an `up` with nothing to do, or a
// refusal, answers without them.
const automation = () => require("@pulumi/pulumi/automation") as typeof import("@pulumi/pulumi/automation");
const program = () => require("../program/program") as typeof import("../program/program");

export { DriverError } from "./errors";
export type { FailureKind } from "./errors";

export interface RunOptions extends EngineEnvOptions, ProgramOptions {
    /** Stack name, e.g. `sandbox` or `production`. */
    stack: string;
    /** Typed progress events. Nothing is printed by the driver itself. */
    onEvent?: (e: ProgressEvent) => void;
    /** Raw engine events, for callers that want everything. */
    onEngineEvent?: (e: EngineEvent) => void;
    /** Engine output lines (the CLI's text), when a caller wants to show them. */
    onOutput?: (line: string) => void;
    /** Aborting stops after the node in progress: the engine gets SIGINT and finishes its running steps. */
    signal?: AbortSignal;
    /** Aborting (after `signal`) stops the engine at once: its steps in progress are cut off (a second SIGINT). */
    stopNow?: AbortSignal;
}

/** The stack, created on first use; inline program = this project's program, in this process. */
export async function openStack(
    o: RunOptions,
    inputs?: () => { validated?: Validated; live?: LiveState; kept?: string[]; carried?: RecordedNodes },
    /** Given the program's exports, resolved in this process, once an update's program has run. */
    onExports?: (values: OutputMap) => void,
): Promise<Stack> {
    // Taken at once: this opening owns it from here (a run's end removes only a stack made early and never taken).
    const early = takeStackInit(o);
    if (!toolchainPresent(o)) {
        throw new DriverError("toolchain", "No Pulumi CLI in the project's Pulumi home: run `npm run bootstrap` (see README).");
    }
    // The config is validated and the live state read by the driver before the engine starts; both reach
    // the program through this closure, so the program neither validates again nor reads the hosts.
    const runId = new Date().toISOString();
    const inline = async () => {
        const given = inputs?.() ?? {};
        const exports = await program().upgradeProgram({
            centers: o.centers,
            mode: o.mode,
            live: given.live ?? "none",
            validated: given.validated,
            runId,
            soakSeconds: o.soakSeconds,
            keep: given.kept,
            carried: given.carried,
        });
        if (onExports) program().whenExportsKnown(exports, onExports);
        return exports;
    };
    const ws = await workspaceOptions(o);
    const auto = automation();
    // `pulumi stack select` (a CLI start-up, ~0.5 s) only checks that the stack exists, or, failing, makes
    // it with a second CLI run; every engine command names its stack itself (`--stack`). When the backend
    // says whether it holds the stack, the one step needed is taken: none, or `pulumi stack init`.
    // A `stack init` started early (prefetchStackInit) has made the stack by now, or left it to the steps below.
    await early;
    const presence = fs.existsSync(path.join(ws.workDir ?? "", "Pulumi.yaml")) ? await stackPresence(engineEnv(o).PULUMI_BACKEND_URL, o.stack) : "unknown";
    if (presence === "present") {
        const workspace = await auto.LocalWorkspace.create({ ...ws, program: inline });
        const own = workspace as unknown as { selectStack: (name: string) => Promise<void> };
        own.selectStack = async () => undefined;
        try {
            return await auto.Stack.select(o.stack, workspace);
        } finally {
            delete (own as Partial<typeof own>).selectStack;
        }
    }
    if (presence === "absent") {
        // Made by another run meanwhile: `stack init` refuses, and the stack is selected as usual.
        const made = await auto.LocalWorkspace.createStack({ stackName: o.stack, projectName, program: inline }, ws).catch((e) => {
            if (e instanceof auto.StackAlreadyExistsError) return undefined;
            throw e;
        });
        if (made) return made;
    }
    return auto.LocalWorkspace.createOrSelectStack({ stackName: o.stack, projectName, program: inline }, ws);
}

/** Commands on hosts need the command provider plugin; say so before the engine fails less clearly. */
export function requireProvider(o: EngineEnvOptions = {}): void {
    if (!commandProviderPresent(o)) {
        throw new DriverError(
            "toolchain",
            "The command provider plugin 1.2.1 is not installed in the project's Pulumi home, so no command can run on a host. " +
                "Run `npm run bootstrap` (on a machine with internet it installs it; offline, see README: put the binary in the cache).",
        );
    }
}

/** The SSH secrets of a stack's config, plain, for the live-state read. */
function credentialsOf(flat: Record<string, string>): SshCredentials {
    return {
        privateKey: flat[`${CONFIG_NAMESPACE}:sshPrivateKey`],
        password: flat[`${CONFIG_NAMESPACE}:sshPassword`],
        privateKeyPassphrase: flat[`${CONFIG_NAMESPACE}:sshPrivateKeyPassphrase`],
    };
}

type StackConfig = { config: UpgradeConfig; secretKeys: string[]; credentials: SshCredentials };

/**
 * Validates a stack's config as Pulumi gives it (`pulumi config --json --show-secrets`). `releaseUnused`: the
 * command uploads and unpacks nothing (rollback, status, refresh), so the release's local files may be gone.
 */
function validateStackConfig(
    ref: Pick<RunRef, "stack" | "backendUrl">,
    all: Record<string, { value?: string; secret?: boolean }>,
    releaseUnused = false,
): StackConfig {
    const stackName = ref.stack;
    const flat: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [k, v] of Object.entries(all)) {
        flat[k] = v.value ?? "";
        if (v.secret) secretKeys.push(k);
    }
    // Relative paths count from the project folder, wherever the command runs from.
    const r = loadFromConfigMap(flat, { releaseUnused, baseDir: projectRoot });
    // A credential set without --secret sits in plain text in the stack file, which a team shares through its
    // repository: refused (it would work) so that it is moved into a secret before it is used.
    const plain = SECRET_KEYS.filter((k) => all[`${CONFIG_NAMESPACE}:${k}`] !== undefined && !secretKeys.includes(`${CONFIG_NAMESPACE}:${k}`)).map(
        (k): ConfigProblem => ({
            path: k,
            message: `is in plain text in the stack's config (set without --secret), where everyone who reads stacks/Pulumi.${stackName}.yaml reads it`,
            fix: `store it as a secret, which replaces the plain value: ${commandLine(ref, `secret ${k}`)}${k === "sshPrivateKey" ? " --from <key file>" : ""}`,
        }),
    );
    if (!r.ok || plain.length) {
        throw new DriverError("invalid-config", `The configuration of stack ${stackName} is invalid.`, [...(r.ok ? [] : r.problems), ...plain]);
    }
    return { config: r.config, secretKeys, credentials: credentialsOf(flat) };
}

/**
 * Read and validate the stack's config before the engine touches anything. `backendUrl`: the backend given as a
 * flag, named in the fixes a message gives.
 */
export async function loadStackConfig(stack: Stack, releaseUnused = false, backendUrl?: string): Promise<StackConfig> {
    // Secrets under another passphrase: exit 3 with the variable to set, not the CLI's exit code.
    const all = await stack.getAllConfig().catch((e: unknown) => {
        throw passphraseRefusal(stack.name, String((e as Error)?.message ?? e)) ?? e;
    });
    return validateStackConfig({ stack: stack.name, backendUrl }, all, releaseUnused);
}

/**
 * The stack's config without the Automation API: its stack file when that alone decides it (no secret, or
 * passphrase secrets this process can open), else one call of the CLI (what `getAllConfig` runs, minus
 * selecting the stack). Undefined when the CLI cannot say, e.g. the stack does not exist yet (the full
 * path creates it and reports any error). `preload`: load the engine's modules while it waits (a command
 * that starts the engine); `releaseUnused`: as in validateStackConfig.
 */
async function quickStackConfig(
    o: RunOptions,
    { preload = true, releaseUnused = false }: { preload?: boolean; releaseUnused?: boolean } = {},
): Promise<StackConfig | undefined> {
    const plain = plainConfigOf(o.stack);
    if (plain) return validateStackConfig(o, plain, releaseUnused);
    const reading = stackConfigEntries(o);
    let pending = true;
    // While the secrets' key is derived (~0.3 s on the thread pool) or the CLI decrypts, this thread only
    // waits: the engine's modules load then (the Automation API and the program, ~0.3 s that an up otherwise
    // spends after its live read). Each starts only while the read is still pending, one per turn of the event
    // loop so that the read's end is seen between them: a run that ends without the engine (nothing to do)
    // is held at most by the load in progress when the read ends.
    setImmediate(() => {
        if (!pending || !preload) return;
        automation();
        setImmediate(() => pending && program());
    });
    const entries = await reading.finally(() => (pending = false));
    return entries && validateStackConfig(o, entries, releaseUnused);
}

/** The plan of a stack's config: pure, no SSH, no engine run. */
export async function plan(o: RunOptions, releaseUnused = false): Promise<{ config: UpgradeConfig; waves: Wave[] }> {
    const stack = await openStack(o);
    const { config } = await loadStackConfig(stack, releaseUnused, o.backendUrl);
    return { config, waves: planWaves(config) };
}

/** What the driver saw of a run, from the engine's structured events: which resources failed, which nodes changed. */
export interface RunObservations {
    failed: ResourceRole[];
    /** The engine's message for each failed resource, by its role (JSON). */
    messages?: Record<string, string>;
    upgraded: string[];
    /** Nodes the state held (replaced or updated this run): where the state said "done". */
    recorded?: string[];
}

export function observe(idx: NameIndex, seen: RunObservations, ev: EngineEvent): void {
    const failedUrn = ev.resOpFailedEvent?.metadata.urn ?? (ev.diagnosticEvent?.severity === "error" ? ev.diagnosticEvent.urn : undefined);
    if (failedUrn) {
        const role = idx.get(nameOfUrn(failedUrn));
        if (role && !seen.failed.some((r) => JSON.stringify(r) === JSON.stringify(role))) seen.failed.push(role);
        if (role && ev.diagnosticEvent?.message) seen.messages = { ...seen.messages, [JSON.stringify(role)]: ev.diagnosticEvent.message };
    }
    const pre = ev.resourcePreEvent?.metadata;
    if (pre && (pre.op === "create-replacement" || pre.op === "update")) {
        const role = idx.get(nameOfUrn(pre.urn));
        if (role?.role === "node") seen.recorded = [...(seen.recorded ?? []), `${role.host}/${role.service}`];
    }
    const out = ev.resOutputsEvent?.metadata;
    if (out && out.op !== "same" && out.op !== "delete") {
        const role = idx.get(nameOfUrn(out.urn));
        if (role?.role === "node" && parseMarkers(String(out.new?.outputs?.stdout ?? "")).values.result !== "skipped") {
            seen.upgraded.push(`${role.host}/${role.service}`);
        }
    }
}

/**
 * The end of a run that stopped because a host stopped answering mid-step (engine/hostWatch.ts): exit 1,
 * naming the host, what ran there, and why its outcome there is not known yet.
 */
export function lostHostError(l: LostHost, seen: RunObservations, o: RunOptions, operation: "up" | "rollback"): DriverError {
    const done = seen.upgraded.length;
    const verb = operation === "rollback" ? "rolled back" : "upgraded";
    return new DriverError(
        "upgrade-failed",
        `Host ${l.host} stopped answering SSH while ${l.what} ran there (no SSH login for ${l.seconds} s: ${l.error}). ` +
            `The run stopped after ${done} node${done === 1 ? "" : "s"} ${verb} in this run; later nodes were not touched. ` +
            `What that step did on ${l.host} is not known until the host answers: when it does (check its console, power and network), ` +
            `run \`${commandLine(o, operation)}\` to resume (it reads every node live first).`,
    );
}

/**
 * Why a run failed, from what the engine reported about its resources (never from matching
 * resource names in text): a preflight resource -> preflight failed (exit 4); a node -> the upgrade
 * stopped there (exit 1), naming it and what this run did before it.
 */
export function classify(e: unknown, text: string, aborted: boolean, run: RunRef & { operation?: string }, seen?: RunObservations): DriverError {
    if (e instanceof DriverError) return e;
    const stack = run.stack;
    // A terminal's Ctrl-C reaches the engine directly; it then reports the update as canceled.
    if (aborted || /\b(update|preview|destroy|refresh) cancel+ed\b|\bcancel+ed by user\b/i.test(text)) {
        const op = run.operation ?? "up";
        return new DriverError(
            "interrupted",
            op === "up" || op === "rollback"
                ? `Interrupted: the engine stopped after the steps in progress. Run \`${commandLine(run, op)}\` again to resume.`
                : `Interrupted: the engine stopped after the steps in progress. Run \`${commandLine(run, op)}\` again.`,
        );
    }
    if (e instanceof automation().ConcurrentUpdateError || /currently locked|another update is currently in progress/i.test(text)) {
        return lockedError(run, locksInEngineText(text));
    }
    const passphrase = passphraseRefusal(stack, text);
    if (passphrase) return passphrase;
    const failed = seen?.failed ?? [];
    const done = seen?.upgraded.length ?? 0;
    const nodes = failed.filter((r): r is Extract<ResourceRole, { role: "node" }> => r.role === "node");
    if (nodes.length) {
        const where = nodes.map((n) => `${n.host}/${n.service}`).join(", ");
        const verb = nodes[0].rollback ? "rollback" : "upgrade";
        return new DriverError(
            "upgrade-failed",
            `The ${verb} stopped at ${where} after ${done} node${done === 1 ? "" : "s"} ${nodes[0].rollback ? "rolled back" : "upgraded"} in this run; later nodes were not touched. ` +
                `Fix the cause shown above, then run \`${commandLine(run, nodes[0].rollback ? "rollback" : "up")}\` to resume.`,
        );
    }
    const soaks = failed.filter((r): r is Extract<ResourceRole, { role: "soak" }> => r.role === "soak");
    if (soaks.length) {
        // The watch's own words: the node it saw, and what it saw.
        const seenOn = soaks.map((r) => {
            const m = withoutCommandText(seen?.messages?.[JSON.stringify(r)] ?? "");
            const node = /^SCMUP soak-node=(\S+)$/m.exec(m)?.[1];
            const what = /^SCMUP soak-seen=(.*)$/m.exec(m)?.[1];
            return node ? `${node} ${what ?? "was not healthy"}` : `a standby node on ${r.host} was not healthy (see above)`;
        });
        return new DriverError(
            "upgrade-failed",
            `The ${soaks[0].soak.replace(/^soak\//, "soak before ")} failed: ${seenOn.join("; ")}. The run stopped after ${done} node${done === 1 ? "" : "s"} upgraded in this run; no node of that primary wave or later was touched. ` +
                `Find out why, then run \`${commandLine(run, "up")}\` to soak again and resume.`,
        );
    }
    const pre = failed.filter((r) => r.role === "preflight").map((r) => r.host);
    if (pre.length) {
        return new DriverError(
            "preflight-failed",
            `Preflight failed on ${pre.join(", ")}: no node was upgraded. Fix what the checks above name and run again.`,
        );
    }
    // The staged script's checks (its interpreter, one archive per service) run at the end of staging:
    // a failed check there is a preflight failure too, before any node changed.
    const checked = failed.filter((r) => r.role === "staging" && /^SCMUP check=\S+ fail/m.test(seen?.messages?.[JSON.stringify(r)] ?? ""));
    if (checked.length) {
        // The check's own reason names the host and the fix; the progress lines above show only what failed.
        const reason = parseMarkers(withoutCommandText(seen?.messages?.[JSON.stringify(checked[0])] ?? "")).values.reason;
        const hosts = [...new Set(checked.map((r) => r.host))];
        const more = hosts.length > 1 ? ` The check failed on ${hosts.slice(1).join(", ")} too (see above).` : "";
        return new DriverError(
            "preflight-failed",
            `Preflight failed on ${hosts.join(", ")}: the staged release cannot run there; no node was upgraded.${reason ? ` ${reason.replace(/\.?$/, ".")}` : " See above."}${more}`,
        );
    }
    const staging = [...new Set(failed.filter((r) => r.role === "staging").map((r) => r.host))];
    if (staging.length) {
        return new DriverError(
            "upgrade-failed",
            `Staging the release failed on ${staging.join(", ")}: no node was upgraded. Fix the cause shown above and run again.`,
        );
    }
    return new DriverError("upgrade-failed", `The run failed before any node was changed: ${cliReason(text)}`);
}

/**
 * Exit 3 when the passphrase secrets provider refused, before anything ran: the stack (its stack file's salt,
 * or its state) was made with another passphrase, e.g. by a teammate or from another Pulumi home.
 */
export function passphraseRefusal(stack: string, text: string): DriverError | undefined {
    if (!/incorrect passphrase|passphrase must be set|failed to decrypt/i.test(text)) return undefined;
    return new DriverError(
        "invalid-config",
        `The secrets of stack ${stack} cannot be read with this passphrase (the Pulumi CLI: ${cliReason(text)}): it was made with another one, by another operator or from another Pulumi home. Set PULUMI_CONFIG_PASSPHRASE_FILE (or PULUMI_CONFIG_PASSPHRASE) to the passphrase it was made with, then run again. Nothing was changed.`,
    );
}

/**
 * Why a Pulumi CLI call failed, from its text: the CLI's own `error: ` line (the Automation API's error
 * begins with its exit code, which says nothing), else the text's first line.
 */
export function cliReason(text: string): string {
    const t = withoutCommandText(text);
    const own = [...t.matchAll(/^error: (.+)$/gm)].map((m) => m[1].trim()).find((l) => !/^(update|preview|refresh|destroy) failed$/i.test(l));
    return own ?? t.split("\n").find((l) => l.trim()) ?? "see the engine's output";
}

/** Exit 5: the stack is locked; names the real stack and each holder (user, host, process, since when). */
export function lockedError(run: RunRef, locks: StackLock[]): DriverError {
    const by = locks.length ? ` (held by ${locks.map(describeLock).join("; ")})` : "";
    return new DriverError(
        "stack-locked",
        `Another run holds the lock of stack ${run.stack}${by}: wait for it to finish; nothing was changed. If no run is alive (a killed process), run \`${commandLine(run, "unlock")}\`.`,
    );
}

/** The operations that take the stack's lock in the engine (a preview does not). */
const LOCKING = new Set(["up", "rollback", "refresh", "destroy"]);

/**
 * Refuses (exit 5, naming the holder) when a run holds the stack's lock. Read through the backend
 * itself: lock files on file://, lock rows on postgres://. Other backends: the engine's own check.
 */
async function refuseIfLocked(o: RunOptions): Promise<void> {
    const url = engineEnv(o).PULUMI_BACKEND_URL;
    if (backendKind(url) === "other") return;
    let locks: StackLock[];
    try {
        locks = await readLocks(url, o.stack);
    } catch (e) {
        throw new DriverError(
            "upgrade-failed",
            `Cannot read the locks of stack ${o.stack} in ${redactUrl(url)}: ${String((e as Error)?.message ?? e)}. Nothing was changed.`,
        );
    }
    if (locks.length) throw lockedError(o, locks);
}

/**
 * The engine's record of operations a killed run left unfinished (only a run that wrote its state at
 * every step leaves one: SCM_UPGRADE_STATE_EVERY_STEP=1, or an earlier version). A command that was running
 * when its driver died may or may not have completed on the host; every script here checks the
 * installed version first, so clearing the record and running again is safe.
 *
 * Never on a stack another run holds: the state is read while this run holds the stack's lock
 * (every other run is refused meanwhile), released only for the write itself, `stack import`, which
 * takes the lock again in the engine and is refused if any other run took it in between (the CLI's
 * start-up, under a second). Only a run that took the lock, wrote the state and let go within that
 * gap could be overwritten; no up, rollback or refresh is that short.
 */
async function clearPendingOperations(open: () => Promise<Stack>, o: RunOptions, say: (l: string) => void): Promise<number> {
    const url = engineEnv(o).PULUMI_BACKEND_URL;
    let lock: Awaited<ReturnType<typeof takeLock>> | undefined;
    try {
        lock = backendKind(url) === "other" ? undefined : await takeLock(url, o.stack);
    } catch (e) {
        throw new DriverError(
            "upgrade-failed",
            `Cannot take the lock of stack ${o.stack} in ${redactUrl(url)}: ${String((e as Error)?.message ?? e)}. Nothing was changed.`,
        );
    }
    if (lock && "heldBy" in lock) throw lockedError(o, lock.heldBy);
    let state: { deployment: { pending_operations?: PendingOperation[] } } | undefined;
    let pending: PendingOperation[] | undefined;
    try {
        // Read from the backend (usually none: no CLI start-up then); the CLI's export when there are some.
        pending = lock ? await readPendingOperations(url, o.stack) : undefined;
        if (pending?.length !== 0) {
            await open(); // made first when new (a backend this does not read)
            state = JSON.parse(await stateCommand(o, ["stack", "export"]));
            pending = state!.deployment.pending_operations ?? [];
        }
    } finally {
        await lock?.release();
    }
    if (!state || pending.length === 0) return 0;
    for (const p of pending) say(`clearing the record of ${p.resource.urn.split("::").pop()}, interrupted while ${p.type}`);
    state.deployment.pending_operations = [];
    await stateCommand(o, ["stack", "import"], JSON.stringify(state));
    return pending.length;
}

/**
 * `pulumi stack export` or `stack import` (the state on standard input): the state's secrets stay encrypted
 * on the way. The Automation API's exportStack asks for them in plain text, and its importStack writes that
 * text to a file in the temp folder, readable by others there. Its output, or an error with the CLI's words.
 */
async function stateCommand(o: RunOptions, args: ["stack", "export" | "import"], input?: string): Promise<string> {
    const r = await runPulumi(o, [...args, "--stack", o.stack], input);
    if (!r.ok) throw new Error(`pulumi ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
}

/** The planned nodes of the centers a run leaves alone (`--only-center`: the other one). */
const nodesOutside = (o: RunOptions, waves: Wave[]) => waves.filter((w) => !(o.centers ?? ["standby", "primary"]).includes(w.center)).flatMap((w) => w.nodes);

/**
 * A run of one center (`--only-center`) registers that center's nodes, and the engine deletes from the state
 * what a program no longer registers: after `up --only-center standby`, `up --only-center primary` dropped every
 * standby node's record (`status` showed none). The other center's nodes the state holds whole (the node and
 * its command, neither marked for deletion) are kept instead: the program registers them as they are
 * (RollingUpgrade `keep`), the engine finds nothing changed, and their records stay in the stack's outputs.
 * Their `host/service` keys.
 */
async function keptOutside(o: RunOptions, waves: Wave[], open: () => Promise<Stack>): Promise<string[]> {
    const outside = nodesOutside(o, waves);
    const nodeOf = new Map(outside.map((n) => [componentName.node(ROOT_NAME, n.host, n.service), liveKey(n.host, n.service)]));
    let resources = await readStateResources(engineEnv(o).PULUMI_BACKEND_URL, o.stack);
    if (!resources) {
        await open(); // made first when new (a backend this does not read)
        resources = (JSON.parse(await stateCommand(o, ["stack", "export"])) as { deployment?: { resources?: StateResource[] } }).deployment?.resources ?? [];
    }
    const held = resources.filter((r) => !r.delete);
    // A node is its component and, under it, the command named after it (a soak or a rollback of the same name has none).
    const nodes = new Map(held.filter((r) => nodeOf.has(nameOfUrn(r.urn))).map((r) => [r.urn, nameOfUrn(r.urn)]));
    const whole = held.flatMap((r) => {
        const node = r.parent === undefined ? undefined : nodes.get(r.parent);
        return node !== undefined && nameOfUrn(r.urn) === childName.nodeRun(node) ? [nodeOf.get(node) as string] : [];
    });
    return [...new Set(whole)];
}

/**
 * What the state's outputs recorded of the other center's nodes that a run of one center does not register: a
 * rollback's program has no upgrade node, and an upgrade after a rollback of that center finds no node to keep.
 * The engine would drop them from the outputs (`rollback --only-center primary` left the standby without a
 * record); they are carried into this run's outputs as they were, marked with what their run did.
 */
async function carriedOutside(o: RunOptions, waves: Wave[], kept: string[], open: () => Promise<Stack>): Promise<RecordedNodes> {
    const outside = new Set(nodesOutside(o, waves).map((n) => liveKey(n.host, n.service)));
    for (const k of kept) outside.delete(k);
    if (!outside.size) return {};
    const outputs = (await readStackRecord(engineEnv(o).PULUMI_BACKEND_URL, o.stack))?.outputs ?? (await (await open()).outputs());
    const action = outputs.mode?.value === "rollback" ? "rollback" : "upgrade";
    const nodes = (outputs.nodes?.value ?? {}) as RecordedNodes;
    return Object.fromEntries(Object.entries(nodes).flatMap(([k, n]) => (outside.has(k) ? [[k, { ...n, action: n.action ?? action }]] : [])));
}

async function run<T>(
    o: RunOptions,
    operation: string,
    body: (stack: Stack, config: UpgradeConfig, onEvent: (e: EngineEvent) => void, exported: () => OutputMap | undefined, engine: EngineSignal) => Promise<T>,
    /** For an `up`: the result when every planned node is already done; the engine is then not started. */
    nothingToDo?: () => T,
): Promise<T> {
    // Up and rollback run commands on the hosts: each host with a step in flight is watched (engine/hostWatch.ts).
    let watch: HostWatch | undefined;
    let lost: LostHost | undefined;
    let waiting: NodeJS.Timeout | undefined;
    const emitOut = o.onEvent ?? (() => undefined);
    const emit = (e: ProgressEvent) => {
        watch?.onEvent(e);
        emitOut(e);
    };
    const engine = new EngineSignal(o.signal, o.stopNow);
    const t0 = Date.now();
    let live: LiveState | undefined;
    let validated: Validated | undefined;
    let kept: string[] | undefined;
    let carried: RecordedNodes | undefined;
    let exported: OutputMap | undefined;
    let opening: Promise<Stack> | undefined;
    const openOnce = (): Promise<Stack> => {
        opening ??= openStack(
            o,
            () => ({ validated, live, kept, carried }),
            (values) => (exported = values),
        ).catch((e) => {
            throw classify(e, String(e), false, o);
        });
        return opening;
    };
    // A stack another run holds is refused here, before its state is read or anything else runs.
    if (LOCKING.has(operation)) await refuseIfLocked(o);
    // Each step below is mostly a CLI's start-up (~0.5 s on 2 cores), so they run side by side. An up
    // first looks without the engine (the CLI's config, then the hosts): when every node is done it ends
    // there, in about the time of the live read, so its stack is opened only once there is work. Every
    // other operation opens the stack at once, beside the config read; a stack that does not exist yet
    // is made by the opening, then read. Once the config is valid, up and rollback look for a killed
    // run's pending operations beside the live read (in the backend itself: no CLI). Nothing of ours
    // (a lock) is left behind on any path.
    const quick = nothingToDo !== undefined && toolchainPresent(o);
    if (!quick) openOnce().catch(() => undefined); // awaited below, where its error is reported
    let cleared: Promise<number> | undefined;
    try {
        await stackInitSettled(o);
        // A rollback or a refresh uploads nothing: the release may be gone from this machine.
        const releaseUnused = operation === "rollback" || operation === "refresh" || operation === "destroy";
        const quickly = toolchainPresent(o) ? await quickStackConfig(o, { releaseUnused }) : undefined;
        const { config, credentials } = quickly ?? (await loadStackConfig(await openOnce(), releaseUnused, o.backendUrl));
        // Validated and planned once per run; the program gets both through its closure.
        const waves = planWaves(config);
        validated = { config, waves };
        // A new stack is made while the hosts are read; removed below if the run ends before it opens it.
        if (quick && operation === "up") prefetchStackInit(o);
        if (operation !== "refresh" && operation !== "destroy") {
            requireProvider(o);
            // The program needs the release's checksum: read while the hosts are read and the engine starts.
            if (!releaseUnused && "localPath" in config.package) fileSha256(config.package.localPath).catch(() => undefined);
            if (!releaseUnused && config.upgradeScript) fileSha256(config.upgradeScript).catch(() => undefined);
        }
        if (operation === "up" || operation === "rollback") {
            const say = (l: string) => emit({ type: "diagnostic", severity: "info", message: l, time: new Date().toISOString() });
            cleared = clearPendingOperations(openOnce, o, say);
            cleared.catch(() => undefined); // awaited below, where its error is reported
        }
        const soaks = o.mode === "rollback" ? [] : soakSteps(waves, soakSettings(config.soak, o.soakSeconds));
        const idx = buildNameIndex(config.hosts, o.mode === "rollback", undefined, soaks);
        const translate = makeTranslator(idx, emit, operation === "preview");
        const seen: RunObservations = { failed: [], upgraded: [] };
        const onEvent = (ev: EngineEvent) => {
            o.onEngineEvent?.(ev);
            observe(idx, seen, ev);
            translate(ev);
        };
        if (operation === "up" || operation === "rollback") {
            watch = watchHosts({
                unansweredSeconds: config.ssh.unansweredSeconds,
                probe: (host, ms) => sshAnswer(config, host, credentials, ms),
                onLost: (l) => {
                    lost = l;
                    const time = new Date().toISOString();
                    const why = `host ${l.host} has answered no SSH login for ${l.seconds} s (${l.error}) while ${l.what} ran there`;
                    if (l.service) emit({ type: "node", host: l.host, service: l.service, status: "failed", message: why, time });
                    emit({ type: "diagnostic", severity: "error", message: `${why}: stopping the run once the steps in progress elsewhere end`, time });
                    // The engine starts no new step; once only the lost host's steps are left (they can never
                    // end), it closes the providers and ends.
                    engine.interrupt();
                    waiting = setInterval(() => {
                        if (watch?.busyBeyond([l.host])) return;
                        clearInterval(waiting);
                        engine.terminate();
                    }, 250);
                },
            });
        }
        const finished = (result: "succeeded" | "failed" | "interrupted") =>
            emit({ type: "run-finished", operation, result, elapsedSeconds: (Date.now() - t0) / 1000, time: new Date().toISOString() });
        emit({ type: "run-started", operation, stack: o.stack, time: new Date().toISOString() });
        try {
            // One center alone (`--only-center`) only once the center before it in this direction is finished.
            const only = o.centers?.length === 1 ? o.centers[0] : undefined;
            const first = only && centerFirst(only, o.mode === "rollback" ? "rollback" : "upgrade");
            // `preview --no-live` (live "none"): the state alone decides; `up` always reads the hosts.
            if ((operation === "up" || (operation === "preview" && o.live !== "none")) && o.mode !== "rollback") {
                const read = await readLive(validated, credentials, o, emit);
                live = read.live;
                if (only && first)
                    refuseOutOfOrder(
                        o,
                        config,
                        waves,
                        only,
                        first,
                        (k) => !read.live[k]?.done,
                        (k) => read.live[k]?.detail ?? "not read",
                    );
                // Every planned node at the target and healthy: nothing to run, so the engine is not started
                // at all (the state is left as it is; the next run with work brings it up to date).
                if (read.allDone && nothingToDo) {
                    finished("succeeded");
                    return nothingToDo();
                }
            }
            if (o.mode === "rollback" && only && first) {
                const now = await readHosts(config, credentials);
                const version = (k: string) => now[k]?.version ?? "not read";
                refuseOutOfOrder(
                    o,
                    config,
                    waves,
                    only,
                    first,
                    (k) => version(k) !== config.sourceVersion,
                    (k) => `at ${version(k)}`,
                );
            }
            if (only && o.mode !== "rollback" && (operation === "up" || operation === "preview")) kept = await keptOutside(o, waves, openOnce);
            if (only && (operation === "up" || operation === "rollback")) carried = await carriedOutside(o, waves, kept ?? [], openOnce);
            await cleared;
            const opened = await openOnce();
            // Interrupted before the engine started (an abort the engine's process would never hear of):
            // nothing ran, and nothing starts.
            if (o.signal?.aborted) throw new DriverError("interrupted", "Interrupted before the engine started: nothing ran.");
            const r = await body(opened, config, onEvent, () => exported, engine);
            const stale = (seen.recorded ?? []).filter((k) => live && !live[k]?.done);
            if (stale.length) {
                emit({
                    type: "diagnostic",
                    severity: "info",
                    message: `the state was stale: it recorded ${stale.join(", ")} as done, but live ${stale.length === 1 ? "it was" : "they were"} not at ${config.targetVersion} and healthy; ${stale.length === 1 ? "it" : "they"} ${operation === "preview" ? "will run" : "ran again"}.`,
                    time: new Date().toISOString(),
                });
            }
            finished("succeeded");
            return r;
        } catch (e) {
            const err = lost
                ? lostHostError(lost, seen, o, operation === "rollback" ? "rollback" : "up")
                : classify(e, String((e as Error)?.message ?? e), o.signal?.aborted ?? false, { ...o, operation }, seen);
            finished(err.kind === "interrupted" ? "interrupted" : "failed");
            throw err;
        }
    } finally {
        stopDigests();
        watch?.stop();
        clearInterval(waiting);
        await cleared?.catch(() => undefined);
        await removeUntakenStackInit(o);
    }
}

/**
 * Refuses a run of one center (`--only-center`) while a node of the center that must come first is not
 * finished (`unfinished`): nothing has run yet. Exit 4, naming the nodes and the command that comes first.
 */
function refuseOutOfOrder(
    o: RunOptions,
    config: UpgradeConfig,
    waves: Wave[],
    only: Center,
    first: Center,
    unfinished: (key: string) => boolean,
    detail: (key: string) => string,
): void {
    const keys = waves.filter((w) => w.center === first).flatMap((w) => w.nodes.map((n) => liveKey(n.host, n.service)));
    const open = keys.filter(unfinished);
    if (!open.length) return;
    const shown = open.slice(0, 6).map((k) => `${k} (${detail(k)})`);
    const more = open.length > shown.length ? ` and ${open.length - shown.length} more` : "";
    const rollback = o.mode === "rollback";
    const cmd = rollback ? "rollback" : "up";
    const why = rollback
        ? `rolls the ${only} center back after the ${first} center (the reverse of the upgrade), and ${open.length} ${first} node(s) are not back at ${config.sourceVersion}`
        : `upgrades the ${only} center after the ${first} center, and ${open.length} ${first} node(s) are not at ${config.targetVersion} and healthy`;
    throw new DriverError(
        "preflight-failed",
        `--only-center ${only} ${why}: ${shown.join(", ")}${more}. ` +
            `Run \`${commandLine({ ...o, centers: [first] }, cmd)}\` first, or \`${commandLine({ ...o, centers: undefined }, cmd)}\` for both centers in order. Nothing was changed.`,
    );
}

/** Every node's version and health over SSH; a host that cannot be read is exit 4, nothing having run. */
async function readHosts(config: UpgradeConfig, creds: SshCredentials): Promise<LiveState> {
    try {
        return await readLiveState(config, creds);
    } catch (e) {
        if (e instanceof LiveStateError) throw new DriverError("preflight-failed", e.message);
        throw e;
    }
}

/**
 * Every planned node's version and health, read over SSH before the engine decides anything; a host
 * that cannot be read stops the run before anything changes (exit 4).
 */
async function readLive(
    { config, waves }: Validated,
    creds: SshCredentials,
    o: RunOptions,
    emit: (e: ProgressEvent) => void,
): Promise<{ live: LiveState; allDone: boolean }> {
    const t0 = Date.now();
    const live = await readHosts(config, creds);
    const centers = o.centers ?? ["standby", "primary"];
    const planned = waves.filter((w) => centers.includes(w.center)).flatMap((w) => w.nodes.map((n) => liveKey(n.host, n.service)));
    emit({
        type: "live-state",
        target: config.targetVersion,
        done: planned.filter((k) => live[k]?.done),
        pending: planned.filter((k) => !live[k]?.done).map((k) => ({ node: k, detail: live[k]?.detail ?? "not read" })),
        seconds: (Date.now() - t0) / 1000,
        time: new Date().toISOString(),
    });
    return { live, allDone: planned.every((k) => live[k]?.done) };
}

/**
 * An up whose end is answered in this process. The Automation API's `up()` ends with three more CLI
 * runs (`stack output` twice and `stack history`: ~0.45 s of start-up each, 1.4 s on 2 cores) to return
 * what this process already has: the program's exports, resolved here (program/sdk.ts), and the
 * summary, which the engine sends as its last event. The stack answers those two calls from them for
 * this one up; when either is missing (an engine that sent no summary), the API asks the CLI as before.
 */
async function upAnsweredHere(
    stack: Stack,
    exported: () => OutputMap | undefined,
    up: (watch: (onEvent: (e: EngineEvent) => void) => (e: EngineEvent) => void) => Promise<UpResult>,
): Promise<UpResult> {
    const startTime = new Date();
    let summary: EngineEvent["summaryEvent"];
    const own = stack as unknown as { outputs: Stack["outputs"]; info: Stack["info"] };
    const asked = { outputs: own.outputs, info: own.info };
    own.outputs = async () => exported() ?? asked.outputs.call(stack);
    own.info = async (showSecrets?: boolean) =>
        summary
            ? ({ kind: "update", result: "succeeded", startTime, endTime: new Date(), resourceChanges: summary.resourceChanges } as UpdateSummary)
            : asked.info.call(stack, showSecrets);
    try {
        return await up((onEvent) => (e) => {
            if (e.summaryEvent) summary = e.summaryEvent;
            onEvent(e);
        });
    } finally {
        // The instance's own answers go; the prototype's (the CLI's) are back for anything after.
        delete (own as Partial<typeof own>).outputs;
        delete (own as Partial<typeof own>).info;
    }
}

/**
 * What the stack's history records of a run: the command that ran it (`pulumi stack history`, `status`).
 * Without it the CLI records the subject of this project's last git commit, which says nothing of the run.
 */
export const historyMessage = (o: Partial<RunOptions>, command: string) =>
    `scm-upgrade ${command}${o.centers?.length === 1 && ["up", "rollback", "preview"].includes(command) ? ` --only-center ${o.centers[0]}` : ""}`;

/** What a message needs to name a command as a run was asked for. */
export type RunRef = Pick<RunOptions, "stack" | "backendUrl" | "centers">;

/**
 * A command to run next, as the run was asked for: the history's words for it (with its one center where the
 * command takes one), its stack, and its backend when given as a flag (password masked): the default would be another.
 */
export function commandLine(r: RunRef, command: string): string {
    return `${historyMessage(r, command)} --stack ${r.stack}${r.backendUrl ? ` --backend ${redactUrl(r.backendUrl)}` : ""}`;
}

/** The command a history entry names (`historyMessage`); undefined for a run by other means, or by an older scm-upgrade. */
export const commandOfRun = (message: string | undefined) =>
    /^scm-upgrade (up|rollback|refresh)( --only-center \w+)?$/.test(message ?? "") ? message : undefined;

/** The engine's preview: what would run where; runs nothing on hosts. */
export async function preview(o: RunOptions) {
    return run(o, "preview", async (stack, _c, onEvent, _exported, engine) => {
        const r = await stack.preview({ onEvent, onOutput: o.onOutput, signal: engine.signal, color: "never", parallel: 64 });
        return r.changeSummary;
    });
}

/** The rolling upgrade (or, with `mode: "rollback"`, the vendor rollback in reverse order). */
export async function up(o: RunOptions) {
    return run(
        o,
        o.mode === "rollback" ? "rollback" : "up",
        async (stack, _c, onEvent, exported, engine) => {
            const r = await upAnsweredHere(stack, exported, (watch) =>
                stack.up({
                    onEvent: watch(onEvent),
                    onOutput: o.onOutput,
                    signal: engine.signal,
                    color: "never",
                    parallel: 64,
                    message: historyMessage(o, o.mode === "rollback" ? "rollback" : "up"),
                    showSecrets: false,
                }),
            );
            return { engineRan: true, summary: r.summary, outputs: r.outputs };
        },
        // `engineRan: false`: the hosts were read and every node found done, so no update was recorded.
        o.mode === "rollback"
            ? undefined
            : () => ({ engineRan: false, summary: { result: "succeeded", resourceChanges: {} } as Partial<UpdateSummary>, outputs: {} as OutputMap }),
    );
}

/** Forget every resource (runs nothing on hosts: commands here have no delete step). */
export async function destroy(o: RunOptions) {
    return run(
        o,
        "destroy",
        async (stack, _c, onEvent, _exported, engine) =>
            (await stack.destroy({ onEvent, onOutput: o.onOutput, signal: engine.signal, color: "never", showSecrets: false })).summary,
    );
}

/** Refresh the state (the command provider reads nothing back; kept for completeness of the API). */
export async function refresh(o: RunOptions) {
    return run(
        o,
        "refresh",
        async (stack, _c, onEvent, _exported, engine) =>
            (
                await stack.refresh({
                    onEvent,
                    onOutput: o.onOutput,
                    signal: engine.signal,
                    color: "never",
                    message: historyMessage(o, "refresh"),
                    showSecrets: false,
                })
            ).summary,
    );
}

/**
 * The last run's per-node outputs, from the state, beside what the hosts say now. The state, the last run
 * and the config are read in this process when the backend and the stack file allow it (engine/stackRecord.ts,
 * engine/passphrase.ts), else through the CLI. The last run's config shows no secret's value.
 */
export async function status(o: RunOptions) {
    const quick = toolchainPresent(o);
    const record = quick ? readStackRecord(engineEnv(o).PULUMI_BACKEND_URL, o.stack) : Promise.resolve(undefined);
    let opening: Promise<Stack> | undefined;
    const opened = () => (opening ??= openStack(o));
    const { config, credentials } =
        (quick ? await quickStackConfig(o, { preload: false, releaseUnused: true }) : undefined) ?? (await loadStackConfig(await opened(), true, o.backendUrl));
    // What the hosts say now, beside what the state recorded; a host that cannot be read is reported, not fatal.
    const reading = readLiveState(config, credentials).then(
        (live) => ({ live, liveError: undefined }),
        (e) => ({ live: undefined, liveError: (e as Error).message }),
    );
    // A stack its backend does not hold has no run recorded; opening it would make it there.
    const recorded = (await record) ?? ((await stackPresence(engineEnv(o).PULUMI_BACKEND_URL, o.stack)) === "absent" ? { outputs: {} } : undefined);
    const outputs = recorded?.outputs ?? (await (await opened()).outputs());
    const lastRun = recorded ? recorded.lastRun : (await (await opened()).history(1, 1, false).catch(() => []))[0];
    const { live, liveError } = await reading;
    const nodes = planWaves(config).flatMap((w) => w.nodes.map((n) => ({ wave: w.index, host: n.host, service: n.service, center: n.center })));
    return { outputs, lastRun, live, liveError, nodes, targetVersion: config.targetVersion };
}

/**
 * The preflight checks alone, on every host, in a throwaway stack (same config and backend), so
 * the stack's own state is not touched and the checks run afresh every time.
 */
export async function preflight(o: RunOptions): Promise<{ host: string; ok: boolean; lines: string[] }[]> {
    // The stack file alone when it decides the config: the stack is not opened (nor made in its backend).
    const { config } = (toolchainPresent(o) ? await quickStackConfig(o) : undefined) ?? (await loadStackConfig(await openStack(o), false, o.backendUrl));
    requireProvider(o);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-preflight-"));
    // The throwaway stack's config is the stack's own file as it is: its secrets stay encrypted, for the same
    // secrets provider (setting them with `config set-all` would put each one in a CLI argument, which `ps`
    // shows every user of this machine).
    const own = path.join(stacksDir, `Pulumi.${o.stack}.yaml`);
    if (fs.existsSync(own)) fs.copyFileSync(own, path.join(tmp, `Pulumi.${o.stack}-preflight.yaml`));
    const ws = await workspaceOptions({ ...o, workDir: tmp });
    const stack = await automation().LocalWorkspace.createOrSelectStack(
        {
            stackName: `${o.stack}-preflight`,
            projectName,
            program: () => program().upgradeProgram({ mode: "preflight", validated: { config, waves: planWaves(config) } }),
        },
        { ...ws, projectSettings: { name: projectName, runtime: "nodejs" } },
    );
    const failures = new Map<string, string>();
    const idx = buildNameIndex(config.hosts);
    const translate = makeTranslator(
        idx,
        (e) => {
            if (e.type === "preflight" && e.status === "failed") failures.set(e.host, e.message ?? "failed");
            o.onEvent?.(e);
        },
        false,
    );
    try {
        let outputs: Record<string, { value: unknown }> = {};
        try {
            outputs = (
                await stack.up({ onEvent: translate, signal: new EngineSignal(o.signal, o.stopNow).signal, color: "never", parallel: 64, showSecrets: false })
            ).outputs;
        } catch (e) {
            if (failures.size === 0) throw classify(e, String((e as Error)?.message ?? e), o.signal?.aborted ?? false, { ...o, operation: "preflight" });
        }
        const checks = (outputs.checks?.value ?? {}) as Record<string, string[]>;
        return config.hosts.map((h) => ({
            host: h.name,
            ok: !failures.has(h.name) && checks[h.name] !== undefined,
            lines: failures.has(h.name) ? failures.get(h.name)!.split("\n") : (checks[h.name] ?? ["not checked: the run stopped before this host"]),
        }));
    } finally {
        await stack.destroy({ color: "never", showSecrets: false }).catch(() => undefined);
        await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/** Whether the process that took a lock on this machine is still running (unlock refuses to remove its lock then). */
export function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch (e) {
        // EPERM: it exists but belongs to someone else.
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
    // A killed run's engine may linger a moment as a zombie (dead, not yet reaped): no run. Linux says so in
    // /proc/<pid>/stat, whose state letter follows the command name in parentheses.
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return true;
    }
}

/** The locks held on a stack, with the backend they were read from (password masked). */
export async function stackLocks(o: RunOptions): Promise<{ backend: string; locks: StackLock[] }> {
    const url = engineEnv(o).PULUMI_BACKEND_URL;
    if (backendKind(url) === "other") {
        throw new DriverError("refused", `unlock handles file:// and postgres:// backends; for ${redactUrl(url)} use \`pulumi cancel\`.`);
    }
    return { backend: redactUrl(url), locks: await readLocks(url, o.stack) };
}

/**
 * Remove a lock that a killed run left behind (file:// or postgres:// backend), after checking
 * that the process that took it is gone when it ran on this machine. `locks`: the ones the caller
 * showed (default: all, read now); only those are removed, never one taken since.
 * Returns the locks removed.
 */
export async function unlock(o: RunOptions, locks?: StackLock[]): Promise<StackLock[]> {
    const url = engineEnv(o).PULUMI_BACKEND_URL;
    const held = locks ?? (await stackLocks(o)).locks;
    // Check every lock before removing any: a live run's lock refuses the whole command.
    for (const lock of held) {
        if (lock.pid && lock.hostname === os.hostname() && pidAlive(lock.pid)) {
            throw new DriverError(
                "stack-locked",
                `The run holding the lock (pid ${lock.pid}) is still alive: stop it first. Lock of stack ${o.stack}: ${describeLock(lock)}.`,
            );
        }
    }
    await removeLocks(url, held);
    return held;
}
