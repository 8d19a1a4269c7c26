/**
 * The tool itself, as a user runs it: `node bin/scm-upgrade.js <command> --stack <bench stack>`, a
 * subprocess with its own stack config file in stacks/ (`Pulumi.bench-*.yaml`, git-ignored, removed
 * afterwards) and its own file backend in the bench's temp folder (never the project's .state/).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { projectRoot, stacksDir } from "../engine/env";
import { running } from "../sandbox/ssh";

/** Stack files written by this process, removed by `removeStackFiles` (and at exit by the caller). */
export const stackFiles = new Set<string>();

export function writeStackFile(stack: string, raw: Record<string, unknown>): string {
    if (!/^bench-[A-Za-z0-9-]+$/.test(stack)) throw new Error(`bench stacks are named bench-*, not ${stack}`);
    const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
    const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`scm-upgrade:${k}`, v]));
    fs.writeFileSync(file, "# Written by `npm run bench`; removed when it ends.\n" + yaml.dump({ config }, { lineWidth: 200 }));
    stackFiles.add(file);
    return file;
}

/**
 * The stack of a timed run, set up as the README advises an operator (not timed): the SSH key stored as a
 * Pulumi secret with `scm-upgrade secret sshPrivateKey --from`, which also makes the stack in its backend,
 * instead of `ssh.privateKeyFile`. Every run then opens that secret, as an operator's does.
 */
export async function writeToolStack(
    stack: string,
    raw: Record<string, unknown>,
    keyFile: string,
    o: { backendDir: string; backendUrl?: string; workDir: string },
): Promise<void> {
    const { privateKeyFile: _file, ...ssh } = (raw.ssh ?? {}) as Record<string, unknown>;
    writeStackFile(stack, { ...raw, ssh });
    const r = await runCli(["secret", "sshPrivateKey", "--stack", stack, "--from", keyFile], o);
    if (r.code !== 0) throw new Error(`storing the SSH key of bench stack ${stack} failed (exit ${r.code}): ${r.stderr.trim().split("\n").pop()}`);
}

export function removeStackFiles(): void {
    for (const f of stackFiles) {
        fs.rmSync(f, { force: true });
        stackFiles.delete(f);
    }
}

export interface CliRun {
    code: number;
    seconds: number;
    stdout: string;
    stderr: string;
    /** Peak RSS of the Node.js process of the tool (the driver), KiB; the Pulumi engine is another process. */
    maxRssKiB?: number;
    /** When the process was started (epoch ms). */
    startedAt: number;
}

/**
 * Runs `scm-upgrade <args>` with the bench's backend (a `file://` folder, or `backendUrl` such as a
 * postgres:// URL); stderr lines go to `progress` as they come.
 */
export function runCli(args: string[], o: { backendDir: string; backendUrl?: string; workDir: string; progress?: (line: string) => void }): Promise<CliRun> {
    const rssFile = path.join(o.workDir, `maxrss-${process.pid}-${Date.now()}`);
    if (!o.backendUrl) fs.mkdirSync(o.backendDir, { recursive: true });
    const env = { ...process.env, PULUMI_BACKEND_URL: o.backendUrl ?? `file://${o.backendDir}`, SCM_BENCH_MAXRSS_FILE: rssFile };
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const child = spawn(process.execPath, ["-r", path.join(__dirname, "maxrss.cjs"), path.join(projectRoot, "bin", "scm-upgrade.js"), ...args], {
            cwd: projectRoot,
            env,
            stdio: ["ignore", "pipe", "pipe"],
        });
        running.add(child);
        let stdout = "";
        let stderr = "";
        let partial = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => {
            stderr += d;
            partial += d;
            const lines = partial.split("\n");
            partial = lines.pop() ?? "";
            for (const l of lines) if (l.trim()) o.progress?.(l);
        });
        child.on("error", (e) => {
            running.delete(child);
            reject(e);
        });
        child.on("close", (code) => {
            running.delete(child);
            const seconds = (Date.now() - t0) / 1000;
            let maxRssKiB: number | undefined;
            try {
                maxRssKiB = Number(fs.readFileSync(rssFile, "utf8"));
                fs.rmSync(rssFile, { force: true });
            } catch {
                maxRssKiB = undefined;
            }
            resolve({ code: code ?? -1, seconds, stdout, stderr, maxRssKiB, startedAt: t0 });
        });
    });
}
