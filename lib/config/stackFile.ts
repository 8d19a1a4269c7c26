import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { PulumiConfigMap } from "./load";

type StackFileDoc = { config?: Record<string, unknown>; environment?: unknown };

function loadYaml<T>(file: string): T | undefined {
    if (!fs.existsSync(file)) return undefined;
    return (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as T;
}

/** Each key's entry as `pulumi config --json` shows it. */
type ConfigEntries = Record<string, { value?: string; objectValue?: unknown; secret?: boolean }>;

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

/**
 * The stack's whole config when its file alone decides it, as `pulumi config --json` gives it: no
 * secret value (only the CLI decrypts), no ESC `environment`, no project-level `config:` in the project
 * file (defaults the CLI merges in). Undefined otherwise: then the CLI must be asked.
 */
export function plainStackConfig(projectFile: string, stacksDir: string, stack: string): ConfigEntries | undefined {
    const project = loadYaml<{ config?: unknown }>(projectFile);
    if (!project || project.config !== undefined) return undefined;
    const doc = loadYaml<StackFileDoc>(path.join(stacksDir, `Pulumi.${stack}.yaml`));
    if (!doc || doc.environment !== undefined) return undefined;
    const map = configMapOf(doc);
    return Object.values(map).some((v) => v.secret) ? undefined : map;
}
