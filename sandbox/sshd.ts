import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/** Debian's OpenSSH server; override with `$SCM_SANDBOX_SSHD`. */
export const sshdBinary = process.env.SCM_SANDBOX_SSHD ?? "/usr/sbin/sshd";

export interface SshdOptions {
    /** Loopback address to listen on, e.g. `127.0.10.1`. */
    address: string;
    /** TCP port. Default: a free port on `address`. */
    port?: number;
    /** Folder for the config, host key, pid file and log (created). The client key goes here too unless `clientKeyPath` is given. */
    dir: string;
    /**
     * The user the client key logs in as (reported as `user`). Default: the current user (a non-root
     * sshd cannot log in anyone else). When given, it is also the only user allowed (`AllowUsers`).
     */
    loginUser?: string;
    /** More users allowed besides `loginUser` (root only: e.g. a real local user for `sudo` tests). Default none. */
    extraUsers?: string[];
    /** Also accept password authentication (checked against /etc/shadow, so only useful as root). Default false. */
    passwordAuthentication?: boolean;
    /** An existing (or to-be-created) client private key to authorize. Default `<dir>/client_ed25519`. */
    clientKeyPath?: string;
    /** The authorized_keys file to use. Default `<dir>/authorized_keys`, holding the client key. */
    authorizedKeysFile?: string;
    /** The authorized keys may set HOME (`environment="HOME=..."`): the sandbox's clean login home. Default false. */
    keyEnvironmentHome?: boolean;
    /** Keep running after this Node.js process exits (the sandbox's hosts). Default false. */
    detached?: boolean;
    /** How long to wait for the port to accept connections. Default 10000 ms. */
    startTimeoutMs?: number;
}

export interface SshdHandle {
    address: string;
    port: number;
    pid: number;
    /** The login user the server admits. */
    user: string;
    dir: string;
    configPath: string;
    logPath: string;
    pidPath: string;
    clientKeyPath: string;
    /** The client private key, OpenSSH PEM text. */
    clientPrivateKey: string;
    clientPublicKey: string;
    /** The host's public key line (`ssh-ed25519 AAAA...`), for known_hosts. */
    hostPublicKey: string;
    /** Stops the server (SIGTERM, then SIGKILL after 3 s) and waits until it is gone. */
    stop(): Promise<void>;
}

/** The current user's name; works where `$USER` is unset (CI containers). */
export function currentUser(): string {
    return os.userInfo().username;
}

/** The name of the current user's primary group. */
export function currentGroup(): string {
    const gid = os.userInfo().gid;
    try {
        const line = execFileSync("getent", ["group", String(gid)], { encoding: "utf8" }).trim();
        const name = line.split(":")[0];
        if (name) return name;
    } catch {
        // no getent: fall back to id -gn
    }
    return execFileSync("id", ["-gn"], { encoding: "utf8" }).trim();
}

/** Creates an unencrypted ed25519 key pair at `keyPath` (and `.pub`) unless it already exists. */
export function ensureKeyPair(keyPath: string, comment = "scm-upgrade-sandbox"): { privateKey: string; publicKey: string } {
    if (!fs.existsSync(keyPath)) {
        fs.mkdirSync(path.dirname(keyPath), { recursive: true });
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", keyPath], { stdio: "ignore" });
    }
    fs.chmodSync(keyPath, 0o600);
    return { privateKey: fs.readFileSync(keyPath, "utf8"), publicKey: fs.readFileSync(`${keyPath}.pub`, "utf8").trim() };
}

