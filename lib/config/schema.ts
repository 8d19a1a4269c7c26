/**
 * The stack configuration (namespace `scm-upgrade`, docs/architecture.md). `validateConfig` lists every
 * problem at once, each with its field path and a fix, so an invalid config is refused before any host
 * is touched. The module's parts, each with one job: vocabulary.ts (enumerations, defaults, shared types),
 * shapes.ts (field schemas), rules.ts (cross-field rules), problems.ts (problems for people), hosts.ts
 * (a host's effective SSH settings). This file is the module's front door.
 */
import { issueToProblems, sortProblems } from "./problems";
import { makeConfigSchema } from "./shapes";
import { ValidateOptions, ValidationResult } from "./vocabulary";

export * from "./vocabulary";
export { makeConfigSchema, SAFE_PATH } from "./shapes";
export type { HostConfig, UpgradeConfig } from "./shapes";
export { formatPath, formatProblems } from "./problems";
export { effectiveHost } from "./hosts";
export type { EffectiveHost } from "./hosts";
export { RULES } from "./rules";

/**
 * Validates a raw config object (the `scm-upgrade:` keys without their namespace, values already parsed from JSON).
 * Returns the config with its defaults, or every problem found.
 */
export function validateConfig(raw: unknown, opts: ValidateOptions = {}): ValidationResult {
    const result = makeConfigSchema(opts).safeParse(raw, { reportInput: true });
    if (result.success) return { ok: true, config: result.data };
    const seen = new Set<string>();
    const problems = result.error.issues.flatMap(issueToProblems).filter((p) => {
        const k = `${p.path}\u0000${p.message}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
    });
    return { ok: false, problems: sortProblems(problems) };
}
