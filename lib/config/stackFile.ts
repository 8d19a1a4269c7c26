import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { PulumiConfigMap } from "./load";

/**
 * The stack's config straight from `stacks/Pulumi.<stack>.yaml`, without the Pulumi CLI: what
 * `plan` needs (plain values, and which secrets are set) in milliseconds. Secret values stay
 * encrypted and unread. Undefined when the file does not exist.
 */
export function readStackConfigFile(stacksDir: string, stack: string): PulumiConfigMap | undefined {
    const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) return undefined;
    const doc = (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const map: Record<string, { value?: string; objectValue?: unknown; secret?: boolean }> = {};
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
