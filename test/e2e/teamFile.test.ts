import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stacksDir } from "../../engine/env";
import { readLocks, readPendingOperations, stackPresence } from "../../engine/locks";
import { describeWithProvider } from "../helpers/engine";
import {
    beginsSince,
    expectRecordAsCli,
    expectToolLockHonoured,
    expectToolLockYields,
    killGroup,
    stopAllRuns,
    lockTaken,
    makeOperator,
    pendingOps,
    planOrder,
    thisOperator,
    waitFor,
    writeTeamStack,
} from "../helpers/team";
import { useSandbox } from "../sandbox/fixture";

/**
 * The same rule on the embedded file:// backend: two operators of one state folder (separate Pulumi
 * homes, one passphrase) race on one stack; the loser is refused before it reads or edits the
 * state. The standby center only, to keep the run short: the rule does not depend on the plan.
 */
describeWithProvider("team mode: state in a file:// folder", () => {
    const sb = useSandbox("team-file", 71);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-team-file-"));
    const state = path.join(tmp, "state");
    const url = `file://${state}`;
    const passphrase = path.join(tmp, "passphrase");
    const stack = "test-team-file-race";
    beforeAll(async () => {
        fs.mkdirSync(state);
        fs.writeFileSync(passphrase, "another team passphrase\n", { mode: 0o600 });
        await writeTeamStack(sb, stack, { PULUMI_BACKEND_URL: url, PULUMI_CONFIG_PASSPHRASE_FILE: passphrase });
    });
    afterAll(() => {
        stopAllRuns();
        fs.rmSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), { force: true });
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    test("the second up is refused at once (exit 5, names the holder) and changes nothing; the first upgrades every standby node once", async () => {
        const alice = makeOperator("alice", tmp, passphrase, { env: url });
        const bob = makeOperator("bob", tmp, passphrase, { flag: url });
        const standby = planOrder(sb).filter((k) => sb.host(k.split("/")[0]).center === "standby");
        const t0 = new Date().toISOString();
        // The winner writes its state at every step (Pulumi's default; the tool's is once, at the end), so that
        // the state holds a pending operation mid-run: what the loser must leave alone.
        alice.env.SCM_UPGRADE_STATE_EVERY_STEP = "1";
        const first = alice.start(["up", "--yes", "--only-center", "standby", "--stack", stack]);
        try {
            await lockTaken(url, stack);
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
            const locks = await readLocks(url, stack);
            expect(locks).toHaveLength(1);
            const [lock] = locks;
            const before = bob.exportState(stack);
            expect(pendingOps(before).length).toBeGreaterThan(0);
            // Read from the backend directly, the pending operations are the ones the CLI's export gives.
            const urnAndType = (ops: { type: string; resource: { urn: string } }[] = []) => ops.map((p) => `${p.type} ${p.resource.urn}`);
            expect(urnAndType(await readPendingOperations(url, stack))).toEqual(urnAndType(pendingOps(before)));
            expect(await stackPresence(url, stack)).toBe("present");
            const loser = await bob.run(["up", "--yes", "--only-center", "standby", "--stack", stack]);
            const after = bob.exportState(stack);
            killGroup(first.child, "SIGCONT");
            expect(loser.code).toBe(5);
            expect(loser.seconds).toBeLessThan(60);
            expect(loser.stderr).toContain(
                `Another run holds the lock of stack ${stack} (held by ${thisOperator()} (pid ${lock.pid}) since ${lock.timestamp})`,
            );
            expect(loser.stderr).toContain(`scm-upgrade unlock --stack ${stack}`);
            expect(loser.stderr).not.toMatch(/clearing the record/);
            expect(after).toBe(before);
            // unlock never removes the lock of a run alive on this machine.
            const live = await bob.run(["unlock", "--yes", "--stack", stack]);
            expect(live.code).toBe(5);
            expect(live.stderr).toContain(`(pid ${lock.pid}) is still alive`);
            // The lock the clean-up of pending operations reads the state under yields to the run's.
            await expectToolLockYields(url, stack, lock);
        } finally {
            killGroup(first.child, "SIGCONT");
        }
        const won = await first.done;
        expect(won.code).toBe(0);
        expect(beginsSince(sb, "upgrade", t0)).toEqual(standby);
        expect(await readLocks(url, stack)).toEqual([]);
        // And while the tool holds it, the engine refuses another operator's write.
        await expectToolLockHonoured(url, stack, bob);
        await expectRecordAsCli(url, stack, bob);
    }, 600000);
});
