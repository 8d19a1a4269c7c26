import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { engineEnv, projectRoot, pulumiBinary, pulumiHome, stacksDir } from "../../engine/env";
import { runCli, runCliOnTerminal } from "../helpers/cli";
import { seedHosts } from "../helpers/seed";

// `scm-upgrade` as a subprocess, with the real Pulumi CLI underneath: the parts that need no
// command provider (help, usage, plan, config validation, refusals, exit codes).

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-cli-"));
const backend = `file://${tmp}/state`;
fs.mkdirSync(`${tmp}/state`);
const pkg = path.join(tmp, "sequoiacm-3.2.0-release.tar.gz");
fs.writeFileSync(pkg, "not really a tarball: plan never opens it");
const created: string[] = [];

const cli = (args: string[], extraEnv: Record<string, string> = {}) => runCli(args, { PULUMI_BACKEND_URL: backend, ...extraEnv });

function writeStack(name: string, config: Record<string, unknown>) {
    const file = path.join(stacksDir, `Pulumi.${name}.yaml`);
    const prefixed = Object.fromEntries(Object.entries(config).map(([k, v]) => [`scm-upgrade:${k}`, v]));
    fs.writeFileSync(file, yaml.dump({ config: prefixed }));
    created.push(file);
}

const keyFile = path.join(tmp, "id_test");
fs.writeFileSync(keyFile, "placeholder key file: never used, no SSH here", { mode: 0o600 });
// Loopback addresses nobody listens on: commands that read live state fail fast, and never leave this machine.
const loopbackSeed = seedHosts.map((h) => ({ ...h, address: h.address.replace(/^10\.0\.0\./, "127.254.0.") }));
const seed = {
    package: { localPath: pkg },
    ssh: { user: "scmadmin", privateKeyFile: keyFile, dialErrorLimit: 1, perDialTimeoutSeconds: 2 },
    hosts: loopbackSeed,
};

