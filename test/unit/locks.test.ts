import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import {
    backendKind,
    describeLock,
    locksInEngineText,
    readLocks,
    readPendingOperations,
    redactUrl,
    redactUrlsIn,
    removeLocks,
    stackPresence,
    stackPresenceNow,
    takeLock,
} from "../../engine/locks";
import { readStackRecord } from "../../engine/stackRecord";

describe("stack locks", () => {
    test("the engine's lock error names each holder", () => {
        const text =
            "error: the stack is currently locked by 2 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n" +
            "  postgres://****:****@db:5432/s/.pulumi/locks/organization/scm-upgrade/prod/a.json: created by alice@jump1 (pid 4172) at 2026-03-02T21:04:11Z\n" +
            "  file:///x/.pulumi/locks/organization/scm-upgrade/prod/b.json: created by bob@laptop (pid 9) at 2026-03-02T21:05:00+01:00";
        expect(locksInEngineText(text).map(describeLock)).toEqual([
            "alice@jump1 (pid 4172) since 2026-03-02T21:04:11Z",
            "bob@laptop (pid 9) since 2026-03-02T21:05:00+01:00",
        ]);
        expect(locksInEngineText("another update is currently in progress")).toEqual([]);
    });

    test("backend kinds, and passwords never shown", () => {
        expect(backendKind("file:///srv/state")).toBe("file");
        expect(backendKind("postgres://u:p@h:5432/db?sslmode=disable")).toBe("postgres");
        expect(backendKind("s3://bucket")).toBe("other");
        expect(redactUrl("postgres://u:secret@h:5432/db?sslmode=disable")).toBe("postgres://u:****@h:5432/db?sslmode=disable");
        expect(redactUrl("postgres://u@h/db")).toBe("postgres://u@h/db");
        // A password given as a parameter (PostgreSQL's clients take one there too).
        expect(redactUrl("postgres://u@h/db?sslmode=disable&password=s3cr%3Bt")).toBe("postgres://u@h/db?sslmode=disable&password=****");
        // In any text, e.g. the Pulumi CLI's error naming the backend it could not open; other URLs unchanged.
        expect(
            redactUrlsIn(
                "error: unable to open bucket postgres://scm:hunter2@db.example:5432/scm_state?sslmode=disable: failed to ping PostgreSQL; see https://www.pulumi.com/docs",
            ),
        ).toBe(
            "error: unable to open bucket postgres://scm:****@db.example:5432/scm_state?sslmode=disable: failed to ping PostgreSQL; see https://www.pulumi.com/docs",
        );
        expect(redactUrlsIn("dial postgres://u@h/db?password=x&sslmode=disable failed")).toBe("dial postgres://u@h/db?password=****&sslmode=disable failed");
        expect(redactUrlsIn("no URL here: a:b@c")).toBe("no URL here: a:b@c");
    });

    test("file:// locks: read with their holder, removed one by one, other stacks untouched", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-locks-"));
        try {
            const url = `file://${dir}`;
            const at = (stack: string) => path.join(dir, ".pulumi", "locks", "organization", "scm-upgrade", stack);
            expect(await readLocks(url, "prod")).toEqual([]);
            fs.mkdirSync(at("prod"), { recursive: true });
            fs.mkdirSync(at("prod2"), { recursive: true });
            fs.writeFileSync(
                path.join(at("prod"), "b.json"),
                JSON.stringify({ pid: 7, username: "alice", hostname: "jump1", timestamp: "2026-03-02T21:04:11Z" }),
            );
            fs.writeFileSync(path.join(at("prod"), "a.json"), "not json");
            fs.writeFileSync(path.join(at("prod2"), "c.json"), "{}");
            const locks = await readLocks(url, "prod");
            expect(locks.map((l) => path.basename(l.key))).toEqual(["a.json", "b.json"]);
            expect(describeLock(locks[1])).toBe("alice@jump1 (pid 7) since 2026-03-02T21:04:11Z");
            expect(describeLock(locks[0])).toBe("?@? (pid ?) since an unknown time");
            await removeLocks(url, [locks[1]]);
            expect((await readLocks(url, "prod")).map((l) => path.basename(l.key))).toEqual(["a.json"]);
            expect(await readLocks(url, "prod2")).toHaveLength(1);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("takeLock writes a lock the way Pulumi does, yields to any other (leaving none of its own), and of runs taking it at once at most one wins", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-locks-"));
        try {
            const url = `file://${dir}`;
            const held = await takeLock(url, "prod");
            if (!("release" in held)) throw new Error("expected the lock");
            const [ours] = await readLocks(url, "prod");
            expect(path.dirname(ours.key)).toBe(path.join(dir, ".pulumi", "locks", "organization", "scm-upgrade", "prod"));
            expect(path.basename(ours.key)).toMatch(/^[0-9a-f-]{36}\.json$/);
            expect(ours).toMatchObject({ pid: process.pid, username: os.userInfo().username, hostname: os.hostname() });
            expect(Date.now() - Date.parse(ours.timestamp!)).toBeLessThan(60000);
            // Held: another taker yields and leaves only the holder's lock.
            const refused = await takeLock(url, "prod");
            expect("heldBy" in refused && refused.heldBy.map((l) => l.key)).toEqual([ours.key]);
            expect((await readLocks(url, "prod")).map((l) => l.key)).toEqual([ours.key]);
            await held.release();
            expect(await readLocks(url, "prod")).toEqual([]);
            // Five at once: never two holders (all may yield, as with the Pulumi CLI's own locks).
            const all = await Promise.all([1, 2, 3, 4, 5].map(() => takeLock(url, "prod")));
            const winners = all.filter((r) => "release" in r);
            expect(winners.length).toBeLessThanOrEqual(1);
            expect(await readLocks(url, "prod")).toHaveLength(winners.length);
            for (const w of winners) if ("release" in w) await w.release();
            expect(await readLocks(url, "prod")).toEqual([]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("a checkpoint's pending operations, read from a file:// backend: plain or gzip; none for a new stack; unknown forms left to the CLI", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-checkpoint-"));
        try {
            const url = `file://${dir}`;
            const stacks = path.join(dir, ".pulumi", "stacks");
            const file = path.join(stacks, "scm-upgrade", "prod.json");
            const op = { resource: { urn: "urn:pulumi:prod::scm-upgrade::command:remote:Command::scm-C-cloud-upgrade" }, type: "creating" };
            const checkpoint = (pending?: unknown[]) =>
                JSON.stringify({ version: 3, checkpoint: { stack: "prod", latest: { resources: [], ...(pending ? { pending_operations: pending } : {}) } } });
            // No checkpoint yet: a stack to be made, nothing pending.
            expect(await readPendingOperations(url, "prod")).toEqual([]);
            expect(await stackPresence(url, "prod")).toBe("absent");
            expect(stackPresenceNow(url, "prod")).toBe("absent");
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, checkpoint([op]));
            expect(await readPendingOperations(url, "prod")).toEqual([op]);
            expect(await stackPresence(url, "prod")).toBe("present");
            expect(stackPresenceNow(url, "prod")).toBe("present");
            expect(await readPendingOperations(url, "prod2")).toEqual([]);
            fs.writeFileSync(file, checkpoint());
            expect(await readPendingOperations(url, "prod")).toEqual([]);
            // A stack made but never updated: no deployment yet.
            fs.writeFileSync(file, JSON.stringify({ version: 3, checkpoint: { stack: "prod" } }));
            expect(await readPendingOperations(url, "prod")).toEqual([]);
            // Gzip (PULUMI_SELF_MANAGED_STATE_GZIP): the same.
            fs.rmSync(file);
            fs.writeFileSync(`${file}.gz`, zlib.gzipSync(checkpoint([op])));
            expect(await readPendingOperations(url, "prod")).toEqual([op]);
            expect(await stackPresence(url, "prod")).toBe("present");
            // Both forms at once, text that is not a checkpoint, the older project-less layout: ask the CLI.
            fs.writeFileSync(file, checkpoint());
            expect(await readPendingOperations(url, "prod")).toBeUndefined();
            expect(await stackPresence(url, "prod")).toBe("unknown");
            expect(stackPresenceNow(url, "prod")).toBe("unknown");
            fs.rmSync(`${file}.gz`);
            fs.writeFileSync(file, "{ not json");
            expect(await readPendingOperations(url, "prod")).toBeUndefined();
            fs.writeFileSync(path.join(stacks, "legacy.json"), checkpoint([op]));
            // zstd (PULUMI_DIY_BACKEND_ZSTD), which this cannot open: the stack is there, its operations are the CLI's to read.
            fs.rmSync(file);
            fs.writeFileSync(`${file}.zst`, "(zstd)");
            expect(await readPendingOperations(url, "prod")).toBeUndefined();
            expect(await stackPresence(url, "prod")).toBe("present");
            fs.rmSync(`${file}.zst`);
            expect(await readPendingOperations(url, "legacy")).toBeUndefined();
            expect(await stackPresence(url, "legacy")).toBe("unknown");
            expect(stackPresenceNow(url, "legacy")).toBe("unknown");
            // A backend this does not read, or not at once (a database: stackPresence asks it).
            expect(stackPresenceNow("postgres://u@127.0.0.1:5432/db", "prod")).toBe("unknown");
            expect(await readPendingOperations("s3://bucket", "prod")).toBeUndefined();
            expect(await stackPresence("s3://bucket", "prod")).toBe("unknown");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("a stack's record from a file:// backend: the root outputs and the newest history entry, no secret shown; else left to the CLI", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-record-"));
        try {
            const url = `file://${dir}`;
            const file = path.join(dir, ".pulumi", "stacks", "scm-upgrade", "prod.json");
            const history = path.join(dir, ".pulumi", "history", "scm-upgrade", "prod");
            const stackUrn = "urn:pulumi:prod::scm-upgrade::pulumi:pulumi:Stack::scm-upgrade-prod";
            const checkpoint = (outputs: Record<string, unknown>) =>
                JSON.stringify({
                    version: 3,
                    checkpoint: {
                        stack: "prod",
                        latest: {
                            resources: [
                                { urn: stackUrn, type: "pulumi:pulumi:Stack", outputs },
                                {
                                    urn: "urn:pulumi:prod::scm-upgrade::sequoiacm:upgrade:RollingUpgrade::up",
                                    type: "sequoiacm:upgrade:RollingUpgrade",
                                    parent: stackUrn,
                                    outputs: { other: 1 },
                                },
                            ],
                        },
                    },
                });
            const entry = (startTime: number, message: string, extra: Record<string, unknown> = {}) =>
                JSON.stringify({
                    kind: "update",
                    startTime,
                    message,
                    environment: { "exec.kind": "auto.inline" },
                    config: {
                        "scm-upgrade:targetVersion": "3.2.0",
                        "scm-upgrade:ssh": { port: 2222, user: "scm" },
                        "scm-upgrade:sshPrivateKey": { secure: "v1:abc:def" },
                        "scm-upgrade:nested": { inner: { secure: "v1:abc:def" } },
                    },
                    version: 0,
                    result: "succeeded",
                    endTime: startTime + 9,
                    resourceChanges: { create: 3 },
                    ...extra,
                });
            // No stack: the CLI says so (or makes it).
            expect(await readStackRecord(url, "prod")).toBeUndefined();
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, checkpoint({ nodes: { "A/cloud": { versionAfter: "3.2.0" } }, waves: [] }));
            // Made, never run: outputs only.
            expect(await readStackRecord(url, "prod")).toEqual({
                outputs: { nodes: { value: { "A/cloud": { versionAfter: "3.2.0" } }, secret: false }, waves: { value: [], secret: false } },
            });
            fs.mkdirSync(history, { recursive: true });
            // Entries are named by their start (nanoseconds): the newest sorts last; checkpoints beside them are not entries.
            fs.writeFileSync(path.join(history, "prod-1795766600000000000.history.json"), entry(1795766600, "older"));
            fs.writeFileSync(path.join(history, "prod-1795766700000000000.history.json.gz"), zlib.gzipSync(entry(1795766700, "scm-upgrade up")));
            fs.writeFileSync(path.join(history, "prod-1795766800000000000.checkpoint.json"), checkpoint({}));
            const rec = await readStackRecord(url, "prod");
            expect(rec?.lastRun).toEqual({
                version: 0,
                kind: "update",
                startTime: new Date(1795766700 * 1000),
                message: "scm-upgrade up",
                environment: { "exec.kind": "auto.inline" },
                config: {
                    "scm-upgrade:targetVersion": { value: "3.2.0", secret: false },
                    "scm-upgrade:ssh": { value: '{"port":2222,"user":"scm"}', objectValue: { port: 2222, user: "scm" }, secret: false },
                    "scm-upgrade:sshPrivateKey": { secret: true },
                    "scm-upgrade:nested": { secret: true },
                },
                result: "succeeded",
                endTime: new Date(1795766709 * 1000),
                resourceChanges: { create: 3 },
            });
            expect(JSON.stringify(rec)).not.toContain("v1:abc");
            // An update still in progress has no end and no changes yet.
            fs.writeFileSync(path.join(history, "prod-1795766900000000000.history.json"), entry(1795766900, "running", { result: "in-progress", endTime: 0 }));
            const running = (await readStackRecord(url, "prod"))?.lastRun;
            expect(running).toMatchObject({ message: "running", result: "in-progress" });
            expect(running && "endTime" in running).toBe(false);
            expect(running && "resourceChanges" in running).toBe(false);
            // The newest entry in zstd, a secret output, a checkpoint that is not one: the CLI's to read.
            fs.writeFileSync(path.join(history, "prod-1795767000000000000.history.json.zst"), "(zstd)");
            expect(await readStackRecord(url, "prod")).toBeUndefined();
            fs.rmSync(path.join(history, "prod-1795767000000000000.history.json.zst"));
            expect(await readStackRecord(url, "prod")).toBeDefined();
            fs.writeFileSync(file, checkpoint({ key: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:x" } }));
            expect(await readStackRecord(url, "prod")).toBeUndefined();
            fs.writeFileSync(file, "{ not json");
            expect(await readStackRecord(url, "prod")).toBeUndefined();
            expect(await readStackRecord("s3://bucket", "prod")).toBeUndefined();
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("pidAlive (unlock's check that a lock's run is dead)", () => {
    test("a zombie (killed, not yet reaped by its parent) is no live run; a running process is", async () => {
        const { spawn } = require("child_process") as typeof import("child_process");
        const { pidAlive } = require("../../engine/driver") as typeof import("../../engine/driver");
        // The background `sleep 0` ends at once; its parent then becomes `sleep 5`, which never reaps it.
        const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 5"], { stdio: ["ignore", "pipe", "ignore"] });
        try {
            const pid = Number(await new Promise<string>((resolve) => parent.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()))));
            const state = () => {
                const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
                return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
            };
            for (let i = 0; i < 100 && state() !== "Z"; i++) await new Promise((r) => setTimeout(r, 20));
            expect(state()).toBe("Z");
            expect(pidAlive(pid)).toBe(false);
            expect(pidAlive(parent.pid as number)).toBe(true);
        } finally {
            parent.kill();
        }
    });
});
