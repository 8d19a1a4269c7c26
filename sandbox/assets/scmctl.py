#!/usr/bin/env python3
"""The one implementation behind every sandbox control script (scmcloudctl.sh, confctl.sh, scmctl.sh, schctl.sh).

Each `bin/<ctl>.sh` runs `python3 -S -B sandbox_ctl.py <service> <tools-version> <script-name> "$@"`.
Subcommands, options, output lines and exit codes follow SequoiaCM 3.1/3.2 (reference section 2):
  start -t <type|all> | -p <port> [--timeout <s>]     (content-server: -a|--all | -p)
  stop  -t <type|all> | -p <port> [-f]               (content-server: -a|--all | -p)
  list  [-m run|local] [-p <port>]                    exit 1 when nothing is listed
  -v|--version, -h|--help [subcommand]
Exit codes: 0 success, 1 empty output, 3 invalid argument, 8 a node failed to start or stop.
"""
import os
import signal
import subprocess
import sys
import time

# @@SANDBOX_COMMON@@

EXIT_EMPTY_OUT = 1
EXIT_INVALID_ARG = 3
EXIT_SYSTEM_ERROR = 8
START_POLL = 0.1
STOP_TIMEOUT = 30.0
NO_PID_TIMEOUT = 10.0


class ArgError(Exception):
    pass


def version_tuple(v):
    try:
        return tuple(int(x) for x in v.split("."))
    except ValueError:
        return (0,)


def http_get_json(address, port, path, headers):
    """(status code, parsed JSON or None, error text) of one small GET, without urllib's import cost."""
    import socket
    try:
        s = socket.create_connection((address, port), timeout=5)
    except OSError as e:
        return None, None, str(e)
    try:
        extra = "".join("%s: %s\r\n" % kv for kv in headers.items())
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n%sConnection: close\r\n\r\n" % (path, address, port, extra)).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        return None, None, str(e)
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        code = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None, None, "bad response"
    try:
        return code, _json.loads(body.decode() or "null"), None
    except ValueError:
        return code, None, "bad body"


