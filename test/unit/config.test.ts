import { ConfigProblem, effectiveHost, formatProblems, UpgradeConfig, validateConfig, ValidateOptions } from "../../lib/config/schema";
import { loadFromConfigMap } from "../../lib/config/load";

const PKG = "/pkg/sequoiacm-3.2.0-release.tar.gz";
const KEY = "/keys/id_ed25519";

/** The seed's cluster (reference section 1): A, B primary; C, D standby; A and C in the root site. */
function seed(): Record<string, any> {
    return {
        package: { localPath: PKG },
        hosts: [
            { name: "A", address: "10.0.0.1", center: "primary", services: ["cloud", "config-server", "content-server"], site: "rootSite", rootSite: true },
            { name: "B", address: "10.0.0.2", center: "primary", services: ["cloud", "schedule-server", "content-server"], site: "branchSite1" },
            { name: "C", address: "10.0.0.3", center: "standby", services: ["cloud", "config-server", "content-server"], site: "rootSite", rootSite: true },
            { name: "D", address: "10.0.0.4", center: "standby", services: ["cloud", "schedule-server", "content-server"], site: "branchSite1" },
        ],
    };
}

/** Only PKG and KEY (and the upgrade script) exist: tests touch no real file. */
const files: ValidateOptions = {
    fileExists: (p) => p === PKG || p === "/tools/scmupgrade.py",
    readable: (p) => p === KEY,
    baseDir: "/stack",
    homeDir: "/home/op",
};

function problemsOf(raw: unknown, opts: ValidateOptions = files): ConfigProblem[] {
    const r = validateConfig(raw, opts);
    if (r.ok) throw new Error("expected the config to be refused");
    return r.problems;
}

function accepted(raw: unknown, opts: ValidateOptions = files): UpgradeConfig {
    const r = validateConfig(raw, opts);
    if (!r.ok) throw new Error(formatProblems(r.problems));
    return r.config;
}

function withSeed(change: (c: Record<string, any>) => void): Record<string, any> {
    const c = seed();
    change(c);
    return c;
}

