import { readStackConfigFile } from "../lib/config/stackFile";
import { loadFromConfigMap } from "../lib/config/load";
import { UpgradeConfig } from "../lib/config/schema";
import { planWaves, Wave } from "../lib/plan";
import { DriverError } from "./errors";
import { projectRoot, stacksDir } from "./paths";

/**
 * The plan of a stack read from its config file, without starting the Pulumi CLI (plan is pure:
 * no SSH, no engine). Undefined when the stack has no config file here (e.g. a remote backend's).
 * `releaseUnused`: for a command that uploads nothing (rollback), the release's local files may be gone.
 */
export function planOfStackFile(stack: string, releaseUnused = false): { config: UpgradeConfig; waves: Wave[] } | undefined {
    const map = readStackConfigFile(stacksDir, stack);
    if (!map) return undefined;
    // Relative paths count from the project folder, wherever the command runs from.
    const r = loadFromConfigMap(map, { releaseUnused, baseDir: projectRoot });
    if (!r.ok) throw new DriverError("invalid-config", `The configuration of stack ${stack} is invalid.`, r.problems);
    return { config: r.config, waves: planWaves(r.config) };
}
