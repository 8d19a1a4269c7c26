/**
 * A stack's locks, read and removed through its backend the way the Pulumi CLI writes them, and the
 * blobs its record is read from (the checkpoint, with its pending operations; the newest history entry):
 * `<state>/.pulumi/locks/<org>/<project>/<stack>/<id>.json` on `file://`, rows with that key in the
 * `pulumi_state` table (`?table=` in the URL) on `postgres://`. Each lock names who holds it
 * (user, host, process, since when). Kept free of Pulumi imports.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { projectName } from "./paths";

export interface StackLock {
    /** The lock file's path (file://) or the row's key (postgres://). */
    key: string;
    username?: string;
    hostname?: string;
    pid?: number;
    /** ISO 8601, when the run took it. */
    timestamp?: string;
}

export type BackendKind = "file" | "postgres" | "other";

export function backendKind(url: string): BackendKind {
    if (url.startsWith("file://")) return "file";
    if (url.startsWith("postgres://")) return "postgres";
    return "other";
}

/** A file:// backend's folder. */
const fileRoot = (url: string) => url.slice("file://".length).replace(/\?.*$/, "");

/** The URL with any password masked, for messages: the user part's and a `password=` parameter's. */
export function redactUrl(url: string): string {
    try {
        const u = new URL(url);
        if (u.password) u.password = "****";
        if (u.searchParams.has("password")) u.searchParams.set("password", "****");
        return u.toString();
    } catch {
        return redactUrlsIn(url);
    }
}

/** Any text with the passwords of the URLs in it masked (`scheme://user:password@host`, `password=...`). */
export function redactUrlsIn(text: string): string {
    return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, "$1****@").replace(/([?&]password=)[^&\s]*/gi, "$1****");
}

/** `user@host (pid N) since TIME`: the words every lock message uses. */
export function describeLock(l: StackLock): string {
    const who = `${l.username ?? "?"}@${l.hostname ?? "?"}`;
    return `${who} (pid ${l.pid ?? "?"}) since ${l.timestamp ?? "an unknown time"}`;
}

function parseLock(key: string, text: string): StackLock {
    try {
        const j = JSON.parse(text) as { pid?: number; username?: string; hostname?: string; timestamp?: string };
        return { key, pid: j.pid, username: j.username, hostname: j.hostname, timestamp: j.timestamp };
    } catch {
        return { key };
    }
}

const lockPrefix = (stack: string) => `.pulumi/locks/organization/${projectName}/${stack}/`;

/** A postgres:// backend URL as Pulumi reads it: `table` is Pulumi's own parameter, not the server's. */
function pgTarget(url: string): { connectionString: string; table: string; keyPrefix: string } {
    const u = new URL(url);
    // Pulumi keeps every key of a non-file backend under the URL's path: here the database name.
    const sub = decodeURIComponent(u.pathname).replace(/^\/+/, "");
    const keyPrefix = sub && !sub.endsWith("/") ? `${sub}/` : sub;
    const table = u.searchParams.get("table") || "pulumi_state";
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(table)) throw new Error(`table=${table}: not a plain table name`);
    u.searchParams.delete("table");
    return { connectionString: u.toString(), table, keyPrefix };
}

