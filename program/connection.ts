import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { effectiveHost, HostConfig, UpgradeConfig } from "../lib/config/schema";

/** SSH secrets from the stack's secret config; each is a Pulumi secret, never a plain string. */
export interface SshSecrets {
    privateKey?: pulumi.Output<string>;
    password?: pulumi.Output<string>;
    privateKeyPassphrase?: pulumi.Output<string>;
}

/**
 * The command provider's connection for one host: per-host overrides over the SSH defaults, a key
 * file read here and wrapped as a secret at once, the bastion as the provider's `proxy`.
 * Dial limits are kept short so that an unreachable host fails in seconds, not minutes.
 */
export function connectionFor(config: UpgradeConfig, host: HostConfig, secrets: SshSecrets): pulumi.Input<types.input.remote.ConnectionArgs> {
    const e = effectiveHost(config, host);
    let privateKey: pulumi.Input<string> | undefined = secrets.privateKey;
    if (e.privateKeyFile) privateKey = pulumi.secret(fs.readFileSync(e.privateKeyFile, "utf8"));
    const conn: types.input.remote.ConnectionArgs = {
        host: host.address,
        port: e.port,
        user: e.user,
        dialErrorLimit: config.ssh.dialErrorLimit,
        perDialTimeout: config.ssh.perDialTimeoutSeconds,
    };
    if (privateKey) conn.privateKey = privateKey;
    if (secrets.password) conn.password = secrets.password;
    if (secrets.privateKeyPassphrase) conn.privateKeyPassword = secrets.privateKeyPassphrase;
    if (config.ssh.bastion) {
        conn.proxy = {
            host: config.ssh.bastion.host,
            port: config.ssh.bastion.port,
            user: config.ssh.bastion.user ?? e.user,
            ...(privateKey ? { privateKey } : {}),
            ...(secrets.password ? { password: secrets.password } : {}),
        };
    }
    return conn;
}