describe("the seed topology", () => {
    test("is accepted, with every default filled in", () => {
        const config = accepted(seed());
        expect(config).toEqual({
            targetVersion: "3.2.0",
            sourceVersion: "3.1.2",
            package: { localPath: PKG },
            stagingDir: "/opt/scm_upgrade",
            installRoot: "/opt/sequoiacm",
            installUser: "scmadmin",
            installGroup: "scmadmin_group",
            become: "login",
            ssh: { port: 22, dialErrorLimit: 3, perDialTimeoutSeconds: 10, unansweredSeconds: 60 },
            hosts: [
                { name: "A", address: "10.0.0.1", center: "primary", services: ["cloud", "config-server", "content-server"], site: "rootSite", rootSite: true },
                {
                    name: "B",
                    address: "10.0.0.2",
                    center: "primary",
                    services: ["cloud", "schedule-server", "content-server"],
                    site: "branchSite1",
                    rootSite: false,
                },
                { name: "C", address: "10.0.0.3", center: "standby", services: ["cloud", "config-server", "content-server"], site: "rootSite", rootSite: true },
                {
                    name: "D",
                    address: "10.0.0.4",
                    center: "standby",
                    services: ["cloud", "schedule-server", "content-server"],
                    site: "branchSite1",
                    rootSite: false,
                },
            ],
            serviceOrder: ["cloud", "config-server", "content-server", "schedule-server"],
            sitePolicy: "site-first",
            parallelism: 1,
            healthTimeoutSeconds: 120,
            healthStableSeconds: 0,
            rollbackOnHealthFailure: false,
        });
    });

    test("is accepted with every option set", () => {
        const config = accepted(
            withSeed((c) => {
                Object.assign(c, {
                    targetVersion: "3.2.2",
                    sourceVersion: "3.1.2",
                    package: { remotePath: "/data/sequoiacm-3.2.2-release.tgz" },
                    stagingDir: "/data/scm_upgrade",
                    installRoot: "/data/sequoiacm",
                    installUser: "scm",
                    installGroup: "scm",
                    become: "sudo",
                    ssh: { user: "ops", port: 2222, privateKeyFile: "~/../../keys/id_ed25519", bastion: { host: "jump.example.com" }, unansweredSeconds: 300 },
                    serviceOrder: ["cloud", "config-server", "schedule-server", "content-server"],
                    sitePolicy: "center-first",
                    parallelism: 2,
                    healthTimeoutSeconds: 300,
                    upgradeScript: "/tools/scmupgrade.py",
                    rollbackOnHealthFailure: true,
                });
                c.hosts[1].ssh = { port: 2022 };
                c.hosts[1].installRoot = "/srv/sequoiacm";
            }),
        );
        expect(config.package).toEqual({ remotePath: "/data/sequoiacm-3.2.2-release.tgz" });
        expect(config.ssh).toEqual({
            user: "ops",
            port: 2222,
            privateKeyFile: KEY,
            bastion: { host: "jump.example.com", port: 22 },
            dialErrorLimit: 3,
            perDialTimeoutSeconds: 10,
            unansweredSeconds: 300,
        });
        expect(config.sitePolicy).toBe("center-first");
        expect(config.upgradeScript).toBe("/tools/scmupgrade.py");
    });

    test("a relative package path resolves against baseDir, and the file check sees the absolute path", () => {
        const seen: string[] = [];
        const config = accepted(
            withSeed((c) => (c.package = { localPath: "pkg/sequoiacm-3.2.0-release.tar.gz" })),
            {
                ...files,
                fileExists: (p) => {
                    seen.push(p);
                    return true;
                },
            },
        );
        expect(config.package).toEqual({ localPath: "/stack/pkg/sequoiacm-3.2.0-release.tar.gz" });
        expect(seen).toEqual(["/stack/pkg/sequoiacm-3.2.0-release.tar.gz"]);
    });

    test("two hosts on one address with different SSH ports are accepted (one sshd per port)", () => {
        const config = accepted(
            withSeed((c) => {
                c.hosts[1].address = "127.0.0.1";
                c.hosts[1].ssh = { port: 2201 };
                c.hosts[3].address = "127.0.0.1";
                c.hosts[3].ssh = { port: 2202 };
            }),
        );
        expect(config.hosts.map((h) => `${h.address}:${h.ssh?.port ?? config.ssh.port}`)).toEqual([
            "10.0.0.1:22",
            "127.0.0.1:2201",
            "10.0.0.3:22",
            "127.0.0.1:2202",
        ]);
    });

    test("a service in serviceOrder that no host runs is accepted (the plan skips it)", () => {
        const config = accepted(withSeed((c) => (c.serviceOrder = ["cloud", "mq-server", "config-server", "content-server", "schedule-server"])));
        expect(config.serviceOrder).toEqual(["cloud", "mq-server", "config-server", "content-server", "schedule-server"]);
    });
});

type Case = [title: string, change: (c: Record<string, any>) => void, expected: Pick<ConfigProblem, "path" | "message">[]];

