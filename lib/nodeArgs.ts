import { effectiveHost, HostConfig, UpgradeConfig } from "./config/schema";
import { ServiceName } from "./services";
import { hostLockWait, NodeRollbackArgs, NodeUpgradeArgs, PreflightArgs, serviceFilesOf, SoakWatchArgs, UnpackArgs } from "./shell";
import type { SoakStep } from "./plan";

/**
 * The arguments of each host script, from a validated config: one place that decides which config
 * value goes where, shared by the components, the driver, the benchmarks and the tests.
 */

function hostOf(config: UpgradeConfig, name: string): HostConfig {
    const h = config.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`No host ${name} in the config.`);
    return h;
}

/** The host's services in upgrade order. */
export function servicesInOrder(config: UpgradeConfig, host: HostConfig): ServiceName[] {
    return config.serviceOrder.filter((s) => host.services.includes(s));
}

export function preflightArgsFor(config: UpgradeConfig, hostName: string, minFreeMb = 200, packageKiB?: number): PreflightArgs {
    const h = hostOf(config, hostName);
    const e = effectiveHost(config, h);
    return {
        host: h.name,
        installRoot: e.installRoot,
        stagingDir: e.stagingDir,
        installUser: config.installUser,
        installGroup: config.installGroup,
        become: config.become,
        sourceVersion: config.sourceVersion,
        targetVersion: config.targetVersion,
        services: servicesInOrder(config, h).map(serviceFilesOf),
        minFreeMb,
        uploads: "localPath" in config.package || !!config.upgradeScript,
        ...("remotePath" in config.package ? { packageOnHost: config.package.remotePath } : {}),
        ...(packageKiB !== undefined ? { packageKiB } : {}),
    };
}

export function upgradeArgsFor(config: UpgradeConfig, hostName: string, service: ServiceName): NodeUpgradeArgs {
    const h = hostOf(config, hostName);
    const e = effectiveHost(config, h);
    return {
        host: h.name,
        healthAddress: h.address,
        installRoot: e.installRoot,
        stagingDir: e.stagingDir,
        installUser: config.installUser,
        become: config.become,
        targetVersion: config.targetVersion,
        service: serviceFilesOf(service),
        healthTimeoutSeconds: config.healthTimeoutSeconds,
        healthStableSeconds: config.healthStableSeconds,
        rollbackOnHealthFailure: config.rollbackOnHealthFailure,
    };
}

export function rollbackArgsFor(config: UpgradeConfig, hostName: string, service: ServiceName): NodeRollbackArgs {
    const h = hostOf(config, hostName);
    const e = effectiveHost(config, h);
    return {
        host: h.name,
        healthAddress: h.address,
        installRoot: e.installRoot,
        stagingDir: e.stagingDir,
        installUser: config.installUser,
        become: config.become,
        sourceVersion: config.sourceVersion,
        targetVersion: config.targetVersion,
        service: serviceFilesOf(service),
        healthTimeoutSeconds: config.healthTimeoutSeconds,
        lockWaitSeconds: hostLockWait(config),
    };
}

/**
 * The staging's unpack (and script-interpreter check) on one host, for a tarball already on it. The host name is
 * passed so that an interpreter failure names the host as the config does.
 */
export function unpackArgsFor(
    config: UpgradeConfig,
    hostName: string,
    tarballPath: string,
    extra: { sha256?: string; scriptOverridePath?: string } = {},
): UnpackArgs {
    const h = hostOf(config, hostName);
    const e = effectiveHost(config, h);
    return {
        host: h.name,
        stagingDir: e.stagingDir,
        tarballPath,
        installUser: config.installUser,
        installGroup: config.installGroup,
        become: config.become,
        lockWaitSeconds: hostLockWait(config),
        ...extra,
    };
}

/** The soak's watch on one host: the standby services of `soak.watch` on it, in plan order. */
export function soakArgsFor(config: UpgradeConfig, soak: SoakStep, hostName: string): SoakWatchArgs {
    const services = soak.watch.filter((n) => n.host === hostName).map((n) => n.service);
    if (!services.length) throw new Error(`The soak ${soak.id} watches no node on ${hostName}.`);
    const { host, healthAddress, installRoot, stagingDir, installUser, become, targetVersion } = upgradeArgsFor(config, hostName, services[0]);
    return {
        host,
        healthAddress,
        installRoot,
        stagingDir,
        installUser,
        become,
        targetVersion,
        soak: soak.id,
        services: services.map(serviceFilesOf),
        seconds: soak.seconds,
        intervalSeconds: soak.intervalSeconds,
    };
}
