import type { EngineEvent } from "@pulumi/pulumi/automation";
import { parseMarkers } from "../lib/shell";
import { NameIndex, nameOfUrn as nameOf } from "../lib/names";

export { buildNameIndex } from "../lib/names";
export type { NameIndex } from "../lib/names";

/** Typed progress of a run, for people (the CLI's live lines) and pipelines (`--json`). */
export type ProgressEvent =
    | { type: "run-started"; operation: string; stack: string; time: string }
    | { type: "preflight"; host: string; status: "running" | "ok" | "failed"; warnings?: string[]; message?: string; time: string }
    | { type: "staging"; host: string; status: "running" | "staged" | "failed"; message?: string; time: string }
    | {
          type: "node";
          host: string;
          service: string;
          status: "planned" | "upgrading" | "healthy" | "skipped" | "failed" | "rolling-back" | "rolled-back";
          versionBefore?: string;
          versionAfter?: string;
          seconds?: number;
          message?: string;
          time: string;
      }
    | {
          /** One host's watch of a soak (one per host with standby nodes to watch), before primary wave `wave`. */
          type: "soak";
          soak: string;
          wave: number;
          host: string;
          status: "planned" | "watching" | "passed" | "failed";
          /** `<host>/<service>` of the standby nodes watched. */
          nodes: string[];
          /** The configured length; on `passed`, how long it lasted. */
          seconds: number;
          /** On `failed`: the node seen (`<host>/<service>:<port>`) and what was seen. */
          node?: string;
          message?: string;
          time: string;
      }
    | { type: "diagnostic"; severity: string; message: string; time: string }
    | { type: "live-state"; target: string; done: string[]; pending: { node: string; detail: string }[]; seconds: number; time: string }
    | { type: "run-finished"; operation: string; result: "succeeded" | "failed" | "interrupted"; elapsedSeconds: number; time: string };

/**
 * The command provider reports a failed command as `<status>: running "<the whole script, quoted>":\n<output>`.
 * The script text says nothing useful to an operator (and contains the marker words): drop it.
 */
export function withoutCommandText(text: string): string {
    return text.replace(/: running "(?:[^"\\]|\\.)*":\n/g, ":\n");
}

/**
 * Lines of a failure that say why: the script's `reason=` marker and the `| ` tail of its output.
 * The script's `fail` says its reason twice, as the marker on stdout and as `ERROR: <reason>` on stderr,
 * because the official command provider (1.2.1) copies the two streams into one buffer from two
 * goroutines without a lock: when both are written at once, one of them can be lost from the message.
 */
export function explainFailure(raw: string): string {
    const text = withoutCommandText(raw);
    const reason = /^SCMUP reason=(.*)$/m.exec(text)?.[1] ?? [...text.matchAll(/^ERROR: (.+)$/gm)].at(-1)?.[1];
    const tail = text
        .split("\n")
        .filter((l) => /^\s*\| /.test(l))
        .map((l) => l.trimEnd());
    const parts = [reason ?? firstLine(text)];
    if (tail.length) parts.push("last lines of scmupgrade.py:", ...tail);
    return parts.join("\n");
}

/**
 * The first line of a failure without the script's reason. The provider's "Process exited with status N:"
 * says nothing by itself: what the command printed follows it (a wrapper that failed before the script ran,
 * such as `sudo -n` asking for a password or `su` to a user that does not exist), so its last lines go with it.
 */
function firstLine(text: string): string {
    const lines = text.split("\n").map((l) => l.trim());
    const first = lines.find((l) => l !== "");
    if (!first) return "failed";
    // Go's SSH client (both command providers) when the connection ends before the command's exit status came.
    if (/^wait: remote command exited without exit status or exit signal:?$/.test(first))
        return `${first.replace(/:$/, "")}: the SSH connection closed while the command ran (the host, its sshd or the network went away, or its session was killed), so the script on the host may have stopped at any step. Check that the host answers SSH, then run the same command again: each node's script reads what is on its host before it acts`;
    if (!/^Process exited with status \d+:?$/.test(first)) return first;
    // Markers and scmupgrade.py's own lines (shown as its tail) left out.
    const said = lines.slice(lines.indexOf(first) + 1).filter((l) => l !== "" && !l.startsWith("SCMUP ") && !l.startsWith("| "));
    const out = said.length ? `${first.replace(/:?$/, ":")} ${said.slice(-3).join(" | ")}` : first.replace(/:$/, " (no output)");
    if (/\bsudo: (a password is required|a terminal is required)/.test(out))
        return `${out} (become sudo needs the SSH user to run sudo without a password: NOPASSWD in sudoers)`;
    if (/\bsudo: sorry, you must have a tty/.test(out)) return `${out} (become sudo runs without a terminal: Defaults:<SSH user> !requiretty in sudoers)`;
    return out;
}

/** The engine steps that run a resource's command: everything else is bookkeeping. */
export const WORK_OPS = new Set<string>(["create", "update", "create-replacement"]);

/**
 * Turns the engine's event stream into ProgressEvents. `preview` marks runs that execute nothing:
 * a step there is only "planned".
 */