const invalid: Case[] = [
    ["a two-part version", (c) => (c.targetVersion = "3.2"), [{ path: "targetVersion", message: 'bad version "3.2"' }]],
    ["a v-prefixed version", (c) => (c.sourceVersion = "v3.1.2"), [{ path: "sourceVersion", message: 'bad version "v3.1.2"' }]],
    [
        "a target equal to the source",
        (c) => (c.targetVersion = "3.1.2"),
        [{ path: "targetVersion", message: "targetVersion 3.1.2 is not greater than sourceVersion 3.1.2" }],
    ],
    [
        "a downgrade",
        (c) => Object.assign(c, { targetVersion: "3.1.2", sourceVersion: "3.2.0" }),
        [{ path: "targetVersion", message: "targetVersion 3.1.2 is not greater than sourceVersion 3.2.0" }],
    ],
    ["a package with neither path", (c) => (c.package = {}), [{ path: "package", message: "sets neither localPath nor remotePath" }]],
    [
        "a package with both paths",
        (c) => (c.package = { localPath: PKG, remotePath: "/tmp/sequoiacm-3.2.0-release.tar.gz" }),
        [{ path: "package", message: "sets both localPath and remotePath" }],
    ],
    [
        "a missing package file",
        (c) => (c.package.localPath = "/pkg/missing.tar.gz"),
        [{ path: "package.localPath", message: 'no file at "/pkg/missing.tar.gz"' }],
    ],
    [
        "a relative missing package file shows both paths",
        (c) => (c.package.localPath = "missing.tar.gz"),
        [{ path: "package.localPath", message: 'no file at "missing.tar.gz" (/stack/missing.tar.gz)' }],
    ],
    [
        "a package that is not a tarball",
        (c) => (c.package.localPath = "/pkg/sequoiacm.zip"),
        [{ path: "package.localPath", message: '"/pkg/sequoiacm.zip" is not a .tar.gz file' }],
    ],
    [
        "a relative remote package",
        (c) => (c.package = { remotePath: "sequoiacm.tar.gz" }),
        [{ path: "package.remotePath", message: '"sequoiacm.tar.gz" is not an absolute path' }],
    ],
    ["a relative staging folder", (c) => (c.stagingDir = "scm_upgrade"), [{ path: "stagingDir", message: '"scm_upgrade" is not an absolute path' }]],
    ["an install root with ..", (c) => (c.installRoot = "/opt/../sequoiacm"), [{ path: "installRoot", message: '"/opt/../sequoiacm" contains ".."' }]],
    [
        "a relative per-host install root",
        (c) => (c.hosts[2].installRoot = "opt/sequoiacm"),
        [{ path: "hosts[2].installRoot", message: '"opt/sequoiacm" is not an absolute path' }],
    ],
    ["a bad install user", (c) => (c.installUser = "scm admin"), [{ path: "installUser", message: '"scm admin" is not a valid user name' }]],
    ["an unknown service", (c) => (c.hosts[2].services[0] = "clod"), [{ path: "hosts[2].services[0]", message: 'unknown service "clod"' }]],
    [
        "a misspelt content-server is one problem, not also a host without content-server",
        (c) => (c.hosts[2].services[2] = "contnt-server"),
        [{ path: "hosts[2].services[2]", message: 'unknown service "contnt-server"' }],
    ],
    [
        "a misspelt center is one problem, not also a service without a standby node",
        (c) => (c.hosts[2].center = "stanby"),
        [{ path: "hosts[2].center", message: '"stanby" is not one of primary, standby' }],
    ],
    [
        "a cloud node type listed as a service",
        (c) => c.hosts[0].services.push("gateway"),
        [{ path: "hosts[0].services[3]", message: 'unknown service "gateway"' }],
    ],
    [
        "a service listed twice on a host",
        (c) => c.hosts[1].services.push("cloud"),
        [{ path: "hosts[1].services[3]", message: '"cloud" is listed twice on host "B"' }],
    ],
    ["a duplicate host name", (c) => (c.hosts[2].name = "A"), [{ path: "hosts[2].name", message: 'duplicate host name "A" (also hosts[0])' }]],
    [
        "a duplicate address and port",
        (c) => (c.hosts[3].address = "10.0.0.2"),
        [{ path: "hosts[3].address", message: 'address 10.0.0.2 port 22 is already used by host "B" (hosts[1])' }],
    ],
    [
        "a duplicate address through a per-host port equal to the default",
        (c) => Object.assign(c.hosts[3], { address: "10.0.0.2", ssh: { port: 22 } }),
        [{ path: "hosts[3].address", message: 'address 10.0.0.2 port 22 is already used by host "B" (hosts[1])' }],
    ],
    [
        "an address with a user",
        (c) => (c.hosts[0].address = "scmadmin@10.0.0.1"),
        [{ path: "hosts[0].address", message: '"scmadmin@10.0.0.1" contains a user' }],
    ],
    ["an address with a port", (c) => (c.hosts[0].address = "10.0.0.1:2222"), [{ path: "hosts[0].address", message: '"10.0.0.1:2222" contains a port' }]],
    ["an unknown center", (c) => (c.hosts[1].center = "backup"), [{ path: "hosts[1].center", message: '"backup" is not one of primary, standby' }]],
    [
        "a service with no standby node",
        (c) => (c.hosts[2].services = ["cloud", "content-server"]),
        [{ path: "hosts[0].services[1]", message: "config-server runs on primary host A but on no standby host" }],
    ],
    [
        "a service with no primary node",
        (c) => (c.hosts[1].services = ["cloud", "content-server"]),
        [{ path: "hosts[3].services[1]", message: "schedule-server runs on standby host D but on no primary host" }],
    ],
    [
        "a service on hosts but not in serviceOrder",
        (c) => (c.serviceOrder = ["cloud", "config-server", "content-server"]),
        [
            { path: "hosts[1].services[1]", message: '"schedule-server" is not in serviceOrder, so it would never be upgraded' },
            { path: "hosts[3].services[1]", message: '"schedule-server" is not in serviceOrder, so it would never be upgraded' },
        ],
    ],
    [
        "a misspelt and a repeated service in serviceOrder",
        (c) => (c.serviceOrder = ["cloud", "config", "content-server", "schedule-server", "cloud"]),
        [
            { path: "serviceOrder[1]", message: 'unknown service "config"' },
            { path: "serviceOrder[4]", message: '"cloud" is listed twice (also serviceOrder[0])' },
        ],
    ],
    ["an empty serviceOrder", (c) => (c.serviceOrder = []), [{ path: "serviceOrder", message: "is empty" }]],
    [
        "a content-server host without a site",
        (c) => delete c.hosts[3].site,
        [{ path: "hosts[3].site", message: 'host "D" runs content-server but has no site' }],
    ],
    [
        "no root site",
        (c) => (c.hosts[0].rootSite = c.hosts[2].rootSite = false),
        [{ path: "hosts", message: "no root site: none of the content-server hosts (A, B, C, D) sets rootSite; sites: rootSite, branchSite1" }],
    ],
    [
        "two root sites",
        (c) => (c.hosts[1].rootSite = c.hosts[3].rootSite = true),
        [{ path: "hosts", message: "more than one root site: rootSite (A, C), branchSite1 (B, D)" }],
    ],
    [
        "a site that is root on one host and branch on another",
        (c) => (c.hosts[2].rootSite = false),
        [{ path: "hosts[2].rootSite", message: 'site "rootSite" is the root site on A but a branch site on host "C"' }],
    ],
    [
        "rootSite on a host without content-server",
        (c) => c.hosts.push({ name: "E", address: "10.0.0.5", center: "primary", services: ["cloud"], rootSite: true }),
        [{ path: "hosts[4].rootSite", message: 'host "E" sets rootSite but runs no content-server' }],
    ],
    [
        "a site on a host without content-server",
        (c) => c.hosts.push({ name: "E", address: "10.0.0.5", center: "standby", services: ["cloud"], site: "rootSite" }),
        [{ path: "hosts[4].site", message: 'host "E" has a site but runs no content-server' }],
    ],
    ["no hosts", (c) => (c.hosts = []), [{ path: "hosts", message: "lists no hosts" }]],
    ["parallelism 0", (c) => (c.parallelism = 0), [{ path: "parallelism", message: "0 is not a whole number of 1 or more" }]],
    ["a fractional parallelism", (c) => (c.parallelism = 1.5), [{ path: "parallelism", message: "1.5 is not a whole number of 1 or more" }]],
    ["parallelism as text", (c) => (c.parallelism = "2"), [{ path: "parallelism", message: 'must be a number, not the text "2"' }]],
    ["a health timeout too short", (c) => (c.healthTimeoutSeconds = 4), [{ path: "healthTimeoutSeconds", message: "4 is out of range" }]],
    ["a health timeout too long", (c) => (c.healthTimeoutSeconds = 3601), [{ path: "healthTimeoutSeconds", message: "3601 is out of range" }]],
    ["a negative stable time", (c) => (c.healthStableSeconds = -1), [{ path: "healthStableSeconds", message: "-1 is out of range" }]],
    ["a stable time of a fraction", (c) => (c.healthStableSeconds = 2.5), [{ path: "healthStableSeconds", message: "2.5 is out of range" }]],
    ["an unknown sitePolicy", (c) => (c.sitePolicy = "site_first"), [{ path: "sitePolicy", message: '"site_first" is not one of site-first, center-first' }]],
    ["an unknown become", (c) => (c.become = "sudoo"), [{ path: "become", message: '"sudoo" is not one of login, sudo, su' }]],
    [
        "become sudo without a separate SSH user",
        (c) => (c.become = "sudo"),
        [{ path: "ssh.user", message: 'become is sudo, but the SSH user defaults to the install user "scmadmin" (ssh.user is not set)' }],
    ],
    [
        "become login with another SSH user",
        (c) => (c.ssh = { user: "ops" }),
        [{ path: "ssh.user", message: 'become is login, so the SSH user must be the install user "scmadmin", but the SSH user is "ops"' }],
    ],
    [
        "become su from a user that is not root",
        (c) => Object.assign(c, { become: "su", ssh: { user: "ops" } }),
        [{ path: "ssh.user", message: 'become is su, which needs the SSH user to be root (su asks any other user for a password), but the SSH user is "ops"' }],
    ],
    [
        "become sudo with one host logging in as the install user",
        (c) => {
            Object.assign(c, { become: "sudo", ssh: { user: "ops" } });
            c.hosts[1].ssh = { user: "scmadmin" };
        },
        [{ path: "hosts[1].ssh.user", message: 'become is sudo, but the SSH user is the install user "scmadmin" itself' }],
    ],
    ["an SSH port out of range", (c) => (c.ssh = { port: 0 }), [{ path: "ssh.port", message: "0 is not a port number" }]],
    [
        "a host watch too quick to tell a busy host from a hung one",
        (c) => (c.ssh = { unansweredSeconds: 2 }),
        [{ path: "ssh.unansweredSeconds", message: "2 is out of range" }],
    ],
    ["an unreadable key file", (c) => (c.ssh = { privateKeyFile: "/keys/missing" }), [{ path: "ssh.privateKeyFile", message: 'cannot read "/keys/missing"' }]],
    [
        "an unreadable per-host key file under ~",
        (c) => (c.hosts[1].ssh = { privateKeyFile: "~/.ssh/id_rsa" }),
        [{ path: "hosts[1].ssh.privateKeyFile", message: 'cannot read "~/.ssh/id_rsa" (/home/op/.ssh/id_rsa)' }],
    ],
    ["a missing upgrade script", (c) => (c.upgradeScript = "/tools/missing.py"), [{ path: "upgradeScript", message: 'no file at "/tools/missing.py"' }]],
    ["a misspelt top-level key", (c) => (c.hostz = []), [{ path: "hostz", message: 'unknown key "hostz"' }]],
    ["a misspelt host key", (c) => (c.hosts[0].rootsite = true), [{ path: "hosts[0].rootsite", message: 'unknown key "rootsite"' }]],
    ["a misspelt bastion key", (c) => (c.ssh = { bastion: { host: "jump", prt: 22 } }), [{ path: "ssh.bastion.prt", message: 'unknown key "prt"' }]],
    ["a missing host field", (c) => delete c.hosts[1].address, [{ path: "hosts[1].address", message: "is missing" }]],
    ["services as a string", (c) => (c.hosts[0].services = "cloud"), [{ path: "hosts[0].services", message: 'must be a list, not the text "cloud"' }]],
    ["a missing package", (c) => delete c.package, [{ path: "package", message: "is missing" }]],
];

