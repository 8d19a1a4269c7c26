# shellcheck shell=bash
# The Go toolchain that builds the Pulumi CLI and the command provider stand-in. Source this file:
# it puts the official install (/usr/local/go/bin) first on PATH when `go` is not there already (a login
# shell's PATH, reset by /etc/profile, lacks it) or is older than GO_MIN (a distribution's golang-go
# often is: the fix go_check gives is a newer Go in /usr/local/go), and defines `go_check`.

GO_MIN=1.25 # the `go` line of Pulumi v3.259.0's go.mod and of provider/go.mod

# go_new_enough GO: 0 when that go binary's version is GO_MIN or newer.
go_new_enough() {
  local v
  v="$("$1" env GOVERSION 2>/dev/null)" || return 1
  v="${v#go}"
  [[ "$(printf '%s\n%s\n' "$GO_MIN" "$v" | sort -V | head -n1)" == "$GO_MIN" ]]
}
if [[ -x /usr/local/go/bin/go ]] && ! { command -v go >/dev/null 2>&1 && go_new_enough go; }; then export PATH="/usr/local/go/bin:$PATH"; fi

# go_check WHAT: 0 when a Go >= GO_MIN is on PATH; otherwise says what to install, to build WHAT, and returns 1.
go_check() {
  local v
  if ! v="$(go env GOVERSION 2>/dev/null)"; then
    printf '[%s] %s\n' "${PROGRESS_TAG:-setup}" "no Go toolchain to build $1: install Go $GO_MIN or newer (https://go.dev/dl, into /usr/local/go) and run again" >&2
    return 1
  fi
  v="${v#go}"
  if ! go_new_enough go; then
    printf '[%s] %s\n' "${PROGRESS_TAG:-setup}" "Go $v ($(command -v go)) is too old to build $1 (needs $GO_MIN or newer): install a newer Go (https://go.dev/dl, into /usr/local/go; it is found there) and run again" >&2
    return 1
  fi
}
