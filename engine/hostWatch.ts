import type { ProgressEvent } from "./events";

/**
 * A host that hangs mid-run (a frozen machine, a wedged sshd, a network that drops its packets) leaves
 * the command provider waiting for ever: its SSH dial has a timeout for the TCP connect only, and a
 * session already open has no keepalive (the official provider as the stand-in). No engine event comes,
 * and the night window goes by. So while a host has a step in flight, the run asks that host itself
 * whether it answers SSH; one that answers no handshake for `unansweredSeconds` counts as lost.
 */

/** One step in flight on a host: a node's upgrade or rollback, a preflight, a staging, a soak's watch. */
interface InFlight {
    host: string;
    what: string;
    since: number;
    /** For a node's step: its service (the run reports the node failed). */
    service?: string;
}

export interface LostHost {
    host: string;
    /** What was running there: `the upgrade of D/cloud`, `its staging`, ... */
    what: string;
    /** When it was a node's upgrade or rollback: the node's service. */
    service?: string;
    /** Seconds from the first unanswered probe to the last. */
    seconds: number;
    /** The last probe's error. */
    error: string;
}

export interface HostWatchOptions {
    /** A host that answers no SSH this long, probed all along, counts as lost. */
    unansweredSeconds: number;
    /** Asks the host: undefined when it answers, else why not. Given a time limit. */
    probe: (host: string, timeoutMs: number) => Promise<string | undefined>;
    /** Called once, for the first host found lost. */
    onLost: (lost: LostHost) => void;
}

/** What a ProgressEvent says of a step: started (`begin`) or ended (`end`), keyed by host and step. */
function stepOf(e: ProgressEvent): { key: string; host: string; what: string; begin: boolean; service?: string } | undefined {
    switch (e.type) {
        case "node": {
            const key = `node ${e.host}/${e.service}`;
            if (e.status === "upgrading" || e.status === "rolling-back") {
                const what = `the ${e.status === "upgrading" ? "upgrade" : "rollback"} of ${e.host}/${e.service}`;
                return { key, host: e.host, what, begin: true, service: e.service };
            }
            return e.status === "planned" ? undefined : { key, host: e.host, what: "", begin: false };
        }
        case "preflight":
            return { key: `preflight ${e.host}`, host: e.host, what: "its preflight", begin: e.status === "running" };
        case "staging":
            return { key: `staging ${e.host}`, host: e.host, what: "its staging", begin: e.status === "running" };
        case "soak":
            if (e.status === "planned") return undefined;
            return { key: `soak ${e.soak} ${e.host}`, host: e.host, what: `the soak's watch of ${e.nodes.join(", ")}`, begin: e.status === "watching" };
        default:
            return undefined;
    }
}

export interface HostWatch {
    /** Every progress event of the run, in order. */
    onEvent(e: ProgressEvent): void;
    /** Whether a step is in flight on a host other than these. */
    busyBeyond(hosts: string[]): boolean;
    stop(): void;
}

/**
 * Probes every host with a step in flight for longer than a probe interval, one probe at a time per
 * host, every interval (a quarter of `unansweredSeconds`, 2 to 15 s; each probe may take that long).
 * A host answering again resets its count. Healthy hosts with long steps cost one SSH login per interval.
 */
export function watchHosts(o: HostWatchOptions): HostWatch {
    const now = Date.now;
    const everyMs = Math.min(15_000, Math.max(2_000, (o.unansweredSeconds * 1000) / 4));
    const inFlight = new Map<string, InFlight>();
    const probing = new Set<string>();
    /** Per host: when its last probe began. */
    const probedAt = new Map<string, number>();
    /** Per host: when its first unanswered probe in a row began. */
    const silentSince = new Map<string, number>();
    let lost = false;
    let stopped = false;
    const tick = () => {
        if (lost || stopped) return;
        const t = now();
        const hosts = new Set<string>();
        for (const f of inFlight.values()) if (t - f.since >= everyMs) hosts.add(f.host);
        for (const host of hosts) {
            if (probing.has(host) || t - (probedAt.get(host) ?? 0) < everyMs) continue;
            probing.add(host);
            const began = t;
            probedAt.set(host, began);
            o.probe(host, everyMs).then(
                (error) => {
                    probing.delete(host);
                    if (lost || stopped) return;
                    if (error === undefined) {
                        silentSince.delete(host);
                        return;
                    }
                    const first = silentSince.get(host) ?? began;
                    silentSince.set(host, first);
                    const seconds = (now() - first) / 1000;
                    // Still in flight there (the step may have ended while the probe waited).
                    const still = [...inFlight.values()].find((x) => x.host === host);
                    if (seconds >= o.unansweredSeconds && still) {
                        lost = true;
                        o.onLost({ host, what: still.what, ...(still.service ? { service: still.service } : {}), seconds: Math.round(seconds), error });
                    }
                },
                () => probing.delete(host),
            );
        }
    };
    const timer = setInterval(tick, Math.min(everyMs, 1000));
    timer.unref();
    return {
        onEvent(e) {
            const s = stepOf(e);
            if (!s) return;
            if (s.begin) inFlight.set(s.key, { host: s.host, what: s.what, since: now(), ...(s.service ? { service: s.service } : {}) });
            else inFlight.delete(s.key);
        },
        busyBeyond(hosts) {
            return [...inFlight.values()].some((f) => !hosts.includes(f.host));
        },
        stop() {
            stopped = true;
            clearInterval(timer);
        },
    };
}
