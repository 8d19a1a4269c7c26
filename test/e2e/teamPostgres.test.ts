import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { stacksDir } from "../../engine/env";
import { readLocks, readPendingOperations, stackPresence } from "../../engine/locks";
import { readAudit } from "../../sandbox/audit";
import { reset, status } from "../../sandbox/cluster";
import { describeWithProvider } from "../helpers/engine";
import { usePostgres } from "../helpers/postgres";
import {
    beginsSince,
    expectRecordAsCli,
    expectToolLockHonoured,
    expectToolLockYields,
    killGroup,
    stopAllRuns,
    lockTaken,
    makeOperator,
    Operator,
    pendingOps,
    planOrder,
    thisOperator,
    waitFor,
    writeTeamStack,
} from "../helpers/team";
import { useSandbox } from "../sandbox/fixture";
import { sandboxStackConfig } from "../../sandbox/stackConfig";

/**
 * A team on one stack with its state in PostgreSQL (a throwaway cluster of the Debian package's
 * server, stopped after the file): two operators with their own Pulumi homes and one passphrase.
 * Each case starts from a fresh 3.1.2 sandbox and a stack of its own, so each can run alone.
 */

describeWithProvider("team mode: state in PostgreSQL", () => {
    const pg = usePostgres("team");
    const sb = useSandbox("team-pg", 70);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-team-pg-"));
    const passphrase = path.join(tmp, "passphrase");
    const stacks: string[] = [];
    let alice: Operator;
    let bob: Operator;
    beforeAll(() => {
        fs.writeFileSync(passphrase, "team passphrase, shared out of band\n", { mode: 0o600 });
        // alice names the backend with --backend, bob with PULUMI_BACKEND_URL: both ways in use.
        alice = makeOperator("alice", tmp, passphrase, { flag: pg.url });
        bob = makeOperator("bob", tmp, passphrase, { env: pg.url });
    });
    afterAll(() => {
        stopAllRuns();
        for (const s of stacks) fs.rmSync(path.join(stacksDir, `Pulumi.${s}.yaml`), { force: true });
        fs.rmSync(tmp, { recursive: true, force: true });
    });
    const newStack = async (name: string) => {
        // A fresh 3.1.2 cluster (the sandbox is shared by the cases of this file).
        if (readAudit(sb.dir).some((e) => e.action === "upgrade" || e.action === "rollback")) await reset({ dir: sb.dir });
        stacks.push(name);
        await writeTeamStack(sb, name, {
            PULUMI_BACKEND_URL: pg.url,
            PULUMI_CONFIG_PASSPHRASE_FILE: passphrase,
            SCM_UPGRADE_PULUMI_HOME: path.join(tmp, "home-alice"),
        });
    };

    test("two operators race on one stack: the second is refused at once (exit 5, names the holder) and changes nothing; the first upgrades every node once; status and rollback from the other operator", async () => {
        const stack = "test-team-pg-race";
        await newStack(stack);
        const t0 = new Date().toISOString();
        // The winner writes its state at every step (Pulumi's default; the tool's is once, at the end), so that
        // the state holds a pending operation mid-run: what the loser must leave alone.
        alice.env.SCM_UPGRADE_STATE_EVERY_STEP = "1";
        const first = alice.start(["up", "--yes", "--stack", stack]);
        try {
            await lockTaken(pg.url, stack);
            // Pause the winner while a node is in flight, so the state holds its pending operation and
            // stays still while the loser tries (the defect: the loser cleared it).
            await waitFor(
                "a node in flight, recorded in the state",
                () => (/upgrading/.test(first.stderr()) && pendingOps(bob.exportState(stack)).length > 0) || undefined,
                300000,
                200,
            );
            killGroup(first.child, "SIGSTOP");
            // The engine's lock, the only one now (the tool's own, held while it read the state, was let go before the engine began).
            const locks = await readLocks(pg.url, stack);
            expect(locks).toHaveLength(1);
            const [lock] = locks;
            const before = bob.exportState(stack);
            expect(pendingOps(before).length).toBeGreaterThan(0);
            // Read from the backend directly, the pending operations are the ones the CLI's export gives.
            const urnAndType = (ops: { type: string; resource: { urn: string } }[] = []) => ops.map((p) => `${p.type} ${p.resource.urn}`);
            expect(urnAndType(await readPendingOperations(pg.url, stack))).toEqual(urnAndType(pendingOps(before)));
            expect(await stackPresence(pg.url, stack)).toBe("present");
            const loser = await bob.run(["up", "--yes", "--stack", stack]);
            const after = bob.exportState(stack);
            killGroup(first.child, "SIGCONT");
            expect(loser.code).toBe(5);
            expect(loser.seconds).toBeLessThan(60);
            const msg = loser.stderr.trim().split("\n").pop() ?? "";
            expect(msg).toContain(`Another run holds the lock of stack ${stack} (held by ${thisOperator()} (pid ${lock.pid}) since ${lock.timestamp})`);
            expect(msg).toContain(`scm-upgrade unlock --stack ${stack}`);
            expect(loser.stderr).not.toMatch(/clearing the record/);
            expect(after).toBe(before);
            // The lock the clean-up of pending operations reads the state under yields to the run's.
            await expectToolLockYields(pg.url, stack, lock);
        } finally {
            killGroup(first.child, "SIGCONT");
            delete alice.env.SCM_UPGRADE_STATE_EVERY_STEP; // read when a run starts: the others write once
        }
        const won = await first.done;
        expect(won.stderr.split("\n").filter((l) => l.startsWith("error"))).toEqual([]);
        expect(won.code).toBe(0);
        expect(beginsSince(sb, "upgrade", t0)).toEqual(planOrder(sb));
        expect(await readLocks(pg.url, stack)).toEqual([]);
        // And while the tool holds it (a row in Pulumi's format), the engine refuses another operator's write.
        await expectToolLockHonoured(pg.url, stack, bob);
        // The state is in PostgreSQL, encrypted with the shared passphrase: the other operator reads it.
        const st = await bob.run(["status", "--json", "--stack", stack]);
        expect(st.code).toBe(0);
        const nodes = JSON.parse(st.stdout.trim().split("\n").pop()!).nodes as Record<
            string,
            { versionBefore: string; versionAfter: string; skipped: boolean }
        >;
        expect(Object.keys(nodes).sort()).toEqual([...planOrder(sb)].sort());
        for (const [k, n] of Object.entries(nodes)) expect(`${k} ${n.versionBefore} -> ${n.versionAfter} ${n.skipped}`).toBe(`${k} 3.1.2 -> 3.2.0 false`);
        expect(pg.sql(`SELECT count(*) FROM pulumi_state WHERE key LIKE 'pulumi/.pulumi/stacks/scm-upgrade/${stack}.json%'`).trim()).not.toBe("0");
        expect(pg.sql("SELECT count(*) FROM pulumi_state WHERE data::text LIKE '%BEGIN OPENSSH PRIVATE KEY%'").trim()).toBe("0");
        await expectRecordAsCli(pg.url, stack, bob);
        const t1 = new Date().toISOString();
        const rb = await bob.run(["rollback", "--yes", "--stack", stack]);
        expect(rb.code).toBe(0);
        expect(beginsSince(sb, "rollback", t1)).toEqual([...planOrder(sb)].reverse());
        const cluster = await status({ dir: sb.dir });
        for (const h of cluster.hosts) for (const n of h.nodes) expect(`${h.name}/${n.service} ${n.version}`).toBe(`${h.name}/${n.service} 3.1.2`);
    }, 900000);

    test("a dead operator's lock: up killed mid-run; the other is refused and changes nothing; unlock shows the holder, asks, removes it; up resumes with no node run twice", async () => {
        const stack = "test-team-pg-dead";
        await newStack(stack);
        const order = planOrder(sb);
        const t0 = new Date().toISOString();
        const dying = alice.start(["up", "--yes", "--stack", stack]);
        // Killed (the whole process group, as a laptop dies) right after a node finished its upgrade.
        await waitFor(
            "two nodes upgraded",
            () => readAudit(sb.dir).filter((e) => e.action === "upgrade" && e.outcome === "success" && e.time >= t0).length >= 2 || undefined,
            300000,
            20,
        );
        killGroup(dying.child, "SIGKILL");
        expect((await dying.done).signal).toBe("SIGKILL");
        const [lock] = await readLocks(pg.url, stack);
        expect(lock).toBeDefined();
        const holder = `${thisOperator()} (pid ${lock.pid}) since ${lock.timestamp}`;

        const before = bob.exportState(stack);
        const refused = await bob.run(["up", "--yes", "--stack", stack]);
        expect(refused.code).toBe(5);
        expect(refused.stderr).toContain(`Another run holds the lock of stack ${stack} (held by ${holder})`);
        expect(refused.stderr).toContain(`scm-upgrade unlock --stack ${stack}`);
        expect(bob.exportState(stack)).toBe(before);

        const asked = await bob.run(["unlock", "--stack", stack]);
        expect(asked.code).toBe(6);
        expect(asked.stderr).toContain(`stack ${stack} in ${pg.url} is locked by:\n    ${holder}`);
        expect(asked.stderr).toContain("pass --yes");
        expect(await readLocks(pg.url, stack)).toHaveLength(1);
        const unlocked = await bob.run(["unlock", "--yes", "--stack", stack]);
        expect(unlocked.code).toBe(0);
        expect(unlocked.stdout).toContain(`removed 1 stale lock(s) of stack ${stack}, held by ${holder}`);
        expect(await readLocks(pg.url, stack)).toEqual([]);

        const resumed = await bob.run(["up", "--yes", "--stack", stack]);
        expect(resumed.code).toBe(0);
        const begins = beginsSince(sb, "upgrade", t0);
        expect([...begins].sort()).toEqual([...order].sort());
        expect(begins).toEqual(order);
        const cluster = await status({ dir: sb.dir });
        for (const h of cluster.hosts)
            for (const n of h.nodes) expect(`${h.name}/${n.service} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service} 3.2.0 UP`);
        expect(pendingOps(bob.exportState(stack))).toEqual([]);
    }, 900000);

    // One operator stores the key with `scm-upgrade secret` on a stack the database does not hold yet (made
    // then); the other, with the shared passphrase, logs in with it.
    test("a key stored by one operator with `scm-upgrade secret` is the one the other's preflight uses; unset, the config is refused", async () => {
        const stack = "test-team-pg-secret";
        stacks.push(stack);
        const ssh = { user: sb.state().user, port: sb.state().hosts[0].sshPort };
        fs.writeFileSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), yaml.dump({ config: { ...sandboxStackConfig(sb.state()), "scm-upgrade:ssh": ssh } }));
        expect(await stackPresence(pg.url, stack)).toBe("absent");
        const stored = await alice.run(["secret", "sshPrivateKey", "--stack", stack, "--from", sb.state().clientKeyPath]);
        expect(stored.stderr).toBe("");
        expect(stored.code).toBe(0);
        expect(await stackPresence(pg.url, stack)).toBe("present");
        const pre = await bob.run(["preflight", "--stack", stack]);
        expect(pre.code).toBe(0);
        for (const h of sb.state().hosts) expect(pre.stdout).toMatch(new RegExp(`^${h.name}: ok$`, "m"));
        expect((await alice.run(["secret", "sshPrivateKey", "--unset", "--stack", stack])).code).toBe(0);
        const none = await bob.run(["preflight", "--stack", stack]);
        expect(none.code).toBe(3);
        expect(none.stderr).toContain("no SSH credential for hosts A, B, C, D");
    }, 300000);

    // The key in a file (no secret to store), so `up` is the first command that reaches the database: Pulumi
    // makes its table then, after the run's own check for a killed run's pending operations (which once
    // failed there: exit 1, 'relation "pulumi_state" does not exist').
    test("the first command on a database Pulumi has never opened is `up`: it upgrades the cluster and leaves no lock", async () => {
        const stack = "test-team-pg-first";
        stacks.push(stack);
        if (readAudit(sb.dir).some((e) => e.action === "upgrade" || e.action === "rollback")) await reset({ dir: sb.dir });
        pg.sql("CREATE DATABASE firstrun");
        const url = pg.url.replace("/pulumi?", "/firstrun?");
        expect(pg.sql("SELECT count(*) FROM pg_database WHERE datname = 'firstrun'").trim()).toBe("1");
        const carol = makeOperator("carol", tmp, passphrase, { env: url });
        const ssh = { user: sb.state().user, port: sb.state().hosts[0].sshPort, privateKeyFile: sb.state().clientKeyPath };
        fs.writeFileSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), yaml.dump({ config: { ...sandboxStackConfig(sb.state()), "scm-upgrade:ssh": ssh } }));
        expect(await stackPresence(url, stack)).toBe("absent");
        const r = await carol.run(["up", "--yes", "--stack", stack]);
        expect(r.stderr.split("\n").filter((l) => l.startsWith("error:"))).toEqual([]);
        expect(r.code).toBe(0);
        const cluster = await status({ dir: sb.dir });
        for (const h of cluster.hosts)
            for (const n of h.nodes) expect(`${h.name}/${n.service} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service} 3.2.0 UP`);
        expect(await stackPresence(url, stack)).toBe("present");
        expect(await readLocks(url, stack)).toEqual([]);
    }, 600000);
});
