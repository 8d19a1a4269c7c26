import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    allServiceSpecs,
    closestServiceName,
    DEFAULT_SERVICE_ORDER,
    serviceControlScriptPath,
    serviceInstallPath,
    serviceJarDir,
    serviceOfNodeType,
    serviceSpec,
    SERVICE_NAMES,
    ServiceName,
} from "../../lib/services";
import { compareVersions, isStrictVersion, parseVersion } from "../../lib/versions";
import { installedVersionFn, serviceFilesOf } from "../../lib/shell";

const CLOUD_JARS = (v: string) => [
    `sequoiacm-cloud-servicecenter-${v}.jar`,
    `sequoiacm-cloud-gateway-${v}.jar`,
    `sequoiacm-cloud-authserver-${v}.jar`,
    `sequoiacm-cloud-adminserver-${v}.jar`,
    `sequoiacm-cloud-servicetrace-${v}.jar`,
];

describe("version strings", () => {
    test.each([
        ["3.2.0", true],
        ["3.1.2", true],
        ["10.0.11", true],
        ["3.2", false],
        ["v3.2.0", false],
        ["3.2.0-SNAPSHOT", false],
        ["03.2.0", false],
        ["3.2.0.1", false],
        [" 3.2.0", false],
        ["", false],
    ])("isStrictVersion(%j) is %s", (s, expected) => {
        expect(isStrictVersion(s)).toBe(expected);
    });

    test("isStrictVersion refuses non-strings", () => {
        expect(isStrictVersion(3.2)).toBe(false);
        expect(isStrictVersion(undefined)).toBe(false);
    });

    test("parseVersion", () => {
        expect(parseVersion("3.2.0")).toEqual({ major: 3, minor: 2, patch: 0 });
        expect(parseVersion("3.2.0-SNAPSHOT")).toEqual({ major: 3, minor: 2, patch: 0, pre: "SNAPSHOT" });
        expect(parseVersion("3.2")).toBeUndefined();
        expect(parseVersion("3.2.x")).toBeUndefined();
    });

    test.each([
        ["3.1.2", "3.2.0", -1],
        ["3.2.0", "3.1.2", 1],
        ["3.2.0", "3.2.0", 0],
        ["3.9.9", "3.10.0", -1],
        ["3.2.10", "3.2.9", 1],
        ["4.0.0", "3.99.99", 1],
        ["3.2.0-SNAPSHOT", "3.2.0", -1],
        ["3.2.0", "3.2.0-SNAPSHOT", 1],
        ["3.2.0-rc.2", "3.2.0-rc.10", -1],
        ["3.2.0-rc.1", "3.2.0-rc.1", 0],
    ])("compareVersions(%s, %s) = %d", (a, b, expected) => {
        expect(compareVersions(a, b)).toBe(expected);
    });

    test("compareVersions refuses what is not a version", () => {
        expect(() => compareVersions("3.2", "3.2.0")).toThrow('"3.2" is not a version: use X.Y.Z such as 3.2.0.');
        expect(() => compareVersions("3.2.0", "latest")).toThrow('"latest" is not a version: use X.Y.Z such as 3.2.0.');
    });
});

// The hosts read a service's version with the shell function `installed_version` (lib/shell.ts); these
// cases run that very function with bash over folders holding the jar names.
describe("installed version from jar names (the shell function the hosts run)", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-jars-"));
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
    let n = 0;
    function installed(service: ServiceName, jars: string[]): string {
        const install = path.join(tmp, String(n++));
        const dir = path.join(install, serviceSpec(service).jarFolder);
        fs.mkdirSync(dir, { recursive: true });
        for (const j of jars) fs.writeFileSync(path.join(dir, j), "");
        const script = `${installedVersionFn(serviceFilesOf(service))}\ninstalled_version "$1"`;
        return execFileSync("bash", ["-c", script, "bash", install], { encoding: "utf8" }).trim();
    }

    test("config-server at 3.1.2, other jars ignored", () => {
        expect(installed("config-server", ["sequoiacm-config-server-3.1.2.jar", "spring-core-4.3.9.jar", "README"])).toBe("3.1.2");
    });

    test("cloud: all five component jars agree", () => {
        expect(installed("cloud", [...CLOUD_JARS("3.2.0"), "sequoiacm-cloud-tools-3.2.0.jar"])).toBe("3.2.0");
    });

    test("cloud: one jar left at the old version is mixed", () => {
        expect(installed("cloud", [...CLOUD_JARS("3.2.0").slice(0, 4), "sequoiacm-cloud-servicetrace-3.1.2.jar"])).toBe("mixed");
    });

    test("two jars of the same component at two versions are mixed too", () => {
        expect(installed("schedule-server", ["sequoiacm-schedule-server-3.2.0.jar", "sequoiacm-schedule-server-3.1.2.jar"])).toBe("mixed");
    });

    test("cloud: a partial set still tells its version", () => {
        expect(installed("cloud", ["sequoiacm-cloud-gateway-3.1.2.jar"])).toBe("3.1.2");
    });

    test("content-server: a look-alike dependency is ignored", () => {
        expect(installed("content-server", ["sequoiacm-content-server-3.2.0.jar", "sequoiacm-content-server-common-3.1.2.jar", "hbase_transwarp"])).toBe(
            "3.2.0",
        );
    });

    test("no jar of the service: none, and another service's jars do not count", () => {
        expect(installed("schedule-server", ["sequoiacm-config-server-3.1.2.jar"])).toBe("none");
        expect(installed("schedule-server", [])).toBe("none");
    });

    test("a development build keeps its suffix, which is not the release", () => {
        expect(installed("config-server", ["sequoiacm-config-server-3.2.0-SNAPSHOT.jar"])).toBe("3.2.0-SNAPSHOT");
    });

    test("om-server and daemon use the jar names SequoiaCM's own tools look for", () => {
        expect(installed("om-server", ["sequoiacm-om-omserver-3.1.2.jar"])).toBe("3.1.2");
        expect(installed("daemon", ["sequoiacm-daemon-tools-3.1.3.jar"])).toBe("3.1.3");
    });

    test("a jar name with shell syntax is only a name", () => {
        expect(installed("config-server", ["sequoiacm-config-server-$(touch x).jar", "sequoiacm-config-server-3.1.2.jar"])).toBe("3.1.2");
        expect(fs.existsSync("x")).toBe(false);
    });
});

