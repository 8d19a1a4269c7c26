#!/usr/bin/env bash
# Puts the pinned Pulumi toolchain in the project's own PULUMI_HOME, offline:
#   1. the CLI (v3.259.0): a `pulumi` already on this machine, else a cached build, else built from the Go module proxy;
#   2. the command provider plugin 1.2.1: the official one (installed, cached, or `pulumi plugin install`
#      on a machine with internet), else the project's offline stand-in built from provider/;
#   3. the Node.js language host (only for `pulumi up` from the CLI; the driver does not need it).
# Builds are cached outside the repo, keyed by version (the stand-in: by a hash of its source), so
# later runs take seconds. toolchain.json in the Pulumi home records what was found ("providerKind").
# Exit 0: all there. Exit 3: CLI there, command provider missing (end-to-end tests cannot run). Other: failure.
set -euo pipefail

CLI_VERSION="v3.259.0"
PROVIDER_VERSION="1.2.1"
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

# A progress line every 15 s during long builds (scripts/lib/progress.sh: `with_progress "what" cmd...`).
PROGRESS_TAG=bootstrap
# shellcheck source=lib/progress.sh
source "$root/scripts/lib/progress.sh"
# shellcheck source=lib/go.sh
source "$root/scripts/lib/go.sh"

# How far a build is, for the progress lines: modules downloaded so far, packages compiled of all.
_build_dir=""
_modules_fetched() { echo "$(grep -c '^go: downloading' "$_build_dir/get.log") modules downloaded"; }
_packages_built() { echo "$(grep -vc '^#\|: ' "$_build_dir/build.log") of $(wc -l <"$_build_dir/deps.txt") packages compiled"; }

go_build_in_module() { # dir module@version main-package ldflags output what
  local dir="$1" modver="$2" pkg="$3" ldflags="$4" out="$5" what="$6"
  rm -rf "$dir"; mkdir -p "$dir"; _build_dir="$dir"
  (cd "$dir" && go mod init scm-upgrade/toolchain-build >/dev/null 2>&1) || return 1
  PROGRESS_DETAIL=_modules_fetched with_progress "downloading the Go modules of $what" \
    bash -c 'cd "$1" && go get "$2" >get.log 2>&1' _ "$dir" "$modver" || return 1
  go_compile "$dir" "$dir" "$pkg" "$ldflags" "$out" "$what"
}

