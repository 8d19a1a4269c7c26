import { ConfigProblem } from "../lib/config/schema";

/** Why a run did not succeed; the CLI maps each kind to its exit code. */
export type FailureKind = "invalid-config" | "preflight-failed" | "upgrade-failed" | "stack-locked" | "interrupted" | "refused" | "toolchain";

/** A failure the driver explains; kept free of Pulumi imports so light commands stay fast. */
export class DriverError extends Error {
    constructor(
        public readonly kind: FailureKind,
        message: string,
        public readonly problems: ConfigProblem[] = [],
    ) {
        super(message);
        this.name = "DriverError";
    }
}
