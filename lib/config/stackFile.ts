import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { PulumiConfigMap } from "./load";

type StackFileDoc = {
    config?: Record<string, unknown>;
    environment?: unknown;
    encryptionsalt?: unknown;
    secretsprovider?: unknown;
    encryptedkey?: unknown;
};

function loadYaml<T>(file: string): T | undefined {
    if (!fs.existsSync(file)) return undefined;
    return (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as T;
}

/** Each key's entry as `pulumi config --json` shows it. */
export type ConfigEntries = Record<string, { value?: string; objectValue?: unknown; secret?: boolean }>;

function configMapOf(doc: StackFileDoc): ConfigEntries {
    const map: ConfigEntries = {};
    for (const [k, v] of Object.entries(doc.config ?? {})) {
        if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "secure" in v) {
            map[k] = { secret: true };
        } else if (v !== null && typeof v === "object") {
            map[k] = { objectValue: v, value: JSON.stringify(v) };
        } else {
            map[k] = { value: String(v) };
        }
    }
    return map;
}

/**
 * The stack's config straight from `stacks/Pulumi.<stack>.yaml`, without the Pulumi CLI: what
 * `plan` needs (plain values, and which secrets are set) in milliseconds. Secret values stay
 * encrypted and unread. Undefined when the file does not exist.
 */
export function readStackConfigFile(stacksDir: string, stack: string): PulumiConfigMap | undefined {
    const doc = loadYaml<StackFileDoc>(path.join(stacksDir, `Pulumi.${stack}.yaml`));
    return doc && configMapOf(doc);
}

/** A config value (a stack file's form) that is or holds a `secure:` entry: a secret, at its top level or below it (set with `--path`). */
export function holdsSecure(v: unknown): boolean {
    if (v === null || typeof v !== "object") return false;
    return Object.entries(v).some(([k, inner]) => (k === "secure" && typeof inner === "string") || holdsSecure(inner));
}

/**
 * The stack's config as its file holds it, when the file alone decides it: no ESC `environment`, no
 * project-level `config:` in the project file (defaults the CLI merges in), no secret below a value's
 * top level. `entries` as `pulumi config --json` gives them, each secret's value still encrypted in
 * `secure`, with the file's secrets settings. Undefined otherwise: then the CLI must be asked.
 */
export function stackFileConfig(
    projectFile: string,
    stacksDir: string,
    stack: string,
): { entries: ConfigEntries; secure: Record<string, string>; encryptionSalt?: string; secretsProvider?: string; encryptedKey?: string } | undefined {
    const project = loadYaml<{ config?: unknown }>(projectFile);
    if (!project || project.config !== undefined) return undefined;
    const doc = loadYaml<StackFileDoc>(path.join(stacksDir, `Pulumi.${stack}.yaml`));
    if (!doc || doc.environment !== undefined) return undefined;
    const entries = configMapOf(doc);
    const secure: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.config ?? {})) {
        if (entries[k].secret) {
            const text = (v as { secure: unknown }).secure;
            if (typeof text !== "string") return undefined;
            secure[k] = text;
        } else if (holdsSecure(v)) {
            return undefined;
        }
    }
    const str = (x: unknown) => (typeof x === "string" && x ? x : undefined);
    return { entries, secure, encryptionSalt: str(doc.encryptionsalt), secretsProvider: str(doc.secretsprovider), encryptedKey: str(doc.encryptedkey) };
}

/**
 * The stack's whole config when its file alone decides it and holds no secret (only a secrets provider
 * decrypts: engine/passphrase.ts for the passphrase one), as `pulumi config --json` gives it. Undefined
 * otherwise: then the CLI must be asked.
 */
export function plainStackConfig(projectFile: string, stacksDir: string, stack: string): ConfigEntries | undefined {
    const file = stackFileConfig(projectFile, stacksDir, stack);
    return file && Object.keys(file.secure).length === 0 ? file.entries : undefined;
}