describe("the service catalogue", () => {
    test("every service of scmupgrade.py, in the reference's order", () => {
        expect([...SERVICE_NAMES]).toEqual([
            "cloud",
            "config-server",
            "content-server",
            "schedule-server",
            "fulltext-server",
            "mq-server",
            "om-server",
            "s3-server",
            "daemon",
        ]);
        expect([...DEFAULT_SERVICE_ORDER]).toEqual(["cloud", "config-server", "content-server", "schedule-server"]);
    });

    test("folders, control scripts and all-nodes options of reference section 2", () => {
        expect(allServiceSpecs().map((s) => [s.name, s.installFolder, s.jarFolder, s.controlScript, s.allNodesArgs.join(" ")])).toEqual([
            ["cloud", "sequoiacm-cloud", "jars", "scmcloudctl.sh", "-t all"],
            ["config-server", "sequoiacm-config", "jars", "confctl.sh", "-t all"],
            ["content-server", "sequoiacm-content", "lib", "scmctl.sh", "--all"],
            ["schedule-server", "sequoiacm-schedule", "jars", "schctl.sh", "-t all"],
            ["fulltext-server", "sequoiacm-fulltext", "jars", "ftctl.sh", "-t all"],
            ["mq-server", "sequoiacm-mq", "jars", "mqctl.sh", "-t all"],
            ["om-server", "sequoiacm-om", "jars", "omctl.sh", "-t all"],
            ["s3-server", "sequoiacm-s3", "jars", "s3ctl.sh", "-t all"],
            ["daemon", "daemon", "jars", "scmd.sh", ""],
        ]);
    });

    test("node types and default ports", () => {
        expect(serviceSpec("cloud").nodeTypes).toEqual([
            { type: "service-center", defaultPort: 8800 },
            { type: "gateway", defaultPort: 8080 },
            { type: "auth-server", defaultPort: 8810 },
            { type: "admin-server", defaultPort: 8900 },
            { type: "service-trace", defaultPort: 8890 },
        ]);
        expect(
            Object.fromEntries(
                allServiceSpecs()
                    .filter((s) => s.name !== "cloud")
                    .map((s) => [s.name, s.nodeTypes.map((t) => t.defaultPort)]),
            ),
        ).toEqual({
            "config-server": [8190],
            "content-server": [15000],
            "schedule-server": [8910],
            "fulltext-server": [8610],
            "mq-server": [8710],
            "om-server": [9000],
            "s3-server": [16000],
            daemon: [undefined],
        });
    });

    test("jar names: the four of the reference, the rest marked as read from SequoiaCM's source", () => {
        expect(allServiceSpecs().map((s) => [s.name, s.jarNameSource, s.jarPatterns.length])).toEqual([
            ["cloud", "reference", 5],
            ["config-server", "reference", 1],
            ["content-server", "reference", 1],
            ["schedule-server", "reference", 1],
            ["fulltext-server", "upstream-source", 1],
            ["mq-server", "upstream-source", 1],
            ["om-server", "upstream-source", 1],
            ["s3-server", "upstream-source", 1],
            ["daemon", "upstream-source", 1],
        ]);
    });

    test("paths on a host", () => {
        expect(serviceInstallPath("/opt/sequoiacm/", "cloud")).toBe("/opt/sequoiacm/sequoiacm-cloud");
        expect(serviceJarDir("/opt/sequoiacm", "content-server")).toBe("/opt/sequoiacm/sequoiacm-content/lib");
        expect(serviceControlScriptPath("/opt/sequoiacm", "schedule-server")).toBe("/opt/sequoiacm/sequoiacm-schedule/bin/schctl.sh");
    });

    test("suggestions", () => {
        expect(closestServiceName("clod")).toBe("cloud");
        expect(closestServiceName("config")).toBe("config-server");
        expect(closestServiceName("contentserver")).toBe("content-server");
        expect(closestServiceName("s3")).toBe("s3-server");
        expect(closestServiceName("kafka")).toBeUndefined();
        expect(serviceOfNodeType("gateway")).toBe("cloud");
        expect(serviceOfNodeType("service-center")).toBe("cloud");
        expect(serviceOfNodeType("content-server")).toBe("content-server");
        expect(serviceOfNodeType("kafka")).toBeUndefined();
    });
});
