// Two projects: "unit" (pure logic and mocks, parallel) and "system" (real processes: sandbox, sshd,
// the Pulumi engine; run in band by scripts/test.sh because they share loopback addresses and ports).
const common = {
    testEnvironment: "node",
    transform: { "^.+\\.ts$": "ts-jest" },
    modulePathIgnorePatterns: ["<rootDir>/.sandbox", "<rootDir>/.state", "<rootDir>/dist"],
};
module.exports = {
    // Engine tests run whole rolling upgrades of a sandbox; on a loaded 2-core machine one takes minutes.
    testTimeout: 900000,
    projects: [
        { ...common, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
        { ...common, displayName: "system", testMatch: ["<rootDir>/test/{e2e,sandbox}/**/*.test.ts"] },
    ],
};
