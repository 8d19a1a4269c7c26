#!/usr/bin/env bash
# The test command (README, .ci/run): set-up, the stand-in provider's contract tests (go test), unit
# tests in parallel, then the tests that use real processes (sandbox, engine, SSH) one file at a time.
# Ends with one "N passed, N failed, N skipped" line.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# The report tests open pages in headless Chromium (Debian package); the demo does not need it.
export npm_config_update_notifier=false
SCM_UPGRADE_EXTRA_APT="chromium ${SCM_UPGRADE_EXTRA_APT:-}" bash scripts/setup.sh; rc=$?
if [[ $rc -ne 0 ]]; then
  # exit 3: no command provider (scripts/bootstrap-pulumi.sh); anything else: the step named just above failed.
  if [[ $rc -eq 3 ]]; then echo "[test] set-up failed (exit 3): the engine tests cannot run without a command provider" >&2
  else echo "[test] set-up failed (exit $rc): see the set-up's message above; no test ran" >&2; fi
  echo "0 passed, 1 failed"; exit $rc
fi
provider="$(node -e 'try { const t = require("./.pulumi-home/toolchain.json"); console.log(t.providerKind === "official" ? `official ${t.provider}` : `offline stand-in of ${t.provider}`) } catch { console.log("unknown") }')"
echo "[test] engine tests run on the command provider: $provider" >&2
mkdir -p .reports
npx tsc --noEmit -p . || { echo "[test] type check failed" >&2; echo "0 passed, 1 failed"; exit 1; }
# Lint and format (Biome, biome.json): `npm run format` rewrites the tree to the format checked here.
npx biome ci --reporter=summary . >&2 || { echo "[test] lint or format check failed: run \`npm run lint\` to see where, \`npm run format\` to fix the format" >&2; echo "0 passed, 1 failed"; exit 1; }
# The stand-in's contract tests against real sshd (its source is tested even where the official provider runs),
# with the Go set-up found (scripts/lib/go.sh).
# shellcheck source=lib/go.sh
source "$root/scripts/lib/go.sh"
(cd provider && go test -count=1 -v ./... >"$root/.reports/provider-go-test.txt" 2>&1); g=$?
grep -E '^(--- FAIL|FAIL|ok|panic)' .reports/provider-go-test.txt >&2
npx jest --ci --selectProjects unit --json --outputFile=.reports/unit.json "$@"; u=$?
npx jest --ci --selectProjects system --runInBand --json --outputFile=.reports/system.json "$@"; s=$?
PROVIDER="$provider" node -e '
const fs = require("fs");
let p = 0, f = 0, k = 0;
const go = fs.readFileSync(".reports/provider-go-test.txt", "utf8");
p += (go.match(/^--- PASS/gm) || []).length;
f += (go.match(/^--- FAIL/gm) || []).length;
for (const n of [".reports/unit.json", ".reports/system.json"]) {
  if (!fs.existsSync(n)) { f++; continue; }
  const r = JSON.parse(fs.readFileSync(n, "utf8"));
  p += r.numPassedTests; f += r.numFailedTests + r.numRuntimeErrorTestSuites; k += r.numPendingTests + r.numTodoTests;
}
console.log(`engine tests ran on: ${process.env.PROVIDER}`);
console.log(`${p} passed, ${f} failed, ${k} skipped`);
'
[[ $g -eq 0 && $u -eq 0 && $s -eq 0 ]]
