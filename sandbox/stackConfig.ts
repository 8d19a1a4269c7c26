import * as fs from "fs";
import * as path from "path";
import { SandboxState } from "./state";

export const SANDBOX_STACK = "sandbox";
const NS = "scm-upgrade";

/** One host entry of `scm-upgrade:hosts` (docs/architecture.md). */
export interface SandboxStackHost {
    name: string;
    address: string;
    center: "primary" | "standby";
    services: string[];
    site?: string;
    rootSite?: boolean;
    installRoot: string;
    stagingDir: string;
}

/**
 * The plain (non-secret) stack config of the sandbox, keyed by full config key: everything the upgrade
 * tool needs to upgrade the sandbox, and nothing that tells it it is a sandbox.
 */
export function sandboxStackConfig(state: SandboxState): Record<string, unknown> {
    const hosts: SandboxStackHost[] = state.hosts.map((h) => {
        const e: SandboxStackHost = {
            name: h.name,
            address: h.address,
            center: h.center,
            services: [...h.services],
            installRoot: h.installRoot,
            stagingDir: h.stagingDir,
        };
        if (h.site) {
            e.site = h.site;
            e.rootSite = !!h.rootSite;
        }
        return e;
    });
    const port = state.hosts[0]?.sshPort ?? 22;
    return {
        [`${NS}:targetVersion`]: state.targetVersion,
        [`${NS}:sourceVersion`]: state.sourceVersion,
        [`${NS}:package`]: { localPath: state.packagePath },
        [`${NS}:installUser`]: state.user,
        [`${NS}:installGroup`]: state.group,
        [`${NS}:become`]: "login",
        [`${NS}:ssh`]: { user: state.user, port, privateKeyFile: state.clientKeyPath },
        [`${NS}:hosts`]: hosts,
    };
}

/**
 * The same plain config in the format of `pulumi config --json` (what `config set-all --json` reads). No secret:
 * set-all takes its JSON as a CLI argument, which `ps` shows every user (secrets go as `scm-upgrade secret` stores them).
 */
export function toConfigJson(plain: Record<string, unknown>): string {
    const out: Record<string, { value: string; objectValue?: unknown; secret: boolean }> = {};
    for (const [k, v] of Object.entries(plain)) {
        out[k] = typeof v === "string" ? { value: v, secret: false } : { value: JSON.stringify(v), objectValue: v, secret: false };
    }
    return JSON.stringify(out);
}

export interface WriteResult {
    written: "stack" | "file";
    /** The stack's config file, or the JSON file written instead. */
    path: string;
    warning?: string;
}

/**
 * Writes the config of stack `sandbox` through the Automation API (creating the stack when needed),
 * with the client key also as the secret `scm-upgrade:sshPrivateKey`; `extra` (full keys) is set too, over the
 * sandbox's values. Without a Pulumi CLI, writes the
 * plain part to `<sandbox>/stack-config.json` and returns a warning instead.
 */
export async function writeSandboxStackConfig(
    state: SandboxState,
    o: { stackName?: string; log?: (l: string) => void; extra?: Record<string, unknown> } = {},
): Promise<WriteResult> {
    const stackName = o.stackName ?? SANDBOX_STACK;
    const plain = { ...sandboxStackConfig(state), ...o.extra };
    const fallback = path.join(state.dir, "stack-config.json");
    fs.writeFileSync(fallback, JSON.stringify(plain, null, 2) + "\n");
    const env = await import("../engine/env");
    if (!env.toolchainPresent()) {
        const warning =
            `No Pulumi CLI yet (run \`npm run bootstrap\`): the config of stack ${stackName} was not written; ` +
            `its plain part is in ${fallback}. Run \`npm run sandbox -- up\` again after the bootstrap.`;
        o.log?.(`warning: ${warning}`);
        return { written: "file", path: fallback, warning };
    }
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    const ws = await LocalWorkspace.create(await env.workspaceOptions());
    const stack = await ws
        .selectStack(stackName)
        .then(() => undefined)
        .catch(() => ws.createStack(stackName));
    void stack;
    // set-all --json keeps objects and lists structured in Pulumi.<stack>.yaml (and replaces them whole). The key
    // goes as `scm-upgrade secret` stores it, on the CLI's standard input: an argument is visible to every user in `ps`.
    await ws.setAllConfigJson(stackName, toConfigJson(plain));
    const { setStackSecret } = await import("../engine/secrets");
    await setStackSecret({ stack: stackName }, "sshPrivateKey", fs.readFileSync(state.clientKeyPath, "utf8"));
    const file = path.join(env.stacksDir, `Pulumi.${stackName}.yaml`);
    o.log?.(`stack config of stack ${stackName} written: ${path.relative(process.cwd(), file) || file}`);
    return { written: "stack", path: file };
}