/** A TCP port nobody listens on at `address` right now (the kernel picks it). */
export function freePort(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", reject);
        srv.listen(0, address, () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

/** True when something accepts TCP connections on address:port. */
export function portAccepts(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
    return new Promise((resolve) => {
        const sock = net.connect({ host: address, port });
        const done = (ok: boolean) => {
            sock.destroy();
            resolve(ok);
        };
        sock.setTimeout(timeoutMs, () => done(false));
        sock.once("connect", () => done(true));
        sock.once("error", () => done(false));
    });
}

/** True while a process with this pid exists (and is not a zombie we could reap). */
export function pidAlive(pid: number): boolean {
    if (!pid || pid <= 0) return false;
    try {
        process.kill(pid, 0);
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        // state is the field after the parenthesised command name
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return false;
    }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; resolves once the process is gone. */
export async function killAndWait(pid: number, graceMs = 3000): Promise<void> {
    if (!pidAlive(pid)) return;
    try {
        process.kill(pid, "SIGTERM");
    } catch {
        return;
    }
    const deadline = Date.now() + graceMs;
    while (pidAlive(pid) && Date.now() < deadline) await sleep(20);
    if (pidAlive(pid)) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            return;
        }
        const hard = Date.now() + 2000;
        while (pidAlive(pid) && Date.now() < hard) await sleep(20);
    }
}

/** The sshd_config text for one server. Exported so tests can check it. */
export function renderSshdConfig(o: {
    address: string;
    port: number;
    hostKeyPath: string;
    authorizedKeysFile: string;
    pidPath: string;
    /** `AllowUsers`; none: every user whose key is in the authorized keys file. */
    users?: string[];
    passwordAuthentication: boolean;
    asRoot: boolean;
    /** Let the authorized keys set HOME for their sessions (the sandbox's clean login home). */
    keyEnvironmentHome?: boolean;
}): string {
    const lines = [
        "# Written by the scm-upgrade sandbox; regenerated on every start.",
        `ListenAddress ${o.address}:${o.port}`,
        `HostKey ${o.hostKeyPath}`,
        `PidFile ${o.pidPath}`,
        `AuthorizedKeysFile ${o.authorizedKeysFile}`,
        // The sandbox's files live in a user's work tree, whose modes sshd must not judge.
        "StrictModes no",
        "UsePAM no",
        `PermitRootLogin ${o.asRoot ? "yes" : "no"}`,
        "PubkeyAuthentication yes",
        `PasswordAuthentication ${o.passwordAuthentication ? "yes" : "no"}`,
        "KbdInteractiveAuthentication no",
        ...(o.users?.length ? [`AllowUsers ${o.users.join(" ")}`] : []),
        // The upgrade tool opens many sessions at once (one per host and step).
        "MaxStartups 200:30:400",
        "MaxSessions 100",
        "LoginGraceTime 30",
        // Bastion tests jump through a sandbox host.
        "AllowTcpForwarding yes",
        "X11Forwarding no",
        "PrintMotd no",
        "PrintLastLog no",
        "UseDNS no",
        `PermitUserEnvironment ${o.keyEnvironmentHome ? "HOME" : "no"}`,
        "Subsystem sftp internal-sftp",
        "LogLevel INFO",
    ];
    return lines.join("\n") + "\n";
}

/**
 * Starts a real OpenSSH sshd on `address:port` with its own host key and an authorized client key,
 * and resolves once the port accepts connections. Works as root (any login user) and as an ordinary
 * user (who can only log in as themself).
 */
export async function startSshd(o: SshdOptions): Promise<SshdHandle> {
    if (!fs.existsSync(sshdBinary)) {
        throw new Error(`No OpenSSH server at ${sshdBinary}. Install it (apt-get install -y openssh-server) or set SCM_SANDBOX_SSHD.`);
    }
    const asRoot = process.getuid?.() === 0;
    const me = currentUser();
    const user = o.loginUser ?? me;
    if (!asRoot && user !== me) {
        throw new Error(`An sshd started by ${me} (not root) can only log in ${me}, not ${user}.`);
    }
    if (asRoot) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

    const dir = path.resolve(o.dir);
    fs.mkdirSync(dir, { recursive: true });
    const port = o.port ?? (await freePort(o.address));
    // Another process there (another sandbox on the same addresses) would answer for ours: say so, start nothing.
    if (o.port !== undefined && (await portAccepts(o.address, port, 500))) {
        throw new Error(
            `${o.address}:${port} is already in use by another process (another sandbox on the same addresses? \`ss -ltnp | grep ${o.address}:\` shows it): ` +
                "bring that one down, or give this sandbox other addresses (`npm run sandbox -- up --net N`, or SCM_SANDBOX_NET=N).",
        );
    }
    const hostKeyPath = path.join(dir, "ssh_host_ed25519_key");
    const clientKeyPath = path.resolve(o.clientKeyPath ?? path.join(dir, "client_ed25519"));
    const configPath = path.join(dir, "sshd_config");
    const pidPath = path.join(dir, "sshd.pid");
    const logPath = path.join(dir, "sshd.log");

    const host = ensureKeyPair(hostKeyPath, `sandbox-host-${o.address}`);
    const client = ensureKeyPair(clientKeyPath);
    let authorizedKeysFile = o.authorizedKeysFile;
    if (!authorizedKeysFile) {
        authorizedKeysFile = path.join(dir, "authorized_keys");
        fs.writeFileSync(authorizedKeysFile, client.publicKey + "\n", { mode: 0o644 });
    }
    fs.writeFileSync(
        configPath,
        renderSshdConfig({
            address: o.address,
            port,
            hostKeyPath,
            authorizedKeysFile: path.resolve(authorizedKeysFile),
            pidPath,
            users: o.loginUser || o.extraUsers?.length ? [user, ...(o.extraUsers ?? [])] : undefined,
            passwordAuthentication: o.passwordAuthentication ?? false,
            asRoot,
            keyEnvironmentHome: o.keyEnvironmentHome ?? false,
        }),
    );
    fs.rmSync(pidPath, { force: true });

    const log = fs.openSync(logPath, "a");
    const child = spawn(sshdBinary, ["-D", "-e", "-f", configPath], {
        stdio: ["ignore", log, log],
        detached: true,
    });
    fs.closeSync(log);
    let exited: number | null | undefined;
    child.once("exit", (code) => (exited = code ?? -1));
    child.once("error", () => (exited = -1));
    if (o.detached) child.unref();
    const pid = child.pid ?? 0;

    const stop = async () => {
        await killAndWait(pid);
        fs.rmSync(pidPath, { force: true });
    };
    if (!o.detached) trackForExit(pid);

    const deadline = Date.now() + (o.startTimeoutMs ?? 10000);
    for (;;) {
        if (exited !== undefined || !pidAlive(pid)) {
            throw new Error(`sshd on ${o.address}:${port} exited at start: ${tail(logPath)}`);
        }
        if (await portAccepts(o.address, port, 500)) break;
        if (Date.now() > deadline) {
            await stop();
            throw new Error(`sshd on ${o.address}:${port} did not accept connections in time: ${tail(logPath)}`);
        }
        await sleep(15);
    }
    return {
        address: o.address,
        port,
        pid,
        user,
        dir,
        configPath,
        logPath,
        pidPath,
        clientKeyPath,
        clientPrivateKey: client.privateKey,
        clientPublicKey: client.publicKey,
        hostPublicKey: host.publicKey.split(" ").slice(0, 2).join(" "),
        stop: async () => {
            untrack(pid);
            await stop();
        },
    };
}

function tail(file: string, lines = 5): string {
    try {
        return fs.readFileSync(file, "utf8").trim().split("\n").slice(-lines).join(" | ");
    } catch {
        return "(no log)";
    }
}

// Servers started without `detached` die with this process, whatever the way it ends.
const tracked = new Set<number>();
let exitHookInstalled = false;
function killTracked(): void {
    for (const p of tracked) {
        try {
            process.kill(p, "SIGKILL");
        } catch {
            // already gone
        }
    }
    tracked.clear();
}
function trackForExit(pid: number): void {
    tracked.add(pid);
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    process.once("exit", killTracked);
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        process.once(sig, () => {
            killTracked();
            // Keep the default behaviour (die by the signal) unless someone else handles it.
            if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
        });
    }
}
function untrack(pid: number): void {
    tracked.delete(pid);
}
