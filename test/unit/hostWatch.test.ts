import { EngineSignal } from "../../engine/engineSignal";
import { LostHost, watchHosts } from "../../engine/hostWatch";
import type { ProgressEvent } from "../../engine/events";

const time = "2026-11-27T02:00:00Z";
const node = (host: string, service: string, status: Extract<ProgressEvent, { type: "node" }>["status"]): ProgressEvent => ({
    type: "node",
    host,
    service,
    status,
    time,
});

/** A watch on a fake clock; `answers[host]` says whether that host answers (default: it does). */
function setup(unansweredSeconds: number, answers: Record<string, boolean> = {}) {
    const probes: { host: string; at: number; timeoutMs: number }[] = [];
    const lost: LostHost[] = [];
    const w = watchHosts({
        unansweredSeconds,
        probe: async (host, timeoutMs) => {
            probes.push({ host, at: Date.now(), timeoutMs });
            return answers[host] === false ? `no answer within ${timeoutMs / 1000} s` : undefined;
        },
        onLost: (l) => lost.push(l),
    });
    return { w, probes, lost };
}

describe("the watch on hosts with a step in flight", () => {
    beforeEach(() => jest.useFakeTimers({ now: 0 }));
    afterEach(() => jest.useRealTimers());

    test("a host that answers no SSH for unansweredSeconds while its node runs is lost once, naming the node; probes start one interval in", async () => {
        const { w, probes, lost } = setup(20, { D: false });
        w.onEvent(node("D", "cloud", "upgrading"));
        await jest.advanceTimersByTimeAsync(4_000);
        expect(probes).toEqual([]); // a step younger than the interval (a quarter of 20 s) is not probed
        await jest.advanceTimersByTimeAsync(1_500);
        expect(probes.map((p) => [p.host, p.timeoutMs])).toEqual([["D", 5_000]]);
        await jest.advanceTimersByTimeAsync(18_000);
        expect(lost).toEqual([]); // 15 s unanswered: not yet
        await jest.advanceTimersByTimeAsync(10_000);
        expect(lost).toEqual([{ host: "D", what: "the upgrade of D/cloud", service: "cloud", seconds: 20, error: "no answer within 5 s" }]);
        const n = probes.length;
        await jest.advanceTimersByTimeAsync(60_000);
        expect(lost).toHaveLength(1);
        expect(probes).toHaveLength(n); // no more probes once a host is lost
        w.stop();
    });

    test("a host that answers is never lost, however long its step runs, and is probed once per interval", async () => {
        const { w, probes, lost } = setup(60);
        w.onEvent(node("C", "cloud", "upgrading"));
        await jest.advanceTimersByTimeAsync(300_000);
        expect(lost).toEqual([]);
        // every 15 s (a quarter of 60 s) from 15 s on: 20 in 300 s
        expect(probes.length).toBeGreaterThanOrEqual(19);
        expect(probes.length).toBeLessThanOrEqual(20);
        expect(new Set(probes.map((p) => p.host))).toEqual(new Set(["C"]));
        w.stop();
    });

    test("no step in flight, no probe: a host whose step ended is not probed, nor lost", async () => {
        const { w, probes, lost } = setup(8, { D: false });
        w.onEvent({ type: "staging", host: "D", status: "running", time });
        await jest.advanceTimersByTimeAsync(1_000);
        w.onEvent({ type: "staging", host: "D", status: "staged", time });
        w.onEvent(node("A", "cloud", "upgrading"));
        w.onEvent(node("A", "cloud", "healthy"));
        await jest.advanceTimersByTimeAsync(120_000);
        expect(probes).toEqual([]);
        expect(lost).toEqual([]);
        w.stop();
    });

    test("a host that answers again starts its count afresh", async () => {
        const answers: Record<string, boolean> = { B: false };
        const { w, lost } = setup(20, answers);
        w.onEvent({ type: "preflight", host: "B", status: "running", time });
        await jest.advanceTimersByTimeAsync(15_000);
        answers.B = true;
        await jest.advanceTimersByTimeAsync(6_000);
        answers.B = false;
        await jest.advanceTimersByTimeAsync(15_000);
        expect(lost).toEqual([]);
        await jest.advanceTimersByTimeAsync(10_000);
        expect(lost.map((l) => [l.host, l.what, l.service])).toEqual([["B", "its preflight", undefined]]);
        w.stop();
    });

    test("busyBeyond: whether a step is in flight on another host", () => {
        const { w } = setup(60);
        w.onEvent(node("D", "cloud", "upgrading"));
        expect(w.busyBeyond(["D"])).toBe(false);
        w.onEvent({ type: "staging", host: "A", status: "running", time });
        expect(w.busyBeyond(["D"])).toBe(true);
        w.onEvent({ type: "staging", host: "A", status: "failed", time });
        expect(w.busyBeyond(["D"])).toBe(false);
        w.stop();
    });
});

describe("EngineSignal: the engine's SIGINTs", () => {
    test("interrupt calls the engine's listener once; terminate calls it a second time; both only once", () => {
        const e = new EngineSignal();
        let calls = 0;
        e.signal.addEventListener("abort", () => calls++);
        e.interrupt();
        e.interrupt();
        expect(calls).toBe(1);
        e.terminate();
        e.terminate();
        expect(calls).toBe(2);
        expect(e.signal.aborted).toBe(true);
    });

    test("an interrupt before the engine listens is heard when it does (the outer signal's too)", async () => {
        const outer = new AbortController();
        const e = new EngineSignal(outer.signal);
        outer.abort();
        let calls = 0;
        e.signal.addEventListener("abort", () => calls++);
        await Promise.resolve();
        expect(calls).toBe(1);
        const already = new EngineSignal(AbortSignal.abort());
        expect(already.signal.aborted).toBe(true);
    });

    test("an operator's second signal (stopNow) is the engine's second SIGINT; before the engine listens, both are heard when it does", async () => {
        const outer = new AbortController();
        const now = new AbortController();
        const e = new EngineSignal(outer.signal, now.signal);
        let calls = 0;
        e.signal.addEventListener("abort", () => calls++);
        outer.abort();
        expect(calls).toBe(1);
        now.abort();
        expect(calls).toBe(2);
        const late = new EngineSignal(AbortSignal.abort(), AbortSignal.abort());
        let lateCalls = 0;
        late.signal.addEventListener("abort", () => lateCalls++);
        await Promise.resolve();
        expect(lateCalls).toBe(2);
    });
});
