import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { parseArgs } from "util";
import { formatProblems } from "../lib/config/schema";
import type * as Driver from "../engine/driver";
import { DriverError } from "../engine/errors";
import { prefetchStackConfig, prefetchStackInit } from "../engine/env";
import { planOfStackFile } from "../engine/planOfStack";
import { ProgressEvent } from "../engine/events";
import { planToDot, planToJson, planToMermaid, renderPlanTable, SoakSettings, soakSettings, soakSteps, Wave } from "../lib/plan";
import type { RecordedNodes } from "../lib/results";
import type { StackLock } from "../engine/locks";
import { readEventsJsonl, renderPlanHtml, renderPlanSvg, renderRunReport, reportsDir, writeRunReportFile } from "../report";
import { EXIT, exitCodeFor, exitCodeHelp } from "./exitCodes";
import { capHeapGrowth, HEAP_HEADROOM_MIB } from "./heap";
import { formatPlanWarnings, planForDrawing, requireStackFile, stackFileName } from "./stacks";
import { checkWindow, clockOf, watchWindow, windowNow, windowProblem, windowSpec } from "./window";
import { RunTracker } from "./runTracker";
import { renderTable } from "../lib/table";
import { CONFIG_NAMESPACE } from "../lib/config/load";
import { isSecretKey, SECRET_KEYS, SecretKey } from "../lib/config/vocabulary";

const commonHelp = `Common flags:
  -s, --stack NAME   stack to work on (default: sandbox)
  -y, --yes          do not ask for confirmation
      --json         one JSON event per line on stdout, for pipelines (\`plan\`: the plan as one JSON document)
      --backend URL  the stack's state: file://DIR or postgres://USER@HOST:PORT/DB?sslmode=...
                     (default: $PULUMI_BACKEND_URL, else file://<repo>/.state; see README, "Running as a team")
  -h, --help         this help`;

const help: Record<string, string> = {
    "": `scm-upgrade: rolling upgrade of a SequoiaCM cluster, standby center first, in the vendor's order.

Usage: scm-upgrade <command> [flags]

Commands:
  plan        the ordered waves, no SSH (--format table|json|mermaid|dot|svg|html)
  preflight   only the checks, on every host; changes nothing
  preview     the engine's preview: what would run where; runs nothing on hosts
  up          stage, check and upgrade, wave by wave (asks first unless --yes)
  status      per node: what the last run recorded beside the version and health read now
  rollback    the vendor rollback, node by node in reverse order (asks first unless --yes)
  refresh     refresh the stack's state
  unlock      remove the lock a killed run left behind (checks that it is dead)
  report      an HTML report of a run from its \`--json\` events (up and rollback write one themselves)
  secret      store the stack's SSH key or password as a Pulumi secret (encrypted in its stack file)

${commonHelp}

${exitCodeHelp}`,
    plan: `Usage: scm-upgrade plan [--stack NAME] [--format table|json|mermaid|dot|svg|html] [--soak DURATION]
Prints the ordered waves (service x center x site) of the stack's config. Reads no host, needs no
SSH credential and no release tarball on this machine (it warns when they are missing).
  --format svg|html   the waves drawn as a graph (centers as swimlanes), self-contained: \`> plan.html\`
  --json              the same as --format json: the plan as one JSON document (not events)
  --soak DURATION     the soaks before the primary waves as \`up --soak\` would run them`,
    preflight: `Usage: scm-upgrade preflight [--stack NAME] [--json]
Runs the read-only checks on every host over SSH (users, folders, disk, versions, 3.2 prerequisites).
Changes nothing on any host and nothing in the stack's state.`,
    preview: `Usage: scm-upgrade preview [--stack NAME] [--only-center standby|primary] [--json] [--no-live] [--soak DURATION]
The engine's preview: the commands that would run, where and in which order. Runs nothing on hosts;
first reads every host's nodes over SSH (read-only), as \`up\` does, so that nodes already done show
as unchanged.
  --no-live   do not read the hosts: the preview says what the stack's state alone says (on a new
              stack every node runs); for a config whose hosts cannot be reached from here
  --soak DURATION   the soaks as \`up --soak\` would run them`,
    up: `Usage: scm-upgrade up [--stack NAME] [--yes] [--json] [--only-center standby|primary] [--window HH:MM-HH:MM] [--force] [--soak DURATION]
Checks every host (preflight), stages the package on each once its checks pass, then upgrades node by node
in the plan's order.
  --only-center standby   stop point: upgrade the standby center only; run \`up\` again to finish the primary
  --only-center primary   only the primary center's nodes; refused (exit 4) until every standby node
                          is at the target and healthy
  --window HH:MM-HH:MM    maintenance window (local time); refuses to start outside it unless --force;
                          when it closes mid-run, the wave under way finishes, no new wave starts (exit 6);
                          a run forced to start outside it is not stopped by it
  --soak DURATION         watch the upgraded standby nodes this long before each primary wave, e.g. 10m
                          (instead of config soak.seconds; 0: no soak); a failing standby node stops the run
Ctrl-C (or SIGTERM, or the terminal closing) stops after the node in progress and says where (exit 130);
a second stops at once, cutting the node in progress off. The next \`up\` resumes. Nodes already at the
target are skipped.`,
    status: `Usage: scm-upgrade status [--stack NAME] [--json]
Per node: what the state recorded (version before and after, upgraded or skipped, when) beside what the
host says now (version and health, read over SSH; a host that cannot be read is reported, not fatal), and
the last run. Runs nothing on the hosts and changes nothing. No secret's value is shown.`,
    rollback: `Usage: scm-upgrade rollback [--stack NAME] [--yes] [--json] [--only-center primary|standby]
Runs \`scmupgrade.py --rollback --start\` node by node in the exact reverse order of the upgrade; the
nodes that did not run before the upgrade are stopped again, the others must pass the health gate of the
source version (healthTimeoutSeconds). Nodes already at the source version are skipped.
  --only-center primary   the primary center's nodes only (they come first in the reverse order)
  --only-center standby   the standby center's nodes only; refused (exit 4) until every primary node is
                          back at the source version`,
    refresh: `Usage: scm-upgrade refresh [--stack NAME] [--json]
The engine's refresh: reads the stack's resources back into its state, e.g. after a killed run and
before \`status\`. Runs no command on any host and changes nothing on them.`,
    report: `Usage: scm-upgrade report [--stack NAME] --from EVENTS.jsonl [--out FILE.html] [--only-center standby|primary]
Writes the HTML report (per-node timeline, summary) of a run from the events \`up --json\` or
\`rollback --json\` printed, with the stack's plan. Default output: .reports/run-<stack>-<time>.html.`,
    secret: `Usage: scm-upgrade secret NAME [--stack NAME] [--from FILE | < FILE] [--unset]
Stores one SSH credential of the stack as a Pulumi secret: encrypted in stacks/Pulumi.<stack>.yaml with
the stack's passphrase (README, "Engine environment"), with this project's Pulumi CLI, home and backend.
The value is read from FILE or standard input (on a terminal, a prompt that does not echo; a key needs a
file), checked first (a key SSH cannot read, a public key, an empty or multi-line password: refused,
exit 3, nothing stored), never put on a command line or printed, and read back once stored.
  NAME        sshPrivateKey, sshPrivateKeyPassphrase or sshPassword
  --unset     remove it from the stack
Example: scm-upgrade secret sshPrivateKey --stack production --from ~/.ssh/scm_upgrade_ed25519`,
    unlock: `Usage: scm-upgrade unlock [--stack NAME] [--yes] [--json]
After a run was killed (SIGKILL), shows who held the stack's lock and since when, asks for
confirmation (or --yes), then removes it: file:// and postgres:// backends. A lock taken on this
machine by a process still alive is never removed.`,
};

