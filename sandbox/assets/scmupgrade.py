#!/usr/bin/python
# @@SANDBOX_BEHAVIOUR@@
"""scmupgrade.py of the sandbox's SequoiaCM 3.2.0 release package.

Upgrades (or rolls back) one SequoiaCM service on this host the way the vendor's script does
(reference section 3; sandbox/README.md lists each fact), in one of two behaviours chosen when the
sandbox builds its release (`npm run sandbox -- up --script 3.2.0|latest`):
  3.2.0   the script shipped in 3.2.0: a Python 2 script; keeps an existing completed backup;
  latest  the newest script: takes --backup-path, and refuses (exit 2) when a completed backup
          exists in its backup folder.
Traps of both:
  * a failing shell command (tar, cp, mv, mkdir, touch, rm, chmod) ends the script with
    sys.exit(<wait status>), a multiple of 256 that the process exit truncates to 0: exit code 0
    and no success line;
  * a failing `<ctl> start` exits 1; a failing `<ctl> stop` exits 1 while `<ctl> list` still lists nodes;
  * no version check: running it again upgrades again and restarts the nodes;
  * --start starts every node of the service on the host;
  * the package is the first os.listdir() match of package/<install-folder>*.tar.gz (not sorted).
It locates everything relative to its own folder: package/, service_tmp/, upgrade_tmp/, rollback_tmp/.
All output goes to stdout.
Sandbox extras: step faults from hosts/<name>/faults.json, audit lines in hosts/<name>/audit.log.
The first line is rewritten when the release is built (sandbox/release.ts): it names the host's
own /usr/bin/python, which the sandbox's `interpreter` fault removes or replaces.
"""
import getopt
import glob
import os
import shlex
import sys
import time

# @@SANDBOX_COMMON@@

BASE = os.path.dirname(os.path.abspath(__file__))
SERVICE_TMP = os.path.join(BASE, "service_tmp")
UPGRADE_TMP = os.path.join(BASE, "upgrade_tmp")
ROLLBACK_TMP = os.path.join(BASE, "rollback_tmp")
LATEST = BEHAVIOUR == "latest"


def usage():
    print("usage: scmupgrade.py --service=<service> --install-path=<path> [--start] [--rollback] [--dryrun] [--nocheck]"
          + (" [--backup-path=<path>]" if LATEST else ""))
    print("  -h, --help              show this help")
    print("  --service=<service>     %s" % ", ".join(SERVICES))
    print("  --install-path=<path>   install path of the service, e.g. /opt/sequoiacm/sequoiacm-cloud")
    print("  --nocheck               do not check that the service and install-path match")
    print("  --rollback              roll the service back to the backed-up version")
    if LATEST:
        print("  --backup-path=<path>    service backup path (default: service_tmp/ next to this script)")
    print("  --start                 start the nodes of the service after upgrading or rolling back")
    print("  --dryrun                print the commands without running them")


def q(path):
    return shlex.quote(path)


def fault_index(at, count):
    """Index of the failing command among `count` commands of a step: first, middle, last or a 1-based number."""
    if count == 0:
        return None
    if at in (None, "first"):
        return 0
    if at == "last":
        return count - 1
    if at == "middle":
        return count // 2
    try:
        n = int(at)
    except (TypeError, ValueError):
        return 0
    return min(max(n, 1), count) - 1