describe("an invalid config is refused, naming the field", () => {
    test("the table holds more than 20 distinct cases", () => {
        expect(new Set(invalid.map(([title]) => title)).size).toBe(invalid.length);
        expect(invalid.length).toBeGreaterThan(20);
    });

    test.each(invalid)("%s", (_title, change, expected) => {
        const problems = problemsOf(withSeed(change));
        expect(problems.map(({ path, message }) => ({ path, message }))).toEqual(expected);
        for (const p of problems) expect(p.fix.length).toBeGreaterThan(10);
    });
});

describe("paths on the hosts are limited to a safe character set", () => {
    test("the injection config of issue 13 is refused, naming the field and the fix", () => {
        const problems = problemsOf(withSeed((c) => (c.stagingDir = '/tmp/x"$(echo INJECTED-RAN >&2)"')));
        expect(problems).toEqual([
            {
                path: "stagingDir",
                message: String.raw`"/tmp/x\"$(echo INJECTED-RAN >&2)\"" contains "\"", "$", "(", a space, ">", "&", ")", which the shell commands of scmupgrade.py cannot take`,
                fix: "use only letters, digits and . _ - + @ , = / in paths on the hosts, such as /opt/scm_upgrade",
            },
        ]);
    });

    test.each([
        ["installRoot", (c: Record<string, any>) => (c.installRoot = "/opt/seq`id`")],
        ["hosts[1].stagingDir", (c: Record<string, any>) => (c.hosts[1].stagingDir = "/opt/a;b")],
        ["hosts[2].installRoot", (c: Record<string, any>) => (c.hosts[2].installRoot = "/opt/it's")],
        ["package.remotePath", (c: Record<string, any>) => (c.package = { remotePath: "/tmp/my release.tar.gz" })],
        ["stagingDir", (c: Record<string, any>) => (c.stagingDir = "/opt/ünï")],
    ])("%s with a shell character is refused", (field, change) => {
        const problems = problemsOf(withSeed(change));
        expect(problems.map((p) => p.path)).toEqual([field]);
        expect(problems[0].message).toMatch(/which the shell commands of scmupgrade\.py cannot take$/);
    });

    test("ordinary paths pass", () => {
        const c = accepted(
            withSeed((x) => {
                x.stagingDir = "/data/scm_upgrade-3.2.0+x@y,z=1";
                x.installRoot = "/opt/sequoiacm";
            }),
        );
        expect(c.stagingDir).toBe("/data/scm_upgrade-3.2.0+x@y,z=1");
    });
});