class Ctl(object):
    def __init__(self, service, tools_version, script):
        self.service = service
        self.svc = SERVICES[service]
        self.tools_version = tools_version
        self.script = script
        self.bin_dir = os.path.dirname(os.path.realpath(__file__))
        self.install = os.path.dirname(self.bin_dir)
        self.host_dir = find_host_dir(self.install)
        self.host = host_info(self.host_dir)
        self.content = service == "content-server"

    # ---------- nodes on this host ----------
    def nodes(self):
        """{port: (type, conf_dir)} for every node configured under conf/<type>/<port>/."""
        found = {}
        conf = os.path.join(self.install, "conf")
        for node_type in self.svc["types"]:
            tdir = os.path.join(conf, node_type)
            if not os.path.isdir(tdir):
                continue
            for entry in sorted(os.listdir(tdir)):
                cdir = os.path.join(tdir, entry)
                if entry.isdigit() and os.path.isfile(os.path.join(cdir, "application.properties")):
                    found[int(entry)] = (node_type, cdir)
        return found

    @staticmethod
    def upper(node_type, port):
        return "%s(%d)" % (node_type.upper(), port)

    def pid_of(self, conf_dir, scan=None):
        pids = node_pids(conf_dir, scan)
        return pids[0] if pids else -1

    def health(self, port):
        """The node's status string ("UP", "DOWN", or an error), by the paths of this tools version."""
        paths = ["/internal/v1/health", "/health"] if version_tuple(self.tools_version) >= (3, 2) else ["/health"]
        last = "no answer"
        for p in paths:
            code, doc, err = http_get_json(self.host.get("address", "127.0.0.1"), port, p,
                                           {"X-Scm-Sandbox-Check": "ctl-start"})
            if code == 200 and isinstance(doc, dict):
                return str(doc.get("status", "")).strip()
            if isinstance(doc, dict) and doc.get("status") and code != 404:
                last = str(doc.get("status"))
            else:
                last = err or "HTTP %s" % code
        return last

    def node_version(self, node_type):
        return jar_version(self.install, self.service, node_type)

    def record(self, action, node_type, port, outcome, pid=None):
        entry = {"service": self.service, "action": action, "version": self.node_version(node_type),
                 "outcome": outcome, "nodeType": node_type, "port": port}
        if pid:
            entry["pid"] = pid
        audit(self.host_dir, entry)

    # ---------- option parsing ----------
    def parse(self, args, spec):
        """spec: {option: (key, takes_value)}; returns {key: value}."""
        out = {}
        i = 0
        while i < len(args):
            a = args[i]
            name, eq, inline = a.partition("=") if a.startswith("--") else (a, "", "")
            if name not in spec:
                raise ArgError("Unrecognized option: %s" % a)
            key, takes = spec[name]
            if takes:
                if eq:
                    value = inline
                elif i + 1 < len(args):
                    i += 1
                    value = args[i]
                else:
                    raise ArgError("Missing argument for option: %s" % name.lstrip("-"))
                out[key] = value
            else:
                out[key] = True
            i += 1
        return out

    def select(self, opts, verb):
        """The nodes chosen by -t/--all/-p, as (needed map, type label) or raises ArgError."""
        has_port = "port" in opts
        has_all = "type" in opts
        if has_port == has_all:
            raise ArgError("please set %s or -p" % ("-a" if self.content else "-t"))
        nodes = self.nodes()
        if has_port:
            try:
                port = int(opts["port"])
            except ValueError:
                raise ArgError("invalid port:%s" % opts["port"])
            if port not in nodes:
                return None, port
            return {port: nodes[port]}, None
        t = opts["type"]
        if self.content or t in ("all", "0"):
            return dict(nodes), "all"
        if t not in self.svc["types"]:
            raise ArgError("unknown node type:%s" % t)
        return dict((p, v) for p, v in nodes.items() if v[0] == t), t

    def spec_for(self, verb):
        spec = {"-p": ("port", True), "--port": ("port", True)}
        if self.content:
            spec.update({"-a": ("type", False), "--all": ("type", False)})
        else:
            spec.update({"-t": ("type", True), "--type": ("type", True)})
        if verb == "start":
            spec.update({"--timeout": ("timeout", True), "-I": ("current-user", False)})
        if verb == "stop":
            spec.update({"-f": ("force", False), "--force": ("force", False)})
        return spec

    # ---------- start ----------
    def spawn(self, conf_dir, node_type, port):
        log_dir = os.path.join(self.install, "log", node_type, str(port))
        os.makedirs(log_dir, exist_ok=True)
        out = open(os.path.join(log_dir, "sandbox-node.out"), "ab")
        try:
            return subprocess.Popen(
                [sys.executable, "-S", "-B", os.path.join(self.bin_dir, "sandbox_node.py"), "scm-node:" + conf_dir],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.install, start_new_session=True, close_fds=True)
        finally:
            out.close()

    def select_or_report(self, opts, verb):
        """The nodes to act on; or, when there are none, the real tool's lines and exit code."""
        need, label = self.select(opts, verb)
        if need is None:
            print("node not found in conf path,port:%d" % label)
            print("Total:1;Success:0;Failed:1")
            return need, EXIT_INVALID_ARG
        if not need:
            print("Can't find any node in conf path,type:%s" % label)
            print("Total:0;Success:0;Failed:0")
            return need, 0
        return need, None

    def start(self, args):
        opts = self.parse(args, self.spec_for("start"))
        timeout = 50.0
        if "timeout" in opts:
            try:
                timeout = float(int(opts["timeout"]))
            except ValueError:
                raise ArgError("invalid timeout:%s" % opts["timeout"])
        need, done = self.select_or_report(opts, "start")
        if done is not None:
            return done
        success = 0
        checking = {}
        scan = scan_nodes()
        for port in sorted(need):
            node_type, cdir = need[port]
            pid = self.pid_of(cdir, scan)
            if pid == -1:
                checking[port] = (node_type, cdir, self.spawn(cdir, node_type, port))
                continue
            status = self.health(port)
            if status == "UP":
                print("Success:%s is already started (%d)" % (self.upper(node_type, port), pid))
                self.record("start", node_type, port, "already", pid)
                success += 1
            else:
                print("Failed:%s is already started (%d),but node status is not normal" % (self.upper(node_type, port), pid))
                self.record("start", node_type, port, "failed", pid)
        began = time.time()
        while checking:
            for port in sorted(checking):
                node_type, cdir, proc = checking[port]
                exited = proc.poll() is not None
                pid = -1 if exited else proc.pid
                if pid != -1 and self.health(port) == "UP":
                    print("Success:%s is successfully started (%d)" % (self.upper(node_type, port), pid))
                    self.record("start", node_type, port, "ok", pid)
                    success += 1
                    del checking[port]
                elif exited:
                    # The process is gone: no later check can succeed.
                    print("Failed:%s failed to start" % self.upper(node_type, port))
                    self.record("start", node_type, port, "failed")
                    del checking[port]
            if not checking:
                break
            if time.time() - began > timeout:
                for port in sorted(checking):
                    node_type, cdir, proc = checking[port]
                    print("Failed:%s failed to start" % self.upper(node_type, port))
                    self.record("start", node_type, port, "failed", proc.pid)
                break
            time.sleep(START_POLL)
        print("Total:%d;Success:%d;Failed:%d" % (len(need), success, len(need) - success))
        return 0 if success == len(need) else EXIT_SYSTEM_ERROR

    # ---------- stop ----------
    def stop(self, args):
        opts = self.parse(args, self.spec_for("stop"))
        need, done = self.select_or_report(opts, "stop")
        if done is not None:
            return done
        success = 0
        checking = {}
        scan = scan_nodes()
        for port in sorted(need):
            node_type, cdir = need[port]
            pids = node_pids(cdir, scan)
            if not pids:
                print("Success:%s is already stopped" % self.upper(node_type, port))
                self.record("stop", node_type, port, "already")
                success += 1
                continue
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
            checking[port] = (node_type, cdir, pids[0])
        began = time.time()
        forced = False
        while checking:
            time.sleep(0.05)
            scan = scan_nodes()
            for port in sorted(checking):
                node_type, cdir, pid = checking[port]
                if not node_pids(cdir, scan):
                    print("Success:%s is successfully stopped" % self.upper(node_type, port))
                    self.record("stop", node_type, port, "ok", pid)
                    success += 1
                    del checking[port]
            if not checking:
                break
            if time.time() - began > STOP_TIMEOUT:
                if opts.get("force") and not forced:
                    forced = True
                    for port in checking:
                        for pid in node_pids(checking[port][1]):
                            try:
                                os.kill(pid, signal.SIGKILL)
                            except OSError:
                                pass
                    began = time.time() - STOP_TIMEOUT + 1.0
                    continue
                for port in sorted(checking):
                    node_type, cdir, pid = checking[port]
                    print("Failed:%s failed to stop" % self.upper(node_type, port))
                    self.record("stop", node_type, port, "failed", pid)
                break
        print("Total:%d;Success:%d;Failed:%d" % (len(need), success, len(need) - success))
        return 0 if success == len(need) else EXIT_SYSTEM_ERROR

    # ---------- list ----------
    def list(self, args):
        opts = self.parse(args, {"-m": ("mode", True), "--mode": ("mode", True),
                                 "-p": ("port", True), "--port": ("port", True)})
        mode = opts.get("mode", "run")
        if mode not in ("run", "local"):
            raise ArgError("invalid mode:%s, mode must be 'run' or 'local'" % mode)
        nodes = self.nodes()
        if "port" in opts:
            try:
                port = int(opts["port"])
            except ValueError:
                raise ArgError("invalid port:%s" % opts["port"])
            nodes = dict((p, v) for p, v in nodes.items() if p == port)
        total = 0
        scan = scan_nodes()
        for port in sorted(nodes):
            node_type, cdir = nodes[port]
            pid = self.pid_of(cdir, scan)
            if mode == "run" and pid == -1:
                continue
            print("%s (%s)" % (self.upper(node_type, port), pid if pid != -1 else "-"))
            total += 1
        print("Total:%d" % total)
        return 0 if total else EXIT_EMPTY_OUT

    # ---------- help / version ----------
    def usage(self, sub=None):
        sel = "-a|--all" if self.content else "-t <%s|all>" % "|".join(self.svc["types"])
        lines = {
            "start": "%s start %s | -p <port> [--timeout <seconds>, default:50]" % (self.script, sel),
            "stop": "%s stop %s | -p <port> [-f|--force]" % (self.script, sel),
            "list": "%s list [-m|--mode run|local, default:run] [-p|--port <port>]" % self.script,
        }
        if sub in lines:
            print("usage: " + lines[sub])
            return
        print("usage: %s <subcommand> [options]" % self.script)
        print("       %s -h|--help [subcommand]" % self.script)
        print("       %s -v|--version" % self.script)
        print("subcommands:")
        for name in ("start", "stop", "list"):
            print("  " + lines[name])

    def version(self):
        print("SequoiaCM tools version:%s" % self.tools_version)
        print("Release:sandbox-%s" % self.tools_version.replace(".", ""))
        print("2023-06-01-10.00.00")
        return 0

    def run(self, argv):
        if not argv:
            self.usage()
            return EXIT_INVALID_ARG
        cmd, rest = argv[0], argv[1:]
        try:
            if cmd in ("-h", "--help"):
                self.usage(rest[0] if rest else None)
                return 0
            if cmd in ("-v", "--version"):
                return self.version()
            if cmd in ("start", "stop", "list"):
                if rest and rest[0] in ("-h", "--help"):
                    self.usage(cmd)
                    return 0
                return getattr(self, cmd)(rest)
            raise ArgError("unknown subcommand:%s" % cmd)
        except ArgError as e:
            print(str(e))
            self.usage(cmd if cmd in ("start", "stop", "list") else None)
            return EXIT_INVALID_ARG


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in SERVICES:
        sys.stderr.write("usage: sandbox_ctl.py <service> <tools-version> <script-name> [args...]\n")
        return EXIT_INVALID_ARG
    sys.stdout.reconfigure(line_buffering=True)
    return Ctl(sys.argv[1], sys.argv[2], sys.argv[3]).run(sys.argv[4:])


if __name__ == "__main__":
    sys.exit(main())
