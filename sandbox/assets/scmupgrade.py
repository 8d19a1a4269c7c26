#!/usr/bin/env python3
"""scmupgrade.py of the sandbox's SequoiaCM 3.2.0 release package.

Upgrades (or rolls back) one SequoiaCM service on this host, the way the vendor's 3.2.0 script does
(reference section 3), traps included:
  * a failing tar/cp/mv/mkdir/touch step exits with its wait status, a multiple of 256, which the
    process exit truncates to 0: no success line, exit code 0;
  * no version check: running it again upgrades again and restarts the nodes;
  * --start starts every node of the service on the host.
It locates everything relative to its own folder: package/<install-folder>*.tar.gz, service_tmp/,
upgrade_tmp/, rollback_tmp/. All output goes to stdout.
Sandbox extras: faults from hosts/<name>/faults.json, and audit lines in hosts/<name>/audit.log.
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
STEPS = ("untar", "backup", "stop", "replace", "start")


def usage():
    print("usage: scmupgrade.py --service=<service> --install-path=<path> [--start] [--rollback] [--dryrun] [--nocheck]")
    print("  -h, --help              show this help")
    print("  --service=<service>     %s" % ", ".join(SERVICES))
    print("  --install-path=<path>   install path of the service, e.g. /opt/sequoiacm/sequoiacm-cloud")
    print("  --nocheck               do not check that the service and install-path match")
    print("  --rollback              roll the service back to the backed-up version")
    print("  --start                 start the nodes of the service after upgrading or rolling back")
    print("  --dryrun                print the commands without running them")


def q(path):
    return shlex.quote(path)


class Upgrade(object):
    def __init__(self, service, install, start, dryrun):
        self.service = service
        self.svc = SERVICES[service]
        self.folder = self.svc["folder"]
        self.install = os.path.normpath(install)
        self.start_nodes = start
        self.dryrun = dryrun
        self.ctl = os.path.join(self.install, "bin", self.svc["ctl"])
        self.svc_tmp = os.path.join(SERVICE_TMP, self.folder)
        self.backup = os.path.join(self.svc_tmp, "backup")
        self.marker = os.path.join(self.backup, ".backup_completed")
        self.host_dir = find_host_dir(self.install) or find_host_dir(BASE)
        self.fault = {} if dryrun else read_faults(self.host_dir, service)
        self.step = None
        self.step_commands = 0

    # ---------- commands ----------
    def enter(self, step, message):
        print(message)
        self.step = step
        self.step_commands = 0

    def injected(self, program):
        """The fault mode when `program` is the first tar/cp/mv (or control script) of the faulted step, else None."""
        if program not in ("tar", "cp", "mv", "ctl") or self.fault.get("step") != self.step or self.step_commands:
            return None
        self.step_commands += 1
        return self.fault.get("mode", "exit1")

    def run(self, cmd):
        """Echoes and runs one shell command; returns its wait status (0 in dry-run mode)."""
        print(cmd)
        if self.dryrun:
            return 0
        mode = self.injected(cmd.split(" ", 1)[0])
        if mode == "exit1":
            print("[ERROR] %s: injected failure (sandbox fault)" % cmd.split(" ", 1)[0])
            sys.exit(1)
        if mode is not None:
            return self.failing_command(cmd.split(" ", 1)[0])
        return os.system(cmd)

    @staticmethod
    def failing_command(program):
        """Runs a shell command that fails as `program` would; returns its wait status (512)."""
        return os.system("echo %s >&2; exit 2" % q("%s: injected failure (sandbox fault)" % program))

    def must(self, cmd):
        status = self.run(cmd)
        if status != 0:
            # The vendor script exits with the raw wait status: exit(256 * code) is seen as 0.
            sys.exit(status)

    def ctl_cmd(self, verb):
        return " ".join([q(self.ctl), verb] + self.svc["all"])

    def run_ctl(self, verb):
        """Runs `<ctl> start|stop <all>`; an injected exit1 fault here fails like the control script does."""
        cmd = self.ctl_cmd(verb)
        print(cmd)
        if self.dryrun:
            return 0
        mode = self.injected("ctl")
        if mode == "exit1":
            print("Failed: injected %s failure (sandbox fault)" % verb)
            return 8 << 8
        if mode is not None:
            sys.exit(self.failing_command(os.path.basename(self.ctl)))
        return os.system(cmd)

    def files(self, folder):
        """The *.py files, bin/ and the jar folder of an install or backup folder."""
        return sorted(glob.glob(os.path.join(folder, "*.py"))) + [
            os.path.join(folder, "bin"), os.path.join(folder, self.svc["jars"])]

    # ---------- steps ----------
    def stop(self):
        self.enter("stop", "[INFO] stop node")
        if self.run_ctl("stop") != 0:
            listed = self.run(q(self.ctl) + " list")
            if listed == 0:
                print("[ERROR] stop node failed, check and re-execute the upgrade")
                sys.exit(1)
            print("[DEBUG] no running nodes or missing files")

    def start(self):
        if not self.start_nodes:
            return
        self.enter("start", "[INFO] start node")
        if self.run_ctl("start") != 0:
            print("[ERROR] start node failed! check and restart node")
            sys.exit(1)

    def swap(self, aside, source):
        """Moves the current binaries to `aside`, then copies those of `source` in."""
        self.must("rm -rf %s" % q(aside))
        self.must("mkdir -p %s" % q(aside))
        for path in sorted(glob.glob(os.path.join(self.install, "*.py"))):
            self.must("mv %s %s" % (q(path), q(aside)))
        for name in ("bin", self.svc["jars"]):
            self.must("mv %s %s" % (q(os.path.join(self.install, name)), q(aside)))
        for path in sorted(glob.glob(os.path.join(source, "*.py"))):
            self.must("cp %s %s" % (q(path), q(self.install)))
        for name in ("bin", self.svc["jars"]):
            self.must("cp -r %s %s" % (q(os.path.join(source, name)), q(self.install)))

    def upgrade(self, package):
        self.enter("untar", "[INFO] untar the service installation package")
        self.must("mkdir -p %s" % q(SERVICE_TMP))
        self.must("tar -zxvf %s -C %s" % (q(package), q(SERVICE_TMP)))
        self.must("chmod u+x %s/*.sh" % q(os.path.join(self.svc_tmp, "bin")))

        self.enter("backup", "[INFO] backup")
        if os.path.exists(self.marker):
            print("[DEBUG] backup already completed: %s" % self.marker)
            self.injected_skip()
        else:
            self.must("rm -rf %s" % q(self.backup))
            self.must("mkdir -p %s" % q(self.backup))
            for path in self.files(self.install):
                self.must("cp -r %s %s" % (q(path), q(self.backup)))
            self.must("touch %s" % q(self.marker))

        self.stop()

        self.enter("replace", "[INFO] replace the new version of the resource package")
        slow = float(self.fault.get("slowSeconds") or 0)
        if slow > 0:
            time.sleep(slow)
        self.swap(os.path.join(UPGRADE_TMP, self.folder), self.svc_tmp)

        self.start()
        print("[INFO] upgrade success!")

    def injected_skip(self):
        # A faulted backup step fails even when the backup is already there.
        mode = None if self.dryrun else self.injected("cp")
        if mode == "exit1":
            print("[ERROR] backup: injected failure (sandbox fault)")
            sys.exit(1)
        if mode is not None:
            sys.exit(self.failing_command("cp"))

    def rollback(self):
        if not os.path.exists(self.marker):
            print("[ERROR] backup of service is incomplete: %s" % self.backup)
            sys.exit(1)
        self.stop()
        self.enter("replace", "[INFO] rollback to the backup version")
        self.swap(os.path.join(ROLLBACK_TMP, self.folder), self.backup)
        self.start()
        self.must("rm -f %s" % q(self.marker))
        print("[INFO] rollback success!")


def main(argv):
    try:
        opts, _ = getopt.getopt(argv, "h", ["help", "service=", "install-path=", "nocheck", "rollback", "start", "dryrun"])
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
    packages = sorted(glob.glob(os.path.join(BASE, "package", folder + "*.tar.gz")))
    if not rollback and not packages:
        print("[ERROR] can not find a new version of the service installation package")
        return 2

    up = Upgrade(service, install, "--start" in o, "--dryrun" in o)
    if rollback:
        up.fault = {}  # injected step faults target upgrades only, so a rollback can always repair
    if up.dryrun:
        print("[INFO] dry run mode!")
    action = "rollback" if rollback else "upgrade"
    target = None
    if packages:
        m = _re.search(r"-(\d+\.\d+\.\d+)", os.path.basename(packages[-1])[len(folder):])
        target = m.group(1) if m else None
    begin = {"service": service, "action": action, "version": jar_version(up.install, service),
             "outcome": "begin", "installPath": up.install, "pid": os.getpid()}
    if not rollback:
        begin["target"] = target
    if up.dryrun:
        begin["dryrun"] = True
    audit(up.host_dir, begin)
    code = 0
    try:
        if rollback:
            up.rollback()
        else:
            up.upgrade(packages[-1])
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
