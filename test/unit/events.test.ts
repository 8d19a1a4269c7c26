import { EngineEvent } from "@pulumi/pulumi/automation";
import { buildNameIndex, explainFailure, explainPreflight, makeTranslator, ProgressEvent, withoutCommandText } from "../../engine/events";
import { renderServiceUpgrade, serviceFilesOf } from "../../lib/shell";

// The engine's events, shaped as the Automation API delivers them, turned into progress events.

const urn = (name: string, type = "command:remote:Command") =>
    `urn:pulumi:sandbox::scm-upgrade::sequoiacm:upgrade:RollingUpgrade$sequoiacm:upgrade:ServiceUpgrade$${type}::${name}`;
const hosts = [
    { name: "C", services: ["cloud", "content-server"] },
    { name: "A", services: ["cloud"] },
];
const base = { sequence: 1, timestamp: 0 };

function pre(name: string, op: string): EngineEvent {
    return { ...base, resourcePreEvent: { metadata: { op, urn: urn(name), type: "command:remote:Command", provider: "" } } } as unknown as EngineEvent;
}
function outputs(name: string, stdout: string): EngineEvent {
    return {
        ...base,
        resOutputsEvent: { metadata: { op: "create", urn: urn(name), type: "command:remote:Command", provider: "", new: { outputs: { stdout } } } },
    } as unknown as EngineEvent;
}
function diag(name: string, severity: string, message: string): EngineEvent {
    return { ...base, diagnosticEvent: { urn: urn(name), message, color: "never", severity } } as unknown as EngineEvent;
}

/** What the command provider 1.2.1 says when a remote command exits non-zero (its format, with our script). */
function providerFailure(script: string, output: string): string {
    return `Process exited with status 1: running ${JSON.stringify(script)}:\n${output}`;
}

