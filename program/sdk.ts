import * as pulumi from "@pulumi/pulumi";

let trimmed = false;

/**
 * Two per-resource costs of the Pulumi Node.js SDK that this program does not need, turned off for its
 * own run (never for another program that uses the components). Measured on a 200-host preview
 * (1,402 resources, 2 cores): 13.3 s with both, 9.1 s without (bench/README.md, "Preview at scale").
 *
 * - Debug messages: the SDK sends the engine 3 to 5 per resource ("Registering resource ...", "RPC
 *   finished ..."), one at a time, each waiting for the one before; the run cannot end before the last
 *   is delivered (about 2 s at 200 hosts). The engine keeps them only for its verbose logs, which this
 *   tool turns off (engine/env.ts): SCM_UPGRADE_ENGINE_LOGS=1 sends them again.
 * - Source positions: every resource takes a full stack trace of its creation, for the state's
 *   `sourcePosition` (shown by Pulumi Cloud). Nothing here reads it; SCM_UPGRADE_DEBUG_STACKS=1 keeps it.
 */
export function trimSdk(): void {
    if (trimmed) return;
    trimmed = true;
    if (process.env.SCM_UPGRADE_ENGINE_LOGS !== "1") {
        pulumi.log.debug = () => Promise.resolve();
    }
    if (process.env.SCM_UPGRADE_DEBUG_STACKS !== "1") {
        // A private static of the SDK's Resource (an empty list: no position, as for code without one).
        (pulumi.Resource as unknown as { callsites: () => unknown[] }).callsites = () => [];
    }
}

/** A stack output as the Automation API gives it. */
export interface ExportedValue {
    value: unknown;
    secret: boolean;
}

/**
 * Calls `done` with the program's exports once they are known, as the state will record them (JSON
 * values; a secret output's plain value, flagged). Only in an update: a preview's values can be unknown.
 * The engine's run cannot end before the exports resolve, so by the time an `up` returns they are here.
 */
export function whenExportsKnown(exports: Record<string, unknown>, done: (values: Record<string, ExportedValue>) => void): void {
    if (pulumi.runtime.isDryRun()) return;
    const keys = Object.keys(exports);
    const outputs = keys.map((k) => pulumi.output(exports[k]));
    pulumi.all(outputs).apply(async (values) => {
        const secret = await Promise.all(outputs.map((o) => pulumi.isSecret(o)));
        // JSON as the state holds it (undefined members dropped), so the values equal `stack output`'s.
        done(
            Object.fromEntries(
                keys.flatMap((k, i) => (values[i] === undefined ? [] : [[k, { value: JSON.parse(JSON.stringify(values[i])), secret: secret[i] }]])),
            ),
        );
    });
}
