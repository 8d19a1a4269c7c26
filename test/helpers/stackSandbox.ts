import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stacksDir, workspaceOptions } from "../../engine/env";
import { loadFromConfigMap } from "../../lib/config/load";
import { UpgradeConfig } from "../../lib/config/schema";
import { sandboxStackConfig, toConfigJson, writeSandboxStackConfig } from "../../sandbox/stackConfig";
import { SandboxFixture, useSandbox } from "../sandbox/fixture";
import { runCli } from "./cli";

/**
 * A sandbox of `hosts` hosts with its own stack and state, whose config also sets `extra` (keys without their
 * namespace, e.g. `{ parallelism: 3 }`); `cli` runs `scm-upgrade` as a subprocess on that stack.
 */
export function useStackSandbox(name: string, net: number, o: { hosts?: number; extra?: Record<string, unknown> } = {}) {
    const sb: SandboxFixture = useSandbox(name, net, { hosts: o.hosts });
    const stack = `test-${name}`;
    const state = fs.mkdtempSync(path.join(os.tmpdir(), `scm-${name}-state-`));
    const env = { PULUMI_BACKEND_URL: `file://${state}` };
    const saved = process.env.PULUMI_BACKEND_URL;
    const extra: Record<string, unknown> = Object.fromEntries(Object.entries(o.extra ?? {}).map(([k, v]) => [`scm-upgrade:${k}`, v]));
    /** Sets more config keys (without their namespace) on the stack, as `pulumi config set` would. */
    const configure = async (more: Record<string, unknown>) => {
        const keyed = Object.fromEntries(Object.entries(more).map(([k, v]) => [`scm-upgrade:${k}`, v]));
        Object.assign(extra, keyed);
        const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
        const ws = await LocalWorkspace.create(await workspaceOptions());
        await ws.setAllConfigJson(stack, toConfigJson(keyed));
    };
    beforeAll(async () => {
        process.env.PULUMI_BACKEND_URL = env.PULUMI_BACKEND_URL;
        await writeSandboxStackConfig(sb.state(), { stackName: stack, extra });
    }, 120000);
    afterAll(() => {
        if (saved === undefined) delete process.env.PULUMI_BACKEND_URL;
        else process.env.PULUMI_BACKEND_URL = saved;
        fs.rmSync(path.join(stacksDir, `Pulumi.${stack}.yaml`), { force: true });
        fs.rmSync(state, { recursive: true, force: true });
    });
    const cli = (args: string[]) => runCli([...args, "--stack", stack], env, 600000);
    /** The validated config of the stack, as the tool sees it. */
    const config = (): UpgradeConfig => {
        const plain = { ...sandboxStackConfig(sb.state()), ...extra };
        const r = loadFromConfigMap(Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
        if (!r.ok) throw new Error(JSON.stringify(r.problems));
        return r.config;
    };
    return { sb, stack, cli, config, configure };
}
