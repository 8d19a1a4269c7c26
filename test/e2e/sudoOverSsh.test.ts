import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseMarkers, renderPreflight, renderPrepareStaging, renderServiceUpgrade, renderUnpack, serviceFilesOf, uploadDir } from "../../lib/shell";
import { ServiceName } from "../../lib/services";
import { readAudit } from "../../sandbox/audit";
import { down } from "../../sandbox/cluster";
import { SshdHandle, startSshd } from "../../sandbox/sshd";
import { addLocalUsers } from "../helpers/localUsers";
import { sshRun } from "../helpers/sshd";
import { useSandbox } from "../sandbox/fixture";

// `become: sudo` for real: log in over SSH as one real local user (scmops), become the install user
// (scmadmin) through sudo; staged files end up owned by scmadmin:scmadmin_group, nodes run as
// scmadmin. Needs root (to create the users), as CI runs; skipped otherwise.

const asRoot = process.getuid?.() === 0 && fs.existsSync("/usr/bin/sudo");
const d = asRoot ? describe : describe.skip;
if (!asRoot) console.warn("SKIPPED sudo test: it needs root and sudo (CI runs as root; setup installs sudo).");

const LOGIN = "scmops";
const INSTALL = "scmadmin";
const GROUP = "scmadmin_group";
const sudoers = "/etc/sudoers.d/scm-upgrade-test";

d("become the install user through sudo over SSH", () => {
    const sb = useSandbox("sudo", 43);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-sudo-"));
    let sshd: SshdHandle;
    const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8" });
    let removeUsers: () => void = () => undefined;

    beforeAll(async () => {
        removeUsers = addLocalUsers({ login: LOGIN, install: INSTALL, group: GROUP, sudoers });
        // The sandbox's nodes ran as root: stop them, hand host C to the install user, start its nodes as that user.
        await down({ dir: sb.dir });
        for (let p = sb.dir; p !== path.dirname(p); p = path.dirname(p)) fs.chmodSync(p, fs.statSync(p).mode | 0o055);
        const c = sb.host("C");
        sh("chown", ["-R", `${INSTALL}:${GROUP}`, c.hostDir]);
        sh("chmod", ["-R", "o+rX", path.dirname(sb.state().packagePath)]);
        for (const s of c.services) {
            const ctl = sb.ctl("C", s);
            sh("runuser", ["-u", INSTALL, "--", ctl, ...(s === "content-server" ? ["start", "--all"] : ["start", "-t", "all"])]);
        }
        // sshd reads the authorized keys as the login user: it must be able to reach the file.
        fs.chmodSync(tmp, 0o755);
        sshd = await startSshd({ address: "127.0.43.200", dir: path.join(tmp, "sshd"), loginUser: LOGIN });
    });
    afterAll(async () => {
        await sshd?.stop();
        await down({ dir: sb.dir });
        removeUsers();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    const run = async (script: string) => {
        const r = await sshRun({ address: sshd.address, port: sshd.port, user: LOGIN, keyPath: sshd.clientKeyPath }, script);
        return { ...r, markers: parseMarkers(r.stdout) };
    };

    test("stage as root via sudo, check and upgrade as scmadmin via sudo -u", async () => {
        const c = sb.host("C");
        const who = await run("id -un");
        expect({ who: who.stdout.trim(), stderr: who.stderr }).toEqual({ who: LOGIN, stderr: "" });
        const prep = await run(renderPrepareStaging({ stagingDir: c.stagingDir, become: "sudo", loginUser: LOGIN }));
        expect(prep.markers.values.prepared).toBe(uploadDir(c.stagingDir));
        // What CopyToRemote does: the login user writes the upload folder.
        const tarball = `${uploadDir(c.stagingDir)}/${path.basename(sb.state().packagePath)}`;
        expect((await run(`cp '${sb.state().packagePath}' '${tarball}'`)).code).toBe(0);
        const sha = sh("sha256sum", [sb.state().packagePath]).split(" ")[0];
        const staged = await run(
            renderUnpack({ stagingDir: c.stagingDir, tarballPath: tarball, sha256: sha, installUser: INSTALL, installGroup: GROUP, become: "sudo" }),
        );
        expect(staged.markers.values.result).toBe("staged");
        const owner = sh("stat", ["-c", "%U:%G", path.join(c.stagingDir, "sequoiacm", "scmupgrade.py")]).trim();
        expect(owner).toBe(`${INSTALL}:${GROUP}`);

        const services = ["cloud", "config-server", "content-server"].filter((s) => c.services.includes(s as never)) as ServiceName[];
        const pre = await run(
            renderPreflight({
                host: "C",
                installRoot: c.installRoot,
                stagingDir: c.stagingDir,
                installUser: INSTALL,
                installGroup: GROUP,
                become: "sudo",
                sourceVersion: "3.1.2",
                targetVersion: "3.2.0",
                services: services.map(serviceFilesOf),
                minFreeMb: 10,
            }),
        );
        expect(pre.markers.checks.filter((x) => x.status === "fail")).toEqual([]);
        expect(pre.markers.values.result).toBe("ok");

        for (const s of services) {
            const r = await run(
                renderServiceUpgrade({
                    host: "C",
                    healthAddress: c.address,
                    installRoot: c.installRoot,
                    stagingDir: c.stagingDir,
                    installUser: INSTALL,
                    become: "sudo",
                    targetVersion: "3.2.0",
                    service: serviceFilesOf(s),
                    healthTimeoutSeconds: 30,
                    rollbackOnHealthFailure: false,
                }),
            );
            expect({ s, result: r.markers.values.result, after: r.markers.values["version-after"], stderr: r.stderr }).toEqual({
                s,
                result: "upgraded",
                after: "3.2.0",
                stderr: "",
            });
        }
        // The nodes were restarted by the install user, not root.
        const users = sh("ps", ["-eo", "user:32,args"])
            .split("\n")
            .filter((l) => l.includes("scm-node:") && l.includes(path.basename(sb.dir)) && l.includes("/hosts/C/"))
            .map((l) => l.trim().split(/\s+/)[0]);
        expect(users.length).toBeGreaterThan(0);
        expect(new Set(users)).toEqual(new Set([INSTALL]));
        expect(
            readAudit(sb.dir)
                .filter((e) => e.host === "C" && e.action === "upgrade" && e.outcome === "success")
                .map((e) => e.service),
        ).toEqual(services);
    });
});