go_compile() { # logs-dir source-dir package ldflags output what
  local logs="$1" src="$2" pkg="$3" ldflags="$4" out="$5" what="$6"
  _build_dir="$logs"
  # -v names each package as it is compiled; deps.txt holds all of them.
  PROGRESS_DETAIL=_packages_built with_progress "compiling $what" \
    bash -c 'cd "$1" && { go list -deps "$2" >"$5/deps.txt" 2>/dev/null || :; } && go build -v -trimpath -o "$3.tmp" -ldflags "$4" "$2" >"$5/build.log" 2>&1' \
    _ "$src" "$pkg" "$out" "$ldflags" "$logs" || return 1
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
    go_check "the Pulumi CLI $CLI_VERSION (or put a pulumi CLI v3.170+ on PATH)" || exit 1
    say "building the Pulumi CLI $CLI_VERSION from the Go module proxy (first run only; several minutes on 2 cores)"
    mkdir -p "$(dirname "$cached_cli")"
    if ! go_build_in_module "$cache/build/pulumi-cli-$CLI_VERSION" \
        "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$CLI_VERSION" \
        "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi" \
        "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$CLI_VERSION" \
        "$cached_cli" "the Pulumi CLI $CLI_VERSION"; then
      say "building the CLI failed; see $cache/build/pulumi-cli-$CLI_VERSION/*.log"; exit 1
    fi
    ln -sfn "$cached_cli" "$cli_link"; cli_from="built"
  fi
fi
say "pulumi CLI $(cli_version_of "$cli_link") ($cli_from)"

# ---------- 2. command provider ----------
# The official provider wherever it can be had (installed, cached, or downloaded by `pulumi plugin
# install` on a machine with internet); only when none of these works, the project's own offline
# stand-in (provider/), built with the Go module proxy and cached keyed by a hash of its source.
plugin_dir="$home/plugins/resource-command-v$PROVIDER_VERSION"
standin_marker="$plugin_dir/.scm-upgrade-standin"
provider_from=""
provider_kind=""
provider_tried=()
install_plugin() { rm -rf "$plugin_dir" "$plugin_dir.lock"; "$cli_link" plugin install resource command "$PROVIDER_VERSION" -f "$1" >/dev/null 2>&1; }
standin_hash() { (cd "$root/provider" && cat go.mod go.sum $(ls *.go | grep -v '_test\.go$' | sort)) | sha256sum | cut -c1-16; }
cached_official="$cache/pulumi-resource-command/$PROVIDER_VERSION/pulumi-resource-command"
user_plugin="$HOME/.pulumi/plugins/resource-command-v$PROVIDER_VERSION/pulumi-resource-command"
unavailable_stamp="$cache/pulumi-resource-command/$PROVIDER_VERSION.download-refused"

if [[ -x "$plugin_dir/pulumi-resource-command" && ! -f "$standin_marker" ]]; then
  provider_from="present"; provider_kind="official"
elif [[ -x "$cached_official" ]]; then
  install_plugin "$cached_official" && provider_from="cache" && provider_kind="official"
elif [[ -x "$user_plugin" ]]; then
  install_plugin "$user_plugin" && provider_from="machine ($user_plugin)" && provider_kind="official"
elif [[ -n "${SCM_UPGRADE_COMMAND_PROVIDER_MODULE:-}" ]]; then
  # module@version main-package-path version-package (a served pseudo-version of the official source).
  read -r modver mainrel verrel <<<"$SCM_UPGRADE_COMMAND_PROVIDER_MODULE"
  mod="${modver%@*}"
  say "building the official command provider from $modver"
  mkdir -p "$(dirname "$cached_official")"
  if go_build_in_module "$cache/build/pulumi-resource-command-$PROVIDER_VERSION" "$modver" \
      "$mod/$mainrel" "-s -w -X $mod/$verrel.Version=$PROVIDER_VERSION" "$cached_official" "the command provider $PROVIDER_VERSION"; then
    install_plugin "$cached_official" && provider_from="built from $modver" && provider_kind="official"
  else
    provider_tried+=("$modver: the build failed (see $cache/build/pulumi-resource-command-$PROVIDER_VERSION/*.log)")
  fi
fi
if [[ -z "$provider_from" ]]; then
  # A machine with internet: the ordinary plugin download. A refusal is remembered for a day so
  # later runs do not wait for it again (the download client retries for about 3 s).
  if [[ -f "$unavailable_stamp" && -n "$(find "$unavailable_stamp" -mmin -1440 2>/dev/null)" ]]; then
    provider_tried+=("pulumi plugin install resource command $PROVIDER_VERSION: refused within the last day (remove $unavailable_stamp to try again)")
  elif PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION= timeout 60 "$cli_link" plugin install resource command "$PROVIDER_VERSION" >/dev/null 2>&1 \
      && [[ -x "$plugin_dir/pulumi-resource-command" ]]; then
    rm -f "$standin_marker"
    provider_from="downloaded by pulumi plugin install"; provider_kind="official"
  else
    provider_tried+=("pulumi plugin install resource command $PROVIDER_VERSION: no download possible")
    mkdir -p "$(dirname "$unavailable_stamp")"; touch "$unavailable_stamp"
  fi
fi
if [[ -z "$provider_from" ]]; then
  want="$(standin_hash)"
  cached_standin="$cache/pulumi-resource-command-standin/$want/pulumi-resource-command"
  if [[ -f "$standin_marker" && "$(cat "$standin_marker")" == "$want" && -x "$plugin_dir/pulumi-resource-command" ]]; then
    provider_from="present"
  else
    if [[ ! -x "$cached_standin" ]]; then
      go_check "the offline stand-in of the command provider" || exit 1
      say "building the offline stand-in of the command provider from provider/ (first run only; 1 to 3 minutes on 2 cores)"
      mkdir -p "$(dirname "$cached_standin")"
      logs="$cache/build/standin-$want"; rm -rf "$logs"; mkdir -p "$logs"
      if ! go_compile "$logs" "$root/provider" . "-s -w" "$cached_standin" "the command provider stand-in"; then
        say "building the stand-in failed; see $logs/build.log"; exit 1
      fi
    fi
    install_plugin "$cached_standin" && printf '%s' "$want" >"$standin_marker" && provider_from="built from provider/ (cached by source hash $want)"
  fi
  [[ -n "$provider_from" ]] && provider_kind="offline stand-in"
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
        "the Node.js language host" && ln -sfn "$cached_lh" "$langhost" && langhost_from="built"
    fi
    # Remember a refusal so later runs do not ask again.
    [[ -n "$langhost_from" ]] || { mkdir -p "$cache/pulumi-language-nodejs"; touch "$cache/pulumi-language-nodejs/$CLI_VERSION.unavailable"; }
  fi
fi

json_list() { local first=1; printf '['; for x in "$@"; do [[ $first == 1 ]] || printf ','; first=0; printf '"%s"' "$(printf '%s' "$x" | sed 's/\\/\\\\/g; s/"/\\"/g')"; done; printf ']'; }
cat >"$status" <<EOF
{"cli":"$(cli_version_of "$cli_link")","cliFrom":"$cli_from","provider":"${provider_from:+$PROVIDER_VERSION}","providerFrom":"$provider_from","providerKind":"$provider_kind","providerTried":$(json_list "${provider_tried[@]+"${provider_tried[@]}"}"),"languageHost":"$langhost_from","seconds":$(( $(date +%s) - t0 ))}
EOF

[[ -n "$langhost_from" ]] && say "Node.js language host ($langhost_from)" \
  || say "Node.js language host: not served by the Go module proxy ($LANGHOST_MODULE); 'pulumi up' from the CLI is unavailable, the scm-upgrade driver works without it"
if [[ -n "$provider_from" ]]; then
  if [[ "$provider_kind" == "official" ]]; then say "command provider: official $PROVIDER_VERSION ($provider_from)"
  else say "command provider: offline stand-in of $PROVIDER_VERSION ($provider_from; the official one could not be had: ${provider_tried[*]:-})"; fi
  say "toolchain ready in $(( $(date +%s) - t0 ))s (PULUMI_HOME=$home)"
  exit 0
fi
say "command provider $PROVIDER_VERSION: NOT AVAILABLE. Tried:"
for t in "${provider_tried[@]}"; do say "  - $t"; done
say "Put the official pulumi-resource-command binary at $cache/pulumi-resource-command/$PROVIDER_VERSION/, then run again."
exit 3