describe("fixes", () => {
    test("a two-part version is told to use X.Y.Z", () => {
        expect(problemsOf(withSeed((c) => (c.targetVersion = "3.2")))).toEqual([
            { path: "targetVersion", message: 'bad version "3.2"', fix: "use X.Y.Z such as 3.2.0" },
        ]);
    });

    test("an unknown service gets the closest valid name", () => {
        expect(problemsOf(withSeed((c) => (c.hosts[2].services[0] = "clod")))).toEqual([
            {
                path: "hosts[2].services[0]",
                message: 'unknown service "clod"',
                fix: 'did you mean "cloud"? Use one of cloud, config-server, content-server, schedule-server, fulltext-server, mq-server, om-server, s3-server, daemon',
            },
        ]);
    });

    test("a node type listed as a service is pointed to its service", () => {
        expect(problemsOf(withSeed((c) => (c.hosts[0].services[0] = "gateway")))[0].fix).toBe(
            '"gateway" is a node type of cloud: list "cloud" (scmupgrade.py upgrades all its node types at once)',
        );
    });

    test("a misspelt key gets the closest known key", () => {
        expect(problemsOf(withSeed((c) => (c.hosts[0].rootsite = true)))[0].fix).toBe(
            'did you mean "rootSite"? Known keys here: name, address, center, services, site, rootSite, ssh, installRoot, stagingDir',
        );
    });

    test("a name far from every key is told to remove it", () => {
        expect(problemsOf(withSeed((c) => (c.package.checksum = "abc")))).toEqual([
            { path: "package.checksum", message: 'unknown key "checksum"', fix: "remove it; known keys here: localPath, remotePath" },
        ]);
    });
});

