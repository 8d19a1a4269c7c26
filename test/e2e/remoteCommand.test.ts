import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { engineEnv, pulumiCommand } from "../../engine/env";
import { SshdHandle, startSshd } from "../../sandbox/sshd";
import { describeWithProvider } from "../helpers/engine";

// The foundation's proof: the real engine and the real command provider run a command over real
// SSH (OpenSSH sshd on loopback), with the key passed as a Pulumi secret.
describeWithProvider("remote.Command over SSH with the real engine", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-remote-"));
    let sshd: SshdHandle;
    beforeAll(async () => {
        sshd = await startSshd({ address: "127.0.9.1", dir: path.join(tmp, "sshd") });
    });
    afterAll(async () => {
        await sshd?.stop();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    test("up runs it, a second up changes nothing, destroy cleans up", async () => {
        const program = async () => {
            const cmd = new remote.Command("hello", {
                connection: { host: sshd.address, port: sshd.port, user: sshd.user, privateKey: pulumi.secret(sshd.clientPrivateKey) },
                create: "echo hello from $(hostname) as $(id -un) on $SSH_CONNECTION",
            });
            return { stdout: cmd.stdout };
        };
        fs.mkdirSync(path.join(tmp, "state"), { recursive: true });
        const stack = await LocalWorkspace.createOrSelectStack(
            { stackName: "remote-probe", projectName: "scm-upgrade-remote-test", program },
            { workDir: tmp, envVars: engineEnv({ backendUrl: `file://${tmp}/state` }), pulumiCommand: await pulumiCommand() },
        );
        const first = await stack.up();
        expect(first.summary.resourceChanges).toEqual({ create: 2 });
        expect(first.outputs.stdout.value).toMatch(
            new RegExp(`^hello from .+ as ${sshd.user} on \\S+ \\d+ ${sshd.address.replace(/\./g, "\\.")} ${sshd.port}$`),
        );
        const second = await stack.up();
        expect(second.summary.resourceChanges).toEqual({ same: 2 });
        // What is stored: the state file on disk (the Automation API's exportStack shows secrets in clear by design).
        const stateFile = path.join(tmp, "state", ".pulumi", "stacks", "scm-upgrade-remote-test", "remote-probe.json");
        const stored = fs.readFileSync(stateFile, "utf8");
        expect(stored).toContain("command:remote:Command::hello");
        expect(stored).not.toContain(sshd.clientPrivateKey.split("\n")[1]);
        expect(stored).not.toContain("BEGIN OPENSSH PRIVATE KEY");
        const destroyed = await stack.destroy();
        expect(destroyed.summary.resourceChanges).toEqual({ delete: 2 });
    });
});
