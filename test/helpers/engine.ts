import { commandProviderKind } from "../../engine/env";

/**
 * `describe` for tests that run remote commands through the engine. They never skip: without a
 * command provider (official or the offline stand-in) they fail, saying how to get one.
 */
export const describeWithProvider: jest.Describe = ((name: string, fn: () => void) =>
    describe(name, () => {
        beforeAll(() => {
            if (!commandProviderKind()) {
                throw new Error(
                    "No command provider in the project's PULUMI_HOME: run `npm run bootstrap` (it builds the offline stand-in when the official one cannot be had).",
                );
            }
        });
        fn();
    })) as unknown as jest.Describe;

/** Which provider the engine tests ran on, for the test output. */
export const providerUnderTest = (): string => commandProviderKind() ?? "none";
