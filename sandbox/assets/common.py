# ---- sandbox common (inlined into every sandbox script at build time; edit sandbox/assets/common.py) ----
# What a sandbox host knows about itself, its faults and its audit log. Standard library only.
import json as _json
import os as _os
import pwd as _pwd
import re as _re
import time as _time

# --service name -> install folder, jar folder, control script, "all nodes" option, node types -> jar stem
SERVICES = {
    "cloud": {
        "folder": "sequoiacm-cloud", "jars": "jars", "ctl": "scmcloudctl.sh", "all": ["-t", "all"],
        "types": {
            "service-center": "sequoiacm-cloud-servicecenter",
            "gateway": "sequoiacm-cloud-gateway",
            "auth-server": "sequoiacm-cloud-authserver",
            "admin-server": "sequoiacm-cloud-adminserver",
            "service-trace": "sequoiacm-cloud-servicetrace",
        },
    },
    "config-server": {
        "folder": "sequoiacm-config", "jars": "jars", "ctl": "confctl.sh", "all": ["-t", "all"],
        "types": {"config-server": "sequoiacm-config-server"},
    },
    "content-server": {
        "folder": "sequoiacm-content", "jars": "lib", "ctl": "scmctl.sh", "all": ["--all"],
        "types": {"content-server": "sequoiacm-content-server"},
    },
    "schedule-server": {
        "folder": "sequoiacm-schedule", "jars": "jars", "ctl": "schctl.sh", "all": ["-t", "all"],
        "types": {"schedule-server": "sequoiacm-schedule-server"},
    },
    "fulltext-server": {
        "folder": "sequoiacm-fulltext", "jars": "jars", "ctl": "ftctl.sh", "all": ["-t", "all"],
        "types": {"fulltext-server": "sequoiacm-fulltext-server"},
    },
    "mq-server": {
        "folder": "sequoiacm-mq", "jars": "jars", "ctl": "mqctl.sh", "all": ["-t", "all"],
        "types": {"mq-server": "sequoiacm-mq-server"},
    },
    "om-server": {
        "folder": "sequoiacm-om", "jars": "jars", "ctl": "omctl.sh", "all": ["-t", "all"],
        "types": {"om-server": "sequoiacm-om-server"},
    },
    "s3-server": {
        "folder": "sequoiacm-s3", "jars": "jars", "ctl": "s3ctl.sh", "all": ["-t", "all"],
        "types": {"s3-server": "sequoiacm-s3-server"},
    },
    "daemon": {
        "folder": "daemon", "jars": "jars", "ctl": "scmd.sh", "all": [],
        "types": {"daemon": "sequoiacm-daemon"},
    },
}

HOST_FILE = "sandbox-host.json"
_VERSION_RE = _re.compile(r"-(\d+\.\d+\.\d+)\.jar$")


def service_by_folder(folder):
    for name, svc in SERVICES.items():
        if svc["folder"] == folder:
            return name
    return None


def find_host_dir(start):
    """The sandbox host folder (holding sandbox-host.json) above `start`, or None outside a sandbox."""
    env = _os.environ.get("SCM_SANDBOX_HOST_DIR")
    if env and _os.path.isfile(_os.path.join(env, HOST_FILE)):
        return env
    d = _os.path.abspath(start)
    while True:
        if _os.path.isfile(_os.path.join(d, HOST_FILE)):
            return d
        parent = _os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def host_info(host_dir):
    if not host_dir:
        return {"name": _os.uname()[1], "address": "127.0.0.1"}
    try:
        with open(_os.path.join(host_dir, HOST_FILE)) as f:
            return _json.load(f)
    except (OSError, ValueError):
        return {"name": _os.path.basename(host_dir), "address": "127.0.0.1"}


def read_faults(host_dir, service):
    """This host's faults for one --service name ({} when none). See sandbox/faults.ts for the format."""
    if not host_dir:
        return {}
    try:
        with open(_os.path.join(host_dir, "faults.json")) as f:
            data = _json.load(f)
    except (OSError, ValueError):
        return {}
    return (data.get("services") or {}).get(service) or {}


def fault_applies_to_port(fault, port):
    ports = fault.get("ports")
    return not ports or int(port) in [int(p) for p in ports]


def iso_now():
    t = _time.time()
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def user_name():
    """Who runs this process: the install user when the tool switches to it with sudo or su."""
    try:
        return _pwd.getpwuid(_os.geteuid()).pw_name
    except KeyError:
        return str(_os.geteuid())


def audit(host_dir, entry):
    """Appends one JSON line to the host's audit.log (one write call, so concurrent writers do not interleave)."""
    if not host_dir or _os.environ.get("SCM_SANDBOX_INTERNAL") == "1":
        return
    record = {"time": iso_now(), "host": host_info(host_dir).get("name"), "user": user_name()}
    record.update(entry)
    line = (_json.dumps(record, sort_keys=False) + "\n").encode()
    try:
        fd = _os.open(_os.path.join(host_dir, "audit.log"), _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT, 0o644)
        try:
            _os.write(fd, line)
        finally:
            _os.close(fd)
    except OSError:
        pass


def jar_version(install, service, node_type=None):
    """The version in the jar names of an install (of one node type's jar when given), or None."""
    svc = SERVICES[service]
    jar_dir = _os.path.join(install, svc["jars"])
    stems = [svc["types"][node_type]] if node_type else list(svc["types"].values())
    try:
        names = sorted(_os.listdir(jar_dir))
    except OSError:
        return None
    for stem in stems:
        for name in names:
            if name.startswith(stem + "-"):
                m = _VERSION_RE.search(name)
                if m and name == "%s-%s.jar" % (stem, m.group(1)):
                    return m.group(1)
    return None


def scan_nodes():
    """{conf_dir: [pids]} of every live node process (found by its `scm-node:<conf_dir>` argument, like `ps`)."""
    found = {}
    for entry in _os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().split(b"\0")
            marks = [a for a in args if a.startswith(b"scm-node:")]
            if not marks:
                continue
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
            if stat[stat.rfind(")") + 2] == "Z":
                continue
            found.setdefault(marks[0][len(b"scm-node:"):].decode(), []).append(int(entry))
        except (OSError, IndexError, UnicodeDecodeError):
            continue
    return found


def node_pids(conf_dir, scan=None):
    """Pids of live node processes serving conf_dir."""
    return sorted((scan if scan is not None else scan_nodes()).get(_os.path.abspath(conf_dir), []))
# ---- end of sandbox common ----
