#!/usr/bin/env bash
# The main job against the embedded default: set-up, the sandbox cluster up (if it is not), the
# plan and the whole rolling upgrade through `scm-upgrade up --stack sandbox --yes`.
# Run again after success: every node is skipped and it says there is nothing to do.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh; rc=$?
if [[ $rc -ne 0 && $rc -ne 3 ]]; then echo "[demo] set-up failed (exit $rc)" >&2; exit $rc; fi
npx --no-install tsx sandbox/cli.ts up || exit $?
exec node bin/scm-upgrade.js up --stack sandbox --yes "$@"