class Upgrade(object):
    def __init__(self, service, install, start, dryrun, backup_root):
        self.service = service
        self.svc = SERVICES[service]
        self.folder = self.svc["folder"]
        self.install = os.path.normpath(install)
        self.start_nodes = start
        self.dryrun = dryrun
        self.ctl = os.path.join(self.install, "bin", self.svc["ctl"])
        self.svc_tmp = os.path.join(SERVICE_TMP, self.folder)
        self.backup = os.path.join(backup_root, self.folder, "backup")
        self.marker = os.path.join(self.backup, ".backup_completed")
        self.host_dir = find_host_dir(self.install) or find_host_dir(BASE)
        self.fault = {} if dryrun else read_faults(self.host_dir, service)
        self.step = None

    # ---------- commands ----------
    def enter(self, step, message):
        print(message)
        self.step = step

    def run(self, cmd):
        """Echoes and runs one shell command; returns its wait status (0 in dry-run mode)."""
        print(cmd)
        if self.dryrun:
            return 0
        return os.system(cmd)

    def must(self, cmd):
        status = self.run(cmd)
        if status != 0:
            # The vendor script exits with the raw wait status: exit(256 * code) is seen as 0.
            sys.exit(status)

    def run_step(self, cmds):
        """Runs the shell commands of the current step in order; the faulted one fails as the real command would."""
        failing = None
        if self.fault.get("step") == self.step:
            failing = fault_index(self.fault.get("at"), len(cmds))
        for i, cmd in enumerate(cmds):
            if i == failing:
                program = cmd.split(" ", 1)[0]
                print(cmd)
                # The command itself fails (status 1, as cp/mv/tar do), so the script's exit is the vendor's.
                sys.exit(os.system("echo %s >&2; exit 1" % q("%s: injected failure (sandbox fault)" % program)))
            self.must(cmd)

    def ctl_cmd(self, verb):
        return " ".join([q(self.ctl), verb] + self.svc["all"])

    def run_ctl(self, verb):
        """Runs `<ctl> start|stop <all>`; a fault at this step makes the control script fail as it does (exit 8)."""
        cmd = self.ctl_cmd(verb)
        print(cmd)
        if self.dryrun:
            return 0
        if self.fault.get("step") == self.step:
            print("Failed: injected %s failure (sandbox fault)" % verb)
            print("Total:1;Success:0;Failed:1")
            return 8 << 8
        return os.system(cmd)

    def files(self, folder):
        """The *.py files, bin/ and the jar folder of an install or backup folder."""
        return sorted(glob.glob(os.path.join(folder, "*.py"))) + [
            os.path.join(folder, "bin"), os.path.join(folder, self.svc["jars"])]

    # ---------- steps ----------
    def stop(self, what="upgrade"):
        self.enter("stop", "[INFO] stop node")
        if self.run_ctl("stop") != 0:
            listed = self.run(q(self.ctl) + " list")
            if listed == 0:
                print("[ERROR] stop node failed, check and re-execute the %s" % what)
                sys.exit(1)
            print("[DEBUG] no running nodes or missing files")

    def start(self):
        if not self.start_nodes:
            return
        self.enter("start", "[INFO] start node")
        if self.run_ctl("start") != 0:
            print("[ERROR] start node failed! check and restart node")
            sys.exit(1)

    def swap_commands(self, aside, source):
        """Commands that move the current binaries to `aside`, then copy those of `source` in."""
        cmds = ["rm -rf %s" % q(aside), "mkdir -p %s" % q(aside)]
        for path in sorted(glob.glob(os.path.join(self.install, "*.py"))):
            cmds.append("mv %s %s" % (q(path), q(aside)))
        for name in ("bin", self.svc["jars"]):
            # only what is there (the vendor's mv_if_source_exist): a half-replaced install can be rolled back
            if os.path.exists(os.path.join(self.install, name)):
                cmds.append("mv %s %s" % (q(os.path.join(self.install, name)), q(aside)))
        for path in sorted(glob.glob(os.path.join(source, "*.py"))):
            cmds.append("cp %s %s" % (q(path), q(self.install)))
        for name in ("bin", self.svc["jars"]):
            cmds.append("cp -r %s %s" % (q(os.path.join(source, name)), q(self.install)))
        return cmds

    def backup_commands(self):
        cmds = ["rm -rf %s" % q(self.backup), "mkdir -p %s" % q(self.backup)]
        cmds += ["cp -r %s %s" % (q(path), q(self.backup)) for path in self.files(self.install)]
        cmds.append("touch %s" % q(self.marker))
        return cmds

    def upgrade(self, package):
        if LATEST and os.path.exists(self.marker):
            print("[ERROR] a backup exists in the specified backup directory:%s" % self.backup)
            sys.exit(2)
        self.enter("untar", "[INFO] untar the service installation package")
        self.run_step([
            "mkdir -p %s" % q(SERVICE_TMP),
            ("tar -xf %s -C %s" if LATEST else "tar -zxvf %s -C %s") % (q(package), q(SERVICE_TMP)),
            "chmod u+x %s/*.sh" % q(os.path.join(self.svc_tmp, "bin")),
        ])

        self.enter("backup", "[INFO] backup")
        if not LATEST and os.path.exists(self.marker):
            # 3.2.0 keeps a completed backup (of whatever was installed when it was taken).
            print("[DEBUG] backup already completed: %s" % self.marker)
        else:
            self.run_step(self.backup_commands())
            if LATEST:
                print("backup success, backup location:%s" % self.backup)

        self.stop()

        self.enter("replace", "[INFO] replace the new version of the resource package")
        slow = float(self.fault.get("slowSeconds") or 0)
        if slow > 0:
            time.sleep(slow)
        self.run_step(self.swap_commands(os.path.join(UPGRADE_TMP, self.folder), self.svc_tmp))

        self.start()
        print("[INFO] upgrade success!")

    def rollback(self):
        if LATEST:
            print("[INFO] check backup")
        if not os.path.exists(self.marker):
            print("[ERROR] backup of service is incomplete: %s%s" % (
                self.backup, ", please confirm whether it has been upgraded" if LATEST else ""))
            sys.exit(1)
        self.stop("rollback" if LATEST else "upgrade")
        self.enter("replace", "[INFO] rollback backup" if LATEST else "[INFO] rollback to the backup version")
        self.run_step(self.swap_commands(os.path.join(ROLLBACK_TMP, self.folder), self.backup))
        self.start()
        self.must("rm -f %s" % q(self.marker))
        print("[INFO] rollback success!")


