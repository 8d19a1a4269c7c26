/**
 * A private network for the hosts, and a bastion (jump host) into it, all on this machine's loopback.
 *
 * The network is a network namespace (`ip netns`) with its own loopback: a server started inside it
 * (`ip netns exec`) on 127.x.y.z is reachable from inside only; from here the same address refuses. The
 * bastion has a leg in each: a listener here hands each connection to a fresh `sshd -i` started inside the
 * namespace (the inetd way, as systemd's ssh.socket runs sshd), so its port forwards reach the hosts. Needs
 * root (CI runs as root).
 */
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { ensureKeyPair, renderSshdConfig, sshdBinary } from "../../sandbox/sshd";

/** Creates the namespace `name` (removing a leftover of a killed run first), its loopback up. */
export function addNetns(name: string): void {
    removeNetns(name);
    execFileSync("ip", ["netns", "add", name]);
    execFileSync("ip", ["-n", name, "link", "set", "lo", "up"]);
}

export function removeNetns(name: string): void {
    if (
        execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
            .split("\n")
            .some((l) => l.split(" ")[0] === name)
    )
        execFileSync("ip", ["netns", "del", name]);
}

/** `cmd args...` run inside the namespace, to the end; its stdout. */
export function inNetns(netns: string, cmd: string, args: string[], env: Record<string, string> = {}): string {
    return execFileSync("ip", ["netns", "exec", netns, cmd, ...args], { encoding: "utf8", env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

export interface Bastion {
    address: string;
    port: number;
    /** Connections accepted so far (each one SSH session of a client). */
    sessions(): number;
    /** The log of every `sshd -i` (logins, forwardings). */
    logPath: string;
    stop(): Promise<void>;
}

export interface BastionOptions {
    /** The namespace its sessions run in (the hosts' network). */
    netns: string;
    /** Where it listens, on this process's loopback. */
    address: string;
    /** Folder for its host key, config and log. */
    dir: string;
    authorizedKeysFile: string;
    /** The only users it admits. */
    users: string[];
    /** The authorized keys may set HOME (the sandbox's clean login home). */
    keyEnvironmentHome?: boolean;
}

export async function startBastion(o: BastionOptions): Promise<Bastion> {
    fs.mkdirSync(o.dir, { recursive: true });
    const hostKeyPath = path.join(o.dir, "ssh_host_ed25519_key");
    ensureKeyPair(hostKeyPath, `bastion-${o.address}`);
    const configPath = path.join(o.dir, "sshd_config");
    const logPath = path.join(o.dir, "sshd.log");
    // In inetd mode sshd ignores ListenAddress and PidFile.
    fs.writeFileSync(
        configPath,
        renderSshdConfig({
            address: o.address,
            port: 22,
            hostKeyPath,
            authorizedKeysFile: o.authorizedKeysFile,
            pidPath: path.join(o.dir, "unused.pid"),
            users: o.users,
            passwordAuthentication: false,
            asRoot: true,
            keyEnvironmentHome: o.keyEnvironmentHome,
        }),
    );
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    let sessions = 0;
    const children = new Set<ReturnType<typeof spawn>>();
    const server = net.createServer({ pauseOnConnect: true }, (sock) => {
        sessions++;
        const log = fs.openSync(logPath, "a");
        const child = spawn("ip", ["netns", "exec", o.netns, sshdBinary, "-i", "-e", "-f", configPath], { stdio: [sock, sock, log] });
        fs.closeSync(log);
        // The session is the child's now: close this process's copy of the socket.
        sock.destroy();
        children.add(child);
        child.on("exit", () => children.delete(child));
        child.on("error", () => children.delete(child));
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, o.address, () => resolve());
    });
    return {
        address: o.address,
        port: (server.address() as net.AddressInfo).port,
        sessions: () => sessions,
        logPath,
        stop: async () => {
            await new Promise<void>((r) => server.close(() => r()));
            for (const c of children) c.kill("SIGKILL");
        },
    };
}
