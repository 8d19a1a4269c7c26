import { EngineEvent } from "@pulumi/pulumi/automation";
import { classify, commandLine, commandOfRun, historyMessage, observe, RunObservations } from "../../engine/driver";
import { buildNameIndex, childName, componentName, ROOT_NAME } from "../../lib/names";

// The driver's verdict on a failed run comes from the engine's structured events: which resource
// failed, and which nodes this run changed. Never from resource names found in error text.

const hosts = [
    { name: "C", services: ["cloud", "content-server"] },
    { name: "A", services: ["cloud", "content-server"] },
];
const urn = (name: string) => `urn:pulumi:s::scm-upgrade::sequoiacm:upgrade:RollingUpgrade$command:remote:Command::${name}`;
const nodeRun = (h: string, s: string) => childName.nodeRun(componentName.node(ROOT_NAME, h, s));
const checks = (h: string) => childName.preflightChecks(componentName.preflight(ROOT_NAME, h));
const out = (name: string, stdout: string) =>
    ({
        sequence: 1,
        timestamp: 0,
        resOutputsEvent: { metadata: { op: "create", urn: urn(name), type: "command:remote:Command", new: { outputs: { stdout } } } },
    }) as unknown as EngineEvent;
const failed = (name: string) =>
    ({
        sequence: 1,
        timestamp: 0,
        diagnosticEvent: { urn: urn(name), severity: "error", message: "Process exited with status 1", color: "never" },
    }) as unknown as EngineEvent;

function run(events: EngineEvent[]): RunObservations {
    const idx = buildNameIndex(hosts);
    const seen: RunObservations = { failed: [], upgraded: [] };
    for (const e of events) observe(idx, seen, e);
    return seen;
}

// The engine's summary text of an update that ran the preflight and then failed at a node: it names
// every resource of the update, the preflight ones included.
const engineText = `error: update failed\n  ${urn(checks("C"))} created\n  ${urn(nodeRun("C", "content-server"))} **failed**`;

describe("failure classification from engine events", () => {
    test("a failed node after preflight ran in the same update: exit 1, names the node and the count", () => {
        const seen = run([
            out(checks("C"), "SCMUP result=ok"),
            out(checks("A"), "SCMUP result=ok"),
            out(nodeRun("C", "cloud"), "SCMUP result=upgraded"),
            out(nodeRun("A", "cloud"), "SCMUP result=upgraded"),
            failed(nodeRun("C", "content-server")),
        ]);
        const e = classify(new Error(engineText), engineText, false, { stack: "prod" }, seen);
        expect(e.kind).toBe("upgrade-failed");
        expect(e.message).toContain("stopped at C/content-server after 2 nodes upgraded in this run");
        expect(e.message).toContain("scm-upgrade up --stack prod");
    });

    test("the command to resume is the run's own: its one center, and its backend when given as a flag (password masked)", () => {
        const seen = run([out(nodeRun("C", "cloud"), "SCMUP result=upgraded"), failed(nodeRun("C", "content-server"))]);
        const ref = { stack: "prod", centers: ["standby" as const], backendUrl: "postgres://scm:pw@db:5432/state" };
        expect(classify(new Error(engineText), engineText, false, ref, seen).message).toContain(
            "then run `scm-upgrade up --only-center standby --stack prod --backend postgres://scm:****@db:5432/state` to resume.",
        );
        // Ctrl-C: the command that was interrupted, not always `up`.
        expect(classify(new Error("x"), "x", true, { ...ref, operation: "rollback" }).message).toContain(
            "Run `scm-upgrade rollback --only-center standby --stack prod --backend postgres://scm:****@db:5432/state` again to resume.",
        );
        const pv = classify(new Error("x"), "preview canceled", false, { stack: "prod", operation: "preview" });
        expect(pv.kind).toBe("interrupted");
        expect(pv.message).toBe("Interrupted: the engine stopped after the steps in progress. Run `scm-upgrade preview --stack prod` again.");
        // A lock names `unlock` with the backend, never a center.
        expect(classify(new Error("x"), "the stack is currently locked by 1 lock(s)", false, ref).message).toContain(
            "run `scm-upgrade unlock --stack prod --backend postgres://scm:****@db:5432/state`.",
        );
        expect(commandLine({ stack: "s" }, "up")).toBe("scm-upgrade up --stack s");
    });

    test("skipped nodes do not count as upgraded", () => {
        const seen = run([
            out(nodeRun("C", "cloud"), "SCMUP result=skipped"),
            out(nodeRun("A", "cloud"), "SCMUP result=upgraded"),
            failed(nodeRun("C", "content-server")),
        ]);
        expect(classify(new Error("x"), "x", false, { stack: "s" }, seen).message).toContain("after 1 node upgraded");
    });

    test("a failed preflight resource: exit 4, naming the host", () => {
        const seen = run([out(checks("A"), "SCMUP result=ok"), failed(checks("C"))]);
        const e = classify(new Error(engineText), engineText, false, { stack: "s" }, seen);
        expect(e.kind).toBe("preflight-failed");
        expect(e.message).toBe("Preflight failed on C: no node was upgraded. Fix what the checks above name and run again.");
    });

    test("a failed staging step is not a preflight failure", () => {
        const seen = run([failed(childName.stageUnpack(componentName.stage(ROOT_NAME, "A")))]);
        const e = classify(new Error("x"), "x", false, { stack: "s" }, seen);
        expect(e.kind).toBe("upgrade-failed");
        expect(e.message).toContain("Staging the release failed on A");
    });

    test("a lock held by another run names the real stack", () => {
        const e = classify(
            new Error("the stack is currently locked by 1 lock(s)"),
            "the stack is currently locked by 1 lock(s)",
            false,
            { stack: "production" },
            {
                failed: [],
                upgraded: [],
            },
        );
        expect(e.kind).toBe("stack-locked");
        expect(e.message).toContain("scm-upgrade unlock --stack production");
    });
});

