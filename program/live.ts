/**
 * Reads the cluster's live state over SSH (one command per host, all hosts at once) before the
 * engine decides what to run. Uses the same address, port, user, key or password and bastion as the
 * command provider's connections.
 */
import * as fs from "fs";
import type { Client, ConnectConfig } from "ssh2";
import { effectiveHost, HostConfig, UpgradeConfig } from "../lib/config/schema";
import { LiveState, liveKey, parseLiveProbe, renderLiveProbe } from "../lib/probe";

/** The SSH secrets, as plain values: held in memory only, never logged. */
export interface SshCredentials {
    privateKey?: string;
    password?: string;
    privateKeyPassphrase?: string;
}

export class LiveStateError extends Error {
    constructor(
        public readonly host: string,
        message: string,
    ) {
        super(message);
        this.name = "LiveStateError";
    }
}

function auth(config: UpgradeConfig, h: HostConfig, creds: SshCredentials): Partial<ConnectConfig> {
    const e = effectiveHost(config, h);
    const key = e.privateKeyFile ? fs.readFileSync(e.privateKeyFile, "utf8") : creds.privateKey;
    return {
        ...(key ? { privateKey: key } : {}),
        ...(creds.privateKeyPassphrase ? { passphrase: creds.privateKeyPassphrase } : {}),
        ...(creds.password ? { password: creds.password, tryKeyboard: false } : {}),
        readyTimeout: config.ssh.perDialTimeoutSeconds * 1000,
        // A host that hangs after the handshake ends the session within ~15 s instead of never.
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
    };
}

function connect(c: ConnectConfig): Promise<Client> {
    return new Promise((resolve, reject) => {
        // Loaded on the first dial (~0.1 s): a preview with --no-live never needs it.
        const ssh2 = require("ssh2") as typeof import("ssh2");
        const client = new ssh2.Client();
        client.once("ready", () => resolve(client));
        // Every error, not only the first: a handshake that timed out is followed by "Connection lost
        // before handshake" when its socket closes, which unheard would end the process.
        client.on("error", reject);
        client.connect(c);
        // ssh2 leaves Nagle on: two of the handshake's small writes then wait for sshd's delayed ACK,
        // ~40 ms each (measured on loopback: ready at 80 ms, 40 with this). Applied once the socket connects.
        client.setNoDelay(true);
    });
}

async function dialHost(config: UpgradeConfig, h: HostConfig, creds: SshCredentials): Promise<{ client: Client; close: () => void }> {
    const e = effectiveHost(config, h);
    const a = auth(config, h, creds);
    const b = config.ssh.bastion;
    if (!b) {
        const client = await connect({ host: h.address, port: e.port, username: e.user, ...a });
        return { client, close: () => client.end() };
    }
    const jump = await connect({ host: b.host, port: b.port, username: b.user ?? e.user, ...a });
    const sock = await new Promise<NodeJS.ReadableStream & NodeJS.WritableStream>((resolve, reject) =>
        jump.forwardOut("127.0.0.1", 0, h.address, e.port, (err, stream) => (err ? reject(err) : resolve(stream))),
    ).catch((err) => {
        jump.end();
        throw err;
    });
    try {
        const client = await connect({ sock: sock as never, username: e.user, ...a });
        return {
            client,
            close: () => {
                client.end();
                jump.end();
            },
        };
    } catch (err) {
        jump.end();
        throw err;
    }
}

