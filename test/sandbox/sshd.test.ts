/** The real-sshd helper: a server on a loopback address, key login, host key pinning, clean stop. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { freePort, pidAlive, portAccepts, renderSshdConfig, startSshd } from "../../sandbox/sshd";
import { randomLoopback, sshArgs, sshRun, targetOf, useSshd } from "../helpers/sshd";

const server = useSshd();

describe("sshd helper", () => {
    test("logs the current user in with the generated client key", async () => {
        const s = server();
        expect(s.address).toMatch(/^127\.(\d+)\.(\d+)\.(\d+)$/);
        expect(s.address).not.toBe("127.0.0.1");
        expect(s.user).toBe(os.userInfo().username);
        const r = await sshRun(targetOf(s), "echo hello from $(id -un)");
        expect(r).toMatchObject({ code: 0, stdout: `hello from ${s.user}\n` });
        expect(s.clientPrivateKey).toContain("BEGIN OPENSSH PRIVATE KEY");
    });

    test("the host key can be pinned in known_hosts", () => {
        const s = server();
        const kh = path.join(s.dir, "known_hosts");
        fs.writeFileSync(kh, `[${s.address}]:${s.port} ${s.hostPublicKey}\n`);
        const args = sshArgs(targetOf(s)).map((a) =>
            a === "StrictHostKeyChecking=no" ? "StrictHostKeyChecking=yes" : a === "UserKnownHostsFile=/dev/null" ? `UserKnownHostsFile=${kh}` : a,
        );
        const r = spawnSync("ssh", [...args, "true"], { encoding: "utf8" });
        expect(r.status).toBe(0);
    });

    test("many sessions at once are accepted", async () => {
        const s = server();
        const results = await Promise.all(Array.from({ length: 30 }, (_, i) => sshRun(targetOf(s), `echo ${i}`)));
        expect(results.map((r) => r.code)).toEqual(Array(30).fill(0));
    });

    test("an unknown key is refused", async () => {
        const s = server();
        const other = path.join(s.dir, "other_key");
        spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
        const r = await sshRun({ ...targetOf(s), keyPath: other }, "true");
        expect(r.code).toBe(255);
        expect(r.stderr).toMatch(/Permission denied/);
    });

    test("the config has what the tool needs", () => {
        const text = renderSshdConfig({
            address: "127.1.2.3",
            port: 2222,
            hostKeyPath: "/k",
            authorizedKeysFile: "/a",
            pidPath: "/p",
            users: ["u"],
            passwordAuthentication: true,
            asRoot: true,
        });
        for (const line of [
            "ListenAddress 127.1.2.3:2222",
            "AuthorizedKeysFile /a",
            "PidFile /p",
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin yes",
            "PasswordAuthentication yes",
            "MaxStartups 200:30:400",
            "MaxSessions 100",
            "Subsystem sftp internal-sftp",
        ]) {
            expect(text.split("\n")).toContain(line);
        }
    });

    test("password authentication can be offered too", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-sshd-pw-"));
        try {
            const s = await startSshd({ address: randomLoopback(), dir, passwordAuthentication: true });
            try {
                const r = await sshRun({ ...targetOf(s), keyPath: path.join(dir, "missing_key") }, "true");
                expect(r.code).toBe(255);
                expect(r.stderr).toMatch(/Permission denied \(publickey,password\)/);
            } finally {
                await s.stop();
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("stop ends the server and frees the port; a second server starts on a chosen port", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-sshd-stop-"));
        try {
            const address = randomLoopback();
            const port = await freePort(address);
            const s = await startSshd({ address, port, dir });
            expect(s.port).toBe(port);
            expect(await portAccepts(address, port)).toBe(true);
            await s.stop();
            expect(pidAlive(s.pid)).toBe(false);
            expect(await portAccepts(address, port)).toBe(false);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("a chosen address:port another process listens on is refused, naming it and what to do; nothing is started", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-sshd-taken-"));
        const address = randomLoopback();
        const port = await freePort(address);
        const other = net.createServer((c) => {
            c.on("error", () => undefined);
            c.end("SSH-2.0-another-sandbox\r\n");
        });
        await new Promise<void>((resolve) => other.listen(port, address, resolve));
        try {
            await expect(startSshd({ address, port, dir })).rejects.toThrow(
                `${address}:${port} is already in use by another process (another sandbox on the same addresses?`,
            );
            await expect(startSshd({ address, port, dir })).rejects.toThrow("`npm run sandbox -- up --net N`, or SCM_SANDBOX_NET=N");
            expect(fs.existsSync(path.join(dir, "sshd_config"))).toBe(false);
        } finally {
            other.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
