import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { asInstallUser, installedVersionFn, parseMarkers, renderKeptNode, renderServiceUpgrade, renderUnpack, serviceFilesOf, shQuote } from "../../lib/shell";

// The shell texts run for real, locally, with bash: quoting, the success rules of the upgrade
// (the exit-0 trap above all), the skip of an upgraded node. No SSH needed for these.

const run = (cmd: string) => spawnSync("bash", ["-c", cmd], { encoding: "utf8" });

describe("renderKeptNode", () => {
    test("fails with the reason in its markers and on stderr, and runs nothing else", () => {
        const r = run(renderKeptNode("host 'B'", "content-server"));
        expect(r.status).toBe(1);
        const { values } = parseMarkers(r.stdout);
        expect(values.result).toBe("failed");
        expect(values.reason).toBe(
            "content-server on host 'B' is in the center this run leaves alone, and the state no longer held it when the run reached it (another run changed the state): nothing was done on host 'B'; run again",
        );
        expect(r.stderr).toContain(`ERROR: ${values.reason}`);
        expect(renderKeptNode("B", "cloud")).not.toMatch(/scmupgrade|scmctl|\$ctl/);
    });
});

describe("shQuote", () => {
    test.each(["plain", "with space", "it's", "$HOME `id` $(id)", "new\nline", "*?[glob]", "", "-n", "a'b\"c\\d"])("bash reads %j back unchanged", (value) => {
        const r = run(`printf '%s' ${shQuote(value)}`);
        expect(r.stdout).toBe(value);
    });
    test("plain words stay unquoted, others are single-quoted", () => {
        expect(shQuote("/opt/sequoiacm")).toBe("/opt/sequoiacm");
        expect(shQuote("/opt/my dir")).toBe("'/opt/my dir'");
        expect(shQuote("it's")).toBe(`'it'\\''s'`);
    });
});

describe("asInstallUser", () => {
    test("login runs the script directly, sudo and su switch to the install user", () => {
        expect(asInstallUser("echo hi", "login", "scmadmin")).toBe("bash -c 'echo hi'");
        expect(asInstallUser("echo hi", "sudo", "scmadmin")).toBe("sudo -n -H -u scmadmin -- bash -c 'echo hi'");
        expect(asInstallUser("echo hi", "su", "scm admin")).toBe("su -s /bin/bash 'scm admin' -c 'echo hi'");
    });
});

/** A fake host: an install folder with 3.1.2 jars, a control script, a staged fake scmupgrade.py. */
function fakeHost(behaviour: "success" | "exit0-trap" | "exit1" | "no-version-change") {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "scm shell test "));
    const install = path.join(root, "opt", "sequoia cm");
    const staging = path.join(root, "opt", "scm upgrade");
    const jars = path.join(install, "sequoiacm-config", "jars");
    fs.mkdirSync(jars, { recursive: true });
    fs.writeFileSync(path.join(jars, "sequoiacm-config-server-3.1.2.jar"), "");
    const bin = path.join(install, "sequoiacm-config", "bin");
    fs.mkdirSync(bin);
    // `list` exits 1 when nothing is listed, like the real control scripts.
    fs.writeFileSync(path.join(bin, "confctl.sh"), '#!/bin/bash\n[ "$1" = list ] && exit 1\nexit 0\n', { mode: 0o755 });
    const pkg = path.join(staging, "sequoiacm");
    fs.mkdirSync(pkg, { recursive: true });
    const ran = path.join(root, "ran");
    const body: Record<typeof behaviour, string> = {
        success: `mv "$jars/sequoiacm-config-server-3.1.2.jar" "$jars/sequoiacm-config-server-3.2.0.jar"; echo "[INFO] upgrade success!"; exit 0`,
        "exit0-trap": `echo "[INFO] replace the new version of the resource package"; echo "mv: cannot move" >&2; exit 0`,
        exit1: `echo "[ERROR] start node failed! check and restart node"; exit 1`,
        "no-version-change": `echo "[INFO] upgrade success!"; exit 0`,
    };
    fs.writeFileSync(
        path.join(pkg, "scmupgrade.py"),
        `#!/bin/bash\necho "$@" >> ${shQuote(ran)}\njars=${shQuote(jars)}\necho "[INFO] untar the service installation package"\n${body[behaviour]}\n`,
        { mode: 0o755 },
    );
    return { root, install: path.join(root, "opt", "sequoia cm"), staging, jars, ran };
}

