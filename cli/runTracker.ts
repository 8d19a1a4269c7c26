import type { ProgressEvent } from "../engine/events";
import type { Wave } from "../lib/plan";

/**
 * Follows a run's node events against its plan: which nodes finished, which are in progress, the
 * wave the engine is in. The CLI uses it to say where an interrupted run stopped and when a wave is
 * fully under way (so that stopping the engine then lets that wave finish and starts no new one).
 */
export class RunTracker {
    /** Nodes this run has to do, in run order (the live state's pending list when there is one). */
    private todo: string[];
    private readonly waveOf = new Map<string, Wave>();
    private readonly started = new Set<string>();
    private readonly finished: string[] = [];
    private current?: Wave;

    /** `waves` in run order (reversed for a rollback). */
    constructor(waves: Wave[]) {
        for (const w of waves) for (const n of w.nodes) this.waveOf.set(`${n.host}/${n.service}`, w);
        this.todo = [...this.waveOf.keys()];
    }

    onEvent(e: ProgressEvent): void {
        if (e.type === "live-state") {
            const pending = new Set(e.pending.map((p) => p.node));
            this.todo = this.todo.filter((k) => pending.has(k));
            return;
        }
        if (e.type !== "node") return;
        const key = `${e.host}/${e.service}`;
        if (e.status === "upgrading" || e.status === "rolling-back") {
            this.started.add(key);
            this.current = this.waveOf.get(key) ?? this.current;
        } else if (e.status === "healthy" || e.status === "rolled-back" || e.status === "skipped") {
            this.started.add(key);
            if (!this.finished.includes(key)) this.finished.push(key);
        }
    }

    /** The wave of the node started last, if any. */
    currentWave(): Wave | undefined {
        return this.current;
    }

    /**
     * True when stopping the engine now starts no new wave and cuts none short: no node has started
     * yet, or every node of the current wave that this run has to do has started (the engine finishes
     * the steps in progress when it stops).
     */
    waveUnderWay(): boolean {
        const w = this.current;
        if (!w) return true;
        return this.todoOf(w).every((k) => this.started.has(k));
    }

    /** True when every node of `w` that this run has to do has finished. */
    waveFinished(w: Wave): boolean {
        return this.todoOf(w).every((k) => this.finished.includes(k));
    }

    /** The nodes of `w` that this run has to do. */
    private todoOf(w: Wave): string[] {
        return w.nodes.map((n) => `${n.host}/${n.service}`).filter((k) => this.todo.includes(k));
    }

    /** Nodes finished in this run, in the order they finished. */
    done(): string[] {
        return [...this.finished];
    }

    /** The first node of the run not finished, with its wave. */
    next(): { node: string; wave: Wave } | undefined {
        const k = this.todo.find((t) => !this.finished.includes(t));
        return k ? { node: k, wave: this.waveOf.get(k)! } : undefined;
    }

    /** One line: where the run stopped, for people. `verb` is "upgraded" or "rolled back". */
    whereStopped(verb: string): string {
        const last = this.finished.at(-1);
        const n = this.finished.length;
        const next = this.next();
        const head = last
            ? `Stopped after ${last} (wave ${this.waveOf.get(last)?.index ?? "?"}): ${n} node${n === 1 ? "" : "s"} ${verb} in this run`
            : `Stopped before any node was ${verb}`;
        const tail = next
            ? `; next: ${next.node} (wave ${next.wave.index}), ${this.started.has(next.node) ? "not finished" : "not started"}`
            : "; no node left to do";
        return head + tail + ".";
    }
}