afterAll(() => {
    for (const f of created) fs.rmSync(f, { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
});

describe("scm-upgrade command line", () => {
    test("--help lists every command and the exit codes; every command has its own --help", () => {
        const r = cli(["--help"]);
        expect(r.code).toBe(0);
        for (const c of ["plan", "preflight", "preview", "up", "status", "rollback", "refresh", "unlock"]) expect(r.stdout).toContain(`  ${c} `);
        expect(r.stdout).toContain("3    invalid configuration");
        for (const c of ["plan", "up", "rollback", "status"]) {
            const h = cli([c, "--help"]);
            expect(h.code).toBe(0);
            expect(h.stdout).toMatch(new RegExp(`^Usage: scm-upgrade ${c}`));
        }
    });

    test("usage errors exit 2 and say what to do", () => {
        const unknown = cli(["upgrade-now"]);
        expect(unknown.code).toBe(2);
        expect(unknown.stderr).toContain("Unknown command `upgrade-now`. Run `scm-upgrade --help` for the list.");
        // The hint once, not twice.
        expect(unknown.stderr.split("scm-upgrade --help").length - 1).toBe(1);
        const flag = cli(["plan", "--colour"]);
        expect(flag.code).toBe(2);
        expect(flag.stderr).toContain("--colour");
        const center = cli(["up", "--only-center", "both"]);
        expect(center.code).toBe(2);
        expect(center.stderr).toContain("--only-center must be standby or primary, not both.");
        // A flag the command would ignore is refused, not dropped: a rollback is never held to a window it was given.
        for (const [args, says] of [
            [["rollback", "--window", "01:00-05:00"], "--window and --force are flags of `up` only."],
            [["status", "--force"], "--window and --force are flags of `up` only."],
            [["status", "--only-center", "primary"], "--only-center is a flag of `up`, `preview`, `rollback` and `report` only."],
            [["refresh", "--only-center", "standby"], "--only-center is a flag of `up`, `preview`, `rollback` and `report` only."],
        ] as const) {
            const r = cli([...args]);
            expect(`${args.join(" ")}: ${r.code}`).toBe(`${args.join(" ")}: 2`);
            expect(r.stderr).toContain(says);
        }
    });

    test("plan prints the seed topology's waves in the vendor's order, in every format", () => {
        writeStack("test-cli-plan", seed);
        const table = cli(["plan", "--stack", "test-cli-plan"]);
        expect(table.code).toBe(0);
        const rows = table.stdout
            .trim()
            .split("\n")
            .slice(2)
            .map((l) => l.split(/\s{2,}/));
        expect(rows.map((r) => `${r[1]} ${r[2]} ${r[4] ?? r[3]}`)).toEqual([
            "cloud standby C, D",
            "cloud primary A, B",
            "config-server standby C",
            "config-server primary A",
            "content-server standby C",
            "content-server primary A",
            "content-server standby D",
            "content-server primary B",
            "schedule-server standby D",
            "schedule-server primary B",
        ]);
        const json = JSON.parse(cli(["plan", "--stack", "test-cli-plan", "--format", "json"]).stdout);
        expect(JSON.stringify(json)).toContain("content-server/standby/rootSite");
        const mermaid = cli(["plan", "--stack", "test-cli-plan", "--format", "mermaid"]);
        expect(mermaid.code).toBe(0);
        expect(mermaid.stdout).toMatch(/^(flowchart|graph)/);
        const dot = cli(["plan", "--stack", "test-cli-plan", "--format", "dot"]);
        expect(dot.stdout).toMatch(/^digraph/);
        // --json is the JSON plan; with another format it asked for two outputs (and printed nothing, exit 0).
        expect(JSON.parse(cli(["plan", "--stack", "test-cli-plan", "--json"]).stdout)).toEqual(json);
        const both = cli(["plan", "--stack", "test-cli-plan", "--json", "--format", "mermaid"]);
        expect(both.code).toBe(2);
        expect(both.stderr).toContain("--json and --format mermaid ask for two outputs");
    });

    test("an invalid config exits 3, names every field and its fix, before any host is touched", () => {
        writeStack("test-cli-bad", {
            ...seed,
            hosts: [...seedHosts.slice(0, 3), { ...seedHosts[3], services: ["cloud", "schedul-server"] }],
            targetVersion: "3.2",
        });
        for (const cmd of ["plan", "up", "preview", "preflight"]) {
            const r = cli([cmd, "--stack", "test-cli-bad", "--yes"]);
            expect(r.code).toBe(3);
            expect(r.stderr).toContain("The configuration of stack test-cli-bad is invalid.");
            // The real file name, not a `<stack>` placeholder.
            expect(r.stderr).toContain("stacks/Pulumi.test-cli-bad.yaml: the scm-upgrade configuration has");
            expect(r.stderr).not.toContain("<stack>");
            expect(r.stderr).toContain("targetVersion");
            expect(r.stderr).toContain("hosts[3].services[1]");
            expect(r.stderr).toContain("schedule-server");
        }
    });

    test("a stack with no config file (a typo) is refused by every command, listing the known stacks; nothing is created", () => {
        writeStack("test-cli-plan", seed);
        const stateFiles = () => (fs.existsSync(`${tmp}/state`) ? fs.readdirSync(`${tmp}/state`, { recursive: true }).map(String) : []);
        for (const cmd of ["plan", "preflight", "preview", "up", "status", "rollback", "refresh", "unlock", "report"]) {
            const args = [cmd, "--stack", "nosuch", "--yes", ...(cmd === "report" ? ["--from", keyFile] : [])];
            const r = cli(args);
            expect({ cmd, code: r.code }).toEqual({ cmd, code: 3 });
            expect(r.stderr).toContain('There is no stack "nosuch": stacks/Pulumi.nosuch.yaml does not exist. Nothing was created.');
            expect(r.stderr).toMatch(/Known stacks \(stacks\/Pulumi\.\*\.yaml\): .*production-example/);
            expect(r.stderr).toMatch(/Known stacks .*test-cli-plan/);
            expect(r.stderr).toContain("copy stacks/Pulumi.production-example.yaml to stacks/Pulumi.nosuch.yaml");
            expect(r.stderr).not.toContain("is missing");
            expect(fs.existsSync(path.join(stacksDir, "Pulumi.nosuch.yaml"))).toBe(false);
            expect(stateFiles().filter((f) => f.includes("nosuch"))).toEqual([]);
        }
    });

    test("plan needs no SSH credential and no local tarball: it warns and draws the plan", () => {
        const { privateKeyFile: _key, ...sshWithoutKey } = seed.ssh;
        writeStack("test-cli-nocred", { ...seed, ssh: sshWithoutKey, package: { localPath: path.join(tmp, "not-there-3.2.0.tar.gz") } });
        const r = cli(["plan", "--stack", "test-cli-nocred"]);
        expect(r.code).toBe(0);
        expect(r.stderr).toContain("warning: stacks/Pulumi.test-cli-nocred.yaml is not ready for preflight/preview/up (plan needs none of this):");
        expect(r.stderr).toContain("ssh: no SSH credential for hosts A, B, C, D");
        expect(r.stderr).toContain("package.localPath: no file at");
        expect(r.stdout.trim().split("\n")).toHaveLength(12);
        // The plan on stdout stays parseable: warnings go to stderr only.
        const json = cli(["plan", "--stack", "test-cli-nocred", "--json"]);
        expect(json.code).toBe(0);
        expect(JSON.parse(json.stdout).waves).toHaveLength(10);
        // The commands that reach hosts still refuse it (exit 3), naming the credential.
        const up = cli(["up", "--stack", "test-cli-nocred", "--yes"]);
        expect(up.code).toBe(3);
        expect(up.stderr).toContain("no SSH credential for hosts A, B, C, D");
    });

    test("the example production stack plans as shipped (the README's first file to copy)", () => {
        const r = cli(["plan", "--stack", "production-example"]);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("schedule-server  primary");
        expect(r.stderr).toContain("warning: stacks/Pulumi.production-example.yaml is not ready");
    });

    test("the README's command synopsis is each command's usage line, and names every command", () => {
        const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
        const block = /## The command line\s+```\n([\s\S]*?)```/.exec(readme);
        expect(block).not.toBeNull();
        const norm = (l: string) => l.trim().replace(/\s+/g, " ");
        const synopsis = block![1]
            .split("\n")
            .filter((l) => l.startsWith("scm-upgrade "))
            .map(norm);
        const commands = [...cli(["--help"]).stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
        expect(commands.length).toBeGreaterThanOrEqual(9);
        expect(synopsis.map((l) => l.split(" ")[1])).toEqual(commands);
        for (const c of commands) {
            const usage = norm(
                cli([c, "--help"])
                    .stdout.split("\n")[0]
                    .replace(/^Usage: /, ""),
            );
            expect(synopsis.find((l) => l.split(" ")[1] === c)).toBe(usage);
            // Every command's help says what it does, beyond its usage line.
            expect({ c, lines: cli([c, "--help"]).stdout.trim().split("\n").length > 1 }).toEqual({ c, lines: true });
        }
    });

    test("up refuses without confirmation (exit 6) and outside the maintenance window (exit 6)", () => {
        writeStack("test-cli-refuse", seed);
        const noTty = cli(["up", "--stack", "test-cli-refuse"]);
        expect(noTty.code).toBe(6);
        expect(noTty.stderr).toContain("pass --yes for unattended runs");
        const now = new Date();
        const later = new Date(now.getTime() + 2 * 3600 * 1000);
        const hhmm = (d: Date) => `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
        const closed = `${hhmm(later)}-${hhmm(new Date(later.getTime() + 3600 * 1000))}`;
        const outside = cli(["up", "--stack", "test-cli-refuse", "--yes", "--window", closed]);
        expect(outside.code).toBe(6);
        expect(outside.stderr).toContain(`outside the maintenance window ${closed}: nothing was done`);
        // A window that is none is a usage error (exit 2), from the flag or the environment, naming which.
        const badWindow = cli(["up", "--stack", "test-cli-refuse", "--yes", "--window", "25:00-26:00"]);
        expect(badWindow.code).toBe(2);
        expect(badWindow.stderr).toContain('error: --window: the maintenance window "25:00-26:00" is not HH:MM-HH:MM (24-hour local time), e.g. 01:00-05:00.');
        const badEnv = cli(["up", "--stack", "test-cli-refuse", "--yes"], { SCM_UPGRADE_WINDOW: "1-5" });
        expect(badEnv.code).toBe(2);
        expect(badEnv.stderr).toContain('error: SCM_UPGRADE_WINDOW: the maintenance window "1-5" is not HH:MM-HH:MM');
    });

    test("--json turns errors into one JSON event", () => {
        const r = cli(["up", "--stack", "test-cli-bad", "--json", "--yes"]);
        expect(r.code).toBe(3);
        const events = r.stdout
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l));
        expect(events[events.length - 1]).toMatchObject({ type: "error", code: 3 });
    });

    test("a credential set without --secret is refused (exit 3), naming the command that makes it a secret", () => {
        const { privateKeyFile: _key, ...ssh } = seed.ssh;
        writeStack("test-cli-plainpw", { ...seed, ssh, sshPassword: "hunter2" });
        for (const args of [["up", "--yes"], ["status"], ["preflight"]]) {
            const r = cli([...args, "--stack", "test-cli-plainpw"]);
            expect(`${args.join(" ")}: ${r.code}`).toBe(`${args.join(" ")}: 3`);
            expect(r.stderr).toContain("sshPassword: is in plain text in the stack's config (set without --secret)");
            expect(r.stderr).toContain("scm-upgrade secret sshPassword --stack test-cli-plainpw");
            expect(r.stdout + r.stderr).not.toContain("hunter2");
        }
        // A backend given as a flag is in that command: without it the secret would go to another state.
        const backend = `file://${fs.mkdtempSync(path.join(os.tmpdir(), "scm-plainpw-"))}`;
        const r = cli(["status", "--stack", "test-cli-plainpw", "--backend", backend]);
        expect(r.code).toBe(3);
        expect(r.stderr).toContain(`scm-upgrade secret sshPassword --stack test-cli-plainpw --backend ${backend}`);
    });

    test("a backend that cannot be opened: the error names it without its password", () => {
        // Nothing listens on port 1: the tool's own reads and the Pulumi CLI both fail to open it.
        for (const url of ["postgres://scm:hunter2@127.0.0.1:1/scm_state?sslmode=disable", "postgres://scm@127.0.0.1:1/scm_state?password=hunter2"]) {
            for (const args of [["status"], ["preflight"], ["up", "--yes"], ["status", "--json"]]) {
                const r = cli([...args, "--stack", "test-cli-plan", "--backend", url]);
                expect(`${args.join(" ")}: ${r.code === 0 ? "exit 0" : "failed"}`).toBe(`${args.join(" ")}: failed`);
                expect(r.stdout + r.stderr).not.toContain("hunter2");
                expect(r.stderr).toMatch(/127\.0\.0\.1:1/);
            }
        }
    });

    test("relative paths in the config count from the project folder, wherever the command runs from", () => {
        writeStack("test-cli-relative", { ...seed, ssh: { ...seed.ssh, privateKeyFile: "README.md" } });
        const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "scm-cwd-"));
        try {
            const r = spawnSync(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), "plan", "--stack", "test-cli-relative"], {
                cwd: elsewhere,
                encoding: "utf8",
                env: { ...process.env, PULUMI_BACKEND_URL: backend },
            });
            expect(r.status).toBe(0);
            expect(r.stdout).toMatch(/1 +cloud +standby/);
            expect(r.stderr).not.toContain("privateKeyFile");
            // The config's own fix says so, with the folder.
            writeStack("test-cli-relative", { ...seed, ssh: { ...seed.ssh, privateKeyFile: "no-such-key" } });
            const missing = spawnSync(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), "plan", "--stack", "test-cli-relative"], {
                cwd: elsewhere,
                encoding: "utf8",
                env: { ...process.env, PULUMI_BACKEND_URL: backend },
            });
            expect(missing.stderr).toContain(`cannot read "no-such-key" (${path.join(projectRoot, "no-such-key")})`);
        } finally {
            fs.rmSync(elsewhere, { recursive: true, force: true });
        }
    });

    test("status of a stack its backend does not hold: no run recorded, and the stack is not made there", () => {
        writeStack("test-cli-never", seed);
        const made = path.join(tmp, "state", ".pulumi", "stacks", "scm-upgrade", "test-cli-never.json");
        const s = cli(["status", "--stack", "test-cli-never"]);
        expect(s.code).toBe(0);
        expect(s.stdout).toContain("no run recorded yet");
        expect(fs.existsSync(made)).toBe(false);
    });

    test("status of a stack that never ran, and unlock with no lock, succeed quietly", () => {
        const s = cli(["status", "--stack", "test-cli-plan"]);
        expect(s.code).toBe(0);
        expect(s.stdout).toContain("no run recorded yet");
        const u = cli(["unlock", "--stack", "test-cli-plan"]);
        expect(u.code).toBe(0);
        expect(u.stdout).toContain("no lock to remove");
        const j = cli(["unlock", "--json", "--stack", "test-cli-plan"]);
        expect(j.code).toBe(0);
        expect(JSON.parse(j.stdout.trim().split("\n").pop()!)).toMatchObject({ type: "unlock", stack: "test-cli-plan", removed: [] });
    });

    // Where no command provider is installed, the commands that run on hosts stop before the engine
    // with a clear message and exit 7, after validating the config. Shown with a Pulumi home that
    // holds the CLI and no plugin (the project's own home has a provider).
    test("without the command provider, preview/up/preflight exit 7 and say what to do", () => {
        writeStack("test-cli-noprovider", seed);
        const bare = fs.mkdtempSync(path.join(os.tmpdir(), "scm-bare-home-"));
        fs.mkdirSync(path.join(bare, "bin"));
        fs.symlinkSync(fs.realpathSync(path.join(pulumiHome(), "bin", "pulumi")), path.join(bare, "bin", "pulumi"));
        try {
            for (const cmd of ["preview", "up", "preflight"]) {
                const r = cli([cmd, "--stack", "test-cli-noprovider", "--yes"], { SCM_UPGRADE_PULUMI_HOME: bare });
                expect(r.code).toBe(7);
                expect(r.stderr).toContain("The command provider plugin 1.2.1 is not installed");
                expect(r.stderr).toContain("npm run bootstrap");
            }
        } finally {
            fs.rmSync(bare, { recursive: true, force: true });
        }
    });

    // A teammate's stack, or one made from another Pulumi home, has its secrets (and its stack file's salt)
    // under another passphrase: the CLI's refusal becomes exit 3 with the fix, and nothing is made or changed.
    test("a stack made with another passphrase: exit 3 naming the variable to set; no stack made, its file unchanged", () => {
        writeStack("test-cli-pass", seed);
        const file = path.join(stacksDir, "Pulumi.test-cli-pass.yaml");
        expect(cli(["refresh", "--stack", "test-cli-pass"]).code).toBe(0);
        const written = fs.readFileSync(file, "utf8");
        expect(written).toContain("encryptionsalt");
        const other = { PULUMI_CONFIG_PASSPHRASE: "another operator's passphrase" };
        const refusedWith = (r: ReturnType<typeof cli>) => {
            expect(r.stderr).toContain("The secrets of stack test-cli-pass cannot be read with this passphrase");
            expect(r.stderr).toContain("incorrect passphrase");
            expect(r.stderr).toContain("Set PULUMI_CONFIG_PASSPHRASE_FILE (or PULUMI_CONFIG_PASSPHRASE) to the passphrase it was made with");
            expect(r.stderr).not.toContain("code: -2");
            expect(r.code).toBe(3);
        };
        refusedWith(cli(["preview", "--stack", "test-cli-pass", "--no-live"], other));
        refusedWith(cli(["refresh", "--stack", "test-cli-pass"], other));
        // The same stack file against a backend that has no such stack yet: the stack is not made there.
        const elsewhere = path.join(tmp, "state-elsewhere");
        fs.mkdirSync(elsewhere);
        refusedWith(runCli(["preview", "--stack", "test-cli-pass", "--no-live"], { PULUMI_BACKEND_URL: `file://${elsewhere}`, ...other }));
        expect(fs.existsSync(path.join(elsewhere, ".pulumi", "stacks", "scm-upgrade", "test-cli-pass.json"))).toBe(false);
        expect(fs.readFileSync(file, "utf8")).toBe(written);
    });

    test("a stack locked by a killed run: commands exit 5 and name `unlock`; unlock removes only a dead run's lock", () => {
        writeStack("test-cli-lock", seed);
        expect(cli(["refresh", "--stack", "test-cli-lock"]).code).toBe(0);
        const lockDir = path.join(tmp, "state", ".pulumi", "locks", "organization", "scm-upgrade", "test-cli-lock");
        fs.mkdirSync(lockDir, { recursive: true });
        const dead = spawnSync("true").pid;
        const lock = (pid: number) => JSON.stringify({ pid, username: os.userInfo().username, hostname: os.hostname(), timestamp: new Date().toISOString() });
        fs.writeFileSync(path.join(lockDir, "killed-run.json"), lock(dead));
        const locked = cli(["refresh", "--stack", "test-cli-lock"]);
        expect(locked.code).toBe(5);
        expect(locked.stderr).toContain("Another run holds the lock of stack test-cli-lock");
        expect(locked.stderr).toContain("scm-upgrade unlock --stack");
        // A live run's lock is never removed.
        fs.writeFileSync(path.join(lockDir, "live-run.json"), lock(process.pid));
        const unattended = cli(["unlock", "--stack", "test-cli-lock"]);
        expect(unattended.code).toBe(6);
        expect(unattended.stderr).toContain(`locked by:\n    ${os.userInfo().username}@${os.hostname()} (pid ${dead}) since`);
        const refused = cli(["unlock", "--yes", "--stack", "test-cli-lock"]);
        expect(refused.code).toBe(5);
        expect(refused.stderr).toContain(`The run holding the lock (pid ${process.pid}) is still alive`);
        fs.rmSync(path.join(lockDir, "live-run.json"));
        const unlocked = cli(["unlock", "--yes", "--stack", "test-cli-lock"]);
        expect(unlocked.code).toBe(0);
        expect(unlocked.stdout).toContain("removed 1 stale lock(s)");
        expect(cli(["refresh", "--stack", "test-cli-lock"]).code).toBe(0);
        // --json: the locks removed, as the text names them.
        fs.writeFileSync(path.join(lockDir, "killed-run.json"), lock(dead));
        const json = cli(["unlock", "--yes", "--json", "--stack", "test-cli-lock"]);
        expect(json.code).toBe(0);
        const said = JSON.parse(json.stdout.trim().split("\n").pop()!);
        expect(said).toMatchObject({ type: "unlock", stack: "test-cli-lock" });
        expect(said.removed).toEqual([expect.stringContaining(`${os.userInfo().username}@${os.hostname()} (pid ${dead}) since`)]);
        expect(cli(["refresh", "--stack", "test-cli-lock"]).code).toBe(0);
    });

    // `scm-upgrade secret`: the way the README and the config's fixes give to store a credential. Through the
    // real Pulumi CLI: the value is stored encrypted, reads back as given, and the config then has its credential.
    describe("secret", () => {
        const stack = "test-cli-secret";
        const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
        const key = path.join(tmp, "id_secret");
        spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "scm-upgrade test", "-f", key]);
        const withInput = (args: string[], input: string) => {
            const r = spawnSync(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), ...args], {
                cwd: projectRoot,
                encoding: "utf8",
                env: { ...process.env, PULUMI_BACKEND_URL: backend },
                input,
                timeout: 120000,
            });
            return { code: r.status, stdout: r.stdout, stderr: r.stderr };
        };
        // What a run decrypts: the CLI with the tool's own Pulumi home, backend and passphrase.
        const decrypted = (name: string) =>
            spawnSync(pulumiBinary(), ["config", "get", "--stack", stack, `scm-upgrade:${name}`], {
                cwd: projectRoot,
                encoding: "utf8",
                env: { ...process.env, ...engineEnv({ backendUrl: backend }) },
            });

        beforeAll(() => {
            writeStack(stack, { ...seed, ssh: { user: "scmadmin", dialErrorLimit: 1, perDialTimeoutSeconds: 2 } });
            fs.writeFileSync(file, `# our cluster: kept by every change\n${fs.readFileSync(file, "utf8")}`);
        });

        test("a key file is stored encrypted and reads back whole; the config then has its credential", () => {
            expect(cli(["plan", "--stack", stack]).stderr).toContain("no SSH credential for hosts A, B, C, D");
            const r = cli(["secret", "sshPrivateKey", "--stack", stack, "--from", key]);
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            expect(r.stdout).toBe(
                `stored sshPrivateKey of stack ${stack} as a secret, encrypted in stacks/Pulumi.${stack}.yaml; check it with \`scm-upgrade preflight --stack ${stack}\`\n`,
            );
            const text = fs.readFileSync(file, "utf8");
            expect(text).toMatch(/scm-upgrade:sshPrivateKey:\n\s+secure: v1:/);
            expect(text).toContain("# our cluster: kept by every change");
            const body = fs.readFileSync(key, "utf8");
            for (const line of body.split("\n").filter((l) => l.length > 20)) expect(text).not.toContain(line);
            expect(decrypted("sshPrivateKey").stdout.trimEnd()).toBe(body.trimEnd());
            const plan = cli(["plan", "--stack", stack]);
            expect(plan.code).toBe(0);
            expect(plan.stderr).not.toContain("no SSH credential");
        });

        test("with another passphrase, every command that reads the key exits 3 naming the variable to set", () => {
            const other = { PULUMI_CONFIG_PASSPHRASE: "another operator's passphrase" };
            for (const args of [["preview", "--no-live"], ["status"], ["preflight"], ["up", "--yes"]]) {
                const r = cli([...args, "--stack", stack], other);
                expect([args[0], r.code]).toEqual([args[0], 3]);
                expect(r.stderr).toContain(`The secrets of stack ${stack} cannot be read with this passphrase`);
                expect(r.stderr).toContain("Set PULUMI_CONFIG_PASSPHRASE_FILE (or PULUMI_CONFIG_PASSPHRASE) to the passphrase it was made with");
            }
        });

        test("what SSH could not use is refused (exit 3) and nothing is stored", () => {
            const before = fs.readFileSync(file, "utf8");
            const pub = cli(["secret", "sshPrivateKey", "--stack", stack, "--from", `${key}.pub`]);
            expect(pub.code).toBe(3);
            expect(pub.stderr).toContain("sshPrivateKey was not stored: this is a public key. Give the private key file: the same path without .pub.");
            const notAKey = path.join(tmp, "notes.txt");
            fs.writeFileSync(notAKey, "hosts A-D, root site on A\n");
            const garbage = cli(["secret", "sshPrivateKey", "--stack", stack, "--from", notAKey]);
            expect(garbage.code).toBe(3);
            expect(garbage.stderr).toContain("sshPrivateKey was not stored: it is not a private key SSH can read (");
            const twoLines = withInput(["secret", "sshPassword", "--stack", stack], "s3cret\nand more\n");
            expect(twoLines.code).toBe(3);
            expect(twoLines.stderr).toContain("sshPassword was not stored: the value has 2 lines, and a password is one.");
            const empty = withInput(["secret", "sshPassword", "--stack", stack], "\n");
            expect(empty.code).toBe(3);
            expect(empty.stderr).toContain("sshPassword was not stored: the value is empty.");
            expect(fs.readFileSync(file, "utf8")).toBe(before);
        });

        test("usage errors exit 2: no name, an unknown one, --unset with --from, an unreadable file", () => {
            expect(cli(["secret", "--stack", stack]).stderr).toContain("`secret` takes one NAME (sshPrivateKey, sshPassword, sshPrivateKeyPassphrase), not 0.");
            const unknown = cli(["secret", "targetVersion", "--stack", stack]);
            expect(unknown.code).toBe(2);
            expect(unknown.stderr).toContain("`targetVersion` is not a secret of the config: sshPrivateKey, sshPassword, sshPrivateKeyPassphrase.");
            expect(cli(["secret", "sshPassword", "--unset", "--from", key, "--stack", stack]).code).toBe(2);
            const missing = cli(["secret", "sshPrivateKey", "--stack", stack, "--from", path.join(tmp, "no-such-key")]);
            expect(missing.code).toBe(2);
            expect(missing.stderr).toContain("no such file");
            expect(cli(["plan", "--unset"]).stderr).toContain("--unset is a flag of `secret` only.");
            const noStack = cli(["secret", "sshPassword", "--stack", "test-cli-secret-none", "--from", key]);
            expect(noStack.code).toBe(3);
            expect(noStack.stderr).toContain('There is no stack "test-cli-secret-none"');
        });

        test("a password from a pipe keeps its spaces, loses the line end; --unset removes it, twice is quiet", () => {
            const r = withInput(["secret", "scm-upgrade:sshPassword", "--stack", stack, "--json"], " pass word \n");
            expect(r.code).toBe(0);
            expect(JSON.parse(r.stdout)).toMatchObject({ type: "secret", stack, name: "sshPassword", result: "stored" });
            expect(r.stdout + r.stderr).not.toContain("pass word");
            expect(decrypted("sshPassword").stdout).toBe(" pass word \n");
            const rm = cli(["secret", "sshPassword", "--unset", "--stack", stack]);
            expect(rm.code).toBe(0);
            expect(rm.stdout).toBe(`removed sshPassword from stack ${stack} (stacks/Pulumi.${stack}.yaml)\n`);
            expect(fs.readFileSync(file, "utf8")).not.toContain("sshPassword");
            const again = cli(["secret", "sshPassword", "--unset", "--stack", stack]);
            expect(again.code).toBe(0);
            expect(again.stdout).toContain(`stack ${stack} has no sshPassword`);
        });

        // On a terminal (a pseudo-terminal from python3's pty): typed without echo; a key must be a file.
        test("on a terminal a password is prompted for and not echoed; a key is asked for as a file", () => {
            const typed = (name: string, keys: string) =>
                runCliOnTerminal(["secret", name, "--stack", stack], { PULUMI_BACKEND_URL: backend }, "(not shown): ", keys);
            const r = typed("sshPrivateKeyPassphrase", "correct horsf\x7fe\r");
            expect(r.out).toContain(`sshPrivateKeyPassphrase of stack ${stack} (not shown): `);
            expect(r.out).not.toContain("horse");
            expect(r.code).toBe(0);
            expect(decrypted("sshPrivateKeyPassphrase").stdout).toBe("correct horse\n");
            const k = typed("sshPrivateKey", "");
            expect(k.code).toBe(2);
            expect(k.out).toContain(`Give the key file: \`scm-upgrade secret sshPrivateKey --stack ${stack} --from ~/.ssh/<key>\``);
            // The backend given as a flag is in that command: without it the key would go to another state.
            const flagged = runCliOnTerminal(["secret", "sshPrivateKey", "--stack", stack, "--backend", backend], {}, "(not shown): ", "");
            expect(flagged.out).toContain(`Give the key file: \`scm-upgrade secret sshPrivateKey --stack ${stack} --backend ${backend} --from ~/.ssh/<key>\``);
        });
    });
});