function upgradeScript(h: ReturnType<typeof fakeHost>) {
    return renderServiceUpgrade({
        host: "C",
        healthAddress: "127.0.0.1",
        installRoot: h.install,
        stagingDir: h.staging,
        installUser: os.userInfo().username,
        become: "login",
        targetVersion: "3.2.0",
        service: serviceFilesOf("config-server"),
        healthTimeoutSeconds: 5,
        rollbackOnHealthFailure: false,
    });
}

describe("renderServiceUpgrade, run for real on a fake host (paths with spaces)", () => {
    test("success: success line and jars at the target", () => {
        const h = fakeHost("success");
        const r = run(upgradeScript(h));
        expect(r.status).toBe(0);
        const m = parseMarkers(r.stdout).values;
        expect(m).toMatchObject({ "version-before": "3.1.2", "version-after": "3.2.0", result: "upgraded" });
        expect(fs.readFileSync(h.ran, "utf8").trim()).toBe(`--service config-server --install-path ${h.install}/sequoiacm-config --start`);
    });

    test("the exit-0 trap: exit status 0 without the success line is a failure", () => {
        const h = fakeHost("exit0-trap");
        const r = run(upgradeScript(h));
        expect(r.status).toBe(1);
        const m = parseMarkers(r.stdout).values;
        expect(m.result).toBe("failed");
        expect(m.reason).toBe("scmupgrade.py did not print upgrade success! (exit status 0)");
        // The last lines of the script's output go to stderr, for the operator.
        expect(r.stderr).toContain("| [INFO] replace the new version of the resource package");
    });

    test("exit 1 is a failure with its status", () => {
        const h = fakeHost("exit1");
        const r = run(upgradeScript(h));
        expect(r.status).toBe(1);
        expect(parseMarkers(r.stdout).values.reason).toBe("scmupgrade.py did not print upgrade success! (exit status 1)");
        expect(r.stderr).toContain("| [ERROR] start node failed! check and restart node");
    });

    test("the success line alone is not enough: the jars must be at the target", () => {
        const h = fakeHost("no-version-change");
        const r = run(upgradeScript(h));
        expect(r.status).toBe(1);
        expect(parseMarkers(r.stdout).values.reason).toBe("installed version is 3.1.2 after the upgrade, expected 3.2.0");
    });

    test("a node at the target with no node configured to run is skipped and scmupgrade.py never runs", () => {
        const h = fakeHost("success");
        fs.renameSync(path.join(h.jars, "sequoiacm-config-server-3.1.2.jar"), path.join(h.jars, "sequoiacm-config-server-3.2.0.jar"));
        const r = run(upgradeScript(h));
        expect(r.status).toBe(0);
        expect(parseMarkers(r.stdout).values).toMatchObject({ result: "skipped", "version-before": "3.2.0" });
        expect(fs.existsSync(h.ran)).toBe(false);
    });

    test("mixed jar versions are reported as such", () => {
        const h = fakeHost("success");
        fs.writeFileSync(path.join(h.jars, "sequoiacm-config-server-3.2.0.jar"), "");
        const r = run(upgradeScript(h));
        expect(parseMarkers(r.stdout).values["version-before"]).toBe("mixed");
    });
});