describe("every problem is listed at once", () => {
    test("a config with many mistakes lists them all, in config order", () => {
        const raw = {
            targetVersion: "3.2",
            become: "sudoo",
            parallelism: 0,
            healthTimeoutSeconds: 99999,
            hostz: 1,
            package: { localPath: "/pkg/missing.tar.gz" },
            ssh: { port: 70000, bastion: { host: "jump", prt: 2 } },
            hosts: [
                { name: "A", address: "10.0.0.1", center: "primary", services: ["clod", "config-server", "content-server"], site: "rootSite", rootSite: true },
                { name: "A", address: "10.0.0.2", center: "middle", services: ["cloud", "schedule-server", "content-server"] },
                { name: "C", address: "10.0.0.3", center: "standby", services: ["cloud", "config-server"], rootSite: true },
                {
                    name: "D",
                    address: "10.0.0.4",
                    center: "standby",
                    services: ["cloud", "mq-server", "content-server"],
                    site: "rootSite",
                    installRoot: "opt/x",
                },
            ],
            serviceOrder: ["cloud", "config-server", "content-server", "schedule-server", "mq-server", "cloud"],
        };
        expect(problemsOf(raw).map((p) => `${p.path}: ${p.message}`)).toEqual([
            'targetVersion: bad version "3.2"',
            'package.localPath: no file at "/pkg/missing.tar.gz"',
            'become: "sudoo" is not one of login, sudo, su',
            'ssh.bastion.prt: unknown key "prt"',
            "ssh.port: 70000 is not a port number",
            'hosts[0].services[0]: unknown service "clod"',
            'hosts[1].center: "middle" is not one of primary, standby',
            'hosts[1].name: duplicate host name "A" (also hosts[0])',
            'hosts[1].site: host "A" runs content-server but has no site',
            'hosts[2].rootSite: host "C" sets rootSite but runs no content-server',
            'hosts[3].installRoot: "opt/x" is not an absolute path',
            'hosts[3].rootSite: site "rootSite" is the root site on A but a branch site on host "D"',
            "hosts[3].services[1]: mq-server runs on standby host D but on no primary host",
            'serviceOrder[5]: "cloud" is listed twice (also serviceOrder[0])',
            "parallelism: 0 is not a whole number of 1 or more",
            "healthTimeoutSeconds: 99999 is out of range",
            'hostz: unknown key "hostz"',
        ]);
    });

    test("no config at all, and an empty one", () => {
        expect(problemsOf(undefined)).toEqual([
            {
                path: "scm-upgrade",
                message: "no configuration is set",
                fix: "set at least scm-upgrade:package and scm-upgrade:hosts in the stack file (see docs/architecture.md)",
            },
        ]);
        expect(problemsOf({}).map((p) => `${p.path}: ${p.message}`)).toEqual(["package: is missing", "hosts: is missing"]);
    });
});

