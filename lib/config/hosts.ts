import { ServiceName } from "../services";
import type { HostConfig, UpgradeConfig } from "./shapes";
import { Center } from "./vocabulary";

/** A host with the SSH defaults and per-host overrides merged. */
export interface EffectiveHost {
    name: string;
    address: string;
    center: Center;
    services: ServiceName[];
    site?: string;
    rootSite: boolean;
    /** SSH login user: host `ssh.user`, else `ssh.user`, else `installUser`. */
    user: string;
    /** SSH port: host `ssh.port`, else `ssh.port` (default 22). */
    port: number;
    /** Local private key file: host `ssh.privateKeyFile`, else `ssh.privateKeyFile`; none means a secret key or password. */
    privateKeyFile?: string;
    installRoot: string;
    stagingDir: string;
    /** The bastion to jump through, its user defaulting to the host's SSH user. */
    bastion?: { host: string; port: number; user: string };
}

export function effectiveHost(config: UpgradeConfig, host: HostConfig): EffectiveHost {
    const user = host.ssh?.user ?? config.ssh.user ?? config.installUser;
    const privateKeyFile = host.ssh?.privateKeyFile ?? config.ssh.privateKeyFile;
    const b = config.ssh.bastion;
    return {
        name: host.name,
        address: host.address,
        center: host.center,
        services: [...host.services],
        ...(host.site !== undefined ? { site: host.site } : {}),
        rootSite: host.rootSite,
        user,
        port: host.ssh?.port ?? config.ssh.port,
        ...(privateKeyFile !== undefined ? { privateKeyFile } : {}),
        installRoot: host.installRoot ?? config.installRoot,
        stagingDir: host.stagingDir ?? config.stagingDir,
        ...(b ? { bastion: { host: b.host, port: b.port, user: b.user ?? user } } : {}),
    };
}
