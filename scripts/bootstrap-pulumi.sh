#!/usr/bin/env bash
# Puts the pinned Pulumi toolchain in the project's own PULUMI_HOME, offline:
#   1. the CLI (v3.259.0): a `pulumi` already on this machine, else a cached build, else built from the Go module proxy;
#   2. the command provider plugin 1.2.1: already installed, else a cached build, else built from the proxy;
#   3. the Node.js language host (only for `pulumi up` from the CLI; the driver does not need it).
# Builds are cached outside the repo, keyed by version, so later runs take seconds.
# Exit 0: all there. Exit 3: CLI there, command provider missing (end-to-end tests cannot run). Other: failure.
set -euo pipefail

CLI_VERSION="v3.259.0"
PROVIDER_VERSION="1.2.1"
# Candidate Go modules for the provider, tried in order (module@version main-package-path version-package).
# The provider has no Go tag: only a pseudo-version of a commit can resolve. Override with SCM_UPGRADE_COMMAND_PROVIDER_MODULE.
PROVIDER_CANDIDATES=(
  "github.com/pulumi/pulumi-command@v1.2.2-0.20260821000000-010bd8e0dd8a provider/cmd/pulumi-resource-command provider/pkg/version"
  "github.com/pulumi/pulumi-command/provider@v0.0.0-20260303235922-7f3eb6f3b77c cmd/pulumi-resource-command pkg/version"
)
LANGHOST_MODULE="github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@${CLI_VERSION}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${SCM_UPGRADE_PULUMI_HOME:-$root/.pulumi-home}"
cache="${SCM_UPGRADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scm-upgrade}"
mkdir -p "$home/bin" "$cache"
export PULUMI_HOME="$home" PULUMI_SKIP_UPDATE_CHECK=true GOFLAGS="${GOFLAGS:--buildvcs=false}"
status="$home/toolchain.json"

say() { printf '[bootstrap] %s\n' "$*" >&2; }
t0=$(date +%s)

cli_version_of() { "$1" version 2>/dev/null | head -n1 | tr -d '[:space:]'; }

# Newer CLIs are fine for the Automation API; older than the SDK's minimum are not.
cli_ok() {
  local v; v="$(cli_version_of "$1")" || return 1
  [[ "$v" =~ ^v3\.([0-9]+)\. ]] || return 1
  (( BASH_REMATCH[1] >= 170 ))
}

go_build_in_module() { # dir module@version main-package ldflags output
  local dir="$1" modver="$2" pkg="$3" ldflags="$4" out="$5"
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && go mod init scm-upgrade/toolchain-build >/dev/null 2>&1 \
     && go get "$modver" >"$dir/get.log" 2>&1 \
     && go build -trimpath -o "$out.tmp" -ldflags "$ldflags" "$pkg" >"$dir/build.log" 2>&1) || return 1
  mv "$out.tmp" "$out"
}

# ---------- 1. CLI ----------
cli_link="$home/bin/pulumi"
cli_from=""
if [[ -x "$cli_link" ]] && cli_ok "$cli_link"; then
  cli_from="present"
else
  system_cli="$(PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$home/bin" | paste -sd: -)" command -v pulumi || true)"
  cached_cli="$cache/pulumi-cli/$CLI_VERSION/pulumi"
  if [[ -n "$system_cli" ]] && cli_ok "$system_cli"; then
    ln -sfn "$system_cli" "$cli_link"; cli_from="machine ($system_cli)"
  elif [[ -x "$cached_cli" ]]; then
    ln -sfn "$cached_cli" "$cli_link"; cli_from="cache"
  else
    command -v go >/dev/null || { say "no Pulumi CLI and no Go toolchain to build one: install Go 1.25+ or put pulumi on PATH"; exit 1; }
    say "building the Pulumi CLI $CLI_VERSION from the Go module proxy (first run only; several minutes on 2 cores)"
    mkdir -p "$(dirname "$cached_cli")"
    if ! go_build_in_module "$cache/build/pulumi-cli-$CLI_VERSION" \
        "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$CLI_VERSION" \
        "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi" \
        "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$CLI_VERSION" \
        "$cached_cli"; then
      say "building the CLI failed; see $cache/build/pulumi-cli-$CLI_VERSION/*.log"; exit 1
    fi
    ln -sfn "$cached_cli" "$cli_link"; cli_from="built"
  fi
fi
say "pulumi CLI $(cli_version_of "$cli_link") ($cli_from)"

# ---------- 2. command provider ----------
plugin_dir="$home/plugins/resource-command-v$PROVIDER_VERSION"
provider_from=""
provider_tried=()
install_plugin() { "$cli_link" plugin install resource command "$PROVIDER_VERSION" -f "$1" >/dev/null 2>&1; }
if [[ -x "$plugin_dir/pulumi-resource-command" ]]; then
  provider_from="present"
