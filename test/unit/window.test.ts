import * as pulumi from "@pulumi/pulumi";

// components/window.ts: a preview keeps at most `size` resources waiting for the engine's answer.

let answered = 0;
pulumi.runtime.setMocks(
    {
        newResource: (a) => {
            answered++;
            return { id: `${a.name}-id`, state: a.inputs };
        },
        call: (a) => {
            throw new Error(`unmocked call ${a.token}`);
        },
    },
    "scm-upgrade",
    "unit",
    true, // a preview
);

const { RegistrationWindow } = require("../../components/window") as typeof import("../../components/window");

class Thing extends pulumi.CustomResource {
    constructor(name: string, props: pulumi.Inputs) {
        super("test:index:Thing", name, props);
    }
}

const never = { urn: pulumi.output(new Promise<string>(() => undefined)) } as unknown as pulumi.Resource;

describe("RegistrationWindow", () => {
    test("is on in a preview and off elsewhere", () => {
        expect(pulumi.runtime.isDryRun()).toBe(true);
        expect(new RegistrationWindow(1).admit(never)).toBeUndefined();
        const off = new RegistrationWindow(1, false);
        for (let i = 0; i < 5; i++) expect(off.admit(never)).toBeUndefined();
    });

    test("makes the next resource only when the one `size` before it is answered", async () => {
        const w = new RegistrationWindow(2, true);
        const made: pulumi.Resource[] = [];
        const waited: number[] = [];
        for (let i = 0; i < 6; i++) {
            const r = new Thing(`thing-${i}`, { i });
            made.push(r);
            const before = answered;
            const wait = w.admit(r);
            if (wait) {
                await wait;
                waited.push(i);
                // The one `size` before this one has its answer by now.
                expect(answered).toBeGreaterThanOrEqual(i - 1);
                expect(answered).toBeGreaterThanOrEqual(before);
            }
        }
        expect(waited).toEqual([2, 3, 4, 5]);
        await Promise.all(made.map((r) => new Promise((resolve) => r.urn.apply(resolve))));
        expect(answered).toBeGreaterThanOrEqual(6);
    });

    test("an answer that never comes opens the window for good after its patience", async () => {
        const w = new RegistrationWindow(1, true, 50);
        expect(w.admit(never)).toBeUndefined();
        const started = Date.now();
        await w.admit(never);
        expect(Date.now() - started).toBeGreaterThanOrEqual(45);
        for (let i = 0; i < 5; i++) expect(w.admit(never)).toBeUndefined();
    });
});