describe("resource names: one owner, parsed back", () => {
    test("every name the components use maps back to its role", () => {
        const idx = buildNameIndex(hosts);
        expect(idx.get(nodeRun("C", "content-server"))).toEqual({ role: "node", host: "C", service: "content-server", rollback: false });
        expect(idx.get(childName.nodeRollback(componentName.node(ROOT_NAME, "A", "cloud")))).toEqual({
            role: "node",
            host: "A",
            service: "cloud",
            rollback: true,
        });
        expect(idx.get(checks("A"))).toEqual({ role: "preflight", host: "A" });
        expect(idx.get(childName.stageUpload(componentName.stage(ROOT_NAME, "C")))).toEqual({ role: "staging", host: "C", step: "upload" });
        expect(idx.get("scm-C-something-else")).toBeUndefined();
    });
});

describe("the staged script's checks", () => {
    test("a failed interpreter check at the end of staging is a preflight failure (exit 4)", () => {
        const unpack = childName.stageUnpack(componentName.stage(ROOT_NAME, "A"));
        const ev = {
            sequence: 1,
            timestamp: 0,
            diagnosticEvent: {
                urn: urn(unpack),
                severity: "error",
                color: "never",
                message:
                    'Process exited with status 1: running "...":\nSCMUP check=script-interpreter fail A: /usr/bin/python does not exist\nSCMUP result=failed\n' +
                    "SCMUP reason=host A: the staged scmupgrade.py cannot run: its first line is '#!/usr/bin/python' and /usr/bin/python does not exist. Fix: install Python 2 as /usr/bin/python on A, or set upgradeScript to a newer scmupgrade.py\n",
            },
        } as unknown as EngineEvent;
        const e = classify(new Error("x"), "x", false, { stack: "s" }, run([ev]));
        expect(e.kind).toBe("preflight-failed");
        // The last line names the host and the fix (the progress lines show only the failed check).
        expect(e.message).toBe(
            "Preflight failed on A: the staged release cannot run there; no node was upgraded. host A: the staged scmupgrade.py cannot run: its first line is '#!/usr/bin/python' and /usr/bin/python does not exist. Fix: install Python 2 as /usr/bin/python on A, or set upgradeScript to a newer scmupgrade.py.",
        );
    });
});

describe("a failed Pulumi CLI call", () => {
    // As the Automation API reports a CLI that exited non-zero: its own exit code first, the CLI's words in stderr.
    const cliFailure = (stderr: string) => {
        // Not in the SDK's typings: the SDK's own way to make the error a failed CLI call gives.
        const { CommandResult } = require("@pulumi/pulumi/automation/cmd") as { CommandResult: new (stdout: string, stderr: string, code: number) => object };
        const { createCommandError } = require("@pulumi/pulumi/automation/errors") as { createCommandError: (r: object) => Error };
        const e = createCommandError(new CommandResult("", `Command failed with exit code 1: pulumi stack init s --non-interactive\n${stderr}`, -2));
        return classify(e, String(e), false, { stack: "s" }, run([]));
    };

    test("the message is the CLI's own reason, not the Automation API's exit code", () => {
        const e = cliFailure("error: failed to load checkpoint: unexpected end of JSON input\n");
        expect(e.kind).toBe("upgrade-failed");
        expect(e.message).toBe("The run failed before any node was changed: failed to load checkpoint: unexpected end of JSON input");
    });

    test("another passphrase than the stack's: invalid config (exit 3) with the variable to set", () => {
        const e = cliFailure("error: could not create secrets manager for new stack: incorrect passphrase\n");
        expect(e.kind).toBe("invalid-config");
        expect(e.message).toBe(
            "The secrets of stack s cannot be read with this passphrase (the Pulumi CLI: could not create secrets manager for new stack: incorrect passphrase): it was made with another one, by another operator or from another Pulumi home. Set PULUMI_CONFIG_PASSPHRASE_FILE (or PULUMI_CONFIG_PASSPHRASE) to the passphrase it was made with, then run again. Nothing was changed.",
        );
    });
});

// The stack's history names the command that ran (not the project's last git commit, the CLI's default).
test("a run's history message is its command, and only such a message is read back as one", () => {
    expect(historyMessage({ stack: "s" }, "up")).toBe("scm-upgrade up");
    expect(historyMessage({ stack: "s", centers: ["standby"] }, "up")).toBe("scm-upgrade up --only-center standby");
    expect(historyMessage({ stack: "s", mode: "rollback" }, "rollback")).toBe("scm-upgrade rollback");
    for (const m of ["scm-upgrade up", "scm-upgrade up --only-center primary", "scm-upgrade rollback", "scm-upgrade refresh"]) expect(commandOfRun(m)).toBe(m);
    for (const m of [undefined, "", "scm-upgrade secret NAME: stores the stack's SSH key", "Fix the health gate", "scm-upgrade up; rm -rf /"]) {
        expect(commandOfRun(m)).toBeUndefined();
    }
});