def first_package(folder):
    """The first os.listdir() entry of package/ that starts with the install folder and ends .tar.gz, as the vendor's loop takes it."""
    pkg_dir = os.path.join(BASE, "package")
    try:
        names = os.listdir(pkg_dir)
    except OSError:
        return None
    for name in names:
        if name.startswith(folder) and name.endswith(".tar.gz"):
            return os.path.join(pkg_dir, name)
    return None


def main(argv):
    longopts = ["help", "service=", "install-path=", "nocheck", "rollback", "start", "dryrun"]
    if LATEST:
        longopts.append("backup-path=")
    try:
        opts, _ = getopt.getopt(argv, "h", longopts)
    except getopt.GetoptError as e:
        print("[ERROR] %s" % e)
        usage()
        return 2
    o = dict(opts)
    if "-h" in o or "--help" in o:
        usage()
        return 0
    service = o.get("--service")
    if not service:
        print("[ERROR] please set --service")
        return 2
    if service not in SERVICES:
        print("[ERROR] unsupported service:%s" % service)
        return 2
    install = o.get("--install-path")
    if not install:
        print("[ERROR] please set --install-path")
        return 2
    folder = SERVICES[service]["folder"]
    if "--nocheck" not in o and os.path.basename(os.path.normpath(install)) != folder:
        print("[ERROR] check whether the service and install-path match")
        return 2
    rollback = "--rollback" in o
    package = first_package(folder)
    if not rollback and not package:
        print("[ERROR] can not find a new version of the service installation package")
        return 2

    backup_root = SERVICE_TMP
    if LATEST and o.get("--backup-path", "").strip():
        backup_root = o["--backup-path"].strip().rstrip(os.sep) or os.sep
    up = Upgrade(service, install, "--start" in o, "--dryrun" in o, backup_root)
    if rollback:
        up.fault = {}  # injected step faults target upgrades only, so a rollback can always repair
    if up.dryrun:
        print("[INFO] dry run mode!")
    action = "rollback" if rollback else "upgrade"
    target = None
    if package:
        m = _re.search(r"-(\d+\.\d+\.\d+)", os.path.basename(package)[len(folder):])
        target = m.group(1) if m else None
    begin = {"service": service, "action": action, "version": jar_version(up.install, service),
             "outcome": "begin", "installPath": up.install, "pid": os.getpid(), "script": BEHAVIOUR}
    if not rollback:
        begin["target"] = target
    if backup_root != SERVICE_TMP:
        begin["backupPath"] = backup_root
    if up.dryrun:
        begin["dryrun"] = True
    audit(up.host_dir, begin)
    code = 0
    try:
        if rollback:
            up.rollback()
        else:
            up.upgrade(package)
        code = 0
        outcome = "success"
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
        outcome = "failed"
    end = {"service": service, "action": action, "version": jar_version(up.install, service),
           "outcome": outcome, "installPath": up.install, "pid": os.getpid(), "exitCode": code & 0xFF}
    if up.step and outcome == "failed":
        end["step"] = up.step
    if up.dryrun:
        end["dryrun"] = True
    audit(up.host_dir, end)
    return code


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    sys.exit(main(sys.argv[1:]))
