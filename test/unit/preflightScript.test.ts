import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { BecomeMode } from "../../lib/config/schema";
import { parseMarkers, PreflightArgs, renderPreflight, serviceFilesOf } from "../../lib/shell";

// The preflight script run with bash against a fake install folder on this machine: the free-space
// check (df's free space read by bash, each folder named when it cannot be read) and the management-port
// check (node ports gathered from conf/<type>/<port>/ in bash, unique and in numeric order).

function fakeInstall(ports: { folder: string; type: string; port: number; managementPort?: boolean }[]): { root: string; staging: string } {
    const top = fs.mkdtempSync(path.join(os.tmpdir(), "scm-pf-"));
    const root = path.join(top, "sequoiacm");
    const staging = path.join(top, "scm_upgrade");
    fs.mkdirSync(staging, { recursive: true });
    for (const name of ["config-server", "content-server"] as const) {
        const s = serviceFilesOf(name);
        fs.mkdirSync(path.join(root, s.folder, s.jarDir), { recursive: true });
        fs.writeFileSync(path.join(root, s.folder, s.jarDir, `${s.jarPrefixes[0]}3.1.2.jar`), "");
    }
    for (const p of ports) {
        const d = path.join(root, p.folder, "conf", p.type, String(p.port));
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, "application.properties"), p.managementPort ? `management.port=${p.port + 100}\n` : "server.port=1\n");
    }
    return { root, staging };
}

const groupOf = () => spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();

function preflightArgs(root: string, staging: string, minFreeMb: number, become: BecomeMode): PreflightArgs {
    return {
        host: "h1",
        installRoot: root,
        stagingDir: staging,
        installUser: os.userInfo().username,
        installGroup: groupOf(),
        become,
        sourceVersion: "3.1.2",
        targetVersion: "3.2.0",
        services: [serviceFilesOf("config-server"), serviceFilesOf("content-server")],
        minFreeMb,
    };
}

function preflight(
    root: string,
    staging: string,
    minFreeMb = 1,
    become: BecomeMode = "login",
): { status: number; checks: { name: string; status: string; detail: string }[] } {
    // Run as this user whatever `become` says (asInstallUser would switch to the same user).
    const text = renderPreflight(preflightArgs(root, staging, minFreeMb, become)).replace(/^sudo -n -H -u \S+ -- /, "");
    const r = spawnSync("bash", ["-c", text], { encoding: "utf8" });
    return { status: r.status ?? -1, checks: parseMarkers(r.stdout).checks };
}

const named = (checks: { name: string; status: string; detail: string }[], prefix: string) =>
    checks.filter((c) => c.name.startsWith(prefix)).map((c) => `${c.name} ${c.status} ${c.detail}`);

