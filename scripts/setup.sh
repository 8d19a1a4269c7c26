#!/usr/bin/env bash
# All set-up a fresh machine needs, idempotent and quick when already done:
# Debian packages (as root), npm packages, the pinned Pulumi toolchain (scripts/bootstrap-pulumi.sh).
# Exit 0: ready. Exit 3: ready except the command provider (see the bootstrap's message).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '[setup] %s\n' "$*" >&2; }
# shellcheck source=lib/progress.sh
source "$root/scripts/lib/progress.sh"
# shellcheck source=lib/go.sh
source "$root/scripts/lib/go.sh"
# apt-get's and npm's own chatter (debconf notes, npm update notices) goes to this log; shown on failure.
log="$(mktemp -t scm-upgrade-setup.XXXXXX)"
trap 'rm -f "$log"' EXIT
quiet() { "$@" >"$log" 2>&1 || { local rc=$?; cat "$log" >&2; return "$rc"; }; }

need_pkgs=()
[[ -x /usr/bin/sudo ]] || need_pkgs+=(sudo)
[[ -x /usr/sbin/sshd ]] || need_pkgs+=(openssh-server)
command -v ssh >/dev/null || need_pkgs+=(openssh-client)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v go >/dev/null || need_pkgs+=(golang-go)
# PostgreSQL: the team-mode tests start a throwaway cluster of Debian's server (initdb, pg_ctl).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null || need_pkgs+=(postgresql)
for extra in ${SCM_UPGRADE_EXTRA_APT:-}; do dpkg -s "$extra" >/dev/null 2>&1 || need_pkgs+=("$extra"); done
if ((${#need_pkgs[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    say "installing Debian packages: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    with_progress "updating the Debian package lists (apt-get update)" quiet apt-get update -qq
    with_progress "installing ${need_pkgs[*]} (apt-get install)" quiet apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
  else
    say "missing Debian packages: ${need_pkgs[*]}. Install them (sudo apt-get install ${need_pkgs[*]}) and run again."; exit 1
  fi
fi

# npm packages: reinstall only when the lock file changed since the last install.
stamp="node_modules/.scm-upgrade-lock.sha"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  say "installing npm packages (npm ci)"
  # @pulumi/command's install script tries a plugin download; offline it only warns. The bootstrap installs the plugin.
  with_progress "installing npm packages (npm ci)" quiet npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

bash scripts/bootstrap-pulumi.sh
