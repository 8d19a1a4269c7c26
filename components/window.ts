import * as pulumi from "@pulumi/pulumi";

/**
 * How many resources a preview keeps waiting for the engine's answer at once. A program that makes
 * every resource at once keeps every one's pending registration (its Outputs, promises and request)
 * in memory until the engine gets to it: at 1,000 hosts over a GB. The engine answers a preview's
 * registration in milliseconds, so a preview makes the next resource when the one `size` before it is
 * answered. Never in an `up`, where an answer comes only when the command has run on its host.
 *
 * A registration that fails before it reaches the engine is never answered: if an answer does not
 * come within `patienceMs`, the window opens for good and the rest is made at once, as without it.
 */
export class RegistrationWindow {
    private readonly waiting: Promise<void>[] = [];
    private open: boolean;

    constructor(
        private readonly size: number,
        enabled = pulumi.runtime.isDryRun(),
        private readonly patienceMs = 5000,
    ) {
        this.open = !enabled;
    }

    /** Undefined (go on at once) or a promise to await before making the next resource. */
    admit(r: pulumi.Resource): Promise<void> | undefined {
        if (this.open) return undefined;
        this.waiting.push(new Promise((resolve) => r.urn.apply(() => resolve())));
        if (this.waiting.length <= this.size) return undefined;
        const oldest = this.waiting.shift() as Promise<void>;
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<"late">((resolve) => {
            timer = setTimeout(() => resolve("late"), this.patienceMs);
        });
        return Promise.race([oldest, late]).then((r) => {
            clearTimeout(timer);
            if (r === "late") this.open = true;
        });
    }
}
