/**
 * A synthetic run, for the documentation's picture and the renderer tests: the ProgressEvents an `up`
 * of a plan emits (run-started, preflight and staging per host, upgrading -> healthy per node, wave after
 * wave, run-finished), with made-up but plausible durations. Not a measurement of anything.
 */
import type { ProgressEvent } from "../engine/events";
import { batches, nodeKey, Wave } from "../lib/plan";

export interface SampleRunOptions {
    stack?: string;
    /** ISO time of the start; default 2025-01-01T02:00:00Z. */
    start?: string;
    /** Seconds a node takes; default a fixed 30 to 75 s derived from its key. */
    nodeSeconds?: (key: string) => number;
    parallelism?: number;
    /** Nodes already at the target (`skipped`, 1 s). */
    skipped?: readonly string[];
    /** The node whose health gate fails: the run stops after its batch, later nodes are not run. */
    failed?: string;
    /** With `failed`: the node is rolled back instead of left failed (`rollbackOnHealthFailure`). */
    rollBackFailed?: boolean;
    from?: string;
    to?: string;
}

function hash(s: string): number {
    let h = 2166136261;
    for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
    return h;
}

export function sampleRunEvents(plan: readonly Wave[], o: SampleRunOptions = {}): ProgressEvent[] {
    const stack = o.stack ?? "production";
    const t0 = Date.parse(o.start ?? "2025-01-01T02:00:00Z");
    const from = o.from ?? "3.1.2";
    const to = o.to ?? "3.2.0";
    const secs = o.nodeSeconds ?? ((k: string) => 30 + (hash(k) % 46));
    const skipped = new Set(o.skipped ?? []);
    const at = (s: number) => new Date(t0 + Math.round(s * 1000)).toISOString();
    const ev: ProgressEvent[] = [{ type: "run-started", operation: "up", stack, time: at(0) }];
    const hosts = [...new Set(plan.flatMap((w) => w.nodes.map((n) => n.host)))];
    let t = 1.5;
    let prepEnd = t;
    for (const [i, h] of hosts.entries()) ev.push({ type: "preflight", host: h, status: "running", time: at(t + i * 0.1) });
    hosts.forEach((h, i) => {
        const end = t + 2 + (hash(h) % 30) / 10 + i * 0.1;
        ev.push({ type: "preflight", host: h, status: "ok", warnings: [], time: at(end) });
        prepEnd = Math.max(prepEnd, end);
    });
    t = prepEnd + 0.3;
    for (const [i, h] of hosts.entries()) ev.push({ type: "staging", host: h, status: "running", time: at(t + i * 0.1) });
    hosts.forEach((h, i) => {
        const end = t + 9 + (hash(`${h}/stage`) % 60) / 10 + i * 0.1;
        ev.push({ type: "staging", host: h, status: "staged", time: at(end) });
        prepEnd = Math.max(prepEnd, end);
    });
    t = prepEnd + 0.5;
    let failedRun = false;
    for (const wave of plan) {
        for (const batch of batches(wave, o.parallelism ?? 1)) {
            let batchEnd = t;
            for (const n of batch) {
                const key = nodeKey(n);
                ev.push({ type: "node", host: n.host, service: n.service, status: "upgrading", time: at(t) });
                if (skipped.has(key)) {
                    ev.push({
                        type: "node",
                        host: n.host,
                        service: n.service,
                        status: "skipped",
                        versionBefore: to,
                        versionAfter: to,
                        seconds: 1,
                        time: at(t + 1),
                    });
                    batchEnd = Math.max(batchEnd, t + 1);
                } else if (key === o.failed) {
                    const s = secs(key);
                    const message = "health gate: no answer on /health within 120 s\nlast lines of scmupgrade.py:\n  | starting node ... failed";
                    if (o.rollBackFailed) {
                        ev.push({
                            type: "node",
                            host: n.host,
                            service: n.service,
                            status: "rolled-back",
                            versionBefore: from,
                            versionAfter: from,
                            seconds: s,
                            message,
                            time: at(t + s),
                        });
                    } else {
                        ev.push({ type: "node", host: n.host, service: n.service, status: "failed", message, time: at(t + s) });
                    }
                    failedRun = true;
                    batchEnd = Math.max(batchEnd, t + s);
                } else {
                    const s = secs(key);
                    ev.push({
                        type: "node",
                        host: n.host,
                        service: n.service,
                        status: "healthy",
                        versionBefore: from,
                        versionAfter: to,
                        seconds: s,
                        time: at(t + s),
                    });
                    batchEnd = Math.max(batchEnd, t + s);
                }
            }
            t = batchEnd + 0.4;
            if (failedRun) break;
        }
        if (failedRun) break;
    }
    ev.push({ type: "run-finished", operation: "up", result: failedRun ? "failed" : "succeeded", elapsedSeconds: Math.round(t * 10) / 10, time: at(t) });
    // Events arrive in time order.
    return ev
        .map((e, i) => ({ e, i }))
        .sort((a, b) => Date.parse(a.e.time) - Date.parse(b.e.time) || a.i - b.i)
        .map((x) => x.e);
}
