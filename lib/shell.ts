import { ServiceName, serviceSpec } from "./services";

/**
 * Every shell text the tool sends to a host is made here, and nowhere else. Each value is quoted
 * with {@link shQuote}; the scripts print `SCMUP key=value` marker lines that {@link parseMarkers}
 * reads back. Scripts are bash, wrapped in `bash -c` so the login shell does not matter.
 */

/** Quote one word for a POSIX shell: single quotes, embedded single quotes closed and escaped. */
export function shQuote(value: string | number): string {
    const s = String(value);
    if (s !== "" && /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(s)) return s;
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How commands reach the install user: log in as it, or switch from the login user. */
export type Become = "login" | "sudo" | "su";

/** Wrap a bash script so that it runs as the install user. */
export function asInstallUser(script: string, become: Become, installUser: string): string {
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
export function asPrivileged(script: string, become: Become): string {
    const body = `bash -c ${shQuote(script)}`;
    return become === "sudo" ? `sudo -n -- ${body}` : body;
}

/** Common preamble: strict mode, a `fail` that prints a marker and the reason, and timing. */
const preamble = [
    "set -u",
    "export LC_ALL=C",
    "fail() { echo \"SCMUP result=failed\"; echo \"SCMUP reason=$1\"; echo \"ERROR: $1\" >&2; exit 1; }",
].join("\n");

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

/** Shell function `installed_version <installFolder>`: the single version of the service's jars, `none`, or `mixed`. */
function installedVersionFn(s: ServiceFiles): string {
    const seds = s.jarPrefixes
        .map((p) => `-e ${shQuote(`s/^${p.replace(/[.]/g, "\\.")}\\(.*\\)\\.jar$/\\1/p`)}`)
        .join(" ");
    return [
        "installed_version() {",
        `  local v; v=$(ls -1 "$1"/${shQuote(s.jarDir)} 2>/dev/null | sed -n ${seds} | sort -u)`,
        '  if [ -z "$v" ]; then echo none; elif [ "$(printf "%s\\n" "$v" | wc -l)" -gt 1 ]; then echo mixed; else echo "$v"; fi',
        "}",
    ].join("\n");
}

// ---------------------------------------------------------------- staging

export interface StagingArgs {
    stagingDir: string;
    become: Become;
    /** The SSH login user: in sudo mode it must be able to write the upload folder. */
    loginUser: string;
}

/** The folder the package is uploaded to, inside the staging folder. */
export function uploadDir(stagingDir: string): string {
    return `${stagingDir.replace(/\/+$/, "")}/.incoming`;
}

/** Make the staging folder and an upload folder the login user can write to. */
export function renderPrepareStaging(a: StagingArgs): string {
    const up = uploadDir(a.stagingDir);
    const script =
        a.become === "sudo"
            ? `set -eu\ninstall -d -m 0755 ${shQuote(a.stagingDir)}\ninstall -d -m 0700 -o ${shQuote(a.loginUser)} ${shQuote(up)}\necho "SCMUP prepared=${up}"`
            : `set -eu\nmkdir -p ${shQuote(up)}\necho "SCMUP prepared=${up}"`;
    return asPrivileged(script, a.become);
}

export interface UnpackArgs {
    stagingDir: string;
    /** The tarball on the host (uploaded, or already there). */
    tarballPath: string;
    /** Its sha256 when known (uploaded from this machine); checked before unpacking. */
    sha256?: string;
    installUser: string;
    installGroup: string;
    become: Become;
    /** A separately uploaded `scmupgrade.py` that replaces the package's own. */
    scriptOverridePath?: string;
}

/**
 * Unpack the release into the staging folder, as the vendor does (`tar -xzf -C`): over any earlier
 * copy, so the backups scmupgrade.py keeps in `sequoiacm/service_tmp/` survive a re-stage.
 */
export function renderUnpack(a: UnpackArgs): string {
    const pkg = `${a.stagingDir.replace(/\/+$/, "")}/sequoiacm`;
    const lines = [
        preamble,
        `tarball=${shQuote(a.tarballPath)}`,
        `staging=${shQuote(a.stagingDir)}`,
        `[ -f "$tarball" ] || fail "package not found on the host: $tarball"`,
    ];
    if (a.sha256) {
        lines.push(
            `echo ${shQuote(`${a.sha256}  `)}"$tarball" | sha256sum -c --status || fail "checksum of $tarball differs from the local package (upload damaged?)"`,
        );
    }
    lines.push(
        `mkdir -p "$staging" || fail "cannot create $staging"`,
        `tar -xzf "$tarball" -C "$staging" || fail "cannot unpack $tarball into $staging"`,
        `[ -d ${shQuote(pkg)} ] || fail "the package has no top folder sequoiacm/"`,
    );
    if (a.scriptOverridePath) {
        lines.push(`cp ${shQuote(a.scriptOverridePath)} ${shQuote(`${pkg}/scmupgrade.py`)} || fail "cannot install the separate scmupgrade.py"`);
    }
    lines.push(
        `[ -f ${shQuote(`${pkg}/scmupgrade.py`)} ] || fail "the package has no scmupgrade.py: take it from a 3.2-or-later package (config upgradeScript)"`,
        `chown -R ${shQuote(`${a.installUser}:${a.installGroup}`)} ${shQuote(pkg)} || fail "cannot hand ${pkg} to ${a.installUser}:${a.installGroup}"`,
        `chmod +x ${shQuote(`${pkg}/scmupgrade.py`)} || fail "cannot make scmupgrade.py executable"`,
        `[ -x ${shQuote(`${pkg}/scmupgrade.py`)} ] || fail "scmupgrade.py is not executable after chmod"`,
        `echo "SCMUP result=staged"`,
        a.sha256 ? `echo "SCMUP sha256=${a.sha256}"` : `echo "SCMUP sha256=unknown"`,
    );
    return asPrivileged(lines.join("\n"), a.become);
}

// ---------------------------------------------------------------- preflight

export interface PreflightArgs {
    host: string;
    installRoot: string;
    stagingDir: string;
    installUser: string;
    installGroup: string;
    become: Become;
    sourceVersion: string;
    targetVersion: string;
    /** Services this host runs, in upgrade order. */
    services: ServiceFiles[];
    /** Free space needed in the staging and install folders, in MiB. */
    minFreeMb: number;
}

/**
 * Checks that change nothing. Prints `SCMUP check=<name> <ok|warn|fail> <detail>` per check and
 * exits 1 when any check fails, listing them.
 */
export function renderPreflight(a: PreflightArgs): string {
    const pkg = `${a.stagingDir.replace(/\/+$/, "")}/sequoiacm`;
    const lines = [
        preamble,
        "failed=0",
        'check() { echo "SCMUP check=$1 $2 $3"; [ "$2" = fail ] && failed=$((failed+1)); return 0; }',
        `root=${shQuote(a.installRoot)}`,
        `pkg=${shQuote(pkg)}`,
        `id -u ${shQuote(a.installUser)} >/dev/null 2>&1 && check install-user ok ${shQuote(a.installUser)} || check install-user fail ${shQuote(`user ${a.installUser} does not exist`)}`,
        `getent group ${shQuote(a.installGroup)} >/dev/null 2>&1 && check install-group ok ${shQuote(a.installGroup)} || check install-group fail ${shQuote(`group ${a.installGroup} does not exist`)}`,
        `[ -d "$root" ] && check install-root ok "$root" || check install-root fail "install root $root is missing"`,
        `command -v curl >/dev/null && check curl ok "$(command -v curl)" || check curl fail "curl is needed for the health gate"`,
        `for d in ${shQuote(a.stagingDir)} "$root"; do`,
        `  free=$(df -Pm "$d" 2>/dev/null | awk 'NR==2{print $4}')`,
        `  if [ -z "$free" ]; then check free-disk fail "cannot read free space of $d";`,
        `  elif [ "$free" -lt ${a.minFreeMb} ]; then check free-disk fail "$d has $free MiB free, needs ${a.minFreeMb}";`,
        `  else check free-disk ok "$d $free MiB free"; fi`,
        "done",
        // node ports of this host, for the management-port check (3.2 opens server port + 1)
        `ports=$(ls -d "$root"/*/conf/*/[0-9]* 2>/dev/null | sed 's#.*/##' | sort -n | uniq)`,
    ];
    for (const s of a.services) {
        const install = `${a.installRoot.replace(/\/+$/, "")}/${s.folder}`;
        lines.push(
            installedVersionFn(s),
            `v=$(installed_version ${shQuote(install)})`,
            `case "$v" in`,
            `  ${shQuote(a.sourceVersion)}) check version:${s.service} ok "$v (to upgrade)";;`,
            `  ${shQuote(a.targetVersion)}) check version:${s.service} ok "$v (already at target: will be skipped)";;`,
            `  none) check version:${s.service} fail ${shQuote(`no ${s.service} jars in ${install}/${s.jarDir}`)};;`,
            `  *) check version:${s.service} fail "installed $v, expected ${a.sourceVersion} or ${a.targetVersion}";;`,
            "esac",
            `marker=${shQuote(`${pkg}/service_tmp/${s.folder}/backup/.backup_completed`)}`,
            `if [ -f "$marker" ] && [ "$v" = ${shQuote(a.sourceVersion)} ]; then check backup:${s.service} warn "stale backup marker $marker: scmupgrade.py will keep that old backup, not take a new one"; fi`,
        );
        if (s.service === "cloud") {
            lines.push(
                `for f in ${shQuote(install)}/conf/service-center/*/application.properties; do`,
                `  [ -f "$f" ] || continue`,
                `  [ "$v" = ${shQuote(a.targetVersion)} ] && continue`,
                "  for k in scm.store.sequoiadb.urls scm.store.sequoiadb.username scm.store.sequoiadb.password; do",
                `    grep -q "^$k=" "$f" && check "metadata-source:$k" ok "$f" || check "metadata-source:$k" fail "$k missing in $f (needed before 3.2)"`,
                "  done",
                "done",
            );
        }
    }
    lines.push(
        `for p in $ports; do`,
        `  m=$((p+1))`,
        `  if printf '%s\\n' $ports | grep -qx "$m"; then`,
        `    set -- $(grep -ls "^management.port=" "$root"/*/conf/*/"$p"/application.properties 2>/dev/null)`,
        `    [ $# -gt 0 ] && check "management-port:$p" ok "management.port set" || check "management-port:$p" fail "3.2 opens management port $m for node $p, which another node of this host uses: set management.port"`,
        "  fi",
        "done",
        `if [ "$failed" -gt 0 ]; then echo "SCMUP result=failed"; echo "SCMUP reason=$failed preflight check(s) failed on ${a.host.replace(/[^A-Za-z0-9_.-]/g, "_")}"; exit 1; fi`,
        `echo "SCMUP result=ok"`,
    );
    return asInstallUser(lines.join("\n"), a.become, a.installUser);
}

// ---------------------------------------------------------------- upgrade

export interface NodeUpgradeArgs {
    host: string;
    /** Address the health endpoints are reached at, from the host itself. */
    healthAddress: string;
    installRoot: string;
    stagingDir: string;
    installUser: string;
    become: Become;
    targetVersion: string;
    service: ServiceFiles;
    healthTimeoutSeconds: number;
    /** Roll the node back with the vendor rollback when its health gate fails. */
    rollbackOnHealthFailure: boolean;
}

/** Shell function `running_ports`: ports of the service's running nodes (`<ctl> list -m run`; exit 1 = none). */
function runningPortsFn(ctlPath: string): string {
    return [
        "running_ports() {",
        `  ${shQuote(ctlPath)} list -m run 2>/dev/null | sed -n 's/^[A-Z-]*(\\([0-9]*\\)) ([0-9][0-9]*).*/\\1/p' | sort -n | uniq`,
        "}",
    ].join("\n");
}

/** Shell function `healthy <port>`: the 3.2 health of one node (content-server: Node-Status running). */
function healthyFn(a: NodeUpgradeArgs): string {
    const base = `http://${a.healthAddress}`;
    if (a.service.service === "content-server") {
        return [
            "healthy() {",
            `  local b; b=$(curl -fsS -m 3 ${shQuote(base)}":$1/api/v1/conf-properties?keys=SCM-Version,Node-Status" 2>/dev/null) || return 1`,
            `  printf '%s' "$b" | tr -d ' ' | grep -q '"Node-Status":"running"' || return 1`,
            `  printf '%s' "$b" | tr -d ' ' | grep -q '"SCM-Version":"'${shQuote(a.targetVersion)}'"'`,
            "}",
        ].join("\n");
    }
    return [
        "healthy() {",
        `  curl -fsS -m 3 ${shQuote(base)}":$1/internal/v1/health" 2>/dev/null | tr -d ' ' | grep -q '"status":"UP"'`,
        "}",
    ].join("\n");
}

/**
 * Upgrade one service on one host, as the install user. Skips (and says so) when the jars are
 * already at the target: scmupgrade.py has no version check and would restart the nodes.
 * Success needs all three: the `upgrade success!` line (its exit code proves nothing), the jars at
 * the target version, and every node that was running before healthy on the 3.2 endpoints.
 * `--start` starts every node of the service: nodes that were stopped before are stopped again.
 */
export function renderServiceUpgrade(a: NodeUpgradeArgs): string {
    const s = a.service;
    const install = `${a.installRoot.replace(/\/+$/, "")}/${s.folder}`;
    const pkg = `${a.stagingDir.replace(/\/+$/, "")}/sequoiacm`;
    const ctl = `${install}/bin/${s.ctl}`;
    const lines = [
        preamble,
        installedVersionFn(s),
        runningPortsFn(ctl),
        healthyFn(a),
        `install=${shQuote(install)}`,
        `ctl=${shQuote(ctl)}`,
        `target=${shQuote(a.targetVersion)}`,
        "t0=$(date +%s)",
        'before=$(installed_version "$install")',
        'echo "SCMUP version-before=$before"',
        'if [ "$before" = "$target" ]; then echo "SCMUP version-after=$before"; echo "SCMUP seconds=0"; echo "SCMUP result=skipped"; echo "already at $target: scmupgrade.py not run"; exit 0; fi',
        `cd ${shQuote(pkg)} || fail "staged package ${pkg} is missing"`,
        'was_running=$(running_ports | tr "\\n" " ")',
        'echo "SCMUP running-before=${was_running:-none}"',
        "log=$(mktemp)",
        `./scmupgrade.py --service ${shQuote(s.service)} --install-path "$install" --start >"$log" 2>&1`,
        "rc=$?",
        'cat "$log"',
        'tail_lines() { tail -n 15 "$log" | sed "s/^/    | /" >&2; }',
        'if ! grep -q "upgrade success!" "$log"; then tail_lines; rm -f "$log"; fail "scmupgrade.py did not print upgrade success! (exit status $rc)"; fi',
        'after=$(installed_version "$install")',
        'echo "SCMUP version-after=$after"',
        'if [ "$after" != "$target" ]; then tail_lines; rm -f "$log"; fail "installed version is $after after the upgrade, expected $target"; fi',
        'rm -f "$log"',
        // Restore the run state: --start started every node of the service.
        'for p in $(running_ports); do case " $was_running " in *" $p "*) ;; *) echo "stopping node $p: it was not running before"; "$ctl" stop -p "$p" >/dev/null 2>&1 || true;; esac; done',
        `deadline=$(( $(date +%s) + ${a.healthTimeoutSeconds} ))`,
        "pending=$was_running",
        'while [ -n "$(echo $pending)" ]; do',
        "  next=''",
        "  for p in $pending; do healthy \"$p\" || next=\"$next $p\"; done",
        "  pending=$next",
        '  [ -z "$(echo $pending)" ] && break',
        '  if [ "$(date +%s)" -ge "$deadline" ]; then',
        a.rollbackOnHealthFailure
            ? `    echo "health gate timed out: rolling back with the vendor rollback"; ./scmupgrade.py --service ${shQuote(s.service)} --install-path "$install" --rollback --start 2>&1 | tail -n 5; echo "SCMUP rolled-back=$(installed_version "$install")"`
            : "    :",
        `    fail "nodes$pending not healthy on the 3.2 endpoints within ${a.healthTimeoutSeconds}s"`,
        "  fi",
        "  sleep 0.2",
        "done",
        'echo "SCMUP seconds=$(( $(date +%s) - t0 ))"',
        'echo "SCMUP finished-at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"',
        'echo "SCMUP result=upgraded"',
    ];
    return asInstallUser(lines.join("\n"), a.become, a.installUser);
}

export interface NodeRollbackArgs {
    installRoot: string;
    stagingDir: string;
    installUser: string;
    become: Become;
    sourceVersion: string;
    service: ServiceFiles;
}

/** The vendor's way back for one service on one host: `scmupgrade.py --rollback --start`. */
export function renderServiceRollback(a: NodeRollbackArgs): string {
    const s = a.service;
    const install = `${a.installRoot.replace(/\/+$/, "")}/${s.folder}`;
    const pkg = `${a.stagingDir.replace(/\/+$/, "")}/sequoiacm`;
    const lines = [
        preamble,
        installedVersionFn(s),
        `install=${shQuote(install)}`,
        "t0=$(date +%s)",
        'before=$(installed_version "$install")',
        'echo "SCMUP version-before=$before"',
        `if [ "$before" = ${shQuote(a.sourceVersion)} ]; then echo "SCMUP version-after=$before"; echo "SCMUP result=skipped"; exit 0; fi`,
        `cd ${shQuote(pkg)} || fail "staged package ${pkg} is missing: nothing to roll back with"`,
        "log=$(mktemp)",
        `./scmupgrade.py --service ${shQuote(s.service)} --install-path "$install" --rollback --start >"$log" 2>&1`,
        "rc=$?",
        'cat "$log"',
        'if ! grep -q "rollback success!" "$log"; then tail -n 15 "$log" | sed "s/^/    | /" >&2; rm -f "$log"; fail "scmupgrade.py --rollback did not print rollback success! (exit status $rc)"; fi',
        'rm -f "$log"',
        'after=$(installed_version "$install")',
        'echo "SCMUP version-after=$after"',
        `[ "$after" = ${shQuote(a.sourceVersion)} ] || fail "installed version is $after after the rollback, expected ${a.sourceVersion}"`,
        'echo "SCMUP seconds=$(( $(date +%s) - t0 ))"',
        'echo "SCMUP result=rolled-back"',
    ];
    return asInstallUser(lines.join("\n"), a.become, a.installUser);
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
