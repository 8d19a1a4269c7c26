import { DriverError } from "../lib/engine/errors";

/** Parse `HH:MM-HH:MM` into minutes of the day; a window may cross midnight. */
export function parseWindow(text: string): { start: number; end: number } {
    const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(text);
    if (!m || +m[1] > 23 || +m[3] > 23 || +m[2] > 59 || +m[4] > 59) {
        throw new DriverError("refused", `The maintenance window "${text}" is not HH:MM-HH:MM (24-hour local time), e.g. 01:00-05:00.`);
    }
    return { start: +m[1] * 60 + +m[2], end: +m[3] * 60 + +m[4] };
}

export function insideWindow(w: { start: number; end: number }, now: Date): boolean {
    const t = now.getHours() * 60 + now.getMinutes();
    return w.start <= w.end ? t >= w.start && t < w.end : t >= w.start || t < w.end;
}

/** Refuse to start outside the maintenance window unless forced. No window: always allowed. */
export function checkWindow(window: string | undefined, force: boolean, now: Date): void {
    const spec = window ?? process.env.SCM_UPGRADE_WINDOW;
    if (!spec) return;
    const w = parseWindow(spec);
    if (!insideWindow(w, now) && !force) {
        throw new DriverError(
            "refused",
            `It is ${now.toTimeString().slice(0, 5)}, outside the maintenance window ${spec}: nothing was done. Run inside the window, or pass --force.`,
        );
    }
}
