import { allServiceSpecs, ServiceName, serviceSpec } from "./services";
import { compareVersions, isStrictVersion } from "./versions";
import type { BecomeMode } from "./config/vocabulary";

/**
 * Every shell text the tool sends to a host is made here, and nowhere else. Each value is quoted
 * with {@link shQuote} once, into a shell variable at the top of the script, and used as `"$var"`
 * afterwards (also in messages), so no value is ever read as shell syntax; paths are passed after
 * `--` where a command takes options. The scripts print `SCMUP key=value` marker lines that
 * {@link parseMarkers} reads back. Scripts are bash, wrapped in `bash -c` so the login shell does
 * not matter.
 */

/** Quote one word for a POSIX shell: single quotes, embedded single quotes closed and escaped. */
export function shQuote(value: string | number): string {
    const s = String(value);
    if (s !== "" && /^[A-Za-z0-9_/.,:=@%+-]+$/.test(s)) return s;
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Wrap a bash script so that it runs as the install user. */
export function asInstallUser(script: string, become: BecomeMode, installUser: string): string {
    const body = `bash -c ${shQuote(script)}`;
    switch (become) {
        case "login":
            return body;
        case "sudo":
            // -n: never wait for a password prompt that nobody can answer; -H: the user's own HOME.
            return `sudo -n -H -u ${shQuote(installUser)} -- ${body}`;
        case "su":
            return `su -s /bin/bash ${shQuote(installUser)} -c ${shQuote(script)}`;
    }
}

/** Wrap a bash script that needs root when the login user is not the install user (chown). */
export function asPrivileged(script: string, become: BecomeMode): string {
    const body = `bash -c ${shQuote(script)}`;
    return become === "sudo" ? `sudo -n -- ${body}` : body;
}

/** Common preamble: strict mode, a `fail` that prints a marker and the reason, and timing. */
const preamble = ["set -u", "export LC_ALL=C", 'fail() { echo "SCMUP result=failed"; echo "SCMUP reason=$1"; echo "ERROR: $1" >&2; exit 1; }'].join("\n");

/** What a script needs to know about one service to find its files (from lib/services). */
export interface ServiceFiles {
    /** `--service` name, e.g. `content-server`. */
    service: string;
    /** Install folder under the install root, e.g. `sequoiacm-content`. */
    folder: string;
    /** Jar folder inside the install folder: `jars` or `lib`. */
    jarDir: string;
    /** Jar name prefixes whose suffix is `<version>.jar`, e.g. `sequoiacm-content-server-`. */
    jarPrefixes: string[];
    /** Control script in `bin/`, e.g. `scmctl.sh`. */
    ctl: string;
}

/**
 * Shell function `installed_version <installFolder>`: the single version of the service's jars, `none`, or `mixed`.
 * Only a version-shaped body counts, so a look-alike (`sequoiacm-content-server-common-3.1.2.jar`) is ignored.
 * Pure bash (globs, parameter expansion, `[[ =~ ]]`; no `ls | sed | sort`): every node script reads it twice.
 */
export function installedVersionFn(s: ServiceFiles): string {
    const globs = s.jarPrefixes.map((p) => `"$1"/${shQuote(s.jarDir)}/${shQuote(p)}*.jar`).join(" ");
    const strip = s.jarPrefixes.map((p) => `${shQuote(p)}*) x=\${x#${shQuote(p)}};;`).join(" ");
    return [
        "installed_version() {",
        "  local f x v='' re='^[0-9]+[.][0-9]+[.][0-9]+(-[0-9A-Za-z][0-9A-Za-z.]*)?$'",
        `  for f in ${globs}; do`,
        '    [ -e "$f" ] || continue',
        `    x=\${f##*/}; case "$x" in ${strip} esac; x=\${x%.jar}`,
        "    [[ $x =~ $re ]] || continue",
        '    if [ -z "$v" ]; then v=$x; elif [ "$x" != "$v" ]; then echo mixed; return; fi',
        "  done",
        '  echo "${v:-none}"',
        "}",
    ].join("\n");
}

// ---------------------------------------------------------------- staging

export interface StagingArgs {
    stagingDir: string;
    become: BecomeMode;
    /** The SSH login user: in sudo mode it must be able to write the upload folder. */
    loginUser: string;
}

/** The folder the package is uploaded to, inside the staging folder. */
export function uploadDir(stagingDir: string): string {
    return `${stagingDir.replace(/\/+$/, "")}/.incoming`;
}

/** Make the staging folder and an upload folder the login user can write to. */
export function renderPrepareStaging(a: StagingArgs): string {
    const lines = ["set -eu", `staging=${shQuote(a.stagingDir)}`, `up=${shQuote(uploadDir(a.stagingDir))}`];
    if (a.become === "sudo") lines.push(`install -d -m 0755 -- "$staging"`, `install -d -m 0700 -o ${shQuote(a.loginUser)} -- "$up"`);
    else lines.push(`mkdir -p -- "$up"`);
    lines.push(`echo "SCMUP prepared=$up"`);
    return asPrivileged(lines.join("\n"), a.become);
}

export interface UnpackArgs {
    stagingDir: string;
    /** The tarball on the host (uploaded, or already there). */
    tarballPath: string;
    /** Its sha256 when known (uploaded from this machine); checked before unpacking. */
    sha256?: string;
    installUser: string;
    installGroup: string;
    become: BecomeMode;
    /** A separately uploaded `scmupgrade.py` that replaces the package's own. */
    scriptOverridePath?: string;
    /** The host's name in the config, for messages (default: the host's own `hostname`). */
    host?: string;
    /** Seconds to wait for an earlier run's script on the host (`hostLockWait`); default the vendor's steps alone. */
    lockWaitSeconds?: number;
}

/** Install folders of every catalogue service: `package/` must hold at most one archive of each. */
const PACKAGE_PREFIXES = () => allServiceSpecs().map((s) => s.installFolder);

/**
 * Unpack the release into the staging folder, as the vendor does (`tar -xzf -C`): over any earlier
 * copy, so the backups scmupgrade.py keeps in `sequoiacm/service_tmp/` survive a re-stage. Then:
 *
 * - `package/` is emptied first, so it holds the archives of this release only: scmupgrade.py takes the
 *   first `os.listdir` match of `package/<install-folder>*` (directory order, reference section 3),
 *   so an older archive left beside the new one could be the one it installs. More than one archive
 *   of a service after unpacking fails the staging.
 * - the script's interpreter is checked: the program named by the first line of the staged
 *   scmupgrade.py must exist and compile the script (3.2.0's is `#!/usr/bin/python` and Python 2 code:
 *   on a host whose /usr/bin/python is missing or is Python 3, every node would fail at its first
 *   line). This runs after staging and before any node is changed; it prints
 *   `SCMUP check=script-interpreter <ok|fail> ...` like the preflight checks, and a failure names
 *   the host, the interpreter and the fix. It is the last step of the `<host>-stage-unpack` command.
 */
export function renderUnpack(a: UnpackArgs): string {
    const lines = [
        preamble,
        `tarball=${shQuote(a.tarballPath)}`,
        `staging=${shQuote(a.stagingDir)}`,
        `pkg=${shQuote(packageDir(a.stagingDir))}`,
        `owner=${shQuote(`${a.installUser}:${a.installGroup}`)}`,
        a.host !== undefined ? `host=${shQuote(a.host)}` : `host=$(hostname 2>/dev/null || echo this host)`,
        `[ -f "$tarball" ] || fail "package not found on the host: $tarball"`,
    ];
    if (a.sha256) {
        lines.push(
            `sha=${shQuote(a.sha256)}`,
            `printf '%s  %s\\n' "$sha" "$tarball" | sha256sum -c --status || fail "checksum of $tarball differs from the local package (upload damaged?)"`,
        );
    }
    lines.push(
        `mkdir -p -- "$staging" || fail "cannot create $staging"`,
        ...hostLockLines(a.stagingDir, a.lockWaitSeconds),
        // Only this release's archives: an older one left in package/ could be the one scmupgrade.py takes.
        `rm -rf -- "$pkg/package" || fail "cannot empty $pkg/package"`,
        `tar -xzf "$tarball" -C "$staging" || fail "cannot unpack $tarball into $staging"`,
        `[ -d "$pkg" ] || fail "the package has no top folder sequoiacm/"`,
        `for prefix in ${PACKAGE_PREFIXES().map(shQuote).join(" ")}; do`,
        `  n=0; names=""`,
        `  for f in "$pkg/package/$prefix"*.tar.gz; do [ -e "$f" ] || continue; n=$((n+1)); names="$names \${f##*/}"; done`,
        `  [ "$n" -le 1 ] || fail "package/ holds $n archives of $prefix:$names; scmupgrade.py would take whichever the directory lists first: keep one per service in the release"`,
        "done",
    );
    if (a.scriptOverridePath) {
        lines.push(`override=${shQuote(a.scriptOverridePath)}`, `cp -- "$override" "$pkg/scmupgrade.py" || fail "cannot install the separate scmupgrade.py"`);
    }
    lines.push(
        `[ -f "$pkg/scmupgrade.py" ] || fail "the package has no scmupgrade.py: take it from a 3.2-or-later package (config upgradeScript)"`,
        `chown -R -- "$owner" "$pkg" || fail "cannot hand $pkg to $owner"`,
        `chmod +x -- "$pkg/scmupgrade.py" || fail "cannot make scmupgrade.py executable"`,
        `[ -x "$pkg/scmupgrade.py" ] || fail "scmupgrade.py is not executable after chmod"`,
        scriptInterpreterCheck(),
        `echo "SCMUP result=staged"`,
        a.sha256 ? `echo "SCMUP sha256=$sha"` : `echo "SCMUP sha256=unknown"`,
    );
    return asPrivileged(lines.join("\n"), a.become);
}

/**
 * The interpreter check of the staged script (needs `$pkg` and `$host`). Runs the interpreter the way
 * the kernel does for `./scmupgrade.py` from the package folder (the vendor's procedure and the node
 * scripts run it from there): the first line's program, with its one optional argument, then a
 * compile of the script that works on Python 2 and 3 and writes nothing (no .pyc).
 */
function scriptInterpreterCheck(): string {
    return [
        `cd -- "$pkg" || fail "staged package $pkg is missing"`,
        `first=""; IFS= read -r first < ./scmupgrade.py || true`,
        `first=\${first%$'\\r'}`,
        `interp=""; iarg=""; why=""`,
        `case "$first" in`,
        `  '#!'*) line=\${first#??}; line=\${line#"\${line%%[![:space:]]*}"}; interp=\${line%%[[:space:]]*}; iarg=\${line#"$interp"}; iarg=\${iarg#"\${iarg%%[![:space:]]*}"}; iarg=\${iarg%"\${iarg##*[![:space:]]}"};;`,
        `  *) why="its first line is not #!<interpreter>";;`,
        `esac`,
        `if [ -z "$why" ]; then`,
        `  if [ -z "$interp" ]; then why="its first line names no interpreter"`,
        `  elif [ ! -e "$interp" ]; then why="$interp does not exist"`,
        `  elif [ ! -x "$interp" ]; then why="$interp is not executable"`,
        `  elif ! out=$("$interp" \${iarg:+"$iarg"} -c 'import sys; compile(open(sys.argv[1], "rb").read(), sys.argv[1], "exec")' ./scmupgrade.py 2>&1); then`,
        `    why="$interp cannot compile it ($(printf '%s\\n' "$out" | grep -v '^[[:space:]]*$' | tail -n 1))"`,
        `  fi`,
        `fi`,
        `if [ -n "$why" ]; then`,
        `  echo "SCMUP check=script-interpreter fail $host: $why"`,
        `  fail "host $host: the staged scmupgrade.py cannot run: its first line is '$first' and $why. Fix: install Python 2 as \${interp:-/usr/bin/python} on $host (the 3.2.0 scmupgrade.py is Python 2 code), or set upgradeScript to a newer scmupgrade.py that runs on Python 3"`,
        `fi`,
        `echo "SCMUP check=script-interpreter ok $first"`,
    ].join("\n");
}

/**
 * Where the node script keeps the ports of the nodes that ran before its first attempt to upgrade one install
 * folder to `target` (the nodes that must run afterwards), under the package folder. One record per target: a
 * later release staged into the same folder starts from what runs then, not from what ran before an earlier
 * upgrade. Read by the node script, the soak's watch and the live probe.
 */
export function runningRecord(stagingDir: string, folder: string, target: string): string {
    return nodeStateFile(stagingDir, folder, target, "running");
}

/**
 * Marks the upgrade of one install folder to `target` begun and not finished: made with `runningRecord`, before
 * scmupgrade.py, removed once the nodes run as before and passed their gate. A later run that finds it (a script
 * cut off after scmupgrade.py: a driver killed, a connection lost) stops again the nodes `--start` started that did
 * not run before, and gates, before it calls the node done; the live probe does not count the node done meanwhile.
 */
export function unfinishedMark(stagingDir: string, folder: string, target: string): string {
    return nodeStateFile(stagingDir, folder, target, "unfinished");
}

/**
 * The nodes that must run after the rollback of one install folder from `target`, kept from before the vendor
 * rollback until they run as they must and passed their gate: a rollback cut off after the vendor's (or failed
 * at its gate) is finished by the next one, which finds the jars at the source and this record.
 */
export function rollbackRecord(stagingDir: string, folder: string, target: string): string {
    return nodeStateFile(stagingDir, folder, target, "rollback");
}

/**
 * Marks the upgrade of one install folder to `target` finished (its gate and hold passed); removed when an attempt
 * or a rollback begins. An intact install found back at the source with it was undone since by other means (the
 * vendor's rollback by hand), after which a node may have been stopped on purpose: its `runningRecord` then says
 * nothing of what must run. Without it the record counts: a failed attempt's, also one an older scm-upgrade made.
 */
export function finishedMark(stagingDir: string, folder: string, target: string): string {
    return nodeStateFile(stagingDir, folder, target, "finished");
}

/** `<package>/.scm-upgrade/<folder>-<target>.<kind>`: what the node scripts keep of one install folder's upgrade. */
function nodeStateFile(stagingDir: string, folder: string, target: string, kind: "running" | "unfinished" | "rollback" | "finished"): string {
    return `${packageDir(stagingDir)}/.scm-upgrade/${folder}-${target}.${kind}`;
}

/** `<stagingDir>/sequoiacm`: the unpacked release, where scmupgrade.py runs. */
function packageDir(stagingDir: string): string {
    return `${stagingDir.replace(/\/+$/, "")}/sequoiacm`;
}

/** Seconds an earlier run's script on the same host may spend in the vendor's steps (see `hostLockWait`). */
export const HOST_LOCK_WAIT_SECONDS = 900;

/**
 * Seconds any script waits for the host's lock: the longest an earlier run's script may hold it, a node's upgrade
 * (the vendor's steps, the health gate's timeout and hold, then with rollbackOnHealthFailure the vendor's rollback).
 * A staging or a rollback waited the vendor's steps alone and gave up while an upgrade that would end well was
 * still at its gate.
 */
export function hostLockWait(c: { healthTimeoutSeconds: number; healthStableSeconds?: number; rollbackOnHealthFailure?: boolean }): number {
    const vendor = HOST_LOCK_WAIT_SECONDS * (c.rollbackOnHealthFailure ? 2 : 1);
    return (
        vendor + Number(wholeNumber(c.healthTimeoutSeconds, "healthTimeoutSeconds")) + Number(wholeNumber(c.healthStableSeconds ?? 0, "healthStableSeconds"))
    );
}

/** `<stagingDir>/.scm-upgrade.lock`: the host's lock (`hostLockLines`). */
export function hostLockPath(stagingDir: string): string {
    return `${stagingDir.replace(/\/+$/, "")}/.scm-upgrade.lock`;
}

/**
 * Takes the host's lock on descriptor 9 for the rest of the script (needs `fail`; `$host` when set): one
 * unpack, upgrade or rollback at a time on a host. A run resumed while an earlier run's script is still at
 * work there (a host that hung, then went on; a driver killed outright, whose SSH session ended but not its
 * script) waits for it, then reads the install afresh, instead of running scmupgrade.py beside it or
 * unpacking under it. The descriptor is read-only (flock needs no more), so the unpack, run as root, and the
 * install user's scripts share the file the unpack makes. Without flock (util-linux) or a readable file,
 * no lock is taken. What a script starts that lives on (nodes) must not hold it: those commands close 9.
 */
export function hostLockLines(stagingDir: string, wait = HOST_LOCK_WAIT_SECONDS): string[] {
    return [
        `lock=${shQuote(hostLockPath(stagingDir))}`,
        '{ [ -e "$lock" ] || : >> "$lock"; } 2>/dev/null',
        'if command -v flock >/dev/null 2>&1 && [ -r "$lock" ] && exec 9<"$lock"; then',
        "  if ! flock -n 9; then",
        `    echo "an earlier run's script is still at work on \${host:-this host} (an upgrade, rollback or staging): waiting for it to end, at most ${wait}s"`,
        `    flock -w ${wait} 9 || fail "an earlier run's script has had $lock on \${host:-this host} for ${wait}s: see which process has it open (fuser -v $lock), let it end or stop it, then run again"`,
        '    echo "SCMUP waited-for-host-lock=$SECONDS"',
        "  fi",
        "fi",
    ];
}

// ---------------------------------------------------------------- preflight

export interface PreflightArgs {
    host: string;
    installRoot: string;
    stagingDir: string;
    installUser: string;
    installGroup: string;
    become: BecomeMode;
    sourceVersion: string;
    targetVersion: string;
    /** Services this host runs, in upgrade order. */
    services: ServiceFiles[];
    /** Free space needed in the staging and install folders, in MiB. */
    minFreeMb: number;
    /** The release (or a separate scmupgrade.py) is uploaded into the staging folder's `.incoming`. */
    uploads?: boolean;
    /** The release tarball already on the host (`package.remotePath`), which staging unpacks. */
    packageOnHost?: string;
    /** KiB of the release tarball uploaded from this machine (`package.localPath`). */
    packageKiB?: number;
}

/** A whole number for the shell text (a non-number would be shell syntax: refuse it here). */
function wholeNumber(n: number, what: string): string {
    if (!Number.isFinite(n) || Math.floor(n) !== n) throw new Error(`${what} must be a whole number, got ${n}`);
    return String(n);
}

/**
 * Checks that change nothing. Prints `SCMUP check=<name> <ok|warn|fail> <detail>` per check and
 * exits 1 when any check fails, listing them.
 */
export function renderPreflight(a: PreflightArgs): string {
    // Who makes and writes the staging folder: the install user itself with login, root otherwise.
    const login = a.become === "login";
    const lines = [
        preamble,
        "failed=0",
        'check() { echo "SCMUP check=$1 $2 $3"; [ "$2" = fail ] && failed=$((failed+1)); return 0; }',
        `host=${shQuote(a.host)}`,
        `root=${shQuote(a.installRoot)}`,
        `staging=${shQuote(a.stagingDir)}`,
        `pkg=${shQuote(packageDir(a.stagingDir))}`,
        `user=${shQuote(a.installUser)}`,
        `group=${shQuote(a.installGroup)}`,
        `src=${shQuote(a.sourceVersion)}`,
        `tgt=${shQuote(a.targetVersion)}`,
        `minfree=${wholeNumber(a.minFreeMb, "minFreeMb")}`,
        `id -u -- "$user" >/dev/null 2>&1 && check install-user ok "$user" || check install-user fail "user $user does not exist"`,
        `getent group -- "$group" >/dev/null 2>&1 && check install-group ok "$group" || check install-group fail "group $group does not exist"`,
        `[ -d "$root" ] && check install-root ok "$root" || check install-root fail "install root $root is missing"`,
        // The host's lock (hostLockLines) needs flock; without it the scripts run unguarded.
        `command -v flock >/dev/null 2>&1 && check host-lock ok flock || check host-lock warn "no flock (util-linux) on $host: a run resumed while an earlier run's script still runs there would not wait for it"`,
        `command -v curl >/dev/null && check curl ok "$(command -v curl)" || check curl fail "curl is needed for the health gate"`,
        // Checked here with everything else rather than found missing at staging. With login the install user
        // unpacks it, so must read it; sudo and su unpack as root, who may see what the install user cannot.
        ...(a.packageOnHost
            ? [
                  `tarball=${shQuote(a.packageOnHost)}`,
                  login
                      ? `if [ ! -f "$tarball" ]; then check package fail "$tarball is not on this host: copy the release there, or set package.localPath to upload it"; elif [ ! -r "$tarball" ]; then check package fail "$tarball is not readable by $user"; else check package ok "$tarball"; fi`
                      : // Root unpacks it: it may be where the install user cannot look; staging says if it is not there.
                        `if [ -f "$tarball" ]; then check package ok "$tarball"; else check package warn "$tarball is not visible to $user; staging unpacks it as root, which fails if it is not on this host"; fi`,
              ]
            : []),
        // A missing staging folder is made at staging (the vendor's step 1): by the login user with
        // `login` (so it must be able to), by root with `sudo` and `su`. Its nearest existing folder
        // stands in for it in the free-space check.
        // (a path with no slash left ends at `.`: the loop always ends)
        `at=$staging; while [ ! -e "$at" ] && [ "$at" != / ]; do case "$at" in */*) at=\${at%/*}; at=\${at:-/};; *) at=.;; esac; done`,
        `if [ "$at" = "$staging" ] && [ ! -d "$staging" ]; then check staging-dir fail "$staging exists and is not a folder: remove it or set stagingDir"`,
        `elif [ "$at" = "$staging" ]; then`,
        ...(login
            ? [
                  // What staging writes in it: the unpacked release and the upload folder, each made there when missing.
                  `  cant=""; for n in sequoiacm${a.uploads ? " .incoming" : ""}; do`,
                  `    if [ -e "$staging/$n" ]; then w=$staging/$n; else w=$staging; fi`,
                  `    [ -d "$w" ] && [ -w "$w" ] && [ -x "$w" ] || case " $cant " in *" $w "*) ;; *) cant="$cant $w";; esac`,
                  "  done",
                  `  if [ -z "$cant" ]; then check staging-dir ok "$staging"`,
                  `  else check staging-dir fail "$user, who stages the release with become login, cannot write$cant: chown -R $user:$group $staging as root, or set stagingDir"; fi`,
              ]
            : [`  check staging-dir ok "$staging"`]),
        `elif [ ! -d "$at" ]; then check staging-dir fail "$staging cannot be made: $at is not a folder; set stagingDir"`,
        ...(login
            ? [
                  `elif [ -w "$at" ] && [ -x "$at" ]; then check staging-dir ok "$staging not there yet: made by $user at staging"`,
                  `else check staging-dir fail "$staging does not exist and $user cannot make it in $at: mkdir -p $staging and chown $user:$group $staging as root, or set stagingDir"; fi`,
              ]
            : [`else check staging-dir ok "$staging not there yet: made as root at staging"; fi`]),
        // df's second line, its 4th field, read by bash (no awk to fork)
        `atfree=; for d in "$at" "$root"; do`,
        `  free=; { read -r _; read -r _ _ _ free _; } < <(df -Pm -- "$d" 2>/dev/null)`,
        // the staging filesystem's, kept for the room the upgrade needs there (below)
        `  [ "$d" = "$at" ] && [ -z "$atfree" ] && atfree=$free`,
        `  if ! [[ $free =~ ^[0-9]+$ ]]; then check free-disk fail "cannot read free space of $d";`,
        `  elif [ "$free" -lt "$minfree" ]; then check free-disk fail "$d has $free MiB free, needs $minfree";`,
        `  else check free-disk ok "$d $free MiB free"; fi`,
        "done",
        // node ports of this host, for the management-port check (3.2 opens server port + 1): an indexed array's
        // keys, unique and ascending, with no ls, sed, sort or uniq to fork
        `declare -a portset=(); for d in "$root"/*/conf/*/[0-9]*; do p=\${d##*/}; case "$p" in *[!0-9]*) ;; *) [ -e "$d" ] && portset[10#$p]=1;; esac; done`,
        `ports=""; [ "\${#portset[@]}" -eq 0 ] || ports="\${!portset[*]}"`,
        // KiB the services still to upgrade will take in the staging folder's filesystem (below)
        'need=0; upg=""',
    ];
    for (const s of a.services) {
        lines.push(
            installedVersionFn(s),
            `svc=${shQuote(s.service)}`,
            `install=${shQuote(`${a.installRoot.replace(/\/+$/, "")}/${s.folder}`)}`,
            `jardir=${shQuote(s.jarDir)}`,
            `v=$(installed_version "$install")`,
            `if [ "$v" = "$src" ]; then check "version:$svc" ok "$v (to upgrade)"`,
            `elif [ "$v" = "$tgt" ]; then check "version:$svc" ok "$v (already at target: will be skipped when its nodes run and are healthy)"`,
            `elif [ "$v" = none ]; then check "version:$svc" fail "no $svc jars in $install/$jardir"`,
            `else check "version:$svc" fail "installed $v, expected $src or $tgt"; fi`,
            `marker=${shQuote(`${packageDir(a.stagingDir)}/service_tmp/${s.folder}/backup/.backup_completed`)}`,
            `if [ -f "$marker" ] && [ "$v" = "$src" ]; then check "backup:$svc" warn "stale backup marker $marker: the 3.2.0 scmupgrade.py keeps that old backup, a newer one refuses to run over it (the node script then backs up elsewhere)"; fi`,
            // What scmupgrade.py writes under the package folder for a service (reference section 3): the service's
            // new release unpacked, a backup of the scripts, bin/ and jars it replaces, and the replaced files moved
            // there: about 3 x their size (2 x when a backup is there already). du's KiB summed by bash.
            `if [ "$v" = "$src" ]; then kb=0; while read -r k _; do [[ $k =~ ^[0-9]+$ ]] && kb=$((kb + k)); done < <(du -sk -- "$install"/*.py "$install/bin" "$install/$jardir" 2>/dev/null); x=3; [ -f "$marker" ] && x=2; need=$((need + x * kb)); upg="$upg, $svc"; fi`,
        );
        if (s.service === "cloud") {
            lines.push(
                `for f in "$install"/conf/service-center/*/application.properties; do`,
                `  [ -f "$f" ] || continue`,
                `  [ "$v" = "$tgt" ] && continue`,
                "  for k in scm.store.sequoiadb.urls scm.store.sequoiadb.username scm.store.sequoiadb.password; do",
                `    grep -q "^$k=" "$f" && check "metadata-source:$k" ok "$f" || check "metadata-source:$k" fail "$k missing in $f (needed before 3.2)"`,
                "  done",
                "done",
            );
        }
    }
    lines.push(
        // A filesystem that fills up in the middle of scmupgrade.py leaves a half-replaced install: refused here,
        // before any node is touched, instead of found at that node.
        `if [ -n "$upg" ]; then`,
        // Not staged yet: the release comes first, uploaded and unpacked (about its size again), or unpacked from the host.
        `  rel=""; if [ ! -d "$pkg" ]; then`,
        ...(a.packageKiB !== undefined
            ? [`    need=$((need + 2 * ${wholeNumber(a.packageKiB, "packageKiB")})); rel="the release uploaded and unpacked, then "`]
            : a.packageOnHost
              ? [`    kb=; read -r kb _ < <(du -k -- "$tarball" 2>/dev/null); [[ $kb =~ ^[0-9]+$ ]] && need=$((need + kb)); rel="the release unpacked, then "`]
              : ["    :"]),
        "  fi",
        `  needmb=$(( (need + 1023) / 1024 + minfree ))`,
        // unreadable: the free-disk check above has failed already
        `  free=$atfree; if ! [[ $free =~ ^[0-9]+$ ]]; then :`,
        `  elif [ "$free" -lt "$needmb" ]; then check staging-space fail "$at has $free MiB free; upgrading \${upg#, } here needs about $needmb MiB in $staging (\${rel}per service, scmupgrade.py unpacks its new release there, backs up the scripts, bin/ and jars it replaces and moves them there: about 3 x their size, plus $minfree MiB): free space there, or set stagingDir to a filesystem with room"`,
        `  else check staging-space ok "$at $free MiB free, about $needmb MiB needed to upgrade \${upg#, }"; fi`,
        "fi",
        `for p in $ports; do`,
        `  m=$((p+1))`,
        `  if [ -n "\${portset[m]:-}" ]; then`,
        `    set -- $(grep -ls "^management.port=" "$root"/*/conf/*/"$p"/application.properties 2>/dev/null)`,
        `    [ $# -gt 0 ] && check "management-port:$p" ok "management.port set" || check "management-port:$p" fail "3.2 opens management port $m for node $p, which another node of this host uses: set management.port"`,
        "  fi",
        "done",
        `if [ "$failed" -gt 0 ]; then echo "SCMUP result=failed"; echo "SCMUP reason=$failed preflight check(s) failed on $(printf '%s' "$host" | tr -c 'A-Za-z0-9_.-' _)"; exit 1; fi`,
        `echo "SCMUP result=ok"`,
    );
    return asInstallUser(lines.join("\n"), a.become, a.installUser);
}

// ---------------------------------------------------------------- upgrade

export interface NodeUpgradeArgs {
    host: string;
    /** Address the health endpoints are reached at, from the host itself (IPv4, IPv6 or a DNS name). */
    healthAddress: string;
    installRoot: string;
    stagingDir: string;
    installUser: string;
    become: BecomeMode;
    targetVersion: string;
    service: ServiceFiles;
    healthTimeoutSeconds: number;
    /**
     * After the gate passes, every node must stay healthy this many more seconds (polled each 0.5 s), so one that
     * dies right after `scmupgrade.py` reported success fails here. Default 0: no such wait.
     */
    healthStableSeconds?: number;
    /** Roll the node back with the vendor rollback when its health gate fails. */
    rollbackOnHealthFailure: boolean;
}

/** Lines of the control script's `list` (`NAME(port) (pid)`, pid `-` when stopped): node types are upper case with digits (`S3-SERVER`). */
const LIST_LINE = "^[A-Z0-9_-]*[(]([0-9]+)[)] ";

/**
 * Shell function `conf_ports` (needs `$install`): the node ports configured on the host, from the folder names of
 * `conf/<type>/<port>/` (reference section 2). No control script runs: quick, and it works on a half-replaced install.
 */
export const CONF_PORTS_FN = [
    "conf_ports() {",
    // an indexed array's keys come back unique and in ascending order: no sort, no uniq to fork (counted before
    // they are read: bash before 4.4 calls an empty array unbound under set -u)
    '  local d p; local -a seen=(); for d in "$install"/conf/*/*/; do p=${d%/}; p=${p##*/}; case "$p" in ""|*[!0-9]*) ;; *) seen[10#$p]=1;; esac; done',
    '  [ "${#seen[@]}" -eq 0 ] || for p in "${!seen[@]}"; do printf "%s " "$p"; done',
    "}",
].join("\n");

/**
 * Shell functions `running_ports` (`<ctl> list -m run`; exit 1 = none), `local_ports` (`list -m local`: every
 * node configured on the host, running or not) and `conf_ports`; needs `$ctl` and `$install`. A `list` that
 * failed (an exit status other than 0 and 1, or 0 without its `Total:N` line: the control script or its Java not
 * found, a crash) returns 1 with its last lines on stderr, and the caller stops (`|| list_failed`) rather than
 * take "nothing known" for "no node runs", which would stop every node after `--start`. Exit 1 is the vendor's
 * "nothing listed" and stays that: a failure that exits 1 cannot be told from it.
 */
export const NODE_PORTS_FNS = [
    // ctl_ports <run|local>: the ports the control script lists, read by bash itself (no sed, sort, uniq, tr)
    "ctl_ports() {",
    `  local l p out rc re=${shQuote(LIST_LINE)}; local -a seen=()`,
    `  [ "$1" = run ] && re+='[(][0-9]+[)]'`,
    // no control script (moved away by a failed replace step): nothing to ask; the record or conf/ say what must run
    '  [ -x "$ctl" ] || return 0',
    '  out=$("$ctl" list -m "$1" 2>&1); rc=$?',
    '  if [ "$rc" -gt 1 ] || { [ "$rc" -eq 0 ] && [[ $out != *Total:[0-9]* ]]; }; then',
    '    printf "%s\\n" "$out" | tail -n 5 | sed "s/^/    | /" >&2; echo "    (exit status $rc)" >&2; return 1',
    "  fi",
    '  while IFS= read -r l; do [[ $l =~ $re ]] && seen[10#${BASH_REMATCH[1]}]=1; done <<< "$out"',
    '  [ "${#seen[@]}" -eq 0 ] || for p in "${!seen[@]}"; do printf "%s " "$p"; done',
    "}",
    "running_ports() { ctl_ports run; }",
    'list_failed() { fail "$ctl list -m $1 on $host failed (its last lines are above): which nodes of $svc run cannot be told, so the script stops here; fix the control script, then run again"; }',
    CONF_PORTS_FN,
    // without its control script (a half-replaced install), the conf/<type>/<port>/ folders say which nodes there are
    'local_ports() { if [ -x "$ctl" ]; then ctl_ports local; else conf_ports; fi; }',
    // file_ports <record>: the ports recorded one per line, as one line (mapfile: no tr)
    'file_ports() { local -a a; mapfile -t a < "$1"; [ ${#a[@]} -eq 0 ] || printf "%s " "${a[@]}"; }',
].join("\n");

/**
 * Shell functions on `$must_run`, the ports of the nodes that must run after the vendor script (needs
 * NODE_PORTS_FNS and `fail`):
 * - `must_add <ports...>`: adds the ports it lacks;
 * - `write_ports <file>`: keeps it in a file under the package folder (read back with `file_ports`);
 * - `stop_others`: puts the run state back after the vendor script's `--start`, which starts every node of the
 *   service (those configured in conf/<type>/<port>/, reference section 2), by stopping the running ones not in
 *   `$must_run`. Only when one of them was not to run is the control script asked what runs.
 */
export const MUST_RUN_FNS = [
    'must_add() { local p; for p in "$@"; do case " $must_run " in *" $p "*) ;; *) must_run="${must_run:+$must_run }$p";; esac; done; }',
    'write_ports() { { { [ -d "${1%/*}" ] || mkdir -p -- "${1%/*}"; } && printf "%s\\n" $must_run > "$1"; } || fail "cannot write $1"; }',
    "stop_others() {",
    '  local p runs others=""',
    '  for p in $(conf_ports); do case " $must_run " in *" $p "*) ;; *) others="$others $p";; esac; done',
    '  [ -n "$others" ] || return 0',
    "  runs=$(running_ports) || list_failed run",
    '  for p in $runs; do case " $must_run " in *" $p "*) ;; *) echo "stopping node $p: it was not running before"; "$ctl" stop -p "$p" >/dev/null 2>&1 || true;; esac; done',
    "}",
].join("\n");

/**
 * Shell function `gate <ports...>` (needs `healthy` and `$timeout`): waits until every port is healthy. It polls at
 * once, then every 0.05 s for 40 polls (a node that comes up within 2 s is seen within 0.05 s), every 0.1 s for 80
 * more (10 s and more in all), then every second (a slow node is not polled in a busy loop). On timeout it prints the ports that are not
 * healthy and returns 1. `$SECONDS` is bash's own clock (no fork per reading).
 */
export const HEALTH_GATE_FN = [
    "gate() {",
    '  local pending="$*" next p polls=0 end=$((SECONDS + timeout))',
    "  while :; do",
    "    next=''",
    '    for p in $pending; do healthy "$p" || next="$next $p"; done',
    "    pending=$next",
    '    [ -z "${pending// /}" ] && return 0',
    '    if [ "$SECONDS" -ge "$end" ]; then echo "$pending"; return 1; fi',
    "    polls=$((polls + 1))",
    '    if [ "$polls" -le 40 ]; then sleep 0.05; elif [ "$polls" -le 120 ]; then sleep 0.1; else sleep 1; fi',
    "  done",
    "}",
].join("\n");

/**
 * Shell function `top_status`: the top-level `"status"` string of the JSON document on stdin, or nothing.
 * A real JSON scan (strings and escapes, nesting depth), so `{"status":"DOWN","diskSpace":{"status":"UP"}}`
 * gives DOWN whatever the order of the keys. POSIX awk only.
 */
export const TOP_STATUS_FN = [
    "top_status() {",
    `  awk 'BEGIN { RS = "\\001" }
  { doc = doc $0 }
  END {
    n = length(doc); d = 0; key = ""; want = 0
    for (i = 1; i <= n; i++) {
      c = substr(doc, i, 1)
      if (c == "\\"") {
        s = ""; i++
        while (i <= n) {
          c = substr(doc, i, 1)
          if (c == "\\\\") { s = s c substr(doc, i + 1, 1); i += 2; continue }
          if (c == "\\"") break
          s = s c; i++
        }
        if (want) { if (d == 1 && key == "status") { print s; exit } want = 0; continue }
        j = i + 1
        while (j <= n && substr(doc, j, 1) ~ /[ \\t\\r\\n]/) j++
        if (substr(doc, j, 1) == ":") { key = (d == 1) ? s : ""; want = 1; i = j }
        continue
      }
      if (c == "{" || c == "[") { d++; want = 0; continue }
      if (c == "}" || c == "]") { d--; want = 0; continue }
      if (c !~ /[ \\t\\r\\n]/) want = 0
    }
  }'`,
    "}",
].join("\n");

/**
 * Shell function `healthy <port>` (needs `$health_base`): the node answers its health document with a top-level
 * `status` of UP (3.2 and later: `/internal/v1/health`, HTTP 200 whatever the status; 3.1: `/health`), and for
 * content-server its Node-Status is `running` at the target version.
 */
export function healthyFn(a: { service: ServiceFiles }): string {
    const lines = [
        // Few processes per poll: a fork costs milliseconds on a small VM, and the probe and the gate poll every node.
        // A node that does not answer gives an empty status: not UP.
        "healthy() {",
        "  local b",
        `  b=$(curl -gsS -m 3 "$health_base:$1$health_path" 2>/dev/null | top_status)`,
        `  [ "$b" = UP ] || return 1`,
    ];
    if (a.service.service === "content-server") {
        lines.push(
            `  b=$(curl -gfsS -m 3 "$health_base:$1/api/v1/conf-properties?keys=SCM-Version,Node-Status" 2>/dev/null) || return 1`,
            "  b=${b// /}",
            `  [[ $b == *'"Node-Status":"running"'* ]] || return 1`,
            `  [[ $b == *"\\"SCM-Version\\":\\"$target\\""* ]]`,
        );
    }
    lines.push("}");
    return lines.join("\n");
}

/** `http://<address>` with an IPv6 address in brackets (curl runs with -g so the brackets are not a glob). */
export function healthBase(address: string): string {
    const bare = address.replace(/^\[|\]$/g, "");
    return bare.includes(":") ? `http://[${bare}]` : `http://${bare}`;
}

/** The health path of a version: `/internal/v1/health` from 3.2 on, `/health` before (reference section 2). */
export function healthPath(version: string): string {
    return isStrictVersion(version) && compareVersions(version, "3.2.0") >= 0 ? "/internal/v1/health" : "/health";
}

/**
 * Upgrade one service on one host, as the install user. The node script keeps, in `runningRecord`, the ports of
 * the nodes that ran before the first attempt: the nodes that must run afterwards (`--start` starts every node of
 * the service; the others are stopped again). A retry on an install still at the source adds what runs then.
 * Until the nodes run as before and passed their gate, `unfinishedMark` is there: a later run that finds the jars
 * at the target and the mark (this script cut off after scmupgrade.py) stops the others again before it calls the
 * node done.
 *
 * - Jars already at the target: scmupgrade.py is not run (it has no version check and would restart the nodes;
 *   the newest one refuses a second run). The node counts as done (`result=skipped`) only when every node that
 *   must run runs and is healthy. Otherwise (a resumed run whose start or health gate failed, a node stopped by
 *   hand) the script starts the stopped ones with the control script and gates on health (`result=started`),
 *   or fails naming the node.
 * - Otherwise scmupgrade.py runs. Success needs all three: the `upgrade success!` line (its exit code proves
 *   nothing), the jars at the target version, and every node that must run healthy.
 * - A newer scmupgrade.py (one that takes `--backup-path`) refuses to run when a completed backup from an earlier
 *   attempt is in its backup folder. Decision: when the install is intact (one version, not the target), that
 *   backup and a fresh one are of the same install, so the run passes a fresh `--backup-path` under
 *   `service_tmp/` and says so; the earlier backup stays where the tool's rollback looks for it. When the
 *   install is half-replaced (`mixed` or no jars), a fresh backup would save a broken install: the script
 *   refuses, naming the earlier backup and the vendor rollback that restores it. See sandbox/README.md.
 */
export function renderServiceUpgrade(a: NodeUpgradeArgs): string {
    const s = a.service;
    const install = `${a.installRoot.replace(/\/+$/, "")}/${s.folder}`;
    const timeout = wholeNumber(a.healthTimeoutSeconds, "healthTimeoutSeconds");
    const stable = Number(wholeNumber(a.healthStableSeconds ?? 0, "healthStableSeconds"));
    // The failure's reason then says what the rollback left ($rolled): the version the node was at before, or not.
    const rollbackLine = (why: string) =>
        `  echo "${why}: rolling back with the vendor rollback"; ` +
        './scmupgrade.py --service "$svc" --install-path "$install" ${bp:+--backup-path "$bp"} --rollback --start 2>&1 9<&- | tail -n 5; stop_others; rb=$(installed_version "$install"); echo "SCMUP rolled-back=$rb"; ' +
        // a half-replaced install before this attempt (an earlier one cut off) has no version to put back
        'if [ "$half" = 1 ]; then rolled="; the vendor rollback left $rb installed (before this attempt: $before)"; ' +
        'elif [ "$rb" = "$before" ]; then rolled="; rolled back with the vendor rollback: $rb installed again"; ' +
        'else rolled="; the vendor rollback did not put $before back: $rb installed (its last lines are above)"; fi';
    // Without healthStableSeconds the script text is as it was (no change for stacks already upgrading).
    const holdFns = stable
        ? [
              `stable=${stable}`,
              // hold <ports...>: each stays healthy for $stable s; else print "<port> <seconds>" of the first that does not.
              "hold() {",
              "  local p t0=$(date +%s)",
              "  while :; do",
              '    for p in "$@"; do healthy "$p" || { echo "$p $(( $(date +%s) - t0 ))"; return 1; }; done',
              // whole seconds on both sides: only "more than" guarantees at least $stable s have passed
              '    [ $(( $(date +%s) - t0 )) -gt "$stable" ] && return 0',
              "    sleep 0.5",
              "  done",
              "}",
              // seen <port>: what its health endpoint answers now.
              "seen() {",
              "  local b s",
              // curl's error without its "curl: (7) " prefix
              '  b=$(curl -gsS -m 3 "$health_base:$1$health_path" 2>&1) || { b=${b##*curl: }; echo "no answer (${b#(*) })"; return; }',
              "  s=$(printf '%s' \"$b\" | top_status)",
              '  [ "$s" = UP ] && s="UP but not running at $target"',
              '  echo "status ${s:-unknown}"',
              "}",
          ]
        : [];
    const holdCheck = (rollback: boolean) =>
        stable
            ? [
                  "if ! lost=$(hold $must_run); then",
                  ...(rollback ? [rollbackLine("a node did not stay healthy")] : []),
                  '  fail "node ${lost% *} of $svc on $host was healthy, then $(seen ${lost% *}) on $health_path ${lost#* }s later: it must stay healthy ${stable}s after its health gate (healthStableSeconds)$rolled"',
                  "fi",
              ]
            : [];
    const lines = [
        preamble,
        `host=${shQuote(a.host)}`,
        `svc=${shQuote(s.service)}`,
        `install=${shQuote(install)}`,
        `ctl=${shQuote(`${install}/bin/${s.ctl}`)}`,
        `pkg=${shQuote(packageDir(a.stagingDir))}`,
        `target=${shQuote(a.targetVersion)}`,
        `health_base=${shQuote(healthBase(a.healthAddress))}`,
        `health_path=${shQuote(healthPath(a.targetVersion))}`,
        `record=${shQuote(runningRecord(a.stagingDir, s.folder, a.targetVersion))}`,
        `unfinished=${shQuote(unfinishedMark(a.stagingDir, s.folder, a.targetVersion))}`,
        `finished=${shQuote(finishedMark(a.stagingDir, s.folder, a.targetVersion))}`,
        `undone=${shQuote(rollbackRecord(a.stagingDir, s.folder, a.targetVersion))}`,
        `marker="$pkg/service_tmp/"${shQuote(`${s.folder}/backup/.backup_completed`)}`,
        `timeout=${timeout}`,
        // what a rollback on a failed gate left, for the failure's reason (rollbackLine)
        'rolled=""',
        installedVersionFn(s),
        NODE_PORTS_FNS,
        TOP_STATUS_FN,
        healthyFn(a),
        ...holdFns,
        HEALTH_GATE_FN,
        // $SECONDS: bash's own clock since the script began (no fork per reading).
        'done_ok() { echo "SCMUP version-after=$1"; echo "SCMUP seconds=$SECONDS"; echo "SCMUP finished-at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "SCMUP result=$2"; }',
        MUST_RUN_FNS,
        ...hostLockLines(a.stagingDir, hostLockWait(a)),
        'before=$(installed_version "$install")',
        'echo "SCMUP version-before=$before"',
        // Which nodes must run afterwards: on an install not yet replaced, the running ones; after an earlier
        // attempt (at the target, or half-replaced), those it recorded, else every node configured on the host.
        // half-replaced: no single version, or the control script moved away by a failed replace step
        'half=0; { [ "$before" = mixed ] || [ "$before" = none ] || [ ! -x "$ctl" ]; } && half=1',
        'if [ "$before" = "$target" ] || [ "$half" = 1 ]; then',
        '  if [ -f "$record" ]; then must_run=$(file_ports "$record"); else must_run=$(local_ports) || list_failed local; fi',
        // Intact, not at the target: what runs now, and, after an earlier attempt (whose `stop all` may have failed
        // halfway), what ran before it, which its record says: a retry never takes those for nodes stopped on purpose.
        // Not a finished upgrade's record, undone since by other means (finishedMark).
        "else",
        "  must_run=$(running_ports) || list_failed run",
        '  if [ -f "$record" ] && [ ! -f "$finished" ]; then must_add $(file_ports "$record"); fi',
        "fi",
        'if [ "$before" = "$target" ]; then',
        // An earlier attempt cut off after scmupgrade.py: its --start may have started nodes that did not run before.
        '  if [ -f "$unfinished" ]; then echo "an earlier attempt on $svc did not finish after scmupgrade.py: putting back the nodes that ran before it"; stop_others; fi',
        "  running=$(running_ports) || list_failed run",
        '  running=" $running "',
        '  started=""',
        "  for p in $must_run; do",
        '    case "$running" in *" $p "*) continue;; esac',
        '    echo "node $p of $svc is at $target but not running: starting it with the control script"',
        '    "$ctl" start -p "$p" 9<&-; rc=$?',
        '    [ "$rc" -eq 0 ] || fail "node $p of $svc on $host is at $target but does not start (control script exit status $rc)"',
        '    started="$started $p"',
        "  done",
        '  if [ -z "$started" ] && [ ! -f "$unfinished" ]; then',
        '    sick=""; for p in $must_run; do healthy "$p" || sick="$sick $p"; done',
        '    if [ -z "$sick" ]; then echo "SCMUP version-after=$before"; echo "SCMUP seconds=0"; echo "SCMUP result=skipped"; echo "already at $target with its nodes running and healthy: scmupgrade.py not run"; exit 0; fi',
        '    echo "nodes$sick of $svc are at $target but not healthy: waiting for them"',
        "  fi",
        '  [ -n "$started" ] && echo "SCMUP started=$(echo $started)"',
        '  if ! sick=$(gate $must_run); then fail "nodes$sick of $svc on $host are at $target but not healthy on $health_path within ${timeout}s"; fi',
        ...holdCheck(false),
        '  rm -f -- "$unfinished"; { : > "$finished"; } 2>/dev/null',
        '  done_ok "$before" started',
        "  exit 0",
        "fi",
        'cd -- "$pkg" || fail "staged package $pkg is missing"',
        // Not at the target and intact: must_run is what runs now (one control-script call, not two).
        'if [ "$half" = 1 ]; then was_running=$(running_ports) || list_failed run; else was_running=$must_run; fi',
        'echo "SCMUP running-before=${was_running:-none}"',
        // an earlier rollback's record goes too: this attempt supersedes it
        'rm -f -- "$finished" "$undone"',
        'write_ports "$record"',
        ': > "$unfinished" || fail "cannot write $unfinished"',
        'bp=""',
        // Does this scmupgrade.py take --backup-path? Its help says so (both vendor versions print it and exit 0 at -h).
        'if [ -f "$marker" ] && ./scmupgrade.py --help 2>/dev/null | grep -q -e "--backup-path"; then',
        '  case "$half" in',
        '    1) fail "$svc on $host is half-replaced (installed: $before$([ -x "$ctl" ] || echo ", no control script")) after an earlier attempt that left a completed backup at ${marker%/*}; this scmupgrade.py refuses to run over it, and a fresh backup would save the broken install. Restore the earlier install from that backup: cd $pkg && ./scmupgrade.py --service $svc --install-path $install --rollback --start; then run the upgrade again";;',
        "  esac",
        '  bp="$pkg/service_tmp/retry-$(date -u +%Y%m%dT%H%M%SZ)"',
        '  echo "a completed backup from an earlier attempt is at ${marker%/*} (installed: $before, intact); this scmupgrade.py refuses to run over it, so this run backs up to $bp"',
        '  echo "SCMUP backup-path=$bp"',
        "fi",
        // Its output is held in a variable, not a temporary file: no mktemp, cat, grep or rm to fork on the way.
        'out=$(./scmupgrade.py --service "$svc" --install-path "$install" ${bp:+--backup-path "$bp"} --start 2>&1 9<&-)',
        "rc=$?",
        '[ -z "$out" ] || printf "%s\\n" "$out"',
        'tail_lines() { printf "%s\\n" "$out" | tail -n 15 | sed "s/^/    | /" >&2; }',
        'if [[ $out != *"upgrade success!"* ]]; then tail_lines; fail "scmupgrade.py did not print upgrade success! (exit status $rc)"; fi',
        'after=$(installed_version "$install")',
        'echo "SCMUP version-after=$after"',
        'if [ "$after" != "$target" ]; then tail_lines; fail "installed version is $after after the upgrade, expected $target"; fi',
        "stop_others",
        "if ! sick=$(gate $must_run); then",
        a.rollbackOnHealthFailure ? rollbackLine("health gate timed out") : "  :",
        `  fail "nodes$sick not healthy on the ${healthPath(a.targetVersion) === "/health" ? "3.1 endpoint" : "3.2 endpoints"} within \${timeout}s$rolled"`,
        "fi",
        ...holdCheck(a.rollbackOnHealthFailure),
        'rm -f -- "$unfinished"; { : > "$finished"; } 2>/dev/null',
        'echo "SCMUP seconds=$SECONDS"',
        'echo "SCMUP finished-at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"',
        'echo "SCMUP result=upgraded"',
    ];
    return asInstallUser(lines.join("\n"), a.become, a.installUser);
}

export interface NodeRollbackArgs {
    host: string;
    /** The host's address, for its nodes' health endpoints. */
    healthAddress: string;
    installRoot: string;
    stagingDir: string;
    installUser: string;
    become: BecomeMode;
    sourceVersion: string;
    /** The version rolled back from: its upgrade's record says which nodes ran before it. */
    targetVersion: string;
    service: ServiceFiles;
    healthTimeoutSeconds: number;
    /** Seconds to wait for an earlier run's script on the host (`hostLockWait`); default the vendor's steps and this gate. */
    lockWaitSeconds?: number;
}

/**
 * The vendor's way back for one service on one host: `scmupgrade.py --rollback --start`, then the run state put
 * back and a health gate. `--start` starts every node of the service: those that must run afterwards are the ones
 * the upgrade recorded as running before it (`runningRecord`) and those running now; the others are stopped
 * again. Without a record (an upgrade by other means) every node stays started, as the vendor leaves them. The
 * nodes that must run are gated on the source version's health endpoint: a rollback that put the jars back but
 * whose nodes do not come up fails naming them. Once it passes, the upgrade's record and mark go: a later upgrade
 * starts from what runs then. Until then `rollbackRecord` keeps which nodes must run: a rollback cut off or failed
 * after the vendor's is finished by the next one instead of skipped (the jars are at the source by then).
 */
export function renderServiceRollback(a: NodeRollbackArgs): string {
    const s = a.service;
    const install = `${a.installRoot.replace(/\/+$/, "")}/${s.folder}`;
    const timeout = wholeNumber(a.healthTimeoutSeconds, "healthTimeoutSeconds");
    const lines = [
        preamble,
        `host=${shQuote(a.host)}`,
        `svc=${shQuote(s.service)}`,
        `install=${shQuote(install)}`,
        `ctl=${shQuote(`${install}/bin/${s.ctl}`)}`,
        `pkg=${shQuote(packageDir(a.stagingDir))}`,
        `src=${shQuote(a.sourceVersion)}`,
        // the health check's version (content-server's SCM-Version) is the one rolled back to
        `target=${shQuote(a.sourceVersion)}`,
        `health_base=${shQuote(healthBase(a.healthAddress))}`,
        `health_path=${shQuote(healthPath(a.sourceVersion))}`,
        `record=${shQuote(runningRecord(a.stagingDir, s.folder, a.targetVersion))}`,
        `unfinished=${shQuote(unfinishedMark(a.stagingDir, s.folder, a.targetVersion))}`,
        `finished=${shQuote(finishedMark(a.stagingDir, s.folder, a.targetVersion))}`,
        `undone=${shQuote(rollbackRecord(a.stagingDir, s.folder, a.targetVersion))}`,
        `timeout=${timeout}`,
        installedVersionFn(s),
        NODE_PORTS_FNS,
        MUST_RUN_FNS,
        TOP_STATUS_FN,
        healthyFn(a),
        HEALTH_GATE_FN,
        "t0=$(date +%s)",
        ...hostLockLines(a.stagingDir, a.lockWaitSeconds ?? hostLockWait(a)),
        'before=$(installed_version "$install")',
        'echo "SCMUP version-before=$before"',
        'if [ "$before" = "$src" ]; then',
        // An earlier rollback that put the jars back and was cut off or failed after: its nodes are put right now.
        '  [ -f "$undone" ] || { echo "SCMUP version-after=$before"; echo "SCMUP result=skipped"; exit 0; }',
        '  echo "an earlier rollback of $svc did not finish after scmupgrade.py --rollback: putting back the nodes that ran before it"',
        '  must_run=$(file_ports "$undone")',
        '  echo "SCMUP version-after=$before"',
        "else",
        '  cd -- "$pkg" || fail "staged package $pkg is missing: nothing to roll back with"',
        // Which nodes must run afterwards: those that ran before the upgrade, and those running now unless the
        // upgrade was cut off after its --start (then every node runs; a list that fails does not stop a
        // rollback: the record alone says). Without a record, every node (as the vendor starts them).
        '  if [ -f "$record" ]; then',
        '    must_run=$(file_ports "$record")',
        '    [ -f "$unfinished" ] || must_add $(running_ports 2>/dev/null)',
        "  else",
        "    must_run=$(conf_ports)",
        "  fi",
        // kept until the nodes run as they must: a rollback cut off after the vendor's finishes them next time; the
        // upgrade's record counts again for an upgrade run meanwhile (finishedMark)
        '  write_ports "$undone"',
        '  rm -f -- "$finished"',
        "  log=$(mktemp)",
        '  ./scmupgrade.py --service "$svc" --install-path "$install" --rollback --start >"$log" 2>&1 9<&-',
        "  rc=$?",
        '  cat "$log"',
        '  if ! grep -q "rollback success!" "$log"; then tail -n 15 "$log" | sed "s/^/    | /" >&2; rm -f "$log"; fail "scmupgrade.py --rollback did not print rollback success! (exit status $rc)"; fi',
        '  rm -f "$log"',
        '  after=$(installed_version "$install")',
        '  echo "SCMUP version-after=$after"',
        '  [ "$after" = "$src" ] || fail "installed version is $after after the rollback, expected $src"',
        "fi",
        "stop_others",
        'if ! sick=$(gate $must_run); then fail "rolled back to $src, but nodes$sick of $svc on $host are not healthy on $health_path within ${timeout}s"; fi',
        'rm -f -- "$record" "$unfinished" "$undone" "$finished"',
        'echo "SCMUP seconds=$(( $(date +%s) - t0 ))"',
        'echo "SCMUP result=rolled-back"',
    ];
    return asInstallUser(lines.join("\n"), a.become, a.installUser);
}

/**
 * The command of a node a run of the other center keeps as the state holds it (`--only-center`): the engine keeps
 * the recorded command and never runs this one. Were the node gone from the state by the time the engine reached
 * it (another run's change in between), this would run instead: it fails, changing nothing on the host, rather
 * than upgrade a node of the center the run leaves alone.
 */
export function renderKeptNode(host: string, service: string): string {
    const why = `${service} on ${host} is in the center this run leaves alone, and the state no longer held it when the run reached it (another run changed the state): nothing was done on ${host}; run again`;
    return [preamble, `fail ${shQuote(why)}`].join("\n");
}

/** Read the `SCMUP key=value` markers of a script's output (last one wins; `check=` lines are collected). */
export function parseMarkers(stdout: string): { values: Record<string, string>; checks: { name: string; status: string; detail: string }[] } {
    const values: Record<string, string> = {};
    const checks: { name: string; status: string; detail: string }[] = [];
    for (const line of stdout.split("\n")) {
        const m = /^SCMUP ([a-z0-9-]+)=(.*)$/.exec(line.trimEnd());
        if (!m) continue;
        if (m[1] === "check") {
            const c = /^(\S+) (ok|warn|fail) ?(.*)$/.exec(m[2]);
            if (c) checks.push({ name: c[1], status: c[2], detail: c[3] });
        } else {
            values[m[1]] = m[2];
        }
    }
    return { values, checks };
}

/** The files of a catalogue service, as the scripts need them. */
export function serviceFilesOf(name: ServiceName): ServiceFiles {
    const s = serviceSpec(name);
    return {
        service: s.name,
        folder: s.installFolder,
        jarDir: s.jarFolder,
        jarPrefixes: s.jarPatterns.map((p) => p.split("<ver>")[0]),
        ctl: s.controlScript,
    };
}

// ---------------------------------------------------------------- soak

export interface SoakWatchArgs
    extends Pick<NodeUpgradeArgs, "host" | "healthAddress" | "installRoot" | "stagingDir" | "installUser" | "become" | "targetVersion"> {
    /** The soak's name for messages, e.g. `soak/cloud/primary`. */
    soak: string;
    /** The standby services of this host that the soak watches. */
    services: ServiceFiles[];
    seconds: number;
    intervalSeconds: number;
}

/**
 * The soak on one host: its upgraded standby nodes watched for `seconds` before the primary is touched. The
 * nodes watched are those the node script recorded as the ones that must run (else every node configured on
 * the host). Their health is read at once, then every `intervalSeconds`, and once more at the end, on the
 * target version's endpoints (the node script's `healthy`); the installed version must stay the target. The
 * first node not UP, not answering, or whose version changed fails the soak at once, naming the node and what
 * was seen (`SCMUP soak-node=<host>/<service>:<port>`, `SCMUP reason=...`). Otherwise it lasts `seconds` (to the
 * millisecond where `date` has %N; the last check is timed to end then), no more (`SCMUP result=soaked`, `SCMUP polls=<n>`,
 * `SCMUP seconds=<s.t>`).
 */
export function renderSoakWatch(a: SoakWatchArgs): string {
    const seconds = wholeNumber(a.seconds, "soak seconds");
    const interval = wholeNumber(a.intervalSeconds, "soak intervalSeconds");
    if (a.seconds < 1 || a.intervalSeconds < 1) throw new Error("soak seconds and intervalSeconds must be 1 or more");
    const lines = [
        preamble,
        `host=${shQuote(a.host)}`,
        `soak=${shQuote(a.soak)}`,
        `pkg=${shQuote(packageDir(a.stagingDir))}`,
        `target=${shQuote(a.targetVersion)}`,
        `health_base=${shQuote(healthBase(a.healthAddress))}`,
        `health_path=${shQuote(healthPath(a.targetVersion))}`,
        `seconds=${seconds}`,
        `interval=${interval}`,
        TOP_STATUS_FN,
        // Milliseconds (whole seconds where `date` has no %N): the watch lasts the soak's time, not up to a second less or more.
        "now_ms() { n=$(date +%s%N 2>/dev/null); case $n in ''|*[!0-9]*) echo $(( $(date +%s) * 1000 ));; *) echo $(( n / 1000000 ));; esac; }",
        "t0=$(now_ms)",
        "elapsed() { echo $(( ($(now_ms) - t0) / 1000 )); }",
        // seen <svc> <port> <what>: the soak fails here, naming the node.
        'seen() { echo "SCMUP soak-node=$host/$1${2:+:$2}"; echo "SCMUP soak-seen=$3"; fail "$soak: $host/$1${2:+ node $2} $3 after $(elapsed)s of the ${seconds}s soak; the primary center was not touched"; }',
        // what_is <port>: what the node answers now, in words.
        "what_is() {",
        "  local b st",
        '  if ! b=$(curl -gsS -m 3 "$health_base:$1$health_path" 2>&1); then echo "did not answer on $health_path ($(printf "%s" "$b" | tail -n 1))"; return; fi',
        '  st=$(printf "%s" "$b" | top_status)',
        '  if [ "$st" != UP ]; then echo "answered status ${st:-(none)} on $health_path"; return; fi',
        '  b=$(curl -gsS -m 3 "$health_base:$1/api/v1/conf-properties?keys=SCM-Version,Node-Status" 2>&1 | tr -d " ")',
        '  echo "was not ready: conf-properties $b"',
        "}",
    ];
    const checks: string[] = [];
    a.services.forEach((s, i) => {
        const install = `${a.installRoot.replace(/\/+$/, "")}/${s.folder}`;
        lines.push(
            `setup_${i}() {`,
            `  svc=${shQuote(s.service)}; install=${shQuote(install)}; ctl=${shQuote(`${install}/bin/${s.ctl}`)}`,
            `  record=${shQuote(runningRecord(a.stagingDir, s.folder, a.targetVersion))}`,
            ...installedVersionFn(s)
                .split("\n")
                .map((l) => `  ${l}`),
            ...NODE_PORTS_FNS.split("\n").map((l) => `  ${l}`),
            ...healthyFn({ service: s })
                .split("\n")
                .map((l) => `  ${l}`),
            "}",
            `setup_${i}`,
            'if [ -f "$record" ]; then ports=$(file_ports "$record"); else ports=$(local_ports) || list_failed local; fi',
            `ports_${i}=$ports`,
            'v=$(installed_version "$install")',
            '[ "$v" = "$target" ] || seen "$svc" "" "is at $v, not $target, when the soak starts"',
            `[ -n "$(echo $ports)" ] || seen "$svc" "" "has no node to watch"`,
            'echo "watching $host/$svc nodes $(echo $ports) for ${seconds}s, every ${interval}s"',
            `check_${i}() {`,
            `  setup_${i}`,
            '  v=$(installed_version "$install")',
            '  [ "$v" = "$target" ] || seen "$svc" "" "changed version: installed $v (was $target when the soak started)"',
            `  for p in $ports_${i}; do healthy "$p" || seen "$svc" "$p" "$(what_is "$p")"; done`,
            "}",
        );
        checks.push(`check_${i}`);
    });
    lines.push(
        // Checks at the start and every interval after it (not drifting by the time a check takes). The last one
        // starts as long before the end as the one before it took, so that it ends when the time is up: the
        // watch lasts the soak's time, not the soak plus a check (a check of many nodes takes seconds on a busy host).
        'pause() { [ "$1" -gt 0 ] && { sleep "$(( $1 / 1000 )).$(( $1 % 1000 / 100 ))$(( $1 % 100 / 10 ))$(( $1 % 10 ))" 2>/dev/null || sleep $(( ($1 + 999) / 1000 )); }; :; }',
        "polls=0; end=$(( t0 + seconds * 1000 )); next=$t0; final=0",
        "while :; do",
        "  c0=$(now_ms)",
        `  ${checks.join("; ")}`,
        "  polls=$((polls + 1))",
        "  now=$(now_ms); took=$(( now - c0 ))",
        '  if [ "$final" = 1 ] || [ "$now" -ge "$end" ]; then pause $(( end - now )); break; fi',
        '  next=$(( next + interval * 1000 )); if [ "$next" -ge $(( end - took )) ]; then next=$(( end - took )); final=1; fi',
        "  pause $(( next - now ))",
        "done",
        'echo "SCMUP polls=$polls"',
        'ms=$(( $(now_ms) - t0 )); echo "SCMUP seconds=$(( ms / 1000 )).$(( ms % 1000 / 100 ))"',
        'echo "SCMUP finished-at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"',
        'echo "SCMUP result=soaked"',
    );
    return asInstallUser(lines.join("\n"), a.become, a.installUser);
}