type Query = (sql: string, args: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

async function withPg<T>(url: string, f: (q: Query, table: string, keyPrefix: string) => Promise<T>): Promise<T> {
    // Loaded only for a postgres backend.
    const { Client } = require("pg") as typeof import("pg");
    const { connectionString, table, keyPrefix } = pgTarget(url);
    const client = new Client({ connectionString, connectionTimeoutMillis: 15000 });
    await client.connect();
    try {
        return await f((sql, args) => client.query(sql, args as unknown[]), table, keyPrefix);
    } finally {
        await client.end().catch(() => undefined);
    }
}

/** Every lock held on `stack` in the backend at `url` (none: []). */
export async function readLocks(url: string, stack: string): Promise<StackLock[]> {
    const kind = backendKind(url);
    if (kind === "file") {
        const dir = path.join(fileRoot(url), lockPrefix(stack));
        if (!fs.existsSync(dir)) return [];
        return fs
            .readdirSync(dir)
            .filter((f) => f.endsWith(".json"))
            .sort()
            .map((f) => path.join(dir, f))
            .flatMap((full) => {
                try {
                    return [parseLock(full, fs.readFileSync(full, "utf8"))];
                } catch {
                    return []; // released between the listing and the read
                }
            });
    }
    if (kind === "postgres") {
        return withPg(url, async (q, table, keyPrefix) => {
            // No table yet: Pulumi has not written anything, so nothing is locked.
            const exists = await q("SELECT to_regclass($1) AS t", [table]);
            if (!exists.rows[0]?.t) return [];
            const r = await q(`SELECT key, data->>'data' AS data FROM ${table} WHERE starts_with(key, $1) AND key LIKE '%.json' ORDER BY key`, [
                keyPrefix + lockPrefix(stack),
            ]);
            return r.rows.map((row) => parseLock(String(row.key), Buffer.from(String(row.data ?? ""), "base64").toString("utf8")));
        });
    }
    throw new Error(`locks of a ${redactUrl(url)} backend cannot be read by scm-upgrade`);
}

/** Removes exactly these locks (not any taken since they were read). */
export async function removeLocks(url: string, locks: StackLock[]): Promise<void> {
    if (!locks.length) return;
    if (backendKind(url) === "file") {
        for (const l of locks) fs.rmSync(l.key, { force: true });
        return;
    }
    await withPg(url, async (q, table) => {
        await q(`DELETE FROM ${table} WHERE key = ANY($1::text[])`, [locks.map((l) => l.key)]);
    });
}

/**
 * Takes the stack's lock as the Pulumi CLI takes it: writes a lock of this process (a fresh id, with
 * user, host, pid and time), then looks for any other. While it is held, every other run, this tool's
 * or the CLI's, is refused. When another run holds one, or took one at the same moment, ours is removed
 * again and the others are returned (`heldBy`): nothing may change then.
 */
export async function takeLock(url: string, stack: string): Promise<{ release: () => Promise<void> } | { heldBy: StackLock[] }> {
    const kind = backendKind(url);
    if (kind === "other") throw new Error(`locks of a ${redactUrl(url)} backend cannot be taken by scm-upgrade`);
    const id = `${crypto.randomUUID()}.json`;
    // The fields and format of Pulumi's lock content (pkg/backend/diy/lock.go), so the CLI names us too.
    const content = JSON.stringify({ pid: process.pid, username: os.userInfo().username, hostname: os.hostname(), timestamp: new Date().toISOString() });
    let ours: StackLock;
    if (kind === "file") {
        const dir = path.join(fileRoot(url), lockPrefix(stack));
        fs.mkdirSync(dir, { recursive: true });
        ours = { key: path.join(dir, id) };
        fs.writeFileSync(ours.key, content, { flag: "wx" });
    } else {
        const taken = await withPg(url, async (q, table, keyPrefix) => {
            // A database Pulumi has never opened has no table yet (the CLI makes it on first use): no state,
            // no lock, nothing a lock of ours could guard. Making the table here would guess Pulumi's schema.
            const exists = await q("SELECT to_regclass($1) AS t", [table]);
            if (!exists.rows[0]?.t) return undefined;
            const key = keyPrefix + lockPrefix(stack) + id;
            // Pulumi's blob format in that table: {"data": <base64 of the content>}.
            await q(`INSERT INTO ${table} (key, data) VALUES ($1, $2)`, [key, JSON.stringify({ data: Buffer.from(content).toString("base64") })]);
            return { key };
        });
        if (!taken) return { release: async () => undefined };
        ours = taken;
    }
    const release = () => removeLocks(url, [ours]);
    let others: StackLock[];
    try {
        others = (await readLocks(url, stack)).filter((l) => l.key !== ours.key);
    } catch (e) {
        await release();
        throw e;
    }
    if (others.length) {
        await release();
        return { heldBy: others };
    }
    return { release };
}

/**
 * The holders named in the engine's own "currently locked" error text (when a run took the lock
 * between our check and the engine's): `<url>: created by user@host (pid N) at TIME`.
 */
export function locksInEngineText(text: string): StackLock[] {
    const out: StackLock[] = [];
    for (const m of text.matchAll(/created by ([^@\s]+)@(\S+) \(pid (\d+)\) at (\S+)/g)) {
        out.push({ key: "", username: m[1], hostname: m[2], pid: Number(m[3]), timestamp: m[4] });
    }
    return out;
}

/** An operation the engine began and never finished (a killed run), as the checkpoint records it. */
export interface PendingOperation {
    resource: { urn: string };
    type: string;
}

/** Where the CLI keeps a stack's checkpoint, under the backend's root (file://) or key prefix (postgres://). */
const checkpointKey = (stack: string) => `.pulumi/stacks/${projectName}/${stack}.json`;

/** The forms the CLI writes a blob in: plain, gzip (`PULUMI_DIY_BACKEND_GZIP`) or zstd (`PULUMI_DIY_BACKEND_ZSTD`). */
const BLOB_FORMS = ["", ".gz", ".zst"];

/** A blob's text, plain or gzip; undefined for zstd, which Node 20 cannot open (then ask the CLI). */
export function blobText(name: string, data: Buffer): string | undefined {
    if (name.endsWith(".zst")) return undefined;
    return (name.endsWith(".gz") ? zlib.gunzipSync(data) : data).toString("utf8");
}

/** The stack's checkpoint file in a file:// backend, "none" for a new stack, "unknown" when this cannot tell. */
function fileCheckpoint(url: string, stack: string): { file: string } | "none" | "unknown" {
    const key = checkpointKey(stack);
    const root = fileRoot(url);
    const found = BLOB_FORMS.map((form) => path.join(root, key + form)).filter((f) => fs.existsSync(f));
    // Two forms at once: which one the CLI reads is its business.
    if (found.length > 1) return "unknown";
    if (found.length === 1) return { file: found[0] };
    // None under the project: a new stack, or a backend of the older, project-less layout.
    return fs.existsSync(path.join(root, ".pulumi", "stacks", `${stack}.json`)) ? "unknown" : "none";
}

/** The stack's checkpoint as the backend holds it; "unknown" when its form is not one this knows. */
export async function readCheckpoint(url: string, stack: string): Promise<{ name: string; data: Buffer } | "none" | "unknown"> {
    const kind = backendKind(url);
    if (kind === "other") return "unknown";
    if (kind === "file") {
        const found = fileCheckpoint(url, stack);
        return typeof found === "string" ? found : { name: found.file, data: fs.readFileSync(found.file) };
    }
    const key = checkpointKey(stack);
    return withPg(url, async (q, table, keyPrefix) => {
        const exists = await q("SELECT to_regclass($1) AS t", [table]);
        if (!exists.rows[0]?.t) return "none";
        const r = await q(`SELECT key, data->>'data' AS data FROM ${table} WHERE key = ANY($1::text[])`, [BLOB_FORMS.map((form) => keyPrefix + key + form)]);
        if (r.rows.length > 1) return "unknown";
        return r.rows.length ? { name: String(r.rows[0].key), data: Buffer.from(String(r.rows[0].data ?? ""), "base64") } : "none";
    });
}

type Presence = "present" | "absent" | "unknown";
const presenceOf = (found: object | "none" | "unknown"): Presence => (found === "none" ? "absent" : found === "unknown" ? "unknown" : "present");

/**
 * Whether the backend holds the stack (its checkpoint is there): "present", "absent", or "unknown" when
 * this cannot tell (a backend or layout it does not read, an error): then ask the CLI.
 */
export async function stackPresence(url: string, stack: string): Promise<Presence> {
    if (backendKind(url) !== "postgres") return stackPresenceNow(url, stack);
    try {
        return presenceOf(await readCheckpoint(url, stack));
    } catch {
        return "unknown";
    }
}

/** As `stackPresence`, at once: a file:// backend is read now; any other is "unknown" (a database: ask `stackPresence`). */
export function stackPresenceNow(url: string, stack: string): Presence {
    if (backendKind(url) !== "file") return "unknown";
    try {
        return presenceOf(fileCheckpoint(url, stack));
    } catch {
        return "unknown";
    }
}

/** A resource of the state as its checkpoint holds it: what the tool reads of it. */
export interface StateResource {
    urn: string;
    parent?: string;
    /** An old copy the engine is still to delete (a replaced resource's). */
    delete?: boolean;
}

type LatestDeployment = { resources?: StateResource[]; pending_operations?: PendingOperation[] };

/**
 * The stack's last deployment, read from the backend directly (the CLI's `stack export` costs a CLI
 * start-up, ~0.5 s); {} for a stack with no checkpoint yet. Undefined when the checkpoint is in a form
 * this does not know (then ask the CLI).
 */
async function readLatestDeployment(url: string, stack: string): Promise<LatestDeployment | undefined> {
    const raw = await readCheckpoint(url, stack);
    if (raw === "none") return {};
    if (raw === "unknown") return undefined;
    try {
        const text = blobText(raw.name, raw.data);
        if (text === undefined) return undefined;
        const j = JSON.parse(text) as { version?: number; checkpoint?: { latest?: LatestDeployment | null } };
        if (typeof j.version !== "number" || typeof j.checkpoint !== "object" || j.checkpoint === null) return undefined;
        return j.checkpoint.latest ?? {};
    } catch {
        return undefined;
    }
}

/** The pending operations in the stack's last checkpoint ([] for a new stack); undefined: ask the CLI. */
export async function readPendingOperations(url: string, stack: string): Promise<PendingOperation[] | undefined> {
    const latest = await readLatestDeployment(url, stack);
    return latest && (latest.pending_operations ?? []);
}

/** The resources in the stack's last checkpoint ([] for a new stack); undefined: ask the CLI. */
export async function readStateResources(url: string, stack: string): Promise<StateResource[] | undefined> {
    const latest = await readLatestDeployment(url, stack);
    return latest && (latest.resources ?? []);
}

/** Where the CLI keeps a stack's history: one entry per update, `<stack>-<unix nanoseconds>.history.json`. */
const historyPrefix = (stack: string) => `.pulumi/history/${projectName}/${stack}/`;
const HISTORY_ENTRY = /\.history\.json(\.gz|\.zst)?$/;

/**
 * The stack's newest history entry as the backend holds it: the last by key, the CLI's order (the keys
 * sort as their timestamps). "none" when the stack has no history; "unknown" for a backend this does not read.
 */
export async function readNewestHistoryEntry(url: string, stack: string): Promise<{ name: string; data: Buffer } | "none" | "unknown"> {
    const kind = backendKind(url);
    if (kind === "other") return "unknown";
    if (kind === "file") {
        const dir = path.join(fileRoot(url), historyPrefix(stack));
        const names = fs.existsSync(dir)
            ? fs
                  .readdirSync(dir)
                  .filter((f) => HISTORY_ENTRY.test(f))
                  .sort()
            : [];
        const newest = names.pop();
        return newest === undefined ? "none" : { name: newest, data: fs.readFileSync(path.join(dir, newest)) };
    }
    return withPg(url, async (q, table, keyPrefix) => {
        const exists = await q("SELECT to_regclass($1) AS t", [table]);
        if (!exists.rows[0]?.t) return "none";
        const r = await q(`SELECT key, data->>'data' AS data FROM ${table} WHERE starts_with(key, $1) AND key ~ $2 ORDER BY key COLLATE "C" DESC LIMIT 1`, [
            keyPrefix + historyPrefix(stack),
            HISTORY_ENTRY.source,
        ]);
        return r.rows.length ? { name: String(r.rows[0].key), data: Buffer.from(String(r.rows[0].data ?? ""), "base64") } : "none";
    });
}
