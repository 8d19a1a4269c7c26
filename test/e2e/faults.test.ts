import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planWaves } from "../../lib/plan";
import { stacksDir } from "../../engine/env";
import { projectRoot } from "../../engine/paths";
import { loadFromConfigMap } from "../../lib/config/load";
import { DEFAULTS } from "../../lib/config/schema";
import { chromiumPresent, probe, requireChromium } from "../../tools/chromium";
import { readAudit } from "../../sandbox/audit";
import { clearFaults, setFault } from "../../sandbox/faults";
import { startHostSshd, status, stopHostSshd } from "../../sandbox/cluster";
import { sandboxStackConfig, writeSandboxStackConfig } from "../../sandbox/stackConfig";
import { readLocks } from "../../engine/locks";
import { describeWithProvider } from "../helpers/engine";
import { SandboxFixture, useSandbox } from "../sandbox/fixture";

/**
 * Faults through the engine (issue 14): `scm-upgrade` as a subprocess on one live sandbox, each case
 * stopping a run early with the next fault, so the runs chain: Ctrl-C (no terminal) -> the window closes
 * during wave 2 -> a host's sshd stops after wave 3 -> Ctrl-C through a pseudo-terminal -> rollback of the
 * partial upgrade; then the report of a real run in Chromium. Each case depends on the one before.
 */

const NAME = "faults";
const sb = useSandbox(NAME, 90);
const stack = `test-${NAME}`;
const state = fs.mkdtempSync(path.join(os.tmpdir(), `scm-${NAME}-state-`));
const clock = path.join(state, "clock");
const env = { PULUMI_BACKEND_URL: `file://${state}`, SCM_UPGRADE_TEST_CLOCK: clock };
const reports: string[] = [];
const timings: string[] = [];

beforeAll(async () => {
    fs.writeFileSync(clock, "");
    await writeSandboxStackConfig(sb.state(), { stackName: stack });
});
afterAll(() => {
    fs.rmSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), { force: true });
    fs.rmSync(state, { recursive: true, force: true });
    for (const r of reports) fs.rmSync(r, { force: true });
    if (timings.length) process.stderr.write(`faults.test timings:\n  ${timings.join("\n  ")}\n`);
});

interface Running {
    /** The pid of the process started (scm-upgrade, or `script` with `tty`). */
    pid: number;
    /** Resolves with the line (and when it came) once the output has a line matching `re`. */
    waitFor(re: RegExp): Promise<{ line: string; at: number }>;
    done: Promise<{ code: number | null; out: string; lines: { line: string; at: number }[] }>;
    signal(sig: NodeJS.Signals): void;
    /** Types into the pseudo-terminal (with `tty`). */
    type(text: string): void;
    /** Everything printed so far (a question has no line end). */
    output(): string;
    /** Signals scm-upgrade itself inside the pseudo-terminal (with `tty`: `script` runs it). */
    signalTool(sig: NodeJS.Signals): void;
}

/** The pids of a process's descendants, from /proc. */
function descendants(pid: number): number[] {
    const parent = new Map<number, number>();
    for (const d of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
            parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
        } catch {
            // gone
        }
    }
    const out: number[] = [];
    for (let grew = true; grew; ) {
        grew = false;
        for (const [p, pp] of parent)
            if ((pp === pid || out.includes(pp)) && !out.includes(p)) {
                out.push(p);
                grew = true;
            }
    }
    return out;
}

/**
 * `scm-upgrade <args> --stack <stack>` started in the background; with `tty`, inside a pseudo-terminal (`script`);
 * with `group`, as the leader of a process group of its own, which `signal` then signals whole (as `timeout` does).
 */
