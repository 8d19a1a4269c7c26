import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pulumiHome, stacksDir } from "../../engine/env";
import { writeSandboxStackConfig } from "../../sandbox/stackConfig";
import { useSandbox } from "../sandbox/fixture";
import { loggingPulumiHome, runCli } from "../helpers/cli";

// The SSH key the sandbox hands to the tool is stored only as a Pulumi secret: not in the stack
// file, not in the state, not in the CLI's output or its --json events, not in the arguments of any
// Pulumi CLI the tool starts (`ps` shows those to every user), and neither is the passphrase of the
// secrets provider. (Full runs through the engine need the command provider.)

const sb = useSandbox("secrets", 46);
const stack = "test-secrets";
const state = fs.mkdtempSync(path.join(os.tmpdir(), "scm-secrets-"));
const saved = { PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL, SCM_UPGRADE_PULUMI_HOME: process.env.SCM_UPGRADE_PULUMI_HOME };
const logging = loggingPulumiHome();
afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    fs.rmSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), { force: true });
    fs.rmSync(state, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return (fs.readdirSync(dir, { recursive: true }) as string[]).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile());
}

test("the SSH key and the passphrase appear nowhere in plain text", async () => {
    process.env.PULUMI_BACKEND_URL = `file://${state}`;
    // Every Pulumi CLI started from here on, by this process or the tool's, is the logging one.
    Object.assign(process.env, logging.env);
    await writeSandboxStackConfig(sb.state(), { stackName: stack });
    const key = fs.readFileSync(sb.state().clientKeyPath, "utf8");
    // The key's base64 body lines, long enough to be unmistakable.
    const needles = key.split("\n").filter((l) => l.length > 40);
    const passphraseFile = process.env.PULUMI_CONFIG_PASSPHRASE_FILE ?? path.join(pulumiHome(), "passphrase");
    if (fs.existsSync(passphraseFile)) needles.push(fs.readFileSync(passphraseFile, "utf8").trim());
    expect(needles.length).toBeGreaterThan(1);

    const outputs: string[] = [];
    const commands = [
        ["plan"],
        ["plan", "--json"],
        ["preflight"],
        ["preflight", "--json"],
        ["up", "--yes"],
        ["up", "--yes", "--json"],
        ["status"],
        ["status", "--json"],
        ["preview", "--json"],
    ];
    for (const args of commands) {
        const r = runCli([...args, "--stack", stack]);
        expect(`${args.join(" ")}: exit ${r.code}`).toBe(`${args.join(" ")}: exit 0`);
        outputs.push(r.stdout, r.stderr);
    }
    const stackFile = fs.readFileSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), "utf8");
    expect(stackFile).toMatch(/scm-upgrade:sshPrivateKey:\s*\n\s*secure: v1:/);
    const haystacks: [string, string][] = [
        ["stack file", stackFile],
        ...filesUnder(state).map((f): [string, string] => [f, fs.readFileSync(f, "utf8")]),
        ...outputs.map((o, i): [string, string] => [`cli output ${i}`, o]),
        ...logging.argv().map((a): [string, string] => [`pulumi ${a.slice(0, 3).join(" ")}: its arguments`, a.join(" ")]),
    ];
    // The runs above started the CLI (the stack's writing, the preflight's throwaway stack, the engine).
    expect(logging.commands()).toEqual(expect.arrayContaining(["config", "up", "preview"]));
    const hits = haystacks.flatMap(([where, text]) => needles.filter((n) => text.includes(n)).map(() => where));
    expect(hits).toEqual([]);
});