describe("SSH credentials, when the caller says which secrets are set", () => {
    test("no key file and no secret: every host is named", () => {
        expect(problemsOf(seed(), { ...files, secretsPresent: [] })).toEqual([
            {
                path: "ssh",
                message: "no SSH credential for hosts A, B, C, D",
                fix: "set ssh.privateKeyFile (or the host's ssh.privateKeyFile), or store a key or a password as a secret: scm-upgrade secret sshPrivateKey --stack <stack> --from <key file> (or scm-upgrade secret sshPassword --stack <stack>)",
            },
        ]);
    });

    test("a per-host key file covers only its host", () => {
        const raw = withSeed((c) => (c.hosts[0].ssh = { privateKeyFile: KEY }));
        expect(problemsOf(raw, { ...files, secretsPresent: [] }).map((p) => p.message)).toEqual(["no SSH credential for hosts B, C, D"]);
    });

    test.each([
        ["the key secret", ["sshPrivateKey"], {}],
        ["the password secret", ["sshPassword"], {}],
        ["a global key file", [], { ssh: { privateKeyFile: KEY } }],
    ] as const)("%s is enough", (_t, secrets, extra) => {
        expect(accepted({ ...seed(), ...extra }, { ...files, secretsPresent: secrets }).hosts).toHaveLength(4);
    });

    test("a passphrase without any key is refused", () => {
        expect(problemsOf(seed(), { ...files, secretsPresent: ["sshPassword", "sshPrivateKeyPassphrase"] })).toEqual([
            {
                path: "sshPrivateKeyPassphrase",
                message: "sshPrivateKeyPassphrase is set but no private key is configured",
                fix: "set the key too (ssh.privateKeyFile or the sshPrivateKey secret), or remove the passphrase",
            },
        ]);
    });
});

describe("formatProblems", () => {
    test("one line per problem under a header naming the stack file", () => {
        const problems = problemsOf(withSeed((c) => Object.assign(c, { targetVersion: "3.2", parallelism: 0 })));
        expect(formatProblems(problems, "stacks/Pulumi.prod.yaml")).toBe(
            [
                "stacks/Pulumi.prod.yaml: the scm-upgrade configuration has 2 problems; no host was touched:",
                '  - targetVersion: bad version "3.2". Fix: use X.Y.Z such as 3.2.0',
                "  - parallelism: 0 is not a whole number of 1 or more. Fix: set parallelism to how many nodes of one wave upgrade at once: 1 or more (default 1)",
            ].join("\n"),
        );
    });

    test("the default header and the singular", () => {
        expect(formatProblems([{ path: "hosts", message: "lists no hosts", fix: "list them" }])).toBe(
            "stacks/Pulumi.<stack>.yaml: the scm-upgrade configuration has 1 problem; no host was touched:\n  - hosts: lists no hosts. Fix: list them",
        );
        expect(formatProblems([{ path: "p", message: "m", fix: "f" }], { stackFile: "x.yaml" }).split("\n")[0]).toBe(
            "x.yaml: the scm-upgrade configuration has 1 problem; no host was touched:",
        );
    });
});