const PLAN_FORMATS = ["table", "json", "mermaid", "dot", "svg", "html"];

interface Flags {
    stack: string;
    yes: boolean;
    json: boolean;
    format?: string;
    from?: string;
    out?: string;
    onlyCenter?: string;
    window?: string;
    /** `--soak`, in seconds (0: none). */
    soakSeconds?: number;
    force: boolean;
    help: boolean;
    backend?: string;
    /** `preview --no-live`: no live-state read. */
    noLive: boolean;
    /** `secret NAME`: which one. */
    secret?: SecretKey;
    /** `secret --unset`. */
    unset: boolean;
}

function parse(cmd: string, argv: string[]): Flags {
    const { values, positionals } = parseArgs({
        args: argv,
        options: {
            stack: { type: "string", short: "s", default: "sandbox" },
            yes: { type: "boolean", short: "y", default: false },
            json: { type: "boolean", default: false },
            format: { type: "string" },
            from: { type: "string" },
            out: { type: "string" },
            "only-center": { type: "string" },
            window: { type: "string" },
            soak: { type: "string" },
            force: { type: "boolean", default: false },
            help: { type: "boolean", short: "h", default: false },
            backend: { type: "string" },
            "no-live": { type: "boolean", default: false },
            unset: { type: "boolean", default: false },
        },
        strict: true,
        allowPositionals: cmd === "secret",
    });
    if (values.format && cmd !== "plan") throw new UsageError(`--format is a flag of \`plan\` only.`);
    if (values.json && values.format && values.format !== "json")
        throw new UsageError(`--json and --format ${values.format} ask for two outputs: --json is the plan as JSON (--format json); give one of them.`);
    if (values.format && !PLAN_FORMATS.includes(values.format))
        throw new UsageError(`--format must be ${PLAN_FORMATS.slice(0, -1).join(", ")} or ${PLAN_FORMATS.at(-1)}, not ${values.format}.`);
    if (values.soak !== undefined && !["plan", "preview", "up"].includes(cmd))
        throw new UsageError(`--soak is a flag of \`plan\`, \`preview\` and \`up\` only.`);
    if (values.out && cmd !== "report") throw new UsageError(`--out is a flag of \`report\` only.`);
    if (values.from && cmd !== "report" && cmd !== "secret") throw new UsageError(`--from is a flag of \`report\` and \`secret\` only.`);
    if (values.unset && cmd !== "secret") throw new UsageError(`--unset is a flag of \`secret\` only.`);
    const secret = cmd === "secret" && !values.help ? secretName(positionals, values.unset as boolean, values.from as string | undefined) : undefined;
    // Flags that would be silently ignored elsewhere (a rollback outside the window, a status of one center) are refused.
    if ((values.window !== undefined || values.force) && cmd !== "up") throw new UsageError(`--window and --force are flags of \`up\` only.`);
    const window = cmd === "up" && !values.help ? windowSpec(values.window as string | undefined) : undefined;
    const badWindow = window === undefined ? undefined : windowProblem(window);
    if (badWindow) throw new UsageError(`${values.window !== undefined ? "--window" : "SCM_UPGRADE_WINDOW"}: the maintenance window ${badWindow}`);
    if (values["only-center"] !== undefined && !["up", "preview", "rollback", "report"].includes(cmd))
        throw new UsageError(`--only-center is a flag of \`up\`, \`preview\`, \`rollback\` and \`report\` only.`);
    if (values["no-live"] && cmd !== "preview") throw new UsageError(`--no-live is a flag of \`preview\` only: \`up\` always reads the hosts first.`);
    if (values["only-center"] && !["standby", "primary"].includes(values["only-center"])) {
        throw new UsageError(`--only-center must be standby or primary, not ${values["only-center"]}.`);
    }
    return {
        stack: values.stack as string,
        yes: values.yes as boolean,
        json: values.json as boolean,
        format: values.format as string | undefined,
        from: values.from as string | undefined,
        out: values.out as string | undefined,
        onlyCenter: values["only-center"] as string | undefined,
        window: values.window as string | undefined,
        soakSeconds: parseSoak(values.soak as string | undefined),
        force: values.force as boolean,
        help: values.help as boolean,
        backend: values.backend as string | undefined,
        noLive: values["no-live"] as boolean,
        secret,
        unset: values.unset as boolean,
    };
}

