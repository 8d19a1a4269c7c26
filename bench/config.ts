/** The upgrade config of a bench sandbox, as the tool would read it from its stack. */
import { UpgradeConfig, validateConfig } from "../lib/config/schema";
import { sandboxStackConfig } from "../sandbox/stackConfig";
import { SandboxState } from "../sandbox/state";

/**
 * The sandbox's own stack config, with the package staged from where it already is on every host
 * (the sandbox hosts share this machine's filesystem): the tool, Ansible and the direct scripts all
 * unpack it from that path, so nobody pays for an upload the others do not.
 */
export function benchRawConfig(state: SandboxState, healthTimeoutSeconds: number): Record<string, unknown> {
    const plain = sandboxStackConfig(state);
    const raw: Record<string, unknown> = Object.fromEntries(Object.entries(plain).map(([k, v]) => [k.replace(/^scm-upgrade:/, ""), v]));
    raw.package = { remotePath: state.packagePath };
    raw.healthTimeoutSeconds = healthTimeoutSeconds;
    return raw;
}

export function benchConfig(state: SandboxState, healthTimeoutSeconds: number): UpgradeConfig {
    const r = validateConfig(benchRawConfig(state, healthTimeoutSeconds));
    if (!r.ok) throw new Error(`The bench config is invalid: ${JSON.stringify(r.problems)}`);
    return r.config;
}
