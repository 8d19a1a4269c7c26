/**
 * The critical-path limit of a rolling upgrade (pure arithmetic): staging once, then for every wave
 * the time the wave must take. A wave runs in batches of `parallelism` nodes (lib/plan.ts `batches`);
 * a batch lasts as long as its slowest node, and batches follow each other. With parallelism 1 a
 * wave's time is the sum of its nodes' minimal times.
 */
import { batches, nodeKey, PlanNode, Wave } from "../lib/plan";

export interface CriticalPathInput {
    /** Seconds to stage the package once (every host stages at the same time). */
    stagingSeconds: number;
    waves: readonly Wave[];
    parallelism: number;
    /** The minimal time one node's upgrade takes, in seconds. */
    nodeSeconds: (node: PlanNode) => number;
}

export interface CriticalPath {
    totalSeconds: number;
    stagingSeconds: number;
    /** Per wave, in plan order. */
    waves: { index: number; id: string; seconds: number }[];
    /** Sum over waves (the total without staging). */
    wavesSeconds: number;
    nodes: number;
}

export function criticalPath(i: CriticalPathInput): CriticalPath {
    if (!(i.stagingSeconds >= 0)) throw new Error(`stagingSeconds must be >= 0, got ${i.stagingSeconds}`);
    const waves = i.waves.map((w) => {
        let seconds = 0;
        for (const batch of batches(w, i.parallelism)) {
            const times = batch.map((n) => {
                const s = i.nodeSeconds(n);
                if (!(s >= 0)) throw new Error(`no minimal time for node ${nodeKey(n)}: ${s}`);
                return s;
            });
            seconds += Math.max(...times);
        }
        return { index: w.index, id: w.id, seconds };
    });
    const wavesSeconds = waves.reduce((a, w) => a + w.seconds, 0);
    return {
        totalSeconds: i.stagingSeconds + wavesSeconds,
        stagingSeconds: i.stagingSeconds,
        waves,
        wavesSeconds,
        nodes: i.waves.reduce((a, w) => a + w.nodes.length, 0),
    };
}

/**
 * What decides a node's minimal time on a host: its service and the node types that service runs
 * there (one cloud host runs gateway + service-center, another auth-server + admin-server). One
 * measurement per shape stands for every node of that shape.
 */
export function nodeShape(service: string, nodeTypes: readonly string[]): string {
    return `${service}[${[...nodeTypes].sort().join(",")}]`;
}

/** `a / b`, or undefined when either is unknown or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
    if (a === undefined || b === undefined || !(b > 0)) return undefined;
    return a / b;
}

/** The targets (issue 16; bench/README.md), as numbers the report compares against. */
export const TARGETS = {
    /** ours / critical path, at 4 and at 40 hosts. */
    oursOverCriticalPath: 1.15,
    /** ours / Ansible, same run. */
    oursOverAnsible: 0.5,
    /** seconds, `preview` of N hosts. */
    previewSeconds: { 200: 8, 1000: 30 } as Record<number, number>,
    /** seconds, `plan` of 1,000 hosts (and fewer). */
    planSeconds: 1,
    /** MiB, the driver's peak RSS during a preview of 1,000 hosts. */
    previewPeakRssMiB: 400,
} as const;
