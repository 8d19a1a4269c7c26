import { commandProviderPresent } from "../../lib/engine/env";

/**
 * `describe` for tests that need the command provider plugin. Without it (see README: the Go
 * module proxy serves no version of it here) they are reported as skipped, with the reason, never
 * as passed.
 */
export const describeWithProvider: jest.Describe = commandProviderPresent() ? describe : describe.skip;

if (!commandProviderPresent()) {
    // eslint-disable-next-line no-console
    console.warn(
        "SKIPPED: the command provider plugin 1.2.1 is not installed in the project's PULUMI_HOME " +
            "(run `npm run bootstrap`; see README). Tests that run remote commands through the engine are skipped.",
    );
}