function exec(client: Client, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        client.exec(command, (err, stream) => {
            if (err) return reject(err);
            let stdout = "";
            let stderr = "";
            stream.on("data", (d: Buffer) => (stdout += d.toString()));
            stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            stream.on("close", (code: number | null) => resolve({ code: code ?? -1, stdout, stderr }));
        });
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One host's nodes, with a few quick retries of the dial (a host restarting its sshd). */
async function probeHost(config: UpgradeConfig, h: HostConfig, creds: SshCredentials): Promise<LiveState> {
    const e = effectiveHost(config, h);
    const tries = Math.max(1, Math.min(config.ssh.dialErrorLimit, 3));
    let conn: { client: Client; close: () => void } | undefined;
    let last: unknown;
    for (let i = 0; i < tries && !conn; i++) {
        try {
            conn = await dialHost(config, h, creds);
        } catch (err) {
            last = err;
            if (i + 1 < tries) await sleep(200 * (i + 1));
        }
    }
    const where = `${e.user}@${h.address}:${e.port}${config.ssh.bastion ? ` through the bastion ${config.ssh.bastion.host}:${config.ssh.bastion.port}` : ""}`;
    if (!conn) {
        throw new LiveStateError(
            h.name,
            `Cannot reach host ${h.name} (${where}) to read its live state: ${(last as Error)?.message ?? last}. Nothing was changed; check that the host and its sshd are up, then run again.`,
        );
    }
    try {
        const r = await exec(conn.client, renderLiveProbe(config, h.name));
        const nodes = parseLiveProbe(h.name, r.stdout);
        const missing = h.services.filter((s) => !nodes.some((n) => n.service === s));
        if (missing.length) {
            throw new LiveStateError(
                h.name,
                `Reading the live state of host ${h.name} (${where}) failed (exit status ${r.code}) for ${missing.join(", ")}: ${r.stderr.trim().split("\n").slice(-3).join(" | ") || "no output"}. Nothing was changed.`,
            );
        }
        return Object.fromEntries(nodes.map((n) => [liveKey(n.host, n.service), n]));
    } finally {
        conn.close();
    }
}

/** Hosts read at the same time: every host of a usual cluster at once, without a thousand SSH handshakes at once. */
export const LIVE_READ_CONCURRENCY = 64;

/** Every host's nodes, up to LIVE_READ_CONCURRENCY hosts at once. Fails naming the first host that cannot be read. */
export async function readLiveState(config: UpgradeConfig, creds: SshCredentials): Promise<LiveState> {
    const parts: LiveState[] = new Array(config.hosts.length);
    let next = 0;
    let failed: unknown;
    const worker = async () => {
        while (failed === undefined && next < config.hosts.length) {
            const i = next++;
            try {
                parts[i] = await probeHost(config, config.hosts[i], creds);
            } catch (e) {
                failed ??= e;
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(LIVE_READ_CONCURRENCY, config.hosts.length) }, worker));
    if (failed !== undefined) throw failed;
    return Object.assign({}, ...parts);
}

/**
 * Whether host `name` answers SSH now: the handshake, the login and `true`, within `timeoutMs` in all.
 * Undefined when it does; else what went wrong (`no answer within 10 s`, or the SSH error). A host that
 * takes TCP connections but never sends its SSH banner (a hung machine) is the reason this exists:
 * the command provider's dial waits for it for ever (engine/hostWatch.ts).
 */
export async function sshAnswer(config: UpgradeConfig, name: string, creds: SshCredentials, timeoutMs: number): Promise<string | undefined> {
    const h = config.hosts.find((x) => x.name === name);
    if (!h) return `no host ${name} in the config`;
    let timer: NodeJS.Timeout | undefined;
    let conn: { client: Client; close: () => void } | undefined;
    let late = false;
    const attempt = (async () => {
        const c = await dialHost(config, h, creds);
        // Answered after the deadline: closed at once, its answer no longer counts.
        if (late) return c.close();
        conn = c;
        const r = await exec(c.client, "true");
        if (r.code !== 0) throw new Error(`\`true\` exited ${r.code}`);
    })();
    try {
        await Promise.race([
            attempt,
            new Promise((_, reject) => {
                timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
            }),
        ]);
        return undefined;
    } catch (e) {
        return String((e as Error)?.message ?? e);
    } finally {
        late = true;
        clearTimeout(timer);
        attempt.catch(() => undefined);
        conn?.close();
    }
}
