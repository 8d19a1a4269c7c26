/**
 * `npm run bench -- --quickack`: the whole bench again inside a network namespace of its own whose loopback
 * route has `quickack 1`, the one setting an operator can give the controller's route to the cluster
 * (`ip route change <route> quickack 1`).
 *
 * Why: after the login, OpenSSH's sshd sends two small packets (its host keys, then the session's
 * confirmation) with Nagle on; the second waits for the client's ACK of the first, which Linux delays
 * ~40 ms, because Go's SSH client (both command providers) has nothing to send back. Every SSH command
 * of the engine pays it once: every node, every host's preflight, upload and unpack. quickack makes the
 * client ACK at once. Nothing of the tool changes; the sandbox, Ansible and the scripts line run in the
 * same namespace, the critical path (no SSH) is unaffected.
 */
import { spawn, execFileSync } from "child_process";

/** The route that carries the sandbox's 127.x.y.z addresses in a fresh namespace, with delayed ACKs off. */
const LOOPBACK_ROUTE = ["local", "127.0.0.0/8", "dev", "lo", "table", "local", "proto", "kernel", "scope", "host", "src", "127.0.0.1"];

/** Set in the bench that runs inside the namespace (its report names the network). */
export const QUICKACK_ENV = "SCM_BENCH_QUICKACK_NETNS";

export function insideQuickackNetns(): boolean {
    return !!process.env[QUICKACK_ENV];
}

/**
 * Runs this bench again, without `--quickack`, inside a new network namespace with quickack on its
 * loopback route; the namespace is deleted afterwards whatever happens. Returns the bench's exit code.
 */
export function benchInQuickackNetns(argv: string[], log: (line: string) => void): Promise<number> {
    // The signals reach the bench inside (same process group from a terminal; forwarded otherwise), which
    // brings its sandboxes down and exits; this side only waits for it, then deletes the namespace.
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.removeAllListeners(sig);
    const args = argv.filter((a) => a !== "--quickack");
    return inQuickackNetns([process.execPath, ...process.execArgv, process.argv[1], ...args], log);
}

/**
 * Runs `command` (stdio inherited) inside a new network namespace whose loopback route has quickack 1,
 * with QUICKACK_ENV set to the namespace's name; deletes the namespace afterwards whatever happens.
 * Returns the command's exit code (2: not root, 1: no namespace could be made, nothing run).
 */
export async function inQuickackNetns(command: string[], log: (line: string) => void): Promise<number> {
    if (process.getuid?.() !== 0) {
        process.stderr.write("--quickack needs root: it makes a network namespace (ip netns). Run the bench as root, or without --quickack.\n");
        return 2;
    }
    const ns = `scm-bench-quickack-${process.pid}`;
    const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] });
    try {
        ip("netns", "add", ns);
        ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
        ip("netns", "exec", ns, "ip", "route", "change", ...LOOPBACK_ROUTE, "quickack", "1");
    } catch (e) {
        process.stderr.write(
            `--quickack: cannot make network namespace ${ns} with quickack on its loopback route (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}). Nothing was run.\n`,
        );
        deleteNetns(ns);
        return 1;
    }
    log(`network namespace ${ns}: ${String(ip("netns", "exec", ns, "ip", "route", "show", "table", "local", "127.0.0.0/8")).trim()}`);
    const child = spawn("ip", ["netns", "exec", ns, ...command], { stdio: "inherit", env: { ...process.env, [QUICKACK_ENV]: ns } });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, forward);
    try {
        return await new Promise<number>((resolve) => {
            child.on("error", (e) => {
                process.stderr.write(`--quickack: cannot start ${command[0]} in ${ns}: ${e.message}\n`);
                resolve(1);
            });
            child.on("exit", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : 143)));
        });
    } finally {
        for (const sig of ["SIGINT", "SIGTERM"] as const) process.off(sig, forward);
        deleteNetns(ns);
    }
}

function deleteNetns(ns: string): void {
    try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } catch {
        // not made, or already gone
    }
}
