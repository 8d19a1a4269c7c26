import { FailureKind } from "../engine/errors";

/** The exit codes of `scm-upgrade`, a contract for scripts and pipelines (README, `--help`). */
export const EXIT = {
    ok: 0,
    upgradeFailed: 1,
    usage: 2,
    invalidConfig: 3,
    preflightFailed: 4,
    stackLocked: 5,
    refused: 6,
    toolchain: 7,
    interrupted: 130,
} as const;

export function exitCodeFor(kind: FailureKind): number {
    switch (kind) {
        case "invalid-config":
            return EXIT.invalidConfig;
        case "preflight-failed":
            return EXIT.preflightFailed;
        case "upgrade-failed":
            return EXIT.upgradeFailed;
        case "stack-locked":
            return EXIT.stackLocked;
        case "interrupted":
            return EXIT.interrupted;
        case "refused":
            return EXIT.refused;
        case "toolchain":
            return EXIT.toolchain;
    }
}

export const exitCodeHelp = `Exit codes:
  0    success (or nothing to do)
  1    failed: an upgrade or rollback stopped at the failed node (later nodes untouched), or the
       state, its lock or a secret could not be read or written (the message says which)
  2    usage error (unknown command or flag)
  3    invalid configuration, or no such stack (no stacks/Pulumi.<stack>.yaml): nothing was touched or created
  4    preflight failed: no node was upgraded
  5    stack locked: another run holds it (or a killed one: see \`unlock\`)
  6    refused: not confirmed, or outside the maintenance window
  7    toolchain missing: npm packages (run \`bash scripts/setup.sh\`), the Pulumi CLI or the provider (\`npm run bootstrap\`)
  130  interrupted (Ctrl-C, SIGTERM, the terminal closed): stopped after the node in progress; \`up\` resumes`;