describe("effectiveHost", () => {
    test("per-host overrides win over SSH defaults, which win over the install user", () => {
        const config = accepted(
            withSeed((c) => {
                Object.assign(c, { become: "sudo", ssh: { user: "ops", port: 2222, privateKeyFile: KEY, bastion: { host: "jump" } } });
                c.hosts[1].ssh = { user: "admin", port: 2022 };
                c.hosts[1].installRoot = "/srv/sequoiacm";
                c.hosts[1].stagingDir = "/srv/scm_upgrade";
            }),
        );
        expect(effectiveHost(config, config.hosts[0])).toEqual({
            name: "A",
            address: "10.0.0.1",
            center: "primary",
            services: ["cloud", "config-server", "content-server"],
            site: "rootSite",
            rootSite: true,
            user: "ops",
            port: 2222,
            privateKeyFile: KEY,
            installRoot: "/opt/sequoiacm",
            stagingDir: "/opt/scm_upgrade",
            bastion: { host: "jump", port: 22, user: "ops" },
        });
        expect(effectiveHost(config, config.hosts[1])).toMatchObject({
            user: "admin",
            port: 2022,
            privateKeyFile: KEY,
            installRoot: "/srv/sequoiacm",
            stagingDir: "/srv/scm_upgrade",
            bastion: { host: "jump", port: 22, user: "admin" },
        });
    });

    test("with no SSH settings the user is the install user, port 22, no key file", () => {
        const config = accepted(seed());
        const e = effectiveHost(config, config.hosts[3]);
        expect([e.user, e.port, e.privateKeyFile, e.bastion]).toEqual(["scmadmin", 22, undefined, undefined]);
    });
});

/** The seed as `pulumi config --json` / getAllConfig() shows it: strings, JSON text for objects and lists. */
function seedMap(): Record<string, string> {
    const s = seed();
    return {
        "scm-upgrade:targetVersion": "3.2.0",
        "scm-upgrade:package": JSON.stringify(s.package),
        "scm-upgrade:hosts": JSON.stringify(s.hosts),
        "scm-upgrade:parallelism": "2",
        "scm-upgrade:rollbackOnHealthFailure": "true",
        "scm-upgrade:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY----- not read",
        "command:someSetting": "belongs to another namespace",
    };
}

describe("loading from Pulumi config values", () => {
    test("a flat map of strings decodes JSON values and validates", () => {
        const r = loadFromConfigMap(seedMap(), files);
        if (!r.ok) throw new Error(formatProblems(r.problems));
        expect(r.config.hosts.map((h) => h.name)).toEqual(["A", "B", "C", "D"]);
        expect(r.config.parallelism).toBe(2);
        expect(r.config.rollbackOnHealthFailure).toBe(true);
        expect(r.config.targetVersion).toBe("3.2.0");
    });

    test("the { value, secret, objectValue } entries of pulumi config --json", () => {
        const map = Object.fromEntries(
            Object.entries(seedMap()).map(([k, v]) =>
                k.endsWith("sshPrivateKey")
                    ? [k, { secret: true }]
                    : k.endsWith(":hosts")
                      ? [k, { value: v, objectValue: JSON.parse(v), secret: false }]
                      : [k, { value: v }],
            ),
        );
        const r = loadFromConfigMap(map, files);
        expect(r.ok).toBe(true);
    });

    test("the secret keys present in the map feed the credential check", () => {
        const map = seedMap();
        delete map["scm-upgrade:sshPrivateKey"];
        const r = loadFromConfigMap(map, files);
        expect(r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual(["ssh: no SSH credential for hosts A, B, C, D"]);
        map["scm-upgrade:sshPassword"] = "secret";
        expect(loadFromConfigMap(map, files).ok).toBe(true);
    });

    test("invalid JSON is one problem at its key, other problems still listed", () => {
        const map = { ...seedMap(), "scm-upgrade:hosts": "[{name: A}", "scm-upgrade:targetVersion": "3.2", "scm-upgrade:hostz": "x" };
        const r = loadFromConfigMap(map, files);
        expect(r.ok ? [] : r.problems.map((p) => p.path)).toEqual(["hosts", "targetVersion", "hostz"]);
        expect(r.ok ? "" : r.problems[0].message).toMatch(/^is not valid JSON \(.+\): \[\{name: A\}$/);
    });

    test("a scalar that is not JSON stays text, and the schema names its type", () => {
        const r = loadFromConfigMap({ ...seedMap(), "scm-upgrade:parallelism": "two" }, files);
        expect(r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual(['parallelism: must be a number, not the text "two"']);
    });
});