else
  cached_provider="$cache/pulumi-resource-command/$PROVIDER_VERSION/pulumi-resource-command"
  user_plugin="$HOME/.pulumi/plugins/resource-command-v$PROVIDER_VERSION/pulumi-resource-command"
  if [[ -x "$cached_provider" ]]; then
    install_plugin "$cached_provider" && provider_from="cache"
  elif [[ -x "$user_plugin" && "$user_plugin" != "$plugin_dir/pulumi-resource-command" ]]; then
    install_plugin "$user_plugin" && provider_from="machine ($user_plugin)"
  else
    candidates=("${PROVIDER_CANDIDATES[@]}")
    [[ -n "${SCM_UPGRADE_COMMAND_PROVIDER_MODULE:-}" ]] && candidates=("$SCM_UPGRADE_COMMAND_PROVIDER_MODULE")
    for c in "${candidates[@]}"; do
      read -r modver mainrel verrel <<<"$c"
      mod="${modver%@*}"
      if ! answer="$(go list -m -json "$modver" 2>&1)"; then
        provider_tried+=("$modver: $(printf '%s' "$answer" | tail -n1 | cut -c1-160)")
        continue
      fi
      say "building the command provider from $modver"
      mkdir -p "$(dirname "$cached_provider")"
      # Module root holds provider/ in the newer layout; the older layout's module is provider/ itself.
      if go_build_in_module "$cache/build/pulumi-resource-command-$PROVIDER_VERSION" "$modver" \
          "$mod/${mainrel#provider/}" "-s -w -X $mod/${verrel#provider/}.Version=$PROVIDER_VERSION" "$cached_provider" \
        || go_build_in_module "$cache/build/pulumi-resource-command-$PROVIDER_VERSION" "$modver" \
          "$mod/$mainrel" "-s -w -X $mod/$verrel.Version=$PROVIDER_VERSION" "$cached_provider"; then
        install_plugin "$cached_provider" && provider_from="built from $modver" && break
      fi
      provider_tried+=("$modver: served, but the build failed (see $cache/build/pulumi-resource-command-$PROVIDER_VERSION/*.log)")
    done
    if [[ -z "$provider_from" ]]; then
      # A machine with internet: the ordinary plugin download works.
      if PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION= timeout 60 "$cli_link" plugin install resource command "$PROVIDER_VERSION" >/dev/null 2>&1; then
        provider_from="downloaded by pulumi plugin install"
      else
        provider_tried+=("pulumi plugin install resource command $PROVIDER_VERSION: no download possible")
      fi
    fi
  fi
fi

# ---------- 3. Node.js language host (optional) ----------
langhost="$home/bin/pulumi-language-nodejs"
langhost_from=""
if [[ -x "$langhost" ]]; then
  langhost_from="present"
elif command -v pulumi-language-nodejs >/dev/null 2>&1; then
  ln -sfn "$(command -v pulumi-language-nodejs)" "$langhost"; langhost_from="machine"
else
  cached_lh="$cache/pulumi-language-nodejs/$CLI_VERSION/pulumi-language-nodejs"
  if [[ -x "$cached_lh" ]]; then
    ln -sfn "$cached_lh" "$langhost"; langhost_from="cache"
  elif [[ ! -f "$cache/pulumi-language-nodejs/$CLI_VERSION.unavailable" ]]; then
    if go list -m -json "$LANGHOST_MODULE" >/dev/null 2>&1; then
      mkdir -p "$(dirname "$cached_lh")"
      go_build_in_module "$cache/build/pulumi-language-nodejs-$CLI_VERSION" "$LANGHOST_MODULE" \
        "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3" \
        "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$CLI_VERSION" "$cached_lh" \
        && ln -sfn "$cached_lh" "$langhost" && langhost_from="built"
    fi
    # Remember a refusal so later runs do not ask again.
    [[ -n "$langhost_from" ]] || { mkdir -p "$cache/pulumi-language-nodejs"; touch "$cache/pulumi-language-nodejs/$CLI_VERSION.unavailable"; }
  fi
fi

json_list() { local first=1; printf '['; for x in "$@"; do [[ $first == 1 ]] || printf ','; first=0; printf '"%s"' "$(printf '%s' "$x" | sed 's/\\/\\\\/g; s/"/\\"/g')"; done; printf ']'; }
cat >"$status" <<EOF
{"cli":"$(cli_version_of "$cli_link")","cliFrom":"$cli_from","provider":"${provider_from:+$PROVIDER_VERSION}","providerFrom":"$provider_from","providerTried":$(json_list "${provider_tried[@]+"${provider_tried[@]}"}"),"languageHost":"$langhost_from","seconds":$(( $(date +%s) - t0 ))}
EOF

[[ -n "$langhost_from" ]] && say "Node.js language host ($langhost_from)" \
  || say "Node.js language host: not served by the Go module proxy ($LANGHOST_MODULE); 'pulumi up' from the CLI is unavailable, the scm-upgrade driver works without it"
if [[ -n "$provider_from" ]]; then
  say "command provider $PROVIDER_VERSION ($provider_from)"
  say "toolchain ready in $(( $(date +%s) - t0 ))s (PULUMI_HOME=$home)"
  exit 0
fi
say "command provider $PROVIDER_VERSION: NOT AVAILABLE. Tried:"
for t in "${provider_tried[@]}"; do say "  - $t"; done
say "Put a pulumi-resource-command binary at $cache/pulumi-resource-command/$PROVIDER_VERSION/ or set SCM_UPGRADE_COMMAND_PROVIDER_MODULE=module@version to a served version, then run again."
exit 3
