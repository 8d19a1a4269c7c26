#!/usr/bin/env python3
"""A sandbox SequoiaCM node: a tiny HTTP server standing in for one Java micro-service node.

Started by the control scripts as `python3 -S -B sandbox_node.py scm-node:<install>/conf/<type>/<port>`.
It takes its version from the installed jar of its type when it starts, listens on the host's address,
and answers the health endpoints of that version:
  3.1.x  GET /health                       -> Spring Boot 1.5's actuator health document (below)
  3.2.x  GET /internal/v1/health           -> the same document, HTTP 200 whatever its status;
                                              actuator (/health, /info) on port + 1
  all    GET /info                         -> {"app":{"version":...}}
  content-server  GET /api/v1/conf-properties?keys=SCM-Version,Node-Status
                                           -> {"conf":{"SCM-Version":...,"Node-Status":"starting"|"running"}}
The health document is Spring Boot 1.5's: the top-level `status` and one entry per health indicator,
each with its own `status` (`{"status":"UP","diskSpace":{"status":"UP","total":...},...}`). The
actuator's /health answers HTTP 503 when the top-level status is DOWN; SequoiaCM 3.2's
/internal/v1/health answers HTTP 200 whatever the status (reference section 2), so only the
top-level `status` tells a DOWN node.
Faults (hosts/<name>/faults.json, service entry): `startFails` exits at once with status 1;
`unhealthy` answers a top-level DOWN whose nested indicators all say UP (HTTP 200 on
/internal/v1/health, 503 on the actuator's /health) and Node-Status `starting`, except to the
control script's own start check, as a node that falls over right after it started;
`unhealthyAfterSeconds: N` does the same from N seconds after the node's process started;
`exitAfterSeconds: N` (read at start) makes the process exit with status 1 N seconds after it started.
"""
import errno
import os
import selectors
import signal
import socket
import sys
import time

# @@SANDBOX_COMMON@@

STARTING_SECONDS = float(os.environ.get("SCM_SANDBOX_STARTING_SECONDS", "1.5"))
CTL_CHECK_HEADER = b"x-scm-sandbox-check: ctl-start"


def log(msg):
    sys.stdout.write("%s %s\n" % (iso_now(), msg))
    sys.stdout.flush()


def read_properties(path):
    props = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line[0] in "#!" or "=" not in line:
                    continue
                k, v = line.split("=", 1)
                props[k.strip()] = v.strip()
    except OSError:
        pass
    return props


class Node(object):
    def __init__(self, conf_dir):
        self.conf_dir = os.path.abspath(conf_dir)
        type_dir = os.path.dirname(self.conf_dir)
        self.port = int(os.path.basename(self.conf_dir))
        self.node_type = os.path.basename(type_dir)
        self.install = os.path.dirname(os.path.dirname(type_dir))
        self.service = service_by_folder(os.path.basename(self.install))
        self.host_dir = find_host_dir(self.install)
        self.host = host_info(self.host_dir)
        self.props = read_properties(os.path.join(self.conf_dir, "application.properties"))
        self.version = jar_version(self.install, self.service, self.node_type) if self.service else None
        self.started = time.time()
        self._fault_cache = (None, {})

    @property
    def is32(self):
        v = self.version or "0.0.0"
        return tuple(int(x) for x in v.split(".")[:2]) >= (3, 2)

    def faults(self):
        # Re-read only when faults.json changes, so `fault clear` heals a running node.
        path = os.path.join(self.host_dir, "faults.json") if self.host_dir else None
        try:
            mtime = os.stat(path).st_mtime_ns if path else None
        except OSError:
            mtime = None
        if mtime != self._fault_cache[0]:
            fault = read_faults(self.host_dir, self.service) if mtime is not None else {}
            self._fault_cache = (mtime, fault if fault_applies_to_port(fault, self.port) else {})
        return self._fault_cache[1]

    def healthy(self, request_head):
        if CTL_CHECK_HEADER in request_head.lower():
            return True
        fault = self.faults()
        if fault.get("unhealthy"):
            return False
        after = fault.get("unhealthyAfterSeconds")
        if after is not None and time.time() - self.started >= float(after):
            return False
        return True

    def health_doc(self, request_head):
        """Spring Boot 1.5's health document: top-level status, then each indicator with its own status."""
        status = "UP" if self.healthy(request_head) else "DOWN"
        doc = {"status": status}
        doc["diskSpace"] = {"status": "UP", "total": 107374182400, "free": 53687091200, "threshold": 10485760}
        doc["refreshScope"] = {"status": "UP"}
        doc["hystrix"] = {"status": "UP"}
        return doc

    def actuator_health(self, request_head):
        """The actuator's /health: HTTP 503 when DOWN."""
        doc = self.health_doc(request_head)
        return doc, 200 if doc["status"] == "UP" else 503

    def internal_health(self, request_head):
        """SequoiaCM 3.2's /internal/v1/health: the whole document with HTTP 200, whatever the status."""
        return self.health_doc(request_head), 200

    def node_status(self, request_head):
        if not self.healthy(request_head) or time.time() - self.started < STARTING_SECONDS:
            return "starting"
        return "running"

    def route(self, management, method, target, head):
        path, _, query = target.partition("?")
        if method != "GET":
            return {"error": "method not allowed"}, 405
        if path == "/info":
            return {"app": {"name": self.props.get("spring.application.name", self.node_type), "version": self.version}}, 200
        if management:
            if path == "/health":
                return self.actuator_health(head)
            return {"status": 404, "error": "Not Found", "path": path}, 404
        if path == "/internal/v1/health" and self.is32:
            return self.internal_health(head)
        if path == "/health" and not self.is32:
            return self.actuator_health(head)
        if path == "/api/v1/conf-properties" and self.service == "content-server":
            keys = []
            for part in query.split("&"):
                k, _, v = part.partition("=")
                if k == "keys":
                    keys.extend(x for x in v.replace("%2C", ",").split(",") if x)
            known = {"SCM-Version": self.version, "Node-Status": self.node_status(head)}
            return {"conf": dict((k, known[k]) for k in keys if k in known)}, 200
        return {"status": 404, "error": "Not Found", "path": path}, 404


REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable", 400: "Bad Request"}


def respond(conn, doc, code):
    body = _json.dumps(doc).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (
        code, REASONS.get(code, "OK"), len(body))
    conn.setblocking(True)
    conn.settimeout(2)
    try:
        conn.sendall(head.encode() + body)
    except OSError:
        pass


def serve(node, exit_at=None):
    address = node.host.get("address", "127.0.0.1")
    sel = selectors.DefaultSelector()
    listeners = [(node.port, False)]
    if node.is32:
        mport = int(node.props.get("management.port", node.port + 1))
        listeners.append((mport, True))
    socks = []
    for port, management in listeners:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as e:
            log("APPLICATION FAILED TO START: port %d on %s: %s" % (port, address, e))
            sys.exit(1)
        s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("listen", management))
        socks.append(s)
    log("%s %s started on %s:%s (pid %d)" % (node.node_type, node.version, address,
                                               ",".join(str(p) for p, _ in listeners), os.getpid()))
    pending = {}
    while True:
        if exit_at is not None and time.time() >= exit_at:
            log("exiting %.1f s after start (sandbox fault exitAfterSeconds)" % (time.time() - node.started))
            sys.exit(1)
        wait = 5 if exit_at is None else max(0.0, min(5, exit_at - time.time()))
        for key, _ in sel.select(timeout=wait):
            kind, management = key.data
            if kind == "listen":
                try:
                    conn, _ = key.fileobj.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                pending[conn] = (b"", time.time())
                sel.register(conn, selectors.EVENT_READ, ("conn", management))
                continue
            conn = key.fileobj
            buf, since = pending.get(conn, (b"", time.time()))
            try:
                chunk = conn.recv(4096)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    continue
                chunk = b""
            buf += chunk
            if b"\r\n\r\n" in buf or not chunk or len(buf) > 65536:
                sel.unregister(conn)
                pending.pop(conn, None)
                if b"\r\n\r\n" in buf:
                    head = buf.split(b"\r\n\r\n", 1)[0]
                    first = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                    if len(first) >= 2:
                        doc, code = node.route(management, first[0], first[1], head)
                    else:
                        doc, code = {"error": "bad request"}, 400
                    respond(conn, doc, code)
                conn.close()
            else:
                pending[conn] = (buf, since)
        # drop clients that never finish their request
        now = time.time()
        for conn, (buf, since) in list(pending.items()):
            if now - since > 5:
                sel.unregister(conn)
                pending.pop(conn, None)
                conn.close()


def main():
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    args = [a for a in sys.argv[1:] if a.startswith("scm-node:")]
    if not args:
        sys.stderr.write("usage: sandbox_node.py scm-node:<install>/conf/<type>/<port>\n")
        sys.exit(3)
    node = Node(args[0][len("scm-node:"):])
    if not node.service or not node.version:
        log("APPLICATION FAILED TO START: no %s jar found in %s" % (node.node_type, node.install))
        sys.exit(1)
    fault = read_faults(node.host_dir, node.service)
    if fault.get("startFails") and fault_applies_to_port(fault, node.port):
        log("APPLICATION FAILED TO START: injected start failure (sandbox fault)")
        sys.exit(1)
    after = fault.get("exitAfterSeconds") if fault_applies_to_port(fault, node.port) else None
    serve(node, None if after is None else node.started + float(after))


if __name__ == "__main__":
    main()
