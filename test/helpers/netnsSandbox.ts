/**
 * A sandbox whose hosts live in a network namespace (test/helpers/bastion.ts), installed for and run by a
 * real install user: the hosts' sshd and nodes listen on the namespace's loopback only. Built by this file
 * run as a script inside the namespace (`upInNetns`), in one process.
 */
import { spawn, execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "../../engine/paths";
import { down, up } from "../../sandbox/cluster";
import { readState, SandboxState } from "../../sandbox/state";
import { SERVICE_LAYOUT } from "../../sandbox/topology";

export interface NetnsSandboxOptions {
    netns: string;
    dir: string;
    /** Second octet of the hosts' addresses. */
    net: number;
    /** The real local user (and group) that owns the installs and runs the nodes. */
    installUser: string;
    installGroup: string;
}

/** Builds and starts the sandbox inside `netns` (no stack config is written); returns its state. */
export function upInNetns(o: NetnsSandboxOptions): SandboxState {
    const tsx = path.join(projectRoot, "node_modules", ".bin", "tsx");
    execFileSync("ip", ["netns", "exec", o.netns, tsx, __filename, JSON.stringify(o)], { stdio: ["ignore", "ignore", "pipe"] });
    const state = readState(o.dir);
    if (!state) throw new Error(`no sandbox at ${o.dir} after its set-up in ${o.netns}`);
    return state;
}

/** Runs a command as `user`, unaudited (the sandbox's own starts are not audited). */
function asUser(user: string, cmd: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
        const c = spawn("runuser", ["-u", user, "--", "env", "SCM_SANDBOX_INTERNAL=1", cmd, ...args], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        c.stderr.on("data", (d) => (err += d));
        c.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} as ${user}: exit ${code} ${err}`))));
    });
}

async function main(o: NetnsSandboxOptions): Promise<void> {
    await up({ dir: o.dir, net: o.net, stackConfig: false });
    // The nodes started as root: hand every host to the install user and start its nodes as that user.
    await down({ dir: o.dir });
    for (let p = fs.realpathSync(o.dir); p !== path.dirname(p); p = path.dirname(p)) fs.chmodSync(p, fs.statSync(p).mode | 0o055);
    const state = readState(o.dir)!;
    for (const h of state.hosts) execFileSync("chown", ["-R", `${o.installUser}:${o.installGroup}`, h.hostDir]);
    await Promise.all(
        state.hosts.flatMap((h) =>
            h.services.map((s) =>
                asUser(o.installUser, path.join(h.installRoot, SERVICE_LAYOUT[s].folder, "bin", SERVICE_LAYOUT[s].ctl), [
                    "start",
                    ...SERVICE_LAYOUT[s].allOption,
                ]),
            ),
        ),
    );
    // The hosts' sshd again (the nodes run).
    await up({ dir: o.dir, stackConfig: false });
}

if (require.main === module) {
    main(JSON.parse(process.argv[2]) as NetnsSandboxOptions).catch((e) => {
        process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
        process.exitCode = 1;
    });
}