describe("renderUnpack", () => {
    test("unpacks over an earlier copy, keeps service_tmp backups, checks the checksum", () => {
        const h = fakeHost("success");
        const src = fs.mkdtempSync(path.join(os.tmpdir(), "pkg "));
        fs.mkdirSync(path.join(src, "sequoiacm", "package"), { recursive: true });
        fs.writeFileSync(path.join(src, "sequoiacm", "scmupgrade.py"), "#!/usr/bin/env python3\n");
        const tarball = path.join(src, "release.tar.gz");
        execFileSync("tar", ["-czf", tarball, "-C", src, "sequoiacm"]);
        const sha = execFileSync("sha256sum", [tarball], { encoding: "utf8" }).split(" ")[0];
        const backup = path.join(h.staging, "sequoiacm", "service_tmp", "sequoiacm-config", "backup");
        fs.mkdirSync(backup, { recursive: true });
        fs.writeFileSync(path.join(backup, ".backup_completed"), "");
        const me = os.userInfo();
        const group = execFileSync("id", ["-gn"], { encoding: "utf8" }).trim();
        const args = { stagingDir: h.staging, tarballPath: tarball, installUser: me.username, installGroup: group, become: "login" as const };
        const ok = run(renderUnpack({ ...args, sha256: sha }));
        expect(ok.status).toBe(0);
        expect(parseMarkers(ok.stdout).values).toMatchObject({ result: "staged", sha256: sha });
        expect(fs.statSync(path.join(h.staging, "sequoiacm", "scmupgrade.py")).mode & 0o111).not.toBe(0);
        expect(fs.existsSync(path.join(backup, ".backup_completed"))).toBe(true);
        const bad = run(renderUnpack({ ...args, sha256: "f".repeat(64) }));
        expect(bad.status).toBe(1);
        expect(parseMarkers(bad.stdout).values.reason).toContain("checksum of");
        const missing = run(renderUnpack({ ...args, tarballPath: path.join(src, "nope.tar.gz") }));
        expect(parseMarkers(missing.stdout).values.reason).toBe(`package not found on the host: ${path.join(src, "nope.tar.gz")}`);
    });
});

describe("installed_version: the one version of a service's jars, none, or mixed", () => {
    const cases: [string, "cloud" | "config-server" | "content-server", string[], string][] = [
        ["no jar folder", "config-server", [], "none"],
        ["other files only", "config-server", ["jars/readme.txt", "jars/other-3.1.2.jar"], "none"],
        ["one jar", "config-server", ["jars/sequoiacm-config-server-3.1.2.jar"], "3.1.2"],
        [
            "content-server keeps its jars in lib/",
            "content-server",
            ["lib/sequoiacm-content-server-3.2.0.jar", "jars/sequoiacm-content-server-3.1.2.jar"],
            "3.2.0",
        ],
        [
            "cloud: every component at one version",
            "cloud",
            ["jars/sequoiacm-cloud-gateway-3.2.0.jar", "jars/sequoiacm-cloud-servicecenter-3.2.0.jar", "jars/sequoiacm-cloud-authserver-3.2.0.jar"],
            "3.2.0",
        ],
        ["cloud: one component behind", "cloud", ["jars/sequoiacm-cloud-gateway-3.2.0.jar", "jars/sequoiacm-cloud-servicecenter-3.1.2.jar"], "mixed"],
        [
            "a look-alike jar is not the service's",
            "content-server",
            ["lib/sequoiacm-content-server-3.2.0.jar", "lib/sequoiacm-content-server-common-3.1.2.jar"],
            "3.2.0",
        ],
        ["two versions of one jar", "config-server", ["jars/sequoiacm-config-server-3.1.2.jar", "jars/sequoiacm-config-server-3.2.0.jar"], "mixed"],
        ["a folder with a space in its name", "config-server", ["jars/sequoiacm-config-server-3.1.2.jar"], "3.1.2"],
    ];
    test.each(cases)("%s", (name, service, files, want) => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), name.includes("space") ? "scm iv " : "scm-iv-"));
        for (const f of files) {
            fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
            fs.writeFileSync(path.join(root, f), "");
        }
        // no process per call: the function is bash alone (a PATH without ls, sed or sort still works)
        const r = spawnSync("/bin/bash", ["-c", `${installedVersionFn(serviceFilesOf(service))}\ninstalled_version ${shQuote(root)}`], {
            encoding: "utf8",
            env: { PATH: "/nonexistent", HOME: root },
        });
        expect({ out: r.stdout.trim(), err: r.stderr }).toEqual({ out: want, err: "" });
    });
});