/** `secret NAME`: exactly one name, a secret key of the config (with or without its namespace). */
function secretName(positionals: string[], unset: boolean, from: string | undefined): SecretKey {
    const names = SECRET_KEYS.join(", ");
    if (positionals.length !== 1) throw new UsageError(`\`secret\` takes one NAME (${names}), not ${positionals.length}.`);
    const name = positionals[0].replace(new RegExp(`^${CONFIG_NAMESPACE}:`), "");
    if (!isSecretKey(name)) {
        throw new UsageError(`\`${positionals[0]}\` is not a secret of the config: ${names}. Plain values go in the stack file (docs/architecture.md).`);
    }
    if (unset && from !== undefined) throw new UsageError("--unset removes the secret: it takes no --from.");
    return name;
}

class UsageError extends Error {}

/** Output for people (stderr: progress; stdout: results) or for pipelines (stdout: JSON lines). */
class Printer {
    private readonly t0 = Date.now();
    constructor(private readonly json: boolean) {}
    event(e: ProgressEvent | Record<string, unknown>) {
        if (this.json) {
            process.stdout.write(JSON.stringify(e) + "\n");
            return;
        }
        const line = describe(e as ProgressEvent);
        if (line) process.stderr.write(`[${this.clock()}] ${line}\n`);
    }
    info(text: string) {
        if (this.json) this.event({ type: "message", message: text, time: new Date().toISOString() });
        else process.stderr.write(text + "\n");
    }
    result(text: string) {
        if (!this.json) process.stdout.write(text + "\n");
    }
    private clock() {
        const s = Math.floor((Date.now() - this.t0) / 1000);
        return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
    }
}

function describe(e: ProgressEvent): string | undefined {
    switch (e.type) {
        case "run-started":
            return `${e.operation} on stack ${e.stack}`;
        case "preflight":
            if (e.status === "failed") return `preflight ${e.host}: FAILED\n${indent(e.message ?? "")}`;
            if (e.status === "ok")
                return `preflight ${e.host}: ok${e.warnings?.length ? `\n${indent(e.warnings.map((w) => `warning: ${w}`).join("\n"))}` : ""}`;
            return `preflight ${e.host}: checking`;
        case "staging":
            if (e.status === "failed") return `staging ${e.host}: FAILED\n${indent(e.message ?? "")}`;
            return `staging ${e.host}: ${e.status === "staged" ? "staged" : "uploading and unpacking"}`;
        case "node": {
            const id = `${e.host}/${e.service}`.padEnd(28);
            switch (e.status) {
                case "planned":
                    return `${id} would upgrade`;
                case "upgrading":
                    return `${id} upgrading`;
                case "rolling-back":
                    return `${id} rolling back`;
                case "healthy":
                    return `${id} healthy ${e.versionBefore} -> ${e.versionAfter} (${e.seconds}s)`;
                case "rolled-back":
                    return `${id} rolled back ${e.versionBefore} -> ${e.versionAfter} (${e.seconds}s)`;
                case "skipped":
                    return `${id} skipped: already at ${e.versionAfter ?? e.versionBefore}`;
                case "failed":
                    return `${id} FAILED on host ${e.host}, service ${e.service}:\n${indent(e.message ?? "")}`;
            }
            return undefined;
        }
        case "diagnostic":
            return e.severity === "info" ? e.message : `${e.severity}: ${firstLines(e.message, 12)}`;
        case "live-state": {
            const all = e.done.length + e.pending.length;
            const head = `live state read from the hosts in ${e.seconds.toFixed(1)}s: ${e.done.length} of ${all} nodes at ${e.target} and healthy`;
            if (!e.pending.length) return head;
            const shown = e.pending.slice(0, 20).map((p) => `${p.node}: ${p.detail}`);
            if (e.pending.length > shown.length) shown.push(`... and ${e.pending.length - shown.length} more`);
            return `${head}; to do:\n${indent(shown.join("\n"))}`;
        }
        case "run-finished":
            return `${e.operation} ${e.result} in ${e.elapsedSeconds.toFixed(1)}s`;
        case "soak": {
            const id = `${e.soak} on ${e.host}`.padEnd(28);
            if (e.status === "planned") return `${id} would watch ${e.nodes.join(", ")} for ${e.seconds}s`;
            if (e.status === "watching") return `${id} watching ${e.nodes.join(", ")} for ${e.seconds}s before the primary`;
            if (e.status === "passed") return `${id} passed: ${e.nodes.join(", ")} stayed healthy (${e.seconds}s)`;
            return `${id} FAILED${e.node ? ` at ${e.node}` : ""}:\n${indent(e.message ?? "")}`;
        }
    }
}

