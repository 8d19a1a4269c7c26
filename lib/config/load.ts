/**
 * From Pulumi config to a validated `UpgradeConfig`.
 *
 * Pulumi hands config over as strings (`pulumi config --json`, the Automation API's `getAllConfig()`, or
 * `pulumi.runtime.allConfig()` in a program): objects and lists are JSON text. The driver and the program
 * both validate with `loadFromConfigMap`. This module turns those strings into the raw
 * config object of `schema.ts` and validates it. Secret keys (`sshPrivateKey`, `sshPassword`,
 * `sshPrivateKeyPassphrase`) are never read here: only whether they are set matters, for the credential check.
 */
import { ConfigProblem, SECRET_KEYS, SecretKey, validateConfig, ValidateOptions, ValidationResult } from "./schema";

/** Namespace of every config key of this project (Pulumi's default: the project's name). */
export const CONFIG_NAMESPACE = "scm-upgrade";

/** Plain keys whose value is JSON text of an object or a list. */
const STRUCTURED_KEYS = ["package", "ssh", "hosts", "serviceOrder", "soak"] as const;
/** Plain keys whose value is JSON text of a number or a boolean. */
const SCALAR_JSON_KEYS = ["parallelism", "healthTimeoutSeconds", "healthStableSeconds", "rollbackOnHealthFailure"] as const;
/** Plain keys whose value is the string itself. */
const STRING_KEYS = [
    "targetVersion",
    "sourceVersion",
    "stagingDir",
    "installRoot",
    "installUser",
    "installGroup",
    "become",
    "sitePolicy",
    "upgradeScript",
] as const;

/** Every plain (non-secret) key of the config. */
export const PLAIN_KEYS: readonly string[] = [...STRING_KEYS, ...STRUCTURED_KEYS, ...SCALAR_JSON_KEYS];

const isSecretKey = (k: string): k is SecretKey => (SECRET_KEYS as readonly string[]).includes(k);
const isStructured = (k: string) => (STRUCTURED_KEYS as readonly string[]).includes(k);
const isScalarJson = (k: string) => (SCALAR_JSON_KEYS as readonly string[]).includes(k);

/**
 * A config value as Pulumi gives it: a string (`getAllConfig()` values flattened, `pulumi.runtime.allConfig()`),
 * or the `{ value, secret, objectValue }` entries of `pulumi config --json` / the Automation API's `ConfigValue`.
 */
export type PulumiConfigValue = string | { value?: string; secret?: boolean; objectValue?: unknown };

/** Flat config map keyed `scm-upgrade:<key>`; keys of other namespaces are ignored, bare keys count as ours. */
export type PulumiConfigMap = Readonly<Record<string, PulumiConfigValue>>;

/** The raw config object, the secret keys that are set, and the problems found while decoding values. */
export interface DecodedConfig {
    raw: Record<string, unknown>;
    secretsPresent: SecretKey[];
    /** Values that are not valid JSON where JSON is needed. */
    problems: ConfigProblem[];
}

/** The key without the project namespace, or undefined when it belongs to another namespace. */
function ownKey(fullKey: string): string | undefined {
    const colon = fullKey.indexOf(":");
    if (colon < 0) return fullKey;
    return fullKey.slice(0, colon) === CONFIG_NAMESPACE ? fullKey.slice(colon + 1) : undefined;
}

function jsonProblem(key: string, text: string, err: unknown): ConfigProblem {
    const why = err instanceof Error ? err.message : String(err);
    const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
    return {
        path: key,
        message: `is not valid JSON (${why}): ${shown}`,
        fix: `write ${key} as a YAML object or list in the stack file, or set it with pulumi config set --path '${key}...' / a JSON value`,
    };
}

/** Decodes one plain value given as text; structured keys must be JSON, scalar ones fall back to the text. */
function decodeText(key: string, text: string, problems: ConfigProblem[]): { value: unknown } | undefined {
    if (isStructured(key)) {
        try {
            return { value: JSON.parse(text) };
        } catch (err) {
            problems.push(jsonProblem(key, text, err));
            return undefined;
        }
    }
    if (isScalarJson(key)) {
        try {
            return { value: JSON.parse(text) };
        } catch {
            // Not JSON: keep the text, so the schema says "must be a number, not the text ...".
            return { value: text };
        }
    }
    return { value: text };
}

/** Turns a flat Pulumi config map into the raw config object of `schema.ts`. Secret values are not read. */
export function decodeConfigMap(map: PulumiConfigMap): DecodedConfig {
    const raw: Record<string, unknown> = {};
    const secretsPresent: SecretKey[] = [];
    const problems: ConfigProblem[] = [];
    for (const fullKey of Object.keys(map).sort()) {
        const key = ownKey(fullKey);
        if (key === undefined) continue;
        if (isSecretKey(key)) {
            if (!secretsPresent.includes(key)) secretsPresent.push(key);
            continue;
        }
        const entry = map[fullKey];
        if (typeof entry === "object" && entry !== null) {
            if (entry.objectValue !== undefined && (isStructured(key) || isScalarJson(key))) {
                raw[key] = entry.objectValue;
                continue;
            }
            if (entry.secret && !PLAIN_KEYS.includes(key)) {
                // An unknown secret key: refused by name below, its value never read.
                raw[key] = "[secret]";
                continue;
            }
            if (typeof entry.value !== "string") continue;
            const d = decodeText(key, entry.value, problems);
            if (d) raw[key] = d.value;
            continue;
        }
        const d = decodeText(key, entry, problems);
        if (d) raw[key] = d.value;
    }
    return { raw, secretsPresent: SECRET_KEYS.filter((k) => secretsPresent.includes(k)), problems };
}

/** Decoding problems plus validation problems, dropping the validation noise under a key whose JSON was unreadable. */
function merge(decoded: DecodedConfig, result: ValidationResult): ValidationResult {
    if (decoded.problems.length === 0) return result;
    const broken = decoded.problems.map((p) => p.path);
    const under = (path: string) => broken.some((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`));
    const rest = result.ok ? [] : result.problems.filter((p) => !under(p.path));
    return { ok: false, problems: [...decoded.problems, ...rest] };
}

/**
 * Validates the config of a flat Pulumi config map (`{ "scm-upgrade:hosts": "[...]", ... }`).
 * Which secrets are set is read from the map's keys unless `opts.secretsPresent` says otherwise.
 */
export function loadFromConfigMap(map: PulumiConfigMap, opts: ValidateOptions = {}): ValidationResult {
    const decoded = decodeConfigMap(map);
    const result = validateConfig(decoded.raw, { ...opts, secretsPresent: opts.secretsPresent ?? decoded.secretsPresent });
    return merge(decoded, result);
}