describe("engine events -> progress events", () => {
    test("an upgraded node, a skipped node, and unrelated steps", () => {
        const got: ProgressEvent[] = [];
        const t = makeTranslator(buildNameIndex(hosts), (e) => got.push(e), false);
        t(pre("scm-C-cloud-run", "create"));
        t(outputs("scm-C-cloud-run", "noise\nSCMUP version-before=3.1.2\nSCMUP version-after=3.2.0\nSCMUP seconds=7\nSCMUP result=upgraded\n"));
        t(pre("scm-A-cloud-run", "same")); // unchanged in state: no event
        t(pre("scm-C-content-server-run", "create-replacement"));
        t(pre("scm-C-content-server-run", "replace")); // the replacement's bookkeeping steps show nothing
        t(pre("scm-C-content-server-run", "delete-replaced"));
        t(outputs("scm-C-content-server-run", "SCMUP version-before=3.2.0\nSCMUP version-after=3.2.0\nSCMUP result=skipped\n"));
        t(pre("scm-C-preflight-checks", "create"));
        t(outputs("scm-C-preflight-checks", "SCMUP check=free-disk ok x\nSCMUP check=backup:cloud warn stale marker\nSCMUP result=ok\n"));
        expect(
            got.map((e) =>
                e.type === "node"
                    ? `${e.host}/${e.service}:${e.status}:${e.versionBefore ?? ""}>${e.versionAfter ?? ""}`
                    : `${e.type}:${"host" in e ? e.host : ""}:${"status" in e ? e.status : ""}`,
            ),
        ).toEqual([
            "C/cloud:upgrading:>",
            "C/cloud:healthy:3.1.2>3.2.0",
            "C/content-server:upgrading:>",
            "C/content-server:skipped:3.2.0>3.2.0",
            "preflight:C:running",
            "preflight:C:ok",
        ]);
        const pf = got[got.length - 1];
        expect(pf.type === "preflight" && pf.warnings).toEqual(["backup:cloud: stale marker"]);
    });

    test("a failed node: the reason and the script's last lines, not the script text", () => {
        const got: ProgressEvent[] = [];
        const t = makeTranslator(buildNameIndex(hosts), (e) => got.push(e), false);
        const script = renderServiceUpgrade({
            host: "C",
            healthAddress: "10.0.0.1",
            installRoot: "/opt/sequoiacm",
            stagingDir: "/opt/scm_upgrade",
            installUser: "scmadmin",
            become: "login",
            targetVersion: "3.2.0",
            service: serviceFilesOf("content-server"),
            healthTimeoutSeconds: 120,
            rollbackOnHealthFailure: false,
        });
        const output = [
            "SCMUP version-before=3.1.2",
            "[INFO] replace the new version of the resource package",
            "SCMUP result=failed",
            "SCMUP reason=scmupgrade.py did not print upgrade success! (exit status 0)",
            "    | [INFO] stop node",
            "    | mv: cannot stat 'lib': No such file or directory",
            "ERROR: scmupgrade.py did not print upgrade success! (exit status 0)",
        ].join("\n");
        t(pre("scm-C-content-server-run", "create"));
        t(diag("scm-C-content-server-run", "error", providerFailure(script, output)));
        expect(got[1]).toMatchObject({ type: "node", host: "C", service: "content-server", status: "failed" });
        const msg = got[1].type === "node" ? got[1].message : "";
        expect(msg).toBe(
            [
                "scmupgrade.py did not print upgrade success! (exit status 0)",
                "last lines of scmupgrade.py:",
                "    | [INFO] stop node",
                "    | mv: cannot stat 'lib': No such file or directory",
            ].join("\n"),
        );
        expect(withoutCommandText(providerFailure(script, "x"))).toBe("Process exited with status 1:\nx");
    });

    test("a failed node whose stdout markers were lost from the message: the reason from the script's ERROR line on stderr", () => {
        // Seen with the official provider: its stdout and stderr share one unlocked buffer, and the markers written
        // at the same moment as the ERROR line were missing.
        const output = [
            "SCMUP version-before=3.1.2",
            "ERROR: from the vendor script, earlier",
            "Total:2;Success:2;Failed:0",
            "[INFO] upgrade success!",
            "SCMUP version-after=3.2.0",
            "ERROR: node 8080 of cloud on C was healthy, then no answer on /internal/v1/health 6s later: it must stay healthy 12s",
        ].join("\n");
        expect(explainFailure(providerFailure("bash -c 'x'", output))).toBe(
            "node 8080 of cloud on C was healthy, then no answer on /internal/v1/health 6s later: it must stay healthy 12s",
        );
        // With the marker there, the marker.
        expect(explainFailure(providerFailure("bash -c 'x'", `SCMUP reason=the marker\n${output}`))).toBe("the marker");
    });

    test("preview marks nodes as planned and reports nothing else", () => {
        const got: ProgressEvent[] = [];
        const t = makeTranslator(buildNameIndex(hosts), (e) => got.push(e), true);
        t(pre("scm-C-preflight-checks", "create"));
        t(pre("scm-C-cloud-run", "create"));
        t(outputs("scm-C-cloud-run", "SCMUP result=upgraded"));
        expect(got.map((e) => (e.type === "node" ? e.status : e.type))).toEqual(["planned"]);
    });

    test("failed preflight lists the failed checks; an unreachable host gives the dial error", () => {
        expect(
            explainPreflight(
                "SCMUP check=install-user fail user scmadmin does not exist\nSCMUP check=curl ok /usr/bin/curl\nSCMUP check=free-disk fail /opt has 3 MiB free, needs 200",
            ),
        ).toBe("install-user: user scmadmin does not exist\nfree-disk: /opt has 3 MiB free, needs 200");
        expect(explainFailure("\nfailed to dial remote host: dial tcp 10.0.0.9:22: connect: connection refused\n")).toBe(
            "failed to dial remote host: dial tcp 10.0.0.9:22: connect: connection refused",
        );
    });

    test("a wrapper that failed before the script ran: the provider's exit line with what the command said", () => {
        const exited = (said: string) => `Process exited with status 1: running "su -s /bin/bash nosuch -c 'set -u\nexit 0'":\n${said}`;
        expect(explainPreflight(exited("su: user nosuch does not exist or the user entry does not contain all the required fields\n\n"))).toBe(
            "Process exited with status 1: su: user nosuch does not exist or the user entry does not contain all the required fields",
        );
        expect(explainFailure(exited("sudo: a password is required\n"))).toBe(
            "Process exited with status 1: sudo: a password is required (become sudo needs the SSH user to run sudo without a password: NOPASSWD in sudoers)",
        );
        expect(explainFailure(exited("sudo: sorry, you must have a tty to run sudo\n"))).toBe(
            "Process exited with status 1: sudo: sorry, you must have a tty to run sudo (become sudo runs without a terminal: Defaults:<SSH user> !requiretty in sudoers)",
        );
        // The last three lines said, markers left out; nothing said at all is said so.
        expect(explainFailure(exited("one\nSCMUP check=x ok y\ntwo\nthree\nfour\n"))).toBe("Process exited with status 1: two | three | four");
        expect(explainFailure(exited("\n"))).toBe("Process exited with status 1 (no output)");
        expect(explainFailure(exited("| [INFO] stop node\nbash: line 9: x: unbound variable\n"))).toBe(
            "Process exited with status 1: bash: line 9: x: unbound variable\nlast lines of scmupgrade.py:\n| [INFO] stop node",
        );
        // The connection gone before the command's exit status: what that means and what to do.
        expect(explainFailure('wait: remote command exited without exit status or exit signal: running "set -u":\nSCMUP version-before=3.1.2\n')).toBe(
            "wait: remote command exited without exit status or exit signal: the SSH connection closed while the command ran (the host, its sshd or the network went away, or its session was killed), so the script on the host may have stopped at any step. Check that the host answers SSH, then run the same command again: each node's script reads what is on its host before it acts",
        );
        // The script's own reason still comes first.
        expect(explainFailure(exited("SCMUP result=failed\nSCMUP reason=nodes 8080 of cloud on A are not healthy\n"))).toBe(
            "nodes 8080 of cloud on A are not healthy",
        );
    });
});