/** `--soak` as seconds: `600`, `600s`, `10m`, `1h`, `1h30m`; `0` turns the soak off. */
function parseSoak(text: string | undefined): number | undefined {
    if (text === undefined) return undefined;
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
    if (!m || (m[1] ?? m[2] ?? m[3]) === undefined)
        throw new UsageError(`--soak must be a duration such as 600, 90s, 10m or 1h (0: no soak), not ${JSON.stringify(text)}.`);
    const seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
    if (seconds > 86400) throw new UsageError(`--soak ${text} is longer than a day (86400 s).`);
    return seconds;
}

const indent = (s: string) =>
    s
        .split("\n")
        .map((l) => `    ${l}`)
        .join("\n");
const firstLines = (s: string, n: number) => s.split("\n").slice(0, n).join("\n");

/** Ends the question open at the confirmation prompt as Ctrl-C there does (a SIGTERM or SIGHUP meanwhile). */
let interruptQuestion: (() => void) | undefined;

async function confirm(question: string): Promise<boolean> {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    try {
        // On a terminal readline takes Ctrl-C itself: without this the question was left open and the
        // process ended with exit 0. The end of input (Ctrl-D) is no answer: not confirmed.
        const answer = await new Promise<string | undefined>((resolve) => {
            interruptQuestion = () => resolve(undefined);
            rl.on("SIGINT", () => resolve(undefined));
            rl.on("close", () => resolve(""));
            rl.question(question, resolve);
        });
        if (answer === undefined) throw new DriverError("interrupted", "Interrupted at the question: nothing was done.");
        return /^y(es)?$/i.test(answer.trim());
    } finally {
        interruptQuestion = undefined;
        rl.close();
    }
}

function refuseUnattended(what: string): never {
    throw new DriverError("refused", `Refusing to ${what} without confirmation: pass --yes for unattended runs.`);
}

/** Ask unless --yes; refuse when nobody can answer. */
async function ensureConfirmed(f: Flags, p: Printer, what: string): Promise<void> {
    if (f.yes) return;
    if (!process.stdin.isTTY) refuseUnattended(what);
    if (!(await confirm(`Proceed to ${what} on stack ${f.stack}? [y/N] `))) {
        throw new DriverError("refused", "Not confirmed: nothing was done.");
    }
    p.info("confirmed");
}

/** One row per node, in wave order; `host/service` keys give the names when the outputs lack them. */
function summaryTable(nodes: RecordedNodes, done: "upgraded" | "rolled back"): string {
    const rows = Object.entries(nodes)
        .map(([key, n]) => ({ ...n, host: n.host ?? key.split("/")[0], service: n.service ?? key.split("/")[1] }))
        .sort((a, b) => (a.wave ?? 0) - (b.wave ?? 0));
    return renderTable(
        ["wave", "host", "service", "center", "before", "after", "result", "seconds", "finished (UTC)"],
        rows.map((n) => [
            String(n.wave ?? ""),
            n.host,
            n.service,
            n.center ?? "",
            n.versionBefore ?? "",
            n.versionAfter ?? "",
            n.skipped ? "skipped" : done,
            n.seconds === undefined ? "" : String(n.seconds),
            n.finishedAt ?? "",
        ]),
    );
}

const DID = { upgrade: "upgraded", rollback: "rolled back" } as const;

/** Every planned node: what the state recorded beside what the host says now. */
function statusTable(
    planned: { wave: number; host: string; service: string; center: string }[],
    recorded: RecordedNodes,
    /** What the state's last run did to the nodes: its program's mode. */
    done: "upgraded" | "rolled back",
    live: Record<string, { version: string; done: boolean; detail: string }> | undefined,
): string {
    return renderTable(
        ["wave", "host", "service", "center", "recorded", "recorded at (UTC)", "live version", "live"],
        planned.map((n) => {
            const r = recorded[`${n.host}/${n.service}`];
            const l = live?.[`${n.host}/${n.service}`];
            return [
                String(n.wave),
                n.host,
                n.service,
                n.center,
                r ? `${r.skipped ? "skipped" : r.action ? DID[r.action] : done} ${r.versionBefore} -> ${r.versionAfter}` : "-",
                r?.finishedAt ?? "",
                l?.version ?? "not read",
                l ? (l.done ? "healthy" : l.detail) : "",
            ];
        }),
    );
}

/** Writes the run's HTML report (`--out`, else `.reports/run-<stack>-<start>.html`) and says where. */
function writeReport(p: Printer, f: Flags, waves: Wave[], events: ProgressEvent[], nodes?: RecordedNodes): void {
    const started = events.find((e) => e.type === "run-started");
    const stack = started?.type === "run-started" ? started.stack : f.stack;
    const plan = f.onlyCenter ? waves.filter((w) => w.center === f.onlyCenter) : waves;
    const html = renderRunReport({ plan, events, results: nodes, stack });
    let file: string;
    if (f.out) {
        file = path.resolve(f.out);
        try {
            fs.writeFileSync(file, html);
        } catch (e) {
            const why: Record<string, string> = {
                ENOENT: "no such folder",
                EACCES: "permission denied",
                EISDIR: "is a folder",
                EROFS: "read-only file system",
            };
            const code = String((e as NodeJS.ErrnoException).code);
            throw new UsageError(`--out ${f.out}: cannot write it (${why[code] ?? code}). Give --out a file in a folder that exists and that you can write.`);
        }
    } else file = writeRunReportFile(reportsDir(), stack, html, new Date(started?.time ?? Date.now()));
    if (f.json) p.event({ type: "report", path: file, time: new Date().toISOString() });
    else p.info(`report: ${file}`);
}

