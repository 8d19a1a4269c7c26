import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RunTracker } from "../../cli/runTracker";
import { checkWindow, clockOf, insideWindow, parseWindow, watchWindow, windowNow, windowProblem } from "../../cli/window";
import { planWaves } from "../../lib/plan";
import type { ProgressEvent } from "../../engine/events";

// The seed: A, B primary; C, D standby.
const waves = planWaves({
    hosts: [
        { name: "A", address: "10.0.0.1", center: "primary", services: ["cloud", "config-server"] },
        { name: "B", address: "10.0.0.2", center: "primary", services: ["cloud"] },
        { name: "C", address: "10.0.0.3", center: "standby", services: ["cloud", "config-server"] },
        { name: "D", address: "10.0.0.4", center: "standby", services: ["cloud"] },
    ],
    serviceOrder: ["cloud", "config-server"],
});
const time = "2026-01-01T00:00:00Z";
const node = (k: string, status: "upgrading" | "healthy" | "skipped"): ProgressEvent => ({
    type: "node",
    host: k.split("/")[0],
    service: k.split("/")[1],
    status,
    time,
});

describe("RunTracker", () => {
    test("says where a run stopped: the last node finished and the next not started", () => {
        const t = new RunTracker(waves);
        expect(t.whereStopped("upgraded")).toBe("Stopped before any node was upgraded; next: C/cloud (wave 1), not started.");
        t.onEvent(node("C/cloud", "upgrading"));
        t.onEvent(node("C/cloud", "healthy"));
        expect(t.whereStopped("upgraded")).toBe("Stopped after C/cloud (wave 1): 1 node upgraded in this run; next: D/cloud (wave 1), not started.");
    });

    test("a wave is under way once every node of it that the run has to do started; settled nodes do not count", () => {
        const t = new RunTracker(waves);
        expect(t.waveUnderWay()).toBe(true); // nothing started: stopping starts no wave
        t.onEvent({
            type: "live-state",
            target: "3.2.0",
            done: ["D/cloud"],
            pending: ["C/cloud", "A/cloud", "B/cloud", "C/config-server", "A/config-server"].map((n) => ({ node: n, detail: "" })),
            seconds: 1,
            time,
        });
        t.onEvent(node("C/cloud", "upgrading"));
        expect(t.currentWave()?.index).toBe(1);
        expect(t.waveUnderWay()).toBe(true); // D/cloud is settled
        t.onEvent(node("C/cloud", "healthy"));
        t.onEvent(node("A/cloud", "upgrading"));
        expect(t.waveUnderWay()).toBe(false); // B/cloud of wave 2 not started
        t.onEvent(node("A/cloud", "healthy"));
        t.onEvent(node("B/cloud", "upgrading"));
        expect(t.waveUnderWay()).toBe(true);
        expect(t.whereStopped("upgraded")).toBe("Stopped after A/cloud (wave 2): 2 nodes upgraded in this run; next: B/cloud (wave 2), not finished.");
    });

    test("a wave is finished once every node of it that the run has to do finished", () => {
        const t = new RunTracker(waves);
        const [w1, w2] = waves;
        t.onEvent(node("C/cloud", "healthy"));
        expect(t.waveFinished(w1)).toBe(false); // D/cloud to do
        t.onEvent(node("D/cloud", "upgrading"));
        expect(t.waveFinished(w1)).toBe(false);
        t.onEvent(node("D/cloud", "skipped"));
        expect(t.waveFinished(w1)).toBe(true);
        t.onEvent(node("A/cloud", "healthy"));
        expect(t.waveFinished(w2)).toBe(false); // cut short: B/cloud not done
    });
});

describe("the window's clock", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-window-"));
    const file = path.join(dir, "clock");
    const saved = process.env.SCM_UPGRADE_TEST_CLOCK;
    afterAll(() => {
        if (saved === undefined) delete process.env.SCM_UPGRADE_TEST_CLOCK;
        else process.env.SCM_UPGRADE_TEST_CLOCK = saved;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test("SCM_UPGRADE_TEST_CLOCK: a file with an ISO time sets the clock; empty or missing: the real clock", () => {
        process.env.SCM_UPGRADE_TEST_CLOCK = file;
        expect(Math.abs(windowNow().getTime() - Date.now())).toBeLessThan(1000);
        fs.writeFileSync(file, "2030-05-06T07:08:09Z");
        expect(windowNow().toISOString()).toBe("2030-05-06T07:08:09.000Z");
        fs.writeFileSync(file, "");
        expect(Math.abs(windowNow().getTime() - Date.now())).toBeLessThan(1000);
    });

    test("watchWindow calls back once the clock leaves the window, and never when forced", async () => {
        process.env.SCM_UPGRADE_TEST_CLOCK = file;
        const inside = new Date(2030, 4, 6, 2, 0);
        const outside = new Date(2030, 4, 6, 6, 0);
        expect(insideWindow(parseWindow("01:00-05:00"), inside)).toBe(true);
        fs.writeFileSync(file, inside.toISOString());
        const closed: Date[] = [];
        const forced: Date[] = [];
        const watch = watchWindow("01:00-05:00", false, (d) => closed.push(d), 20);
        const forcedWatch = watchWindow("01:00-05:00", true, (d) => forced.push(d), 20);
        await new Promise((r) => setTimeout(r, 100));
        expect(closed).toEqual([]);
        fs.writeFileSync(file, outside.toISOString());
        await new Promise((r) => setTimeout(r, 150));
        watch.stop();
        forcedWatch.stop();
        expect(closed.map((d) => d.getTime())).toEqual([outside.getTime()]);
        expect(forced).toEqual([]);
        expect(forcedWatch.check()).toBe(false);
    });

    test("checkWindow: --force lets a run start outside the window, and says so; a forced run started inside it is watched", () => {
        const inside = new Date(2030, 4, 6, 2, 0);
        const outside = new Date(2030, 4, 6, 6, 0);
        expect(checkWindow("01:00-05:00", true, inside)).toBe(false);
        expect(checkWindow("01:00-05:00", false, inside)).toBe(false);
        expect(checkWindow("01:00-05:00", true, outside)).toBe(true);
        expect(() => checkWindow("01:00-05:00", false, outside)).toThrow("It is 06:00, outside the maintenance window 01:00-05:00: nothing was done.");
        expect(checkWindow(undefined, false, outside)).toBe(false);
        expect(windowProblem("01:00-05:00")).toBeUndefined();
        expect(windowProblem("24:00-05:00")).toBe('"24:00-05:00" is not HH:MM-HH:MM (24-hour local time), e.g. 01:00-05:00.');
    });

    test("check() reads the clock at once, between the timer's ticks, and calls back only once", () => {
        process.env.SCM_UPGRADE_TEST_CLOCK = file;
        fs.writeFileSync(file, new Date(2030, 4, 6, 4, 59).toISOString());
        const closed: Date[] = [];
        // A tick far away: only check() can see the close within this test.
        const watch = watchWindow("01:00-05:00", false, (d) => closed.push(d), 3_600_000);
        try {
            expect(watch.check()).toBe(false);
            expect(closed).toEqual([]);
            fs.writeFileSync(file, new Date(2030, 4, 6, 5, 0).toISOString());
            expect(watch.check()).toBe(true);
            expect(watch.check()).toBe(true);
            expect(closed.map(clockOf)).toEqual(["05:00"]);
        } finally {
            watch.stop();
        }
    });
});
