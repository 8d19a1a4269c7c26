import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { engineEnv, pulumiCommand } from "../../engine/env";

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
    });
});
