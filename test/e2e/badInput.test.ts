import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { stacksDir } from "../../engine/env";
import { sandboxStackConfig } from "../../sandbox/stackConfig";
import { useSandbox } from "../sandbox/fixture";
import { runCli } from "../helpers/cli";

// Bad input against a live sandbox: every invalid config is refused by `scm-upgrade up --yes` with
// exit 3 and a message naming the field, and no SSH connection reaches any host (the hosts' sshd
// logs do not change).

const sb = useSandbox("bad-input", 45);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-bad-"));
const written: string[] = [];
afterAll(() => {
    for (const f of written) fs.rmSync(f, { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
});

type Raw = Record<string, unknown> & { hosts: Record<string, unknown>[]; ssh: Record<string, unknown>; package: Record<string, unknown> };

/** The sandbox's own (valid) config, without the namespace, deep-copied. */
function base(): Raw {
    const plain = sandboxStackConfig(sb.state());
    return JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(plain).map(([k, v]) => [k.replace(/^scm-upgrade:/, ""), v])))) as Raw;
}

const cases: [string, (c: Raw) => void, string][] = [
    ["version without patch", (c) => (c.targetVersion = "3.2"), "targetVersion"],
    ["target not above source", (c) => (c.targetVersion = "3.1.2"), "targetVersion"],
    ["bad source version", (c) => (c.sourceVersion = "three"), "sourceVersion"],
    ["missing package file", (c) => (c.package = { localPath: path.join(tmp, "nope.tar.gz") }), "package.localPath"],
    ["package both local and remote", (c) => (c.package = { localPath: String(c.package.localPath), remotePath: "/opt/x.tar.gz" }), "package"],
    ["unreadable key file (a folder)", (c) => (c.ssh.privateKeyFile = tmp), "ssh.privateKeyFile"],
    ["ssh port out of range", (c) => (c.ssh.port = 70000), "ssh.port"],
    ["relative staging folder", (c) => (c.stagingDir = "opt/scm_upgrade"), "stagingDir"],
    ["unknown become mode", (c) => (c.become = "doas"), "become"],
    ["parallelism zero", (c) => (c.parallelism = 0), "parallelism"],
    ["health timeout too small", (c) => (c.healthTimeoutSeconds = 1), "healthTimeoutSeconds"],
    ["unknown site policy", (c) => (c.sitePolicy = "random"), "sitePolicy"],
    ["typo in a top-level key", (c) => (c.targetVerison = "3.2.0"), "targetVerison"],
    ["unknown service", (c) => (c.hosts[0].services = ["cloud", "contnt-server"]), "hosts[0].services[1]"],
    ["bad center", (c) => (c.hosts[1].center = "backup"), "hosts[1].center"],
    ["duplicate host name", (c) => (c.hosts[1].name = c.hosts[0].name), "hosts[1].name"],
    ["duplicate address", (c) => (c.hosts[1].address = c.hosts[0].address), "hosts[1]"],
    ["two root sites", (c) => (c.hosts[1].rootSite = true), "rootSite"],
    [
        "no root site",
        (c) => {
            for (const h of c.hosts) h.rootSite = false;
        },
        "rootSite",
    ],
    ["content-server host without a site", (c) => delete c.hosts[0].site, "hosts[0].site"],
    [
        "a service with no standby node",
        (c) => {
            for (const h of c.hosts.filter((x) => x.center === "standby")) h.services = (h.services as string[]).filter((s) => s !== "schedule-server");
        },
        "schedule-server",
    ],
    [
        "unknown service in serviceOrder",
        (c) => (c.serviceOrder = ["cloud", "config-server", "content-server", "schedule", "schedule-server"]),
        "serviceOrder[3]",
    ],
    ["host without address", (c) => delete c.hosts[2].address, "hosts[2].address"],
    ["empty host list", (c) => (c.hosts = []), "hosts"],
];

function sshdLogs(): string {
    return sb
        .state()
        .hosts.map((h) => {
            const f = path.join(h.hostDir, "sshd", "sshd.log");
            return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
        })
        .join("\n--\n");
}

test(`${cases.length} invalid configs: exit 3, the field named, no SSH connection to any host`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    const before = sshdLogs();
    cases.forEach(([title, change, field], i) => {
        const c = base();
        change(c);
        const stack = `test-bad-${i}`;
        const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
        written.push(file);
        fs.writeFileSync(file, yaml.dump({ config: Object.fromEntries(Object.entries(c).map(([k, v]) => [`scm-upgrade:${k}`, v])) }));
        const r = runCli(["up", "--yes", "--stack", stack], { PULUMI_BACKEND_URL: `file://${tmp}` }, 60000);
        expect({ title, code: r.code }).toEqual({ title, code: 3 });
        expect({ title, named: r.stderr.includes(field) }).toEqual({ title, named: true });
        expect(r.stderr).toContain(`The configuration of stack ${stack} is invalid.`);
        expect(r.stderr).toMatch(/Fix: /);
    });
    expect(sshdLogs()).toBe(before);
});
