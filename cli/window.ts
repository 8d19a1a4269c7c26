import * as fs from "fs";
import { DriverError } from "../engine/errors";

const WINDOW = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/;

/** Why `text` is no maintenance window (the CLI's usage error, exit 2), or undefined when it is one. */
export function windowProblem(text: string): string | undefined {
    const m = WINDOW.exec(text);
    if (!m || +m[1] > 23 || +m[3] > 23 || +m[2] > 59 || +m[4] > 59) return `"${text}" is not HH:MM-HH:MM (24-hour local time), e.g. 01:00-05:00.`;
    return undefined;
}

/** Parse `HH:MM-HH:MM` into minutes of the day; a window may cross midnight. */
export function parseWindow(text: string): { start: number; end: number } {
    const problem = windowProblem(text);
    if (problem) throw new DriverError("invalid-config", `The maintenance window ${problem}`);
    const m = WINDOW.exec(text) as RegExpExecArray;
    return { start: +m[1] * 60 + +m[2], end: +m[3] * 60 + +m[4] };
}

export function insideWindow(w: { start: number; end: number }, now: Date): boolean {
    const t = now.getHours() * 60 + now.getMinutes();
    return w.start <= w.end ? t >= w.start && t < w.end : t >= w.start || t < w.end;
}

/**
 * Refuse to start outside the maintenance window unless forced. No window: always allowed. True when the
 * run starts outside it (forced): such a run is not stopped by the window (watchWindow).
 */
export function checkWindow(window: string | undefined, force: boolean, now: Date): boolean {
    const spec = windowSpec(window);
    if (!spec) return false;
    const outside = !insideWindow(parseWindow(spec), now);
    if (outside && !force) {
        throw new DriverError(
            "refused",
            `It is ${now.toTimeString().slice(0, 5)}, outside the maintenance window ${spec}: nothing was done. Run inside the window, or pass --force.`,
        );
    }
    return outside;
}

/**
 * The clock the window is checked against: the machine's, unless `SCM_UPGRADE_TEST_CLOCK` names a
 * file holding an ISO time (tests move the clock past a window's end with it; an empty or missing
 * file means the real clock).
 */
export function windowNow(): Date {
    const file = process.env.SCM_UPGRADE_TEST_CLOCK;
    if (file) {
        try {
            const t = fs.readFileSync(file, "utf8").trim();
            if (t && !Number.isNaN(Date.parse(t))) return new Date(t);
        } catch {
            // no file: the real clock
        }
    }
    return new Date();
}

/** The window in force for `up` (`--window`, else `SCM_UPGRADE_WINDOW`), or none. */
export function windowSpec(window: string | undefined): string | undefined {
    return window ?? process.env.SCM_UPGRADE_WINDOW ?? undefined;
}

/** A running watch on the window: `check()` reads the clock now (true once closed); `stop()` ends it. */
export interface WindowWatch {
    check(): boolean;
    stop(): void;
}

/**
 * Watches the window while a run goes on: `onClose` is called once, with the time, when it has
 * closed. The clock is read every `everyMs` and on each `check()`: the CLI checks at every engine
 * event, so a node that starts after the close is seen at once, not up to a timer tick later (on a
 * fast cluster a whole wave fits in one tick). A run started outside its window on purpose (`--force`:
 * `forcedOutside`) is not watched; a forced run that starts inside it is.
 */
export function watchWindow(window: string | undefined, forcedOutside: boolean, onClose: (at: Date) => void, everyMs = 1000): WindowWatch {
    const spec = windowSpec(window);
    if (!spec || forcedOutside) return { check: () => false, stop: () => undefined };
    const w = parseWindow(spec);
    let closed = false;
    const check = () => {
        if (closed) return true;
        const now = windowNow();
        if (insideWindow(w, now)) return false;
        closed = true;
        clearInterval(timer);
        onClose(now);
        return true;
    };
    const timer = setInterval(check, everyMs);
    timer.unref();
    return { check, stop: () => clearInterval(timer) };
}

export const clockOf = (d: Date) => d.toTimeString().slice(0, 5);
