import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ConfigEntries, stackFileConfig } from "../lib/config/stackFile";

// The stack's secrets, decrypted in this process when its file uses the passphrase secrets provider.
// Asking the CLI (`pulumi config --json --show-secrets`) costs a Go start-up plus the key's derivation,
// ~0.45 s on the path of every `up` and `preview`; here the derivation runs on libuv's thread pool while
// the tool loads. The provider's format, as its documentation and source describe it: the stack file's
// `encryptionsalt` is `v1:<salt, base64>:<"pulumi" encrypted>`; the key is PBKDF2-HMAC-SHA256 of the
// passphrase and salt, 1,000,000 rounds, 32 bytes; each secret is `v1:<nonce>:<AES-256-GCM ciphertext
// and tag>`, base64. Anything else (another provider, a wrong passphrase, a value that does not open)
// answers undefined, and the caller asks the CLI, which reports the problem in its own words.

const ROUNDS = 1_000_000;
const KEY_BYTES = 32;
const TAG_BYTES = 16;

/** The passphrase the CLI would use with this environment: PULUMI_CONFIG_PASSPHRASE first, then the file's text, trimmed. */
export function passphraseOf(env: Record<string, string | undefined>, cwd: string): string | undefined {
    if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return env.PULUMI_CONFIG_PASSPHRASE;
    const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
    if (!file) return undefined;
    try {
        return fs.readFileSync(path.resolve(cwd, file), "utf8").trim();
    } catch {
        return undefined;
    }
}

// One derivation per passphrase and salt in a process (the CLI keeps one per process too); keyed by digest.
const keys = new Map<string, Promise<Buffer | undefined>>();

function keyOf(phrase: string, salt: Buffer): Promise<Buffer | undefined> {
    const id = crypto.createHash("sha256").update(phrase).update("\0").update(salt).digest("hex");
    let key = keys.get(id);
    if (!key) {
        key = new Promise((resolve) => crypto.pbkdf2(phrase, salt, ROUNDS, KEY_BYTES, "sha256", (err, k) => resolve(err ? undefined : k)));
        keys.set(id, key);
    }
    return key;
}

/** One `v1:<nonce>:<ciphertext+tag>` value opened with `key`; undefined when it does not open. */
export function openValue(key: Buffer, value: string): string | undefined {
    const parts = value.split(":");
    if (parts.length !== 3 || parts[0] !== "v1") return undefined;
    try {
        const nonce = Buffer.from(parts[1], "base64");
        const sealed = Buffer.from(parts[2], "base64");
        if (sealed.length < TAG_BYTES) return undefined;
        const decipher = crypto.createDecipheriv("aes-256-gcm", key, nonce);
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
        return undefined;
    }
}

/** The key of an `encryptionsalt` for a passphrase, once its check value opens to "pulumi"; undefined otherwise. */
export async function passphraseKey(phrase: string, encryptionSalt: string): Promise<Buffer | undefined> {
    const m = /^v1:([^:]*):(v1:[^:]*:[^:]*)$/.exec(encryptionSalt);
    if (!m) return undefined;
    const key = await keyOf(phrase, Buffer.from(m[1], "base64"));
    return key && openValue(key, m[2]) === "pulumi" ? key : undefined;
}

/**
 * The stack's whole config, secrets decrypted, as `pulumi config --json --show-secrets` gives it, read
 * from its file alone; undefined when this process cannot decide it (see above): ask the CLI then.
 */
export async function decryptedStackConfig(
    projectFile: string,
    stacksDir: string,
    stack: string,
    env: Record<string, string | undefined>,
): Promise<ConfigEntries | undefined> {
    const file = stackFileConfig(projectFile, stacksDir, stack);
    if (!file) return undefined;
    const names = Object.keys(file.secure);
    if (names.length === 0) return file.entries;
    if ((file.secretsProvider && file.secretsProvider !== "passphrase") || file.encryptedKey || !file.encryptionSalt) return undefined;
    const phrase = passphraseOf(env, path.dirname(projectFile));
    if (phrase === undefined) return undefined;
    const key = await passphraseKey(phrase, file.encryptionSalt);
    if (!key) return undefined;
    const entries: ConfigEntries = { ...file.entries };
    for (const name of names) {
        const value = openValue(key, file.secure[name]);
        if (value === undefined) return undefined;
        entries[name] = { value, secret: true };
    }
    return entries;
}
