import * as fs from "fs";
import * as path from "path";
import { Center, SandboxHostSpec, SandboxService } from "./topology";

/** The repository root (the sandbox's default home is `<repo>/.sandbox`). */
export const repoRoot = path.resolve(__dirname, "..");

export const SOURCE_VERSION = "3.1.2";
export const TARGET_VERSION = "3.2.0";
/** Every sandbox host's sshd listens on this port, each on its own address. */
export const DEFAULT_SSH_PORT = 2222;
/** Second octet of the hosts' addresses (127.<net>.x.y). */
export const DEFAULT_NET = 10;
export const RELEASE_NAME = `sequoiacm-${TARGET_VERSION}-release.tar.gz`;

/**
 * Which vendor `scmupgrade.py` the release package carries (reference section 3): the one shipped in 3.2.0
 * (Python 2, keeps an existing backup) or the newest one (`--backup-path`, refuses with exit 2 when a completed
 * backup exists).
 */
export const SCRIPT_BEHAVIOURS = ["3.2.0", "latest"] as const;
export type ScriptBehaviour = (typeof SCRIPT_BEHAVIOURS)[number];

/** The sandbox folder: the argument, else `$SCM_SANDBOX_DIR`, else `<repo>/.sandbox`. Always absolute. */
export function sandboxDir(dir?: string): string {
    return path.resolve(dir ?? process.env.SCM_SANDBOX_DIR ?? path.join(repoRoot, ".sandbox"));
}

/** Paths of one host inside the sandbox folder. */
export function hostPaths(dir: string, name: string) {
    const hostDir = path.join(dir, "hosts", name);
    const root = path.join(hostDir, "root");
    return {
        hostDir,
        /** Stands for the host's `/`. */
        root,
        installRoot: path.join(root, "opt", "sequoiacm"),
        stagingDir: path.join(root, "opt", "scm_upgrade"),
        sshdDir: path.join(hostDir, "sshd"),
        faultsFile: path.join(hostDir, "faults.json"),
        auditFile: path.join(hostDir, "audit.log"),
        descriptor: path.join(hostDir, "sandbox-host.json"),
        /** The host's `/usr/bin/python`, named by the first line of the sandbox's scmupgrade.py. */
        interpreter: path.join(root, "usr", "bin", "python"),
    };
}

export interface SandboxHostState extends SandboxHostSpec {
    sshPort: number;
    hostDir: string;
    root: string;
    installRoot: string;
    stagingDir: string;
    /** Pid of the host's sshd when it was last started by the sandbox. */
    sshdPid?: number;
    hostPublicKey?: string;
}

export interface SandboxState {
    version: 1;
    dir: string;
    createdAt: string;
    net: number;
    user: string;
    group: string;
    clientKeyPath: string;
    authorizedKeysFile: string;
    packagePath: string;
    /** The hosts' sshd also accept passwords. */
    passwordAuthentication?: boolean;
    sourceVersion: string;
    targetVersion: string;
    /** The vendor behaviour of the release's scmupgrade.py; absent means 3.2.0. */
    script?: ScriptBehaviour;
    hosts: SandboxHostState[];
}

export function statePath(dir: string): string {
    return path.join(dir, "sandbox.json");
}

/** The sandbox's state file, or undefined when the sandbox was never built. */
export function readState(dir?: string): SandboxState | undefined {
    const file = statePath(sandboxDir(dir));
    if (!fs.existsSync(file)) return undefined;
    return JSON.parse(fs.readFileSync(file, "utf8")) as SandboxState;
}

export function writeState(state: SandboxState): void {
    const file = statePath(state.dir);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + "\n");
    fs.renameSync(`${file}.tmp`, file);
}

/** Looks a host up by name, with an error naming the known hosts. */
export function findHost(state: SandboxState, name: string): SandboxHostState {
    const h = state.hosts.find((x) => x.name === name);
    if (!h) {
        const names = state.hosts.map((x) => x.name);
        const shown = names.length > 10 ? `${names.slice(0, 10).join(", ")}, ...` : names.join(", ");
        throw new Error(`No sandbox host named ${name}; the hosts are ${shown}.`);
    }
    return h;
}

export type { Center, SandboxService };
