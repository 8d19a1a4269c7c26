import { CONFIG_NAMESPACE } from "../lib/config/load";
import { readStackConfigFile } from "../lib/config/stackFile";
import type { SecretKey } from "../lib/config/vocabulary";
import { cliReason, commandLine, openStack, passphraseRefusal, RunRef } from "./driver";
import { EngineEnvOptions, runPulumi, stacksDir } from "./env";
import { DriverError } from "./errors";

// The stack's SSH credentials as Pulumi secrets, through the project's own Pulumi CLI: its Pulumi home,
// backend and passphrase (engine/env.ts), which a `pulumi` run by hand would not have. The value reaches the
// CLI on its standard input only: never an argument (`ps` shows those to every user), never printed.

/** One line, as a password is typed: the one line end a file or `echo` adds is not part of it. */
const oneLine = (s: string) => s.replace(/\r?\n$/, "");

/**
 * The value to store, checked first: what SSH could not use is refused (exit 3), nothing stored. `note`: what
 * else the stack needs (an encrypted key's passphrase).
 */
export function checkSecretValue(ref: RunRef, name: SecretKey, given: string): { value: string; note?: string } {
    const refuse = (why: string, fix: string) => new DriverError("invalid-config", `${name} was not stored: ${why}. ${fix}`);
    if (name !== "sshPrivateKey") {
        const value = oneLine(given);
        if (!value) throw refuse("the value is empty", "Give it on standard input or with --from FILE.");
        if (value.includes("\n")) {
            const lines = value.split("\n").length;
            throw refuse(`the value has ${lines} lines, and a password is one`, "Give the password alone (a key belongs in sshPrivateKey).");
        }
        return { value };
    }
    if (!given.trim()) throw refuse("the key is empty", "Give the private key file: --from ~/.ssh/<key> (or < ~/.ssh/<key>).");
    const { utils } = require("ssh2") as typeof import("ssh2");
    // ssh2 reads an OpenSSH public key too (`.pub`): a key, but not one to log in with.
    const parsed = utils.parseKey(given);
    if (!(parsed instanceof Error) && !(Array.isArray(parsed) ? parsed[0] : parsed).isPrivateKey()) {
        throw refuse("this is a public key", "Give the private key file: the same path without .pub.");
    }
    if (parsed instanceof Error) {
        if (/passphrase/i.test(parsed.message)) {
            return {
                value: given,
                note: `The key is encrypted: also store its passphrase, \`${commandLine(ref, "secret sshPrivateKeyPassphrase")}\`, if not done yet.`,
            };
        }
        throw refuse(`it is not a private key SSH can read (${parsed.message})`, "Give the private key file, e.g. --from ~/.ssh/id_ed25519.");
    }
    return { value: given };
}

function failure(stack: string, what: string, r: { stdout: string; stderr: string }): DriverError {
    const text = `${r.stderr}\n${r.stdout}`;
    return passphraseRefusal(stack, text) ?? new DriverError("upgrade-failed", `${what} failed (the Pulumi CLI: ${cliReason(text)}). Nothing was changed.`);
}

/** The stack in its backend, made when missing (`pulumi config` works only on a stack that exists there), as every command opens it. */
async function ensureStack(o: EngineEnvOptions & { stack: string }): Promise<void> {
    await openStack(o).catch((e: unknown) => {
        if (e instanceof DriverError) throw e;
        throw failure(o.stack, `Opening stack ${o.stack}`, { stdout: "", stderr: String((e as Error)?.message ?? e) });
    });
}

/** Stores `value` (checked by `checkSecretValue`) as the stack's secret `name`, and reads it back. */
export async function setStackSecret(o: EngineEnvOptions & { stack: string }, name: SecretKey, value: string): Promise<void> {
    await ensureStack(o);
    const key = `${CONFIG_NAMESPACE}:${name}`;
    const set = await runPulumi(o, ["config", "set", "--secret", "--stack", o.stack, "--non-interactive", key], value);
    if (!set.ok) throw failure(o.stack, `Storing ${name} in stack ${o.stack}`, set);
    // Read back through the secrets provider: what a run will decrypt is what was given (the CLI trims a value's last line end).
    const got = await runPulumi(o, ["config", "get", "--stack", o.stack, key]);
    if (!got.ok) throw failure(o.stack, `Reading ${name} of stack ${o.stack} back`, got);
    if (oneLine(got.stdout) !== oneLine(value)) {
        throw new DriverError("upgrade-failed", `${name} of stack ${o.stack} reads back different from what was given: store it again.`);
    }
}

/** Removes the stack's secret `name`; false when its stack file has none. */
export async function unsetStackSecret(o: EngineEnvOptions & { stack: string }, name: SecretKey): Promise<boolean> {
    const key = `${CONFIG_NAMESPACE}:${name}`;
    if (readStackConfigFile(stacksDir, o.stack)?.[key] === undefined) return false;
    await ensureStack(o);
    const r = await runPulumi(o, ["config", "rm", "--stack", o.stack, "--non-interactive", key]);
    if (!r.ok) throw failure(o.stack, `Removing ${name} from stack ${o.stack}`, r);
    return true;
}