/** After `up` / `rollback`, whatever the outcome: the report of the run, when the run started; failing to write only warns. */
function saveRunReport(p: Printer, f: Flags, waves: Wave[], events: ProgressEvent[], nodes?: RecordedNodes): void {
    if (!events.some((e) => e.type === "run-started")) return;
    try {
        writeReport(p, f, waves, events, nodes);
    } catch (e) {
        p.info(`warning: the run report was not written: ${String((e as Error)?.message ?? e)}`);
    }
}

/** The provider's words when it cannot open an SSH connection to a host (the dial, the handshake, the retries). */
const SSH_DIAL_ERROR = /\bdial tcp\b|failed attempts: |ssh: handshake failed|\bno route to host\b|\bi\/o timeout\b/i;

/** The stack of this command line once parsed, for the error messages written at the end. */
let currentStack = "sandbox";

/** A run's start and end as the tables show times (UTC, to the second), and how long it took. */
function runSpan(start: Date | string, end?: Date | string): string {
    const utc = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
    const from = new Date(start);
    if (end === undefined) return `${utc(from)} -> not ended`;
    const to = new Date(end);
    return `${utc(from)} -> ${utc(to)} (${Math.round((to.getTime() - from.getTime()) / 1000)} s)`;
}

/** The text of `report --from FILE`; a file that cannot be read is a usage error (exit 2), said plainly. */
function readEventsFile(file: string | undefined): string {
    if (!file) throw new UsageError("`report` needs --from EVENTS.jsonl (the output of `up --json` or `rollback --json`).");
    return readFromFile(
        file,
        "Give it the events a run printed with --json (`scm-upgrade up --json --stack <stack> > events.jsonl`); a run of `up` or `rollback` also writes its report itself.",
    );
}

/** The file of `--from`: one that cannot be read is a usage error (exit 2), naming why. */
function readFromFile(file: string, fix: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const why =
            code === "ENOENT"
                ? "no such file"
                : code === "EISDIR"
                  ? "is a folder, not a file"
                  : code === "EACCES"
                    ? "permission denied"
                    : String((e as Error).message);
        throw new UsageError(`--from ${file}: ${why}. ${fix}`);
    }
}

/**
 * A secret's value: `--from FILE` (read already), else standard input; on a terminal a prompt that does
 * not echo (a password), or the way to give a key (a key is a file, not something typed). `command`: this command
 * as given (its --backend with it), for that way.
 */
async function readSecretValue(f: Flags, name: SecretKey, fromFile: string | undefined, command: string): Promise<string> {
    if (fromFile !== undefined) return fromFile;
    if (!process.stdin.isTTY) return fs.readFileSync(0, "utf8");
    if (name === "sshPrivateKey") {
        throw new UsageError(`Give the key file: \`${command} --from ~/.ssh/<key>\` (or \`< ~/.ssh/<key>\`).`);
    }
    return promptHidden(`${name} of stack ${f.stack} (not shown): `);
}

/** Reads one line from the terminal without echoing it (raw mode: each key is handled here). */
function promptHidden(question: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const stdin = process.stdin;
        let value = "";
        const done = (e?: Error) => {
            stdin.off("data", onData);
            stdin.setRawMode(false);
            stdin.pause();
            process.stderr.write("\n");
            if (e) reject(e);
            else resolve(value);
        };
        const onData = (chunk: string) => {
            for (const ch of chunk) {
                if (ch === "\r" || ch === "\n" || ch === "\u0004") return done();
                if (ch === "\u0003") return done(new DriverError("interrupted", "Interrupted: nothing was stored."));
                if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
                else value += ch;
            }
        };
        process.stderr.write(question);
        stdin.setEncoding("utf8");
        stdin.setRawMode(true);
        stdin.on("data", onData);
        stdin.resume();
    });
}

