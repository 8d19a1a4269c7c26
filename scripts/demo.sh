#!/usr/bin/env bash
# The main job against the embedded default: set-up, the sandbox cluster up (if it is not), then
# the plan (nothing runs on a host before it is shown), the engine's preview, and the whole rolling
# upgrade through `scm-upgrade up --stack sandbox --yes`. Ends, whatever happened, with where the
# run's report is and how to stop the sandbox; on success the last line says what the sandbox's nodes
# run now (read from the hosts) and which command provider ran.
# Run again after success: every node is skipped and it says there is nothing to do.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# No "New minor version of npm available" notices between the steps (also in .npmrc).
export npm_config_update_notifier=false
say() { printf '[demo] %s\n' "$*" >&2; }
t0="$(date +%s)"
say "set-up (the first run builds the Pulumi toolchain: see README for how long), a local 4-host sandbox cluster, then its plan, preview and rolling upgrade"
bash scripts/setup.sh; rc=$?
if [[ $rc -ne 0 && $rc -ne 3 ]]; then say "set-up failed (exit $rc)"; exit $rc; fi
npx --no-install tsx sandbox/cli.ts up || exit $?

started="$(date +%s)"
finish() {
  local rc=$? report=""
  # The report of this run: the newest one written since the upgrade started.
  report="$(ls -t "${SCM_UPGRADE_REPORTS_DIR:-$root/.reports}"/run-sandbox-*.html 2>/dev/null | head -n1)"
  [[ -n "$report" && $(stat -c %Y "$report") -ge $started ]] || report=""
  echo >&2
  if [[ -n "$report" ]]; then say "the run's report: $report"; else say "no run report was written (the upgrade did not start)"; fi
  say "the sandbox is still running: \`npm run sandbox -- status\` shows it, \`npm run sandbox -- down\` stops it"
  if [[ $rc -ne 0 ]]; then
    say "the demo stopped with exit $rc (see the message above; exit codes: \`node bin/scm-upgrade.js --help\`)"
  else
    local took=$(( $(date +%s) - t0 )) provider
    provider="$(sed -n 's/.*"providerKind":"\([^"]*\)".*/\1/p' .pulumi-home/toolchain.json 2>/dev/null)"
    say "done in $((took / 60)) min $((took % 60)) s: $(nodes_now) (command provider: ${provider:-unknown})"
  fi
  exit "$rc"
}
# What the sandbox's nodes run now, read from the hosts (not from the tool's own account).
nodes_now() {
  npx --no-install tsx sandbox/cli.ts status --json 2>/dev/null | node -e '
    let t = "";
    process.stdin.on("data", (d) => (t += d)).on("end", () => {
      try {
        const nodes = JSON.parse(t).hosts.flatMap((h) => h.nodes);
        const versions = [...new Set(nodes.map((n) => n.version))].join(", ");
        const healthy = nodes.filter((n) => n.health === "UP").length;
        console.log(`${nodes.length} SequoiaCM nodes on the sandbox at ${versions}, ${healthy} of them healthy`);
      } catch {
        console.log("the sandbox status could not be read (npm run sandbox -- status)");
      }
    });'
}
trap finish EXIT

say "1/3 the plan: the waves in order, standby center first (no host is touched)"
node bin/scm-upgrade.js plan --stack sandbox || exit $?
say "2/3 the preview: what the engine would run, where (runs nothing on the hosts)"
node bin/scm-upgrade.js preview --stack sandbox || exit $?
say "3/3 the rolling upgrade"
node bin/scm-upgrade.js up --stack sandbox --yes "$@"
