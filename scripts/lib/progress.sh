# shellcheck shell=bash
# A progress line during long steps: source this file, then
#
#   with_progress "installing Debian packages" apt-get install -y ... >/dev/null
#
# runs the command and, while it runs, prints `[setup] still installing Debian packages (45 s)` to
# the script's stderr every 15 s. Returns the command's exit status. The lines go to the stderr the
# script had when it sourced this file, so redirecting the command's output (`>/dev/null 2>&1`,
# `2>log`) never hides them. Ctrl-C (or TERM) stops the command too.
#
#   PROGRESS_TAG    the word in brackets (default: setup)
#   PROGRESS_EVERY  seconds between lines, a whole number (default: 15)
#   PROGRESS_DETAIL a command whose one-line output is added to each line, saying how far the step
#                   is (e.g. `412 packages compiled`); unset or empty output: nothing added

exec {_progress_fd}>&2

# Milliseconds of the wall clock (bash 5's EPOCHREALTIME: no process started).
_progress_ms() { local t="${EPOCHREALTIME/[.,]/}"; echo $((t / 1000)); }

with_progress() {
  local what="$1"; shift
  local every="${PROGRESS_EVERY:-15}" tag="${PROGRESS_TAG:-setup}"
  local t0 now next rc=0 saved_traps detail
  t0="$(_progress_ms)"; next=$((t0 + every * 1000))
  saved_traps="$(trap -p INT TERM)"
  # A background job of a script ignores SIGINT: pass Ctrl-C and TERM on to it ourselves.
  "$@" <&0 &
  _progress_pid=$!
  trap 'kill -TERM "$_progress_pid" 2>/dev/null; wait "$_progress_pid" 2>/dev/null; exit 130' INT
  trap 'kill -TERM "$_progress_pid" 2>/dev/null; wait "$_progress_pid" 2>/dev/null; exit 143' TERM
  while kill -0 "$_progress_pid" 2>/dev/null; do
    sleep 0.2
    now="$(_progress_ms)"
    if ((now >= next)) && kill -0 "$_progress_pid" 2>/dev/null; then
      detail=""
      [[ -z "${PROGRESS_DETAIL:-}" ]] || detail="$($PROGRESS_DETAIL 2>/dev/null | head -n1)" || detail=""
      printf '[%s] still %s (%d s%s)\n' "$tag" "$what" $(((now - t0) / 1000)) "${detail:+, $detail}" >&"$_progress_fd"
      next=$((next + every * 1000))
    fi
  done
  wait "$_progress_pid" || rc=$?
  trap - INT TERM
  eval "$saved_traps"
  return "$rc"
}