async function main(argv: string[]): Promise<number> {
    const cmd = argv[0] && !argv[0].startsWith("-") ? argv[0] : "";
    const rest = cmd ? argv.slice(1) : argv;
    if (!(cmd in help)) throw new UsageError(`Unknown command \`${cmd}\`. Run \`scm-upgrade --help\` for the list.`);
    const f = parse(cmd, rest);
    currentStack = f.stack;
    if (f.help || cmd === "") {
        process.stdout.write(help[cmd] + "\n");
        return cmd === "" && !f.help ? EXIT.usage : EXIT.ok;
    }
    const p = new Printer(f.json);
    // Usage errors first (exit 2), then a stack that has no config file (exit 3), before the engine
    // could create it.
    const eventsText = cmd === "report" ? readEventsFile(f.from) : "";
    const secretFile =
        cmd === "secret" && f.from !== undefined
            ? readFromFile(f.from, "Give the file that holds the value (a key: e.g. --from ~/.ssh/id_ed25519).")
            : undefined;
    requireStackFile(f.stack);
    const controller = new AbortController();
    const stopNow = new AbortController();
    let interrupted = false;
    // Ctrl-C, `kill`, `timeout`, a service manager's stop, a closed terminal: the engine runs in a process group
    // of its own (engine/env.ts), so each reaches this process alone, which stops the engine: gracefully the
    // first time (the nodes in progress finish, the state stays consistent, the report and the line to resume
    // are written), at once the second; a third ends this process. A command that runs no engine ends at once.
    const engineCommand = ["up", "rollback", "preview", "refresh", "preflight"].includes(cmd);
    const resumes = cmd === "rollback" ? "rollback" : "up";
    let signalled = 0;
    const onSignal = (sig: NodeJS.Signals) => {
        const what = sig === "SIGINT" ? "Interrupt" : sig;
        if (interruptQuestion) return interruptQuestion();
        signalled++;
        if (!engineCommand || signalled > 2) {
            process.stderr.write(`${what} received: ${cmd} stopped.\n`);
            process.exit(EXIT.interrupted);
        }
        if (!interrupted) {
            interrupted = true;
            p.info(`${what} received: stopping after the node in progress (the state stays consistent; \`${resumes}\` resumes). Once more to stop at once.`);
            controller.abort();
        } else if (!stopNow.signal.aborted) {
            p.info(`${what} received again: stopping at once; the nodes in progress are cut off (the next \`${resumes}\` finishes them).`);
            stopNow.abort();
        }
    };
    const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
    for (const sig of signals) process.on(sig, onSignal);
    // A reader that went away (`up --json | head`): its stream is written no more, and the run stops as
    // after an interrupt (the node in progress finishes), rather than go on unseen or die mid-node.
    const onReaderGone = (stream: NodeJS.WriteStream) => (e: NodeJS.ErrnoException) => {
        // EIO: the terminal is gone (its SIGHUP comes too)
        if (e.code !== "EPIPE" && e.code !== "EIO") throw e;
        stream.write = (() => true) as typeof stream.write;
        if (!interrupted) {
            interrupted = true;
            // Said on the other stream (stderr for stdout, even with --json: stdout's reader is gone).
            const other = stream === process.stdout ? process.stderr : process.stdout;
            other.write(`The reader of ${stream === process.stdout ? "stdout" : "stderr"} went away: stopping after the node in progress (\`up\` resumes).\n`);
            controller.abort();
        }
    };
    process.stdout.on("error", onReaderGone(process.stdout));
    process.stderr.on("error", onReaderGone(process.stderr));
    const events: ProgressEvent[] = [];
    // up/rollback: follows the run against its plan (where it stopped; the window's wave boundary).
    let tracker: RunTracker | undefined;
    let onProgress: () => void = () => undefined;
    // The engine (and @pulumi/pulumi) loads only for commands that need it: `plan` stays quick.
    const driver = (): typeof Driver => require("../engine/driver");
    // A rollback uploads nothing: the release's files may be gone from this machine.
    const releaseUnused = cmd === "rollback";
    const plan = async () => planOfStackFile(f.stack, releaseUnused) ?? (await driver().plan(opts, releaseUnused));
    const opts: Driver.RunOptions = {
        stack: f.stack,
        onEvent: (e) => {
            events.push(e);
            p.event(e);
            tracker?.onEvent(e);
            onProgress();
        },
        signal: controller.signal,
        stopNow: stopNow.signal,
        centers: f.onlyCenter ? [f.onlyCenter as "standby" | "primary"] : undefined,
        soakSeconds: f.soakSeconds,
        backendUrl: f.backend,
        ...(f.noLive ? { live: "none" as const } : {}),
    };
    const soaksOf = (config: { soak?: SoakSettings }, waves: Wave[]) => soakSteps(waves, soakSettings(config.soak, f.soakSeconds));
    // These commands need the stack's config with its secrets: read from now on (engine/env.ts), while the rest loads.
    if (cmd === "up" || cmd === "rollback" || cmd === "preview" || cmd === "refresh" || cmd === "status") prefetchStackConfig(opts);
    // A preview opens its stack at once (making it when new): the CLI's `stack init` runs while the engine's modules load.
    if (cmd === "preview") prefetchStackInit(opts);
    // The engine's program runs in this process: its garbage is collected early (cli/heap.ts).
    // SCM_UPGRADE_HEAP_HEADROOM_MIB: the headroom (0: no cap, V8's own sizing).
    const headroom = Number(process.env.SCM_UPGRADE_HEAP_HEADROOM_MIB ?? HEAP_HEADROOM_MIB);
    const heap = engineCommand && headroom > 0 ? capHeapGrowth(headroom) : undefined;
    try {
        switch (cmd) {
            case "plan": {
                const { waves, warnings, config } = planForDrawing(f.stack);
                const soaks = soaksOf(config, waves);
                // Always to stderr: stdout is the plan itself, in any format.
                if (warnings.length) process.stderr.write(formatPlanWarnings(f.stack, warnings) + "\n");
                const format = f.format ?? (f.json ? "json" : "table");
                if (format === "table") p.result(renderPlanTable(waves, soaks));
                else if (format === "json") process.stdout.write(planToJson(waves, soaks) + "\n");
                else if (format === "mermaid") p.result(planToMermaid(waves));
                else if (format === "dot") p.result(planToDot(waves));
                else if (format === "svg") process.stdout.write(renderPlanSvg(waves, soaks));
                else if (format === "html") process.stdout.write(renderPlanHtml(waves, { stack: f.stack, soaks }));
                else throw new UsageError(`--format must be table, json, mermaid, dot, svg or html, not ${format}.`);
                return EXIT.ok;
            }
            case "preflight": {
                const r = await driver().preflight(opts);
                // --json: every host's check lines too (the progress events carry only each host's outcome).
                if (f.json) p.event({ type: "preflight-result", hosts: r, time: new Date().toISOString() });
                else p.result(r.map((h) => `${h.host}: ${h.ok ? "ok" : "FAILED"}${h.lines.length ? "\n" + indent(h.lines.join("\n")) : ""}`).join("\n"));
                return r.every((h) => h.ok) ? EXIT.ok : EXIT.preflightFailed;
            }
            case "preview": {
                const changes = await driver().preview(opts);
                if (f.json) p.event({ type: "preview-result", changes, time: new Date().toISOString() });
                p.result(
                    `preview: ${
                        Object.entries(changes)
                            .map(([k, v]) => `${v} to ${k}`)
                            .join(", ") || "no changes"
                    }`,
                );
                return EXIT.ok;
            }
            case "up":
            case "rollback": {
                const forcedOutside = cmd === "up" && checkWindow(f.window, f.force, windowNow());
                const { waves, config } = await plan();
                const soaks = cmd === "up" && f.onlyCenter !== "standby" ? soaksOf(config, waves) : [];
                const runWaves = (cmd === "rollback" ? [...waves].reverse() : waves).filter((w) => !f.onlyCenter || w.center === f.onlyCenter);
                tracker = new RunTracker(runWaves);
                const verb = cmd === "rollback" ? "rolled back" : "upgraded";
                const resume = driver().commandLine(opts, cmd);
                // Refusals about how the command was called come first; then what the machine lacks.
                if (!f.yes && !process.stdin.isTTY) refuseUnattended(cmd === "up" ? "upgrade" : "roll back");
                driver().requireProvider(opts);
                if (!f.json) {
                    const shown = cmd === "rollback" ? [...waves].reverse() : waves;
                    p.info(`${cmd === "rollback" ? "Rollback, reverse order of" : "Plan"}:\n${renderPlanTable(shown, soaks)}`);
                }
                await ensureConfirmed(f, p, cmd === "up" ? "upgrade" : "roll back");
                let nodes: RecordedNodes | undefined;
                // The maintenance window closing mid-run: the wave under way finishes, no new wave starts
                // (the engine is stopped once every node of the current wave has started: it finishes
                // the steps in progress and starts none).
                let closedAt: Date | undefined;
                const stopBetweenWaves = () => {
                    if (closedAt && !controller.signal.aborted && tracker?.waveUnderWay()) controller.abort();
                };
                const watch =
                    cmd === "up"
                        ? watchWindow(f.window, forcedOutside, (at) => {
                              closedAt = at;
                              const w = tracker?.currentWave();
                              p.info(
                                  `The maintenance window ${windowSpec(f.window)} closed at ${clockOf(at)}: ${w ? `finishing wave ${w.index} (${w.id}), then stopping` : "stopping before the first wave"}; no new wave starts.`,
                              );
                              stopBetweenWaves();
                          })
                        : undefined;
                // The clock at every engine event, not only on the watch's timer: the last node of a wave
                // starting after the close stops the run while it runs, before the engine starts the next wave.
                onProgress = () => {
                    watch?.check();
                    stopBetweenWaves();
                };
                try {
                    const r = await driver().up({ ...opts, mode: cmd === "rollback" ? "rollback" : "upgrade" });
                    // Only what this run did: the outputs also hold the rows of earlier runs' nodes.
                    const ran = new Set(
                        events
                            .filter((e) => e.type === "node" && ["healthy", "skipped", "rolled-back"].includes(e.status))
                            .map((e) => (e.type === "node" ? `${e.host}/${e.service}` : "")),
                    );
                    const all = (r.outputs.nodes?.value ?? {}) as RecordedNodes;
                    nodes = Object.fromEntries(Object.entries(all).filter(([k]) => ran.has(k)));
                    if (f.json) p.event({ type: "summary", nodes, time: new Date().toISOString() });
                    else if (ran.size) p.result(summaryTable(nodes, cmd === "rollback" ? "rolled back" : "upgraded"));
                    else {
                        const live = events.find((e) => e.type === "live-state");
                        p.info(
                            live && live.type === "live-state"
                                ? `Nothing to do: all ${live.done.length} nodes are at ${live.target} and healthy (read live from the hosts).`
                                : "Nothing to do: no node needed work.",
                        );
                    }
                } catch (e) {
                    if (e instanceof DriverError && e.kind === "upgrade-failed") {
                        // A host that vanished mid-run: say which, and the SSH error, in the last line too.
                        const lost = events.flatMap((x) => (x.type === "node" && x.status === "failed" && SSH_DIAL_ERROR.test(x.message ?? "") ? [x] : []));
                        if (lost.length) {
                            const why = (lost[0].message ?? "")
                                .split("\n")
                                .find((l) => SSH_DIAL_ERROR.test(l))
                                ?.trim();
                            throw new DriverError(e.kind, `Host ${lost[0].host} could not be reached over SSH (${why}). ${e.message}`, e.problems);
                        }
                    }
                    if (!(e instanceof DriverError) || e.kind !== "interrupted") throw e;
                    const where = tracker.whereStopped(verb);
                    if (closedAt && !interrupted) {
                        const w = tracker.done().length ? tracker.currentWave() : undefined;
                        // A close seen just as a wave ended: the engine may have started the next wave's first node already.
                        const what = !w
                            ? "no new wave was started"
                            : tracker.waveFinished(w)
                              ? `wave ${w.index} (${w.id}) finished and no new wave was started`
                              : `wave ${w.index} (${w.id}) had just begun when the close was seen, and stopped after the nodes in progress`;
                        throw new DriverError(
                            "refused",
                            `The maintenance window ${windowSpec(f.window)} closed at ${clockOf(closedAt)}: ${what}. ` +
                                `${where} To resume, run \`${resume}\` in the next window (nodes at the target and healthy are skipped).`,
                        );
                    }
                    throw new DriverError("interrupted", `Interrupted. ${where} To resume, run \`${resume}\` (nodes at the target and healthy are skipped).`);
                } finally {
                    watch?.stop();
                    // Succeeded, failed or interrupted: the report shows what happened.
                    saveRunReport(p, f, waves, events, nodes);
                }
                return EXIT.ok;
            }
            case "status": {
                const s = await driver().status(opts);
                const nodes = (s.outputs.nodes?.value ?? {}) as RecordedNodes;
                if (f.json)
                    p.event({ type: "status", stack: f.stack, nodes, lastRun: s.lastRun ?? null, live: s.live ?? null, liveError: s.liveError ?? null });
                else {
                    if (s.lastRun) {
                        const what = driver().commandOfRun(s.lastRun.message) ?? s.lastRun.kind;
                        p.result(`last run: ${what} ${s.lastRun.result}, ${runSpan(s.lastRun.startTime, s.lastRun.endTime)}`);
                    }
                    if (!Object.keys(nodes).length) p.result("no run recorded yet");
                    p.result(statusTable(s.nodes, nodes, s.outputs.mode?.value === "rollback" ? "rolled back" : "upgraded", s.live));
                    if (s.liveError) p.info(`live state not read: ${s.liveError}`);
                }
                return EXIT.ok;
            }
            case "refresh": {
                await driver().refresh(opts);
                return EXIT.ok;
            }
            case "report": {
                const run = readEventsJsonl(eventsText);
                if (!run.events.some((e) => e.type === "run-started" || e.type === "node")) throw new UsageError(`${f.from} holds no run events.`);
                const { waves } = planForDrawing(f.stack);
                writeReport(p, f, waves, run.events, run.results);
                return EXIT.ok;
            }
            case "secret": {
                const secrets = require("../engine/secrets") as typeof import("../engine/secrets");
                const name = f.secret as SecretKey;
                const file = stackFileName(f.stack);
                if (f.unset) {
                    const removed = await secrets.unsetStackSecret(opts, name);
                    if (f.json) p.event({ type: "secret", stack: f.stack, name, result: removed ? "removed" : "absent", time: new Date().toISOString() });
                    else
                        p.result(removed ? `removed ${name} from stack ${f.stack} (${file})` : `stack ${f.stack} has no ${name} in ${file}: nothing to remove`);
                    return EXIT.ok;
                }
                const { value, note } = secrets.checkSecretValue(
                    opts,
                    name,
                    await readSecretValue(f, name, secretFile, driver().commandLine(opts, `secret ${name}`)),
                );
                await secrets.setStackSecret(opts, name, value);
                if (f.json) p.event({ type: "secret", stack: f.stack, name, result: "stored", time: new Date().toISOString() });
                else
                    p.result(
                        `stored ${name} of stack ${f.stack} as a secret, encrypted in ${file}; check it with \`${driver().commandLine(opts, "preflight")}\``,
                    );
                if (note) p.info(note);
                return EXIT.ok;
            }
            case "unlock": {
                const { backend, locks } = await driver().stackLocks(opts);
                const { describeLock } = require("../engine/locks") as typeof import("../engine/locks");
                const said = (removed: StackLock[]) =>
                    p.event({ type: "unlock", stack: f.stack, backend, removed: removed.map(describeLock), time: new Date().toISOString() });
                if (!locks.length) {
                    if (f.json) said([]);
                    p.result(`no lock to remove: stack ${f.stack} is not locked in ${backend}`);
                    return EXIT.ok;
                }
                p.info(`stack ${f.stack} in ${backend} is locked by:\n${indent(locks.map(describeLock).join("\n"))}`);
                if (!f.yes && !process.stdin.isTTY) refuseUnattended("remove the lock");
                if (!f.yes && !(await confirm(`Remove the lock of stack ${f.stack}? Only if that run is dead. [y/N] `))) {
                    throw new DriverError("refused", "Not confirmed: the lock was kept.");
                }
                const removed = await driver().unlock(opts, locks);
                if (f.json) said(removed);
                p.result(`removed ${removed.length} stale lock(s) of stack ${f.stack}, held by ${removed.map(describeLock).join("; ")}`);
                return EXIT.ok;
            }
        }
        return EXIT.usage;
    } finally {
        for (const sig of signals) process.off(sig, onSignal);
        heap?.stop();
    }
}

main(process.argv.slice(2))
    .then((code) => {
        process.exitCode = code;
    })
    .catch((e: unknown) => {
        const json = process.argv.includes("--json");
        let code: number = EXIT.upgradeFailed;
        // A backend URL's password, wherever the text came from (the Pulumi CLI names the URL it could not open).
        const { redactUrlsIn } = require("../engine/locks") as typeof import("../engine/locks");
        let message = redactUrlsIn(String((e as Error)?.message ?? e));
        if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS")) {
            code = EXIT.usage;
            if (!message.includes("scm-upgrade --help")) message = `${message}\nRun \`scm-upgrade --help\`.`;
        } else if (e instanceof DriverError) {
            code = exitCodeFor(e.kind);
            if (e.problems.length) message = `${message}\n${formatProblems(e.problems, stackFileName(currentStack))}`;
        }
        if (json) process.stdout.write(JSON.stringify({ type: "error", code, message, time: new Date().toISOString() }) + "\n");
        process.stderr.write(`error: ${message}\n`);
        process.exitCode = code;
    });
