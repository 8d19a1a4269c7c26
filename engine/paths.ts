import * as path from "path";

/** The repository root: every project-owned folder hangs off it. */
export const projectRoot = path.resolve(__dirname, "..");

/** The Pulumi project name, as in Pulumi.yaml. */
export const projectName = "scm-upgrade";

/** Where stack config files live (Pulumi.yaml's `stackConfigDir`). */
export const stacksDir = path.join(projectRoot, "stacks");