export function makeTranslator(idx: NameIndex, emit: (e: ProgressEvent) => void, preview: boolean) {
    const now = () => new Date().toISOString();
    const started = new Map<string, number>();
    return (ev: EngineEvent) => {
        if (ev.resourcePreEvent) {
            const m = ev.resourcePreEvent.metadata;
            // One event per resource that does work: a replacement shows as create-replacement, then
            // replace and delete-replaced, which must not show the node again.
            if (!WORK_OPS.has(m.op)) return;
            const name = nameOf(m.urn);
            const node = idx.nodes.get(name);
            if (node) {
                started.set(name, Date.now());
                emit({ type: "node", ...node, status: preview ? "planned" : name.endsWith("-rollback") ? "rolling-back" : "upgrading", time: now() });
            } else if (idx.soaks.has(name)) {
                const w = idx.soaks.get(name)!;
                emit({
                    type: "soak",
                    soak: w.soak,
                    wave: w.beforeWave,
                    host: w.host,
                    status: preview ? "planned" : "watching",
                    nodes: w.nodes,
                    seconds: w.seconds,
                    time: now(),
                });
            } else if (!preview && idx.preflight.has(name)) {
                emit({ type: "preflight", host: idx.preflight.get(name)!, status: "running", time: now() });
            } else if (!preview && idx.staging.has(name)) {
                emit({ type: "staging", host: idx.staging.get(name)!, status: "running", time: now() });
            }
        } else if (ev.resOutputsEvent && !preview) {
            const m = ev.resOutputsEvent.metadata;
            if (!WORK_OPS.has(m.op)) return;
            const name = nameOf(m.urn);
            const stdout = String(m.new?.outputs?.stdout ?? "");
            const node = idx.nodes.get(name);
            if (node) {
                const v = parseMarkers(stdout).values;
                const status = v.result === "skipped" ? "skipped" : v.result === "rolled-back" ? "rolled-back" : "healthy";
                emit({
                    type: "node",
                    ...node,
                    status,
                    versionBefore: v["version-before"],
                    versionAfter: v["version-after"],
                    seconds: started.has(name) ? Math.round((Date.now() - started.get(name)!) / 100) / 10 : undefined,
                    time: now(),
                });
            } else if (idx.soaks.has(name)) {
                const w = idx.soaks.get(name)!;
                const v = parseMarkers(stdout).values;
                emit({
                    type: "soak",
                    soak: w.soak,
                    wave: w.beforeWave,
                    host: w.host,
                    status: "passed",
                    nodes: w.nodes,
                    seconds: Number(v.seconds ?? w.seconds),
                    time: now(),
                });
            } else if (idx.preflight.has(name)) {
                const warnings = parseMarkers(stdout)
                    .checks.filter((c) => c.status === "warn")
                    .map((c) => `${c.name}: ${c.detail}`);
                emit({ type: "preflight", host: idx.preflight.get(name)!, status: "ok", warnings, time: now() });
            } else if (idx.staging.has(name)) {
                emit({ type: "staging", host: idx.staging.get(name)!, status: "staged", time: now() });
            }
        } else if (ev.diagnosticEvent) {
            const d = ev.diagnosticEvent;
            const name = nameOf(d.urn);
            const msg = d.message.trim();
            if (d.severity === "error" && name) {
                const node = idx.nodes.get(name);
                if (node) {
                    emit({ type: "node", ...node, status: "failed", message: explainFailure(msg), time: now() });
                    return;
                }
                if (idx.preflight.has(name)) {
                    emit({ type: "preflight", host: idx.preflight.get(name)!, status: "failed", message: explainPreflight(msg), time: now() });
                    return;
                }
                if (idx.soaks.has(name)) {
                    const w = idx.soaks.get(name)!;
                    const v = parseMarkers(withoutCommandText(msg)).values;
                    emit({
                        type: "soak",
                        soak: w.soak,
                        wave: w.beforeWave,
                        host: w.host,
                        status: "failed",
                        nodes: w.nodes,
                        seconds: w.seconds,
                        ...(v["soak-node"] ? { node: v["soak-node"] } : {}),
                        message: explainFailure(msg),
                        time: now(),
                    });
                    return;
                }
                if (idx.staging.has(name)) {
                    const checkFailed = /^SCMUP check=\S+ fail/m.test(msg);
                    emit({
                        type: "staging",
                        host: idx.staging.get(name)!,
                        status: "failed",
                        message: checkFailed ? explainPreflight(msg) : explainFailure(msg),
                        time: now(),
                    });
                    return;
                }
            }
            if (d.severity === "error" || d.severity === "warning") {
                emit({ type: "diagnostic", severity: d.severity, message: withoutCommandText(msg), time: now() });
            }
        }
    };
}

/** The failed checks of a preflight's output, one per line; or the connection error. */
export function explainPreflight(raw: string): string {
    const text = withoutCommandText(raw);
    const failed = text
        .split("\n")
        .map((l) => /^SCMUP check=(\S+) fail (.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => `${m[1]}: ${m[2]}`);
    if (failed.length) return failed.join("\n");
    return explainFailure(text);
}
