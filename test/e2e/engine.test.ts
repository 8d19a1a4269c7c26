import * as fs from "fs";
import * as os from "os";
import { execFileSync } from "child_process";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import {
    engineEnv,
    prefetchStackInit,
    pulumiBinary,
    pulumiCommand,
    pulumiHome,
    removeUntakenStackInit,
    stackInitSettled,
    stacksDir,
    takeStackInit,
} from "../../engine/env";
import { stackPresence } from "../../engine/locks";
import { projectRoot } from "../../engine/paths";
import { plainStackConfig } from "../../lib/config/stackFile";
import { decryptedStackConfig } from "../../engine/passphrase";

// The real Pulumi CLI (built by the bootstrap) runs an inline program offline: file backend,
// passphrase secrets, no plugin download. No provider is involved: this proves the engine itself.
describe("the real Pulumi engine, offline", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-engine-"));
    const env = engineEnv({ backendUrl: `file://${tmp}/state` });
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

    test("up creates, a second up changes nothing, destroy removes", async () => {
        fs.mkdirSync(path.join(tmp, "state"), { recursive: true });
        const program = async () => {
            const c = new pulumi.ComponentResource("sequoiacm:test:Probe", "probe", {}, {});
            return { greeting: pulumi.output("hello from the engine"), urn: c.urn, secret: pulumi.secret("s3cr3t-value") };
        };
        const stack = await LocalWorkspace.createOrSelectStack(
            { stackName: "engine-probe", projectName: "scm-upgrade-engine-test", program },
            { workDir: tmp, envVars: env, pulumiCommand: await pulumiCommand() },
        );
        const first = await stack.up();
        expect(first.summary.result).toBe("succeeded");
        expect(first.outputs.greeting.value).toBe("hello from the engine");
        expect(first.summary.resourceChanges).toEqual({ create: 2 });
        const second = await stack.up();
        expect(second.summary.resourceChanges).toEqual({ same: 2 });
        // The passphrase provider encrypts secrets in state: the plain value is nowhere in the backend.
        const stateFiles = fs.readdirSync(path.join(tmp, "state"), { recursive: true }) as string[];
        const text = stateFiles
            .map((f) => path.join(tmp, "state", f))
            .filter((f) => fs.statSync(f).isFile())
            .map((f) => fs.readFileSync(f, "utf8"))
            .join("\n");
        expect(text).toContain("sequoiacm:test:Probe");
        expect(text).not.toContain("s3cr3t-value");
        const destroyed = await stack.destroy();
        expect(destroyed.summary.resourceChanges).toEqual({ delete: 2 });
        await stack.workspace.removeStack("engine-probe");
        // In the tool's own Pulumi home the CLI kept no automatic log of these runs (engine/env.ts).
        if (path.resolve(pulumiHome()) === path.join(projectRoot, ".pulumi-home")) {
            expect(fs.lstatSync(path.join(pulumiHome(), "logs")).isFile()).toBe(true);
        }
    });

    test("the CLI's version is asked once per binary and kept in the Pulumi home", async () => {
        // A home of its own: bin/pulumi is a small script that runs the real CLI, so that it can change.
        const home = path.join(tmp, "home");
        fs.mkdirSync(path.join(home, "bin"), { recursive: true });
        const wrapper = path.join(tmp, "pulumi-wrapper");
        fs.writeFileSync(wrapper, `#!/bin/sh\nexec '${fs.realpathSync(pulumiBinary())}' "$@"\n`, { mode: 0o755 });
        fs.symlinkSync(wrapper, path.join(home, "bin", "pulumi"));
        const cache = path.join(home, "cli-version.json");

        const first = await pulumiCommand({ pulumiHome: home });
        const real = first.version?.version;
        expect(real).toMatch(/^3\.\d+\.\d+$/);
        expect(JSON.parse(fs.readFileSync(cache, "utf8"))).toMatchObject({ version: real });
        // The kept answer is what the next handle gets (a made-up one here shows that the CLI was not asked).
        const kept = JSON.parse(fs.readFileSync(cache, "utf8"));
        fs.writeFileSync(cache, JSON.stringify({ ...kept, version: "3.100.0" }));
        expect((await pulumiCommand({ pulumiHome: home })).version?.version).toBe("3.100.0");
        // Another binary (the bootstrap linked a new build): asked again.
        fs.appendFileSync(wrapper, "# changed\n");
        expect((await pulumiCommand({ pulumiHome: home })).version?.version).toBe(real);
        expect(JSON.parse(fs.readFileSync(cache, "utf8")).version).toBe(real);
    });

    test("a config without secrets, read from its file, is what `pulumi config --json` gives", async () => {
        const dir = path.join(tmp, "project");
        fs.mkdirSync(path.join(dir, "stacks"), { recursive: true });
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: scm-upgrade-config-probe\nruntime: nodejs\nstackConfigDir: stacks\n");
        fs.writeFileSync(
            path.join(dir, "stacks", "Pulumi.probe.yaml"),
            "config:\n  scm-upgrade-config-probe:parallelism: 2\n  scm-upgrade-config-probe:flag: true\n  scm-upgrade-config-probe:name: 'node A'\n" +
                "  scm-upgrade-config-probe:ssh:\n    user: scmadmin\n    port: 2222\n  scm-upgrade-config-probe:hosts:\n    - name: A\n      services: [cloud, config-server]\n",
        );
        const run = (args: string[]) => execFileSync(pulumiBinary(), args, { cwd: dir, env: { ...process.env, ...env }, encoding: "utf8" });
        run(["stack", "init", "probe"]);
        const fromCli = JSON.parse(run(["config", "--json", "--stack", "probe"])) as Record<string, { value: string; objectValue?: unknown }>;
        const fromFile = plainStackConfig(path.join(dir, "Pulumi.yaml"), path.join(dir, "stacks"), "probe");
        expect(fromFile).toBeDefined();
        const values = (m: Record<string, unknown>) =>
            Object.fromEntries(
                Object.entries(m).map(([k, v]) => [k, (v as { objectValue?: unknown; value?: string }).objectValue ?? (v as { value?: string }).value]),
            );
        expect(values(fromFile!)).toEqual(values(fromCli));
        expect(Object.keys(fromFile!).sort()).toEqual(Object.keys(fromCli).sort());
    });
    test("passphrase secrets decrypted in this process are what `pulumi config --json --show-secrets` gives; a wrong passphrase opens nothing", async () => {
        const dir = path.join(tmp, "secret-project");
        fs.mkdirSync(path.join(dir, "stacks"), { recursive: true });
        const project = path.join(dir, "Pulumi.yaml");
        fs.writeFileSync(project, "name: scm-upgrade-secret-probe\nruntime: nodejs\nstackConfigDir: stacks\n");
        const passEnv: Record<string, string | undefined> = {
            ...process.env,
            ...env,
            PULUMI_CONFIG_PASSPHRASE: "a test passphrase, not a secret",
            PULUMI_CONFIG_PASSPHRASE_FILE: undefined,
        };
        const run = (args: string[], input?: string) => execFileSync(pulumiBinary(), args, { cwd: dir, env: passEnv, encoding: "utf8", input });
        run(["stack", "init", "probe"]);
        const ns = "scm-upgrade-secret-probe";
        run(["config", "set", "--stack", "probe", `${ns}:become`, "login"]);
        run(["config", "set", "--stack", "probe", "--path", `${ns}:ssh.user`, "scmadmin"]);
        // A key's many lines, a password with shell characters and non-ASCII text: each reaches the CLI on its standard input.
        const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\nnot a real key\n-----END OPENSSH PRIVATE KEY-----";
        run(["config", "set", "--secret", "--stack", "probe", `${ns}:sshPrivateKey`], key);
        run(["config", "set", "--secret", "--stack", "probe", `${ns}:sshPassword`], "p@ss 'wörd' $HOME; ü");
        const fromCli = JSON.parse(run(["config", "--json", "--show-secrets", "--stack", "probe"]));
        const ours = await decryptedStackConfig(project, path.join(dir, "stacks"), "probe", passEnv);
        expect(ours).toBeDefined();
        const values = (m: Record<string, { value?: string; objectValue?: unknown; secret?: boolean }>) =>
            Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { value: v.objectValue ?? v.value, secret: v.secret ?? false }]));
        expect(values(ours!)).toEqual(values(fromCli));
        expect(ours![`${ns}:sshPrivateKey`]).toEqual({ value: fromCli[`${ns}:sshPrivateKey`].value, secret: true });
        expect(fromCli[`${ns}:sshPassword`].value).toBe("p@ss 'wörd' $HOME; ü");
        // The passphrase from a file, as the CLI reads it (its text trimmed; a relative path from the project's folder).
        fs.writeFileSync(path.join(dir, "phrase"), "a test passphrase, not a secret\n");
        const fileEnv = { ...passEnv, PULUMI_CONFIG_PASSPHRASE: undefined, PULUMI_CONFIG_PASSPHRASE_FILE: "phrase" };
        expect(await decryptedStackConfig(project, path.join(dir, "stacks"), "probe", fileEnv)).toEqual(ours);
        // Another passphrase: nothing opens here, and the CLI (asked then) refuses it too.
        const wrong = { ...passEnv, PULUMI_CONFIG_PASSPHRASE: "another passphrase" };
        expect(await decryptedStackConfig(project, path.join(dir, "stacks"), "probe", wrong)).toBeUndefined();
        expect(() => execFileSync(pulumiBinary(), ["config", "--json", "--show-secrets", "--stack", "probe"], { cwd: dir, env: wrong, stdio: "pipe" })).toThrow(
            /incorrect passphrase/,
        );
    });
    test("a new stack's `stack init` starts at once, is taken once, and a stack made early and never opened is removed", async () => {
        const stack = `test-early-init-${process.pid}`;
        const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
        const url = `file://${tmp}/early`;
        fs.mkdirSync(`${tmp}/early`, { recursive: true });
        const text = "# kept as written\nconfig:\n  scm-upgrade:targetVersion: 3.2.0\n";
        fs.writeFileSync(file, text);
        const o = { stack, backendUrl: url };
        try {
            expect(await stackPresence(url, stack)).toBe("absent");
            prefetchStackInit(o);
            prefetchStackInit(o); // once per stack: the second call starts nothing
            await stackInitSettled(o);
            expect(await stackPresence(url, stack)).toBe("present");
            const made = takeStackInit(o);
            expect(await made).toBe(true);
            expect(takeStackInit(o)).toBeUndefined();
            // Taken (the run opened it): a run's end leaves it.
            await removeUntakenStackInit(o);
            expect(await stackPresence(url, stack)).toBe("present");
            // A stack the backend holds: nothing is started.
            prefetchStackInit(o);
            expect(takeStackInit(o)).toBeUndefined();
            await removeUntakenStackInit(o);
            expect(await stackPresence(url, stack)).toBe("present");

            // Made early and never taken (the run ended before opening it): removed; its stack file stays, with at
            // most the CLI's encryptionsalt added.
            execFileSync(pulumiBinary(), ["stack", "rm", stack, "--yes", "--preserve-config"], { cwd: projectRoot, env: { ...process.env, ...engineEnv(o) } });
            expect(await stackPresence(url, stack)).toBe("absent");
            prefetchStackInit(o);
            await removeUntakenStackInit(o);
            expect(await stackPresence(url, stack)).toBe("absent");
            expect(fs.readFileSync(file, "utf8").replace(/^encryptionsalt: .*\n/m, "")).toBe(text);
        } finally {
            fs.rmSync(file, { force: true });
        }
    });
});
