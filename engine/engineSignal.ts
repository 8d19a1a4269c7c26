/**
 * How this process reaches the engine's process (the Pulumi CLI the Automation API spawns): through
 * the one "abort" listener the API adds to the signal it is given, which sends the CLI a SIGINT.
 *
 * - `interrupt()`: the first SIGINT. The engine starts no new step, finishes the steps in progress,
 *   writes the state and ends the update as cancelled: a graceful stop.
 * - `terminate()`: the same listener called again, the CLI's second SIGINT. It closes the providers at
 *   once (their steps in progress fail) and ends the update: for a step that can never end (a host that
 *   hangs mid-command), and only once every other step in progress has ended; or an operator's second
 *   signal (`stopNow`).
 *
 * The API listens only once the CLI has been spawned, so a listener added after an interrupt is called
 * at once: an interrupt that came while the run opened is heard.
 */
export class EngineSignal {
    private readonly listeners: (() => void)[] = [];
    private sent = 0;
    /** What the Automation API is given as its `signal`. */
    readonly signal: AbortSignal;

    /** `outer` aborted: `interrupt()`; `stopNow` aborted: `terminate()`. */
    constructor(outer?: AbortSignal, stopNow?: AbortSignal) {
        const self = this;
        this.signal = {
            get aborted() {
                return self.sent > 0;
            },
            addEventListener(type: string, listener: ((e: Event) => void) | { handleEvent(e: Event): void }) {
                if (type !== "abort") return;
                const call = () => (typeof listener === "function" ? listener(new Event("abort")) : listener.handleEvent(new Event("abort")));
                self.listeners.push(call);
                for (let i = 0; i < self.sent; i++) queueMicrotask(call);
            },
            removeEventListener() {},
        } as unknown as AbortSignal;
        if (outer?.aborted) this.sent = 1;
        else outer?.addEventListener("abort", () => this.interrupt(), { once: true });
        if (stopNow?.aborted) this.sent = 2;
        else stopNow?.addEventListener("abort", () => this.terminate(), { once: true });
    }

    interrupt(): void {
        if (this.sent > 0) return;
        this.send();
    }

    terminate(): void {
        if (this.sent === 0) this.send();
        if (this.sent < 2) this.send();
    }

    private send(): void {
        this.sent++;
        for (const l of this.listeners) l();
    }
}
