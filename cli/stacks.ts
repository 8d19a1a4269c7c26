import * as fs from "fs";
import { decodeConfigMap, loadFromConfigMap } from "../lib/config/load";
import { readStackConfigFile } from "../lib/config/stackFile";
import { ConfigProblem, UpgradeConfig, validateConfig } from "../lib/config/schema";
import { DriverError } from "../engine/errors";
import { projectRoot, stacksDir } from "../engine/paths";
import { planWaves, Wave } from "../lib/plan";

/** `stacks/Pulumi.<stack>.yaml`, as people see it (relative to the project folder). */
export const stackFileName = (stack: string) => `stacks/Pulumi.${stack}.yaml`;

/** The stacks that have a config file in `stacks/`, sorted. */
export function knownStacks(dir: string = stacksDir): string[] {
    let names: string[];
    try {
        names = fs.readdirSync(dir);
    } catch {
        return [];
    }
    return names
        .map((n) => /^Pulumi\.(.+)\.yaml$/.exec(n)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

/**
 * Refuses a stack that has no config file, before anything is created: a typo must not become a new
 * empty stack in the backend (the engine creates a stack on first use). Exit 3, like an invalid config.
 */
export function requireStackFile(stack: string, dir: string = stacksDir): void {
    if (fs.existsSync(`${dir}/Pulumi.${stack}.yaml`)) return;
    const known = knownStacks(dir);
    const lines = [
        `There is no stack "${stack}": ${stackFileName(stack)} does not exist. Nothing was created.`,
        `Known stacks (${stackFileName("*")}): ${known.length ? known.join(", ") : "none"}.`,
    ];
    if (stack === "sandbox") lines.push("The sandbox's stack is written by `npm run sandbox -- up`.");
    else lines.push(`For a new cluster, copy ${stackFileName("production-example")} to ${stackFileName(stack)} and edit it.`);
    throw new DriverError("invalid-config", lines.join("\n"));
}

/**
 * The plan of a stack for `plan` and `report`, which touch no host: the SSH credentials and the local
 * files (release tarball, key files, upgrade script) are not needed to draw it. Their problems come
 * back as warnings; every other problem refuses the config as `preview`/`up` would.
 */
export function planForDrawing(stack: string, dir: string = stacksDir): { config: UpgradeConfig; waves: Wave[]; warnings: ConfigProblem[] } {
    requireStackFile(stack, dir);
    const map = readStackConfigFile(dir, stack) ?? {};
    const strict = loadFromConfigMap(map, { baseDir: projectRoot });
    if (strict.ok) return { config: strict.config, waves: planWaves(strict.config), warnings: [] };
    const decoded = decodeConfigMap(map);
    const lenient = decoded.problems.length ? strict : validateConfig(decoded.raw, { fileExists: () => true, readable: () => true, baseDir: projectRoot });
    if (!lenient.ok) throw new DriverError("invalid-config", `The configuration of stack ${stack} is invalid.`, lenient.problems);
    return { config: lenient.config, waves: planWaves(lenient.config), warnings: strict.problems };
}

/** The warnings of `planForDrawing`, for stderr. */
export function formatPlanWarnings(stack: string, warnings: readonly ConfigProblem[]): string {
    return [
        `warning: ${stackFileName(stack)} is not ready for preflight/preview/up (plan needs none of this):`,
        ...warnings.map((p) => `  - ${p.path}: ${p.message}. Fix: ${p.fix}`),
    ].join("\n");
}
