import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pulumiHome, stacksDir } from "../../engine/env";
import { writeSandboxStackConfig } from "../../sandbox/stackConfig";
import { useSandbox } from "../sandbox/fixture";
import { runCli } from "../helpers/cli";

// The SSH key the sandbox hands to the tool is stored only as a Pulumi secret: not in the stack
// file, not in the state, not in the CLI's output or its --json events, and neither is the
// passphrase of the secrets provider. (Full runs through the engine need the command provider.)

const sb = useSandbox("secrets", 46);
const stack = "test-secrets";
const state = fs.mkdtempSync(path.join(os.tmpdir(), "scm-secrets-"));
const saved = process.env.PULUMI_BACKEND_URL;
afterAll(() => {
    if (saved === undefined) delete process.env.PULUMI_BACKEND_URL;
    else process.env.PULUMI_BACKEND_URL = saved;
    fs.rmSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), { force: true });
    fs.rmSync(state, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return (fs.readdirSync(dir, { recursive: true }) as string[]).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile());
}

test("the SSH key and the passphrase appear nowhere in plain text", async () => {
    process.env.PULUMI_BACKEND_URL = `file://${state}`;
    await writeSandboxStackConfig(sb.state(), { stackName: stack });
    const key = fs.readFileSync(sb.state().clientKeyPath, "utf8");
    // The key's base64 body lines, long enough to be unmistakable.
    const needles = key.split("\n").filter((l) => l.length > 40);
    const passphraseFile = process.env.PULUMI_CONFIG_PASSPHRASE_FILE ?? path.join(pulumiHome(), "passphrase");
    if (fs.existsSync(passphraseFile)) needles.push(fs.readFileSync(passphraseFile, "utf8").trim());
    expect(needles.length).toBeGreaterThan(1);

    const outputs: string[] = [];
    for (const args of [["plan"], ["plan", "--json"], ["up", "--yes"], ["up", "--yes", "--json"], ["status"], ["preview", "--json"]]) {
        const r = runCli([...args, "--stack", stack]);
        outputs.push(r.stdout, r.stderr);
    }
    const stackFile = fs.readFileSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), "utf8");
    expect(stackFile).toMatch(/scm-upgrade:sshPrivateKey:\s*\n\s*secure: v1:/);
    const haystacks: [string, string][] = [
        ["stack file", stackFile],
        ...filesUnder(state).map((f): [string, string] => [f, fs.readFileSync(f, "utf8")]),
        ...outputs.map((o, i): [string, string] => [`cli output ${i}`, o]),
    ];
    const hits = haystacks.flatMap(([where, text]) => needles.filter((n) => text.includes(n)).map(() => where));
    expect(hits).toEqual([]);
});
