// The library API of scm-upgrade, for pipelines and other Pulumi programs. Nothing here prints or
// calls process.exit: failures are DriverErrors with a `kind` (see cli/exitCodes.ts for the CLI's codes).
export { preview, up, destroy, refresh, status, preflight, plan, unlock, openStack, loadStackConfig, requireProvider } from "./engine/driver";
export type { RunOptions } from "./engine/driver";
export { checkSecretValue, setStackSecret, unsetStackSecret } from "./engine/secrets";
export { DriverError } from "./engine/errors";
export type { FailureKind } from "./engine/errors";
export type { ProgressEvent } from "./engine/events";
export { engineEnv, workspaceOptions, pulumiHome, toolchainPresent, commandProviderPresent } from "./engine/env";
export { validateConfig, formatProblems, effectiveHost } from "./lib/config/schema";
export type { UpgradeConfig, HostConfig, ConfigProblem } from "./lib/config/schema";
export { loadFromConfigMap, CONFIG_NAMESPACE } from "./lib/config/load";
export { planWaves, batches, predecessorsOf, renderPlanTable, planToJson, planToMermaid, planToDot } from "./lib/plan";
export type { Wave, PlanNode } from "./lib/plan";
export { upgradeProgram } from "./program/program";
export type { ProgramOptions } from "./program/program";
export { connectionFor } from "./program/connection";
// The components, to place a RollingUpgrade inside another stack.
export * from "./components";