describe("preflight script", () => {
    test("free space: both folders read, each named; a folder df cannot read fails by name, the other still passes", () => {
        const { root, staging } = fakeInstall([]);
        const ok = preflight(root, staging);
        expect(ok.status).toBe(0);
        const free = named(ok.checks, "free-disk");
        expect(free).toHaveLength(2);
        expect(free[0]).toMatch(new RegExp(`^free-disk ok ${staging} \\d+ MiB free$`));
        expect(free[1]).toMatch(new RegExp(`^free-disk ok ${root} \\d+ MiB free$`));

        const missing = path.join(root, "not-there");
        const one = preflight(missing, staging);
        expect(one.status).toBe(1);
        const f = named(one.checks, "free-disk");
        expect(f[0]).toMatch(new RegExp(`^free-disk ok ${staging} \\d+ MiB free$`));
        expect(f[1]).toBe(`free-disk fail cannot read free space of ${missing}`);

        const full = preflight(root, staging, 1e12);
        expect(named(full.checks, "free-disk")).toEqual([
            expect.stringMatching(new RegExp(`^free-disk fail ${staging} has \\d+ MiB free, needs 1000000000000$`)),
            expect.stringMatching(new RegExp(`^free-disk fail ${root} has \\d+ MiB free, needs 1000000000000$`)),
        ]);
    });

    // df answers from a stand-in on PATH (FREE MiB available), so the space is what the test says; du is the real one.
    test("staging space: the services still to upgrade need ~3 x their scripts, bin/ and jars in the staging filesystem; less is refused before any node", () => {
        const { root, staging } = fakeInstall([]);
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "scm-pf-df-"));
        fs.writeFileSync(
            path.join(bin, "df"),
            '#!/bin/sh\necho "Filesystem 1048576-blocks Used Available Capacity Mounted on"\necho "/dev/x 100000 1 $FREE 1% /"\n',
            {
                mode: 0o755,
            },
        );
        const jar = (name: "config-server" | "content-server") => {
            const s = serviceFilesOf(name);
            return { dir: path.join(root, s.folder, s.jarDir), file: path.join(root, s.folder, s.jarDir, `${s.jarPrefixes[0]}3.1.2.jar`) };
        };
        fs.writeFileSync(jar("config-server").file, Buffer.alloc(8 << 20, 1));
        fs.writeFileSync(jar("content-server").file, Buffer.alloc(4 << 20, 1));
        const kib = (dir: string) => Number(spawnSync("du", ["-sk", dir], { encoding: "utf8" }).stdout.split(/\s/)[0]);
        const mib = (k: number) => Math.ceil(k / 1024) + 1; // + minFreeMb 1
        const run = (free: number, more: Partial<PreflightArgs> = {}) => {
            const text = renderPreflight({ ...preflightArgs(root, staging, 1, "login"), ...more });
            const r = spawnSync("bash", ["-c", text], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FREE: String(free) } });
            return { status: r.status, space: named(parseMarkers(r.stdout).checks, "staging-space") };
        };
        const both = mib(3 * kib(jar("config-server").dir) + 3 * kib(jar("content-server").dir));
        expect(both).toBeGreaterThanOrEqual(37);
        expect(run(both)).toEqual({
            status: 0,
            space: [`staging-space ok ${staging} ${both} MiB free, about ${both} MiB needed to upgrade config-server, content-server`],
        });
        expect(run(both - 1)).toEqual({
            status: 1,
            space: [
                `staging-space fail ${staging} has ${both - 1} MiB free; upgrading config-server, content-server here needs about ${both} MiB in ${staging} (per service, scmupgrade.py unpacks its new release there, backs up the scripts, bin/ and jars it replaces and moves them there: about 3 x their size, plus 1 MiB): free space there, or set stagingDir to a filesystem with room`,
            ],
        });
        // Not staged yet: the release comes first, uploaded and unpacked (2 x its size), or unpacked from the host.
        const uploaded = run(both + 20, { packageKiB: 10 * 1024, uploads: true });
        expect(uploaded.space).toEqual([
            `staging-space ok ${staging} ${both + 20} MiB free, about ${both + 20} MiB needed to upgrade config-server, content-server`,
        ]);
        expect(run(both + 19, { packageKiB: 10 * 1024, uploads: true }).space[0]).toContain(
            `needs about ${both + 20} MiB in ${staging} (the release uploaded and unpacked, then per service, scmupgrade.py unpacks`,
        );
        const tarball = path.join(root, "..", "release.tar.gz");
        fs.writeFileSync(tarball, Buffer.alloc(6 << 20, 1));
        const onHost = both + Math.ceil(kib(tarball) / 1024);
        expect(run(onHost, { packageOnHost: tarball }).status).toBe(0);
        expect(run(onHost - 1, { packageOnHost: tarball }).space[0]).toContain(
            `needs about ${onHost} MiB in ${staging} (the release unpacked, then per service,`,
        );
        // Staged already (its folder there): nothing more for the release.
        fs.mkdirSync(path.join(staging, "sequoiacm"));
        expect(run(both, { packageKiB: 10 * 1024, uploads: true }).status).toBe(0);

        // content-server already at the target: only config-server's share; its backup there already: 2 x.
        fs.renameSync(jar("content-server").file, jar("content-server").file.replace("3.1.2", "3.2.0"));
        const one = mib(3 * kib(jar("config-server").dir));
        expect(run(one).space).toEqual([`staging-space ok ${staging} ${one} MiB free, about ${one} MiB needed to upgrade config-server`]);
        const marker = path.join(staging, "sequoiacm", "service_tmp", serviceFilesOf("config-server").folder, "backup", ".backup_completed");
        fs.mkdirSync(path.dirname(marker), { recursive: true });
        fs.writeFileSync(marker, "");
        const backedUp = mib(2 * kib(jar("config-server").dir));
        expect(run(backedUp).space).toEqual([`staging-space ok ${staging} ${backedUp} MiB free, about ${backedUp} MiB needed to upgrade config-server`]);
        expect(run(backedUp - 1).status).toBe(1);
        // Nothing left to upgrade: no such check.
        fs.renameSync(jar("config-server").file, jar("config-server").file.replace("3.1.2", "3.2.0"));
        expect(run(1)).toEqual({ status: 0, space: [] });
        fs.rmSync(bin, { recursive: true, force: true });
    });

    test("staging folder: a missing one is made at staging, so its nearest folder is checked; login needs it writable, sudo and su make it as root", () => {
        const { root, staging } = fakeInstall([]);
        const user = os.userInfo().username;
        const there = preflight(root, staging);
        expect(there.status).toBe(0);
        expect(named(there.checks, "staging-dir")).toEqual([`staging-dir ok ${staging}`]);

        // A host without the staging folder (the vendor's step 1 makes it): free space where it will be made.
        const deep = path.join(staging, "a", "b");
        const missing = preflight(root, deep);
        expect(missing.status).toBe(0);
        expect(named(missing.checks, "staging-dir")).toEqual([`staging-dir ok ${deep} not there yet: made by ${user} at staging`]);
        expect(named(missing.checks, "free-disk")[0]).toMatch(new RegExp(`^free-disk ok ${staging} \\d+ MiB free$`));
        expect(named(preflight(root, deep, 1, "sudo").checks, "staging-dir")).toEqual([`staging-dir ok ${deep} not there yet: made as root at staging`]);

        // A relative path (the config refuses one; the script must still end): its walk up ends at `.`.
        const relative = spawnSync("bash", ["-c", renderPreflight(preflightArgs(root, "not-here/either", 1, "login"))], { encoding: "utf8", timeout: 10000 });
        expect(relative.status).toBe(0);
        expect(named(parseMarkers(relative.stdout).checks, "staging-dir")).toEqual([
            `staging-dir ok not-here/either not there yet: made by ${user} at staging`,
        ]);

        const file = path.join(staging, "a-file");
        fs.writeFileSync(file, "");
        expect(named(preflight(root, file).checks, "staging-dir")).toEqual([
            `staging-dir fail ${file} exists and is not a folder: remove it or set stagingDir`,
        ]);
        expect(named(preflight(root, path.join(file, "x")).checks, "staging-dir")).toEqual([
            `staging-dir fail ${path.join(file, "x")} cannot be made: ${file} is not a folder; set stagingDir`,
        ]);
        expect(preflight(root, file).status).toBe(1);
    });

    test("staging folder: with become login, what the install user cannot write or make fails, naming the fix", () => {
        // The script as an unprivileged user: root may write anywhere, so as root it runs as nobody.
        const { root, staging } = fakeInstall([]);
        const locked = path.join(path.dirname(staging), "locked");
        fs.mkdirSync(locked, { mode: 0o555 });
        fs.chmodSync(locked, 0o555);
        fs.chmodSync(path.dirname(staging), 0o755);
        const asRoot = process.getuid?.() === 0;
        const who = asRoot ? "nobody" : os.userInfo().username;
        const run = (stagingDir: string, uploads: boolean) => {
            const text = renderPreflight({ ...preflightArgs(root, stagingDir, 1, "login"), installUser: who, uploads });
            const r = asRoot
                ? spawnSync("runuser", ["-u", "nobody", "--", "bash", "-c", text], { encoding: "utf8" })
                : spawnSync("bash", ["-c", text], { encoding: "utf8" });
            return { status: r.status, checks: named(parseMarkers(r.stdout).checks, "staging-dir") };
        };
        const inLocked = path.join(locked, "scm_upgrade");
        const fix = (what: string) => `chown -R ${who}:${groupOf()} ${what} as root, or set stagingDir`;
        expect(run(inLocked, true)).toEqual({
            status: 1,
            checks: [
                `staging-dir fail ${inLocked} does not exist and ${who} cannot make it in ${locked}: mkdir -p ${inLocked} and chown ${who}:${groupOf()} ${inLocked} as root, or set stagingDir`,
            ],
        });
        expect(run(locked, false)).toEqual({
            status: 1,
            checks: [`staging-dir fail ${who}, who stages the release with become login, cannot write ${locked}: ${fix(locked)}`],
        });

        // A folder of root's where the release was unpacked and handed to the install user (the vendor's step 1
        // by hand): unpacking again writes only in sequoiacm/; an upload also needs .incoming/ made.
        const pkg = path.join(locked, "sequoiacm");
        fs.chmodSync(locked, 0o755);
        fs.mkdirSync(pkg);
        fs.chmodSync(locked, 0o555);
        if (asRoot) spawnSync("chown", ["nobody", pkg]);
        expect(run(locked, false)).toEqual({ status: 0, checks: [`staging-dir ok ${locked}`] });
        expect(run(locked, true)).toEqual({
            status: 1,
            checks: [`staging-dir fail ${who}, who stages the release with become login, cannot write ${locked}: ${fix(locked)}`],
        });
        fs.chmodSync(pkg, 0o555);
        expect(run(locked, false).checks).toEqual([`staging-dir fail ${who}, who stages the release with become login, cannot write ${pkg}: ${fix(locked)}`]);
        fs.chmodSync(locked, 0o755);
    });

    test("a package already on the host (remotePath) is looked for with the other checks, not first missed at staging", () => {
        const { root, staging } = fakeInstall([]);
        const tarball = path.join(staging, "sequoiacm-3.2.0-release.tar.gz");
        const run = (packageOnHost: string, become: BecomeMode = "login") => {
            const text = renderPreflight({ ...preflightArgs(root, staging, 1, become), packageOnHost }).replace(/^sudo -n -H -u \S+ -- /, "");
            const r = spawnSync("bash", ["-c", text], { encoding: "utf8" });
            return { status: r.status, checks: named(parseMarkers(r.stdout).checks, "package") };
        };
        expect(run(tarball)).toEqual({
            status: 1,
            checks: [`package fail ${tarball} is not on this host: copy the release there, or set package.localPath to upload it`],
        });
        // sudo and su unpack as root, who may see a file the install user cannot: a warning, staging decides.
        expect(run(tarball, "sudo")).toEqual({
            status: 0,
            checks: [`package warn ${tarball} is not visible to ${os.userInfo().username}; staging unpacks it as root, which fails if it is not on this host`],
        });
        fs.writeFileSync(tarball, "");
        expect(run(tarball)).toEqual({ status: 0, checks: [`package ok ${tarball}`] });
        expect(run(tarball, "sudo")).toEqual({ status: 0, checks: [`package ok ${tarball}`] });
        // No check when the package is uploaded.
        expect(named(preflight(root, staging).checks, "package")).toEqual([]);
    });

    test("management port: server port + 1 taken by another node fails unless management.port is set; ports once each, in numeric order", () => {
        const { root, staging } = fakeInstall([
            // 9000 and 9001 on two services: 3.2 would open 9001 for node 9000
            { folder: "sequoiacm-config", type: "config-server", port: 9000 },
            { folder: "sequoiacm-content", type: "content-server", port: 9001 },
            // 15000 twice (two node types of one folder) is one port; 15001 taken, but 15000 sets management.port
            { folder: "sequoiacm-content", type: "content-server", port: 15000, managementPort: true },
            { folder: "sequoiacm-content", type: "other-server", port: 15000, managementPort: true },
            { folder: "sequoiacm-config", type: "config-server", port: 15001 },
            // 800 < 9000 numerically (a text sort would put it last); 801 taken
            { folder: "sequoiacm-config", type: "config-server", port: 800 },
            { folder: "sequoiacm-config", type: "config-server", port: 801, managementPort: true },
        ]);
        const r = preflight(root, staging);
        expect(named(r.checks, "management-port")).toEqual([
            "management-port:800 fail 3.2 opens management port 801 for node 800, which another node of this host uses: set management.port",
            "management-port:9000 fail 3.2 opens management port 9001 for node 9000, which another node of this host uses: set management.port",
            "management-port:15000 ok management.port set",
        ]);
        expect(r.status).toBe(1);
    });
});
