/** A private sandbox per test file (its own folder under the OS temp folder and its own 127.<net>.x.y addresses). */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { down, up } from "../../sandbox/cluster";
import { killSandboxNow } from "../../sandbox/processes";
import { findHost, SandboxHostState, SandboxState, ScriptBehaviour } from "../../sandbox/state";
import { SandboxService, SERVICE_LAYOUT } from "../../sandbox/topology";
import { sshRun, SshResult } from "../helpers/sshd";

export interface SandboxFixture {
    dir: string;
    state(): SandboxState;
    host(name: string): SandboxHostState;
    /** Runs a command on a sandbox host over real ssh. */
    ssh(host: string, command: string): Promise<SshResult>;
    /** `<installRoot>/<folder>` of a service on a host. */
    install(host: string, service: SandboxService): string;
    /** `<install>/bin/<ctl>` of a service on a host. */
    ctl(host: string, service: SandboxService): string;
    /** The staged `scmupgrade.py` (after `stage`). */
    script(host: string): string;
    /** Unpacks the release package into the host's staging folder, as the vendor's preparation does. */
    stage(host: string): Promise<void>;
}

/** `net` must differ between test files that run at once. */
export function useSandbox(name: string, net: number, o: { hosts?: number; script?: ScriptBehaviour } = {}): SandboxFixture {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `scm-sandbox-${name}-`));
    let st: SandboxState | undefined;
    // Should afterAll never run (a killed worker), take the sandbox's processes down with this one.
    process.once("exit", () => killSandboxNow(fs.existsSync(dir) ? fs.realpathSync(dir) : dir));
    beforeAll(async () => {
        st = (await up({ dir, net, hosts: o.hosts, stackConfig: false, script: o.script })).state;
    });
    afterAll(async () => {
        await down({ dir });
        fs.rmSync(dir, { recursive: true, force: true });
    });
    const state = () => {
        if (!st) throw new Error("sandbox not up yet");
        return st;
    };
    const host = (n: string) => findHost(state(), n);
    const install = (h: string, s: SandboxService) => path.join(host(h).installRoot, SERVICE_LAYOUT[s].folder);
    const fx: SandboxFixture = {
        dir,
        state,
        host,
        ssh: (h, command) => {
            const x = host(h);
            const s = state();
            return sshRun({ address: x.address, port: x.sshPort, user: s.user, keyPath: s.clientKeyPath }, command);
        },
        install,
        ctl: (h, s) => path.join(install(h, s), "bin", SERVICE_LAYOUT[s].ctl),
        script: (h) => path.join(host(h).stagingDir, "sequoiacm", "scmupgrade.py"),
        stage: async (h) => {
            const x = host(h);
            const r = await fx.ssh(h, `tar -zxf '${state().packagePath}' -C '${x.stagingDir}' && chmod +x '${fx.script(h)}'`);
            if (r.code !== 0) throw new Error(`staging on ${h} failed: ${r.stderr}`);
        },
    };
    return fx;
}

/** Jar file names of a service's jar folder on disk. */
export function jars(installPath: string, service: SandboxService): string[] {
    return fs.readdirSync(path.join(installPath, SERVICE_LAYOUT[service].jarDir)).sort();
}