function start(args: string[], o: { tty?: boolean; group?: boolean } = {}): Running {
    const argv = [path.join(projectRoot, "bin", "scm-upgrade.js"), ...args, "--stack", stack];
    const child = o.tty
        ? spawn("script", ["-qfec", [process.execPath, ...argv].map((a) => `'${a}'`).join(" "), "/dev/null"], {
              cwd: projectRoot,
              // /bin/sh as CI has it (no SHELL): with dash the shell stays between `script` and the tool
              env: { ...process.env, ...env, SHELL: "/bin/sh" },
              stdio: ["pipe", "pipe", "pipe"],
          })
        : spawn(process.execPath, argv, { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: o.group });
    let out = "";
    let partial = "";
    const lines: { line: string; at: number }[] = [];
    const waiters: { re: RegExp; resolve: (l: { line: string; at: number }) => void }[] = [];
    const onData = (d: Buffer) => {
        out += d.toString();
        partial += d.toString();
        const parts = partial.split(/\r?\n/);
        partial = parts.pop() ?? "";
        for (const line of parts) {
            const l = { line, at: Date.now() };
            lines.push(l);
            for (const w of waiters.filter((x) => x.re.test(line))) {
                waiters.splice(waiters.indexOf(w), 1);
                w.resolve(l);
            }
        }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    // After the child has closed, a line not seen will never come: waiters then get an empty line at once.
    const none = { line: "", at: Number.NaN };
    let closed = false;
    const done = new Promise<{ code: number | null; out: string; lines: { line: string; at: number }[] }>((resolve) =>
        child.on("close", (code) => {
            closed = true;
            for (const w of waiters) w.resolve(none);
            resolve({ code, out, lines });
        }),
    );
    return {
        pid: child.pid as number,
        waitFor: (re) => {
            const seen = lines.find((l) => re.test(l.line));
            if (seen) return Promise.resolve(seen);
            if (closed) return Promise.resolve(none);
            return new Promise((resolve) => waiters.push({ re, resolve }));
        },
        done,
        output: () => out,
        signalTool: (sig) => {
            // The Node process itself: `script` runs the command through $SHELL or /bin/sh, and dash stays as its
            // parent (bash execs it), with the same words in its command line.
            const tool = descendants(child.pid as number).find((p) => {
                try {
                    const argv = fs.readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
                    return argv[0] === process.execPath && argv.some((a) => a.endsWith("scm-upgrade.js"));
                } catch {
                    return false;
                }
            });
            if (!tool) throw new Error(`no scm-upgrade process under script (pid ${child.pid})`);
            process.kill(tool, sig);
        },
        signal: (sig) => (o.group ? process.kill(-(child.pid as number), sig) : child.kill(sig)),
        type: (text) => child.stdin!.write(text),
    };
}

function planOrder(s: SandboxFixture): string[] {
    const plain = sandboxStackConfig(s.state());
    const r = loadFromConfigMap(Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return planWaves(r.config).flatMap((w) => w.nodes.map((n) => `${n.host}/${n.service}`));
}

const auditSince = (t: string) => readAudit(sb.dir).filter((e) => e.time >= t);
const begun = (t: string, action: string) =>
    auditSince(t)
        .filter((e) => e.action === action && e.outcome === "begin")
        .map((e) => `${e.host}/${e.service}`);
const reportOf = (out: string) => {
    const m = /^report: (\S+\.html)\s*$/m.exec(out);
    if (m) reports.push(m[1]);
    return m?.[1];
};
const lastLine = (out: string) => out.trim().split(/\r?\n/).pop() ?? "";
const hhmm = (d: Date) => d.toTimeString().slice(0, 5);
const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
        return await f();
    } finally {
        timings.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
};

describeWithProvider("faults through the engine, on one sandbox", () => {
    let order: string[];
    let t0 = "";
    let failedReport: string | undefined;
    beforeAll(() => {
        order = planOrder(sb);
    });

    test("case 1a: the reader of `up --json` goes away before the engine starts (`| head -1`): nothing runs, exit 130, no lock left", () =>
        timed("case 1a (stdout reader gone)", async () => {
            const t = new Date().toISOString();
            const err = path.join(state, "head.err");
            const bin = path.join(projectRoot, "bin", "scm-upgrade.js");
            // A real pipe, as in a shell: `head` exits after the first line, and the next write meets a closed pipe.
            const r = spawnSync(
                "bash",
                ["-c", `"$1" "$2" up --yes --json --stack "$3" 2>"$4" | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`, "-", process.execPath, bin, stack, err],
                {
                    cwd: projectRoot,
                    env: { ...process.env, ...env },
                    encoding: "utf8",
                    timeout: 120000,
                },
            );
            const stderr = fs.readFileSync(err, "utf8");
            expect(r.stdout.trim()).toBe("130");
            expect(stderr).toContain("The reader of stdout went away: stopping after the node in progress");
            expect(lastLine(stderr)).toMatch(/^error: Interrupted\. Stopped before any node was upgraded; next: C\/cloud \(wave 1\), not started\./);
            expect(auditSince(t)).toEqual([]);
            expect(await readLocks(`file://${state}`, stack)).toEqual([]);
        }));

    test("case 1: SIGINT to `up` without a terminal: the node in progress finishes, exit 130, a line says where it stopped and how to resume", () =>
        timed("case 1 (SIGINT, no terminal)", async () => {
            t0 = new Date().toISOString();
            const run = start(["up", "--yes"]);
            await run.waitFor(/C\/cloud\s+upgrading/);
            run.signal("SIGINT");
            const r = await run.done;
            reportOf(r.out);
            expect(r.code).toBe(130);
            expect(lastLine(r.out)).toBe(
                `error: Interrupted. Stopped after C/cloud (wave 1): 1 node upgraded in this run; next: D/cloud (wave 1), not started. To resume, run \`scm-upgrade up --stack ${stack}\` (nodes at the target and healthy are skipped).`,
            );
            // The node in progress finished cleanly; nothing else was touched.
            expect(begun(t0, "upgrade")).toEqual(["C/cloud"]);
            expect(
                auditSince(t0)
                    .filter((e) => e.action === "upgrade" && e.outcome === "success")
                    .map((e) => e.host),
            ).toEqual(["C"]);
        }));

    test("case 6 (and case 1's resume): a window that closes during wave 2: wave 2 finishes, no new wave starts, exit 6 with the time and how to resume", () =>
        timed("case 6 (window closes in wave 2)", async () => {
            const t1 = new Date().toISOString();
            const now = new Date();
            const window = `${hhmm(new Date(now.getTime() - 60_000))}-${hhmm(new Date(now.getTime() + 3600_000))}`;
            const run = start(["up", "--yes", "--window", window]);
            await run.waitFor(/A\/cloud\s+upgrading/);
            // The clock passes the window's end while wave 2 (cloud, primary: A then B) is under way.
            const closed = new Date(now.getTime() + 2 * 3600_000);
            fs.writeFileSync(clock, closed.toISOString());
            const r = await run.done;
            fs.writeFileSync(clock, "");
            reportOf(r.out);
            expect(r.code).toBe(6);
            expect(lastLine(r.out)).toBe(
                `error: The maintenance window ${window} closed at ${hhmm(closed)}: wave 2 (cloud/primary) finished and no new wave was started. ` +
                    `Stopped after B/cloud (wave 2): 3 nodes upgraded in this run; next: C/config-server (wave 3), not started. ` +
                    `To resume, run \`scm-upgrade up --stack ${stack}\` in the next window (nodes at the target and healthy are skipped).`,
            );
            // Resumed where the interrupt stopped: D/cloud first; C/cloud not again; wave 3 not started.
            expect(begun(t1, "upgrade")).toEqual(["D/cloud", "A/cloud", "B/cloud"]);
            // Across both runs: the plan's first two waves, each node exactly once, none skipped.
            expect(begun(t0, "upgrade")).toEqual(order.slice(0, 4));
            expect(auditSince(t0).filter((e) => e.action === "upgrade" && e.outcome === "success")).toHaveLength(4);
        }));

    test("case 4: a host's sshd stopped after wave 3: the run stops at its first node, naming the host and the SSH error, within the dial retry budget; the rest untouched", () =>
        timed("case 4 (sshd of A stopped in wave 3)", async () => {
            const t2 = new Date().toISOString();
            const run = start(["up", "--yes"]);
            await run.waitFor(/C\/config-server\s+upgrading/);
            expect(await stopHostSshd("A", sb.dir)).toBe(true);
            const began = await run.waitFor(/A\/config-server\s+upgrading/);
            const failed = await run.waitFor(/A\/config-server\s+FAILED/);
            const r = await run.done;
            failedReport = reportOf(r.out);
            expect(r.code).toBe(1);
            const err = lastLine(r.out);
            expect(err).toMatch(
                /^error: Host A could not be reached over SSH \(after \d+ failed attempts: dial tcp 127\.90\.1\.1:2222: connect: connection refused\)\. The upgrade stopped at A\/config-server /,
            );
            expect(err).toContain(`run \`scm-upgrade up --stack ${stack}\` to resume`);
            // The budget: dialErrorLimit dials of at most perDialTimeoutSeconds each, with the backoff between them
            // (100 ms, x1.5). A refused connection fails at once; a host that drops packets takes the whole budget.
            const budget = DEFAULTS.dialErrorLimit * DEFAULTS.perDialTimeoutSeconds + 5;
            const seconds = (failed.at - began.at) / 1000;
            timings.push(`case 4: A/config-server failed ${seconds.toFixed(1)} s after it started (budget ${budget} s)`);
            expect(seconds).toBeLessThan(budget);
            // Wave 3 finished; nothing after it ran, on either center.
            expect(begun(t2, "upgrade")).toEqual(["C/config-server"]);
            expect(auditSince(t2).filter((e) => e.service !== "config-server" || e.host !== "C")).toEqual([]);
        }));

    test("case 1 through a pseudo-terminal (and case 4's resume): after sshd returns, `up` resumes at A; Ctrl-C typed there stops after that node, exit 130", () =>
        timed("case 1 (Ctrl-C in a terminal) + case 4 resume", async () => {
            expect(await startHostSshd("A", sb.dir)).toBe(true);
            const t3 = new Date().toISOString();
            const run = start(["up", "--yes"], { tty: true });
            await run.waitFor(/A\/config-server\s+upgrading/);
            run.type("\x03");
            const r = await run.done;
            reportOf(r.out);
            expect(r.code).toBe(130);
            expect(r.out).toContain(
                `error: Interrupted. Stopped after A/config-server (wave 4): 1 node upgraded in this run; next: C/content-server (wave 5), not started. To resume, run \`scm-upgrade up --stack ${stack}\``,
            );
            expect(begun(t3, "upgrade")).toEqual(["A/config-server"]);
            // Every node so far upgraded exactly once, in plan order, none skipped.
            expect(begun(t0, "upgrade")).toEqual(order.slice(0, 6));
        }));

    test("case 8 (partial): `rollback --yes` after the partial upgrade touches only the upgraded nodes, in reverse order", () =>
        timed("case 8 (rollback of the partial upgrade)", async () => {
            const t4 = new Date().toISOString();
            const r = await start(["rollback", "--yes"]).done;
            reportOf(r.out);
            expect(`exit ${r.code}: ${lastLine(r.out)}`).toMatch(/^exit 0: /);
            expect(begun(t4, "rollback")).toEqual(order.slice(0, 6).reverse());
            const untouched = new Set(order.slice(6));
            expect(auditSince(t4).filter((e) => untouched.has(`${e.host}/${e.service}`))).toEqual([]);
            const st = await status({ dir: sb.dir });
            for (const h of st.hosts)
                for (const n of h.nodes) expect(`${h.name}/${n.service}:${n.port} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service}:${n.port} 3.1.2 UP`);
        }));

    test("case 11: the report of a real run (case 4's) in headless Chromium: every node of the plan, each with its outcome", () =>
        timed("case 11 (report in Chromium)", async () => {
            if (!chromiumPresent()) requireChromium();
            expect(failedReport).toBeDefined();
            const p = probe(failedReport!, "[data-node]");
            const rows = p.elements.map((e) => [e.data.node, e.data.outcome]);
            expect(rows.map(([n]) => n)).toEqual(order);
            const outcome = Object.fromEntries(rows);
            expect(outcome["C/config-server"]).toBe("healthy");
            expect(outcome["A/config-server"]).toBe("failed");
            for (const n of order.slice(6)) expect(outcome[n]).toBe("not-run");
            for (const e of p.elements) {
                expect(e.width).toBeGreaterThan(50);
                expect(e.height).toBeGreaterThan(10);
            }
        }));

    // After case 8 every node is at 3.1.2 again. The engine runs in a process group of its own, so a signal to
    // the tool's group reaches the tool alone, which stops the engine once: the node in progress finishes.
    const signalled = async (what: string, sig: NodeJS.Signals, group: boolean) => {
        const t = new Date().toISOString();
        const run = start(["up", "--yes"], { group });
        const first = /\s(\S+\/\S+)\s+upgrading$/.exec((await run.waitFor(/\s\S+\/\S+\s+upgrading$/)).line)?.[1];
        run.signal(sig);
        const r = await run.done;
        reportOf(r.out);
        timings.push(`${what}: stopped after ${begun(t, "upgrade").join(", ")}`);
        expect(r.code).toBe(130);
        expect(r.out).toContain(`${sig === "SIGINT" ? "Interrupt" : sig} received: stopping after the node in progress`);
        // The node in progress finished (its vendor script and the node script: none cut off); nothing after it began.
        expect(begun(t, "upgrade")).toEqual([first]);
        expect(
            auditSince(t)
                .filter((e) => e.action === "upgrade" && e.outcome === "success")
                .map((e) => `${e.host}/${e.service}`),
        ).toEqual([first]);
        expect(lastLine(r.out)).toMatch(
            new RegExp(
                `^error: Interrupted\\. Stopped after ${first} \\(wave \\d+\\): 1 node upgraded in this run; .* To resume, run \`scm-upgrade up --stack ${stack}\``,
            ),
        );
        expect(await readLocks(`file://${state}`, stack)).toEqual([]);
    };

    test("case 12: SIGTERM to `up` alone (`kill`, a service manager's stop): the node in progress finishes, exit 130, where it stopped and how to resume", () =>
        timed("case 12 (SIGTERM to up alone)", async () => {
            t0 = new Date().toISOString();
            await signalled("case 12", "SIGTERM", false);
        }));

    test("case 13: SIGTERM to the whole process group, as `timeout` sends it: the same (the engine is not signalled twice)", () =>
        timed("case 13 (SIGTERM to the process group)", () => signalled("case 13", "SIGTERM", true)));

    test("case 14: SIGHUP to the whole process group, as a closing terminal sends it: the same (the engine does not die with the terminal)", () =>
        timed("case 14 (SIGHUP to the process group)", async () => {
            await signalled("case 14", "SIGHUP", true);
            // Across the three runs: the plan's order, each node once.
            expect(begun(t0, "upgrade")).toEqual(order.slice(0, 3));
        }));

    test("case 16: SIGTERM while `up` waits at its question on a terminal: the question ends, nothing was done, exit 130", () =>
        timed("case 16 (SIGTERM at the question)", async () => {
            const t = new Date().toISOString();
            const run = start(["up"], { tty: true });
            for (let i = 0; i < 600 && !run.output().includes("[y/N]"); i++) await new Promise((r) => setTimeout(r, 50));
            expect(run.output()).toContain(`Proceed to upgrade on stack ${stack}? [y/N]`);
            run.signalTool("SIGTERM");
            const r = await run.done;
            expect(r.code).toBe(130);
            // (after the question, on its line)
            expect(lastLine(r.out)).toMatch(/error: Interrupted at the question: nothing was done\.$/);
            expect(auditSince(t)).toEqual([]);
        }));

    // A process's state letter and start time (fields 3 and 22 of /proc/<pid>/stat), or undefined once it is gone.
    const statOf = (pid: number) => {
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            return { state: fields[0], start: fields[19] };
        } catch {
            return undefined;
        }
    };
    // The same process (not a pid used again since), and not a zombie (dead, not yet reaped).
    const alive = (p: { pid: number; start?: string }) => {
        const now = statOf(p.pid);
        return !!now && now.start === p.start && now.state !== "Z";
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const programOf = (pid: number) => {
        try {
            return path.basename(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]);
        } catch {
            return "(gone)";
        }
    };

    test("case 17: SIGKILL to the whole process group (`kill -9 -PGID`, the OOM killer): the engine and the command provider do not outlive the tool; unlock clears the dead run's lock", () =>
        timed("case 17 (SIGKILL to the process group)", async () => {
            const t = new Date().toISOString();
            const next = order.find((n) => !begun(t0, "upgrade").includes(n)) as string;
            const [host, service] = next.split("/");
            // The vendor script sleeps after stopping the nodes: the kill lands while it runs on the host.
            setFault(host, service, { slowSeconds: 3 }, sb.dir);
            const run = start(["up", "--yes"], { group: true });
            let killed = false;
            try {
                await run.waitFor(new RegExp(`\\s${next}\\s+upgrading$`));
                for (let i = 0; i < 1200 && !begun(t, "upgrade").includes(next); i++) await sleep(25);
                expect(begun(t, "upgrade")).toEqual([next]);
                // The engine and its provider run in process groups of their own: the kill does not reach them.
                const engine = descendants(run.pid)
                    .filter((pid) => ["pulumi", "pulumi-resource-command"].includes(programOf(pid)))
                    .map((pid) => ({ pid, program: programOf(pid), start: statOf(pid)?.start }));
                expect(engine.map((p) => p.program).sort()).toEqual(["pulumi", "pulumi-resource-command"]);
                run.signal("SIGKILL");
                killed = true;
                expect((await run.done).code).toBeNull();
                // Both go once they find the tool gone: the provider at the command's next output line (after the
                // vendor script's sleep), as the official provider does; the SSH session with it.
                const t1 = Date.now();
                for (let i = 0; i < 300 && engine.some(alive); i++) await sleep(100);
                timings.push(`case 17: the engine and the provider gone ${((Date.now() - t1) / 1000).toFixed(1)} s after the kill`);
                expect(engine.filter(alive).map((p) => `${p.pid} ${p.program}`)).toEqual([]);
            } finally {
                // A failed check before the kill leaves no run going into the next case.
                if (!killed) run.signal("SIGKILL");
                clearFaults({ host, service, dir: sb.dir });
            }
            // The killed engine's lock stays (no process released it): unlock sees its process dead and removes it.
            expect(await readLocks(`file://${state}`, stack)).toHaveLength(1);
            const unlocked = await start(["unlock", "--yes"]).done;
            expect(`exit ${unlocked.code}: ${lastLine(unlocked.out)}`).toMatch(/^exit 0: removed 1 stale lock\(s\) of stack /);
            expect(await readLocks(`file://${state}`, stack)).toEqual([]);
        }));

    test("case 15: a second SIGTERM stops at once, cutting the node in progress off (exit 130); the next `up` finishes it and the rest, no node twice", () =>
        timed("case 15 (SIGTERM twice, then up)", async () => {
            const run = start(["up", "--yes"], { group: true });
            const line = (await run.waitFor(/\s\S+\/\S+\s+upgrading$/)).line;
            run.signal("SIGTERM");
            await run.waitFor(/SIGTERM received: stopping after the node in progress/);
            run.signal("SIGTERM");
            const r = await run.done;
            reportOf(r.out);
            expect(r.code).toBe(130);
            expect(r.out).toContain("SIGTERM received again: stopping at once; the nodes in progress are cut off (the next `up` finishes them).");
            timings.push(`case 15: cut off at ${line.trim()}`);
            const resumed = await start(["up", "--yes"]).done;
            reportOf(resumed.out);
            expect(`exit ${resumed.code}: ${lastLine(resumed.out)}`).toMatch(/^exit 0: /);
            const st = await status({ dir: sb.dir });
            for (const h of st.hosts)
                for (const n of h.nodes) expect(`${h.name}/${n.service}:${n.port} ${n.version} ${n.health}`).toBe(`${h.name}/${n.service}:${n.port} 3.2.0 UP`);
            expect(begun(t0, "upgrade")).toEqual(order);
            expect(await readLocks(`file://${state}`, stack)).toEqual([]);
        }));
});
