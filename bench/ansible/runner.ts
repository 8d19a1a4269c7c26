/** Runs the generated playbook with Debian's ansible-playbook, streaming its plays as progress lines. */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { running } from "../../sandbox/ssh";
import { ansibleDir } from "./generate";

export function ansibleAvailable(): string | undefined {
    const r = spawnSync("ansible-playbook", ["--version"], { encoding: "utf8" });
    if (r.status !== 0) return undefined;
    return r.stdout.split("\n")[0].trim();
}

export interface AnsibleRun {
    code: number;
    seconds: number;
    log: string;
    /** The `fatal:`/`failed:` lines, when the run failed. */
    failures: string[];
}

export function runPlaybook(
    workDir: string,
    files: { inventory: string; playbook: string },
    logFile: string,
    progress: (line: string) => void,
): Promise<AnsibleRun> {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        ANSIBLE_CONFIG: path.join(ansibleDir, "ansible.cfg"),
        // Keep Ansible's own files in the bench's folder, not in ~/.ansible.
        ANSIBLE_HOME: path.join(workDir, "home"),
        ANSIBLE_LOCAL_TEMP: path.join(workDir, "tmp"),
        ANSIBLE_REMOTE_TEMP: path.join(workDir, "remote-tmp"),
        ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(workDir, "cp"),
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_FORCE_COLOR: "0",
        ANSIBLE_RETRY_FILES_ENABLED: "0",
    };
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const out = fs.openSync(logFile, "w");
        const child = spawn("ansible-playbook", ["-i", files.inventory, files.playbook], { env, cwd: workDir, stdio: ["ignore", "pipe", "pipe"] });
        running.add(child);
        const failures: string[] = [];
        let partial = "";
        let lastPlay = "";
        const onData = (d: Buffer) => {
            fs.writeSync(out, d);
            partial += d.toString("utf8");
            const lines = partial.split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) {
                const play = /^PLAY \[(.*)\] \*+$/.exec(line);
                // With `serial`, a play prints its header once per batch: say it once.
                if (play && play[1] !== lastPlay) progress(`ansible: ${play[1]}`);
                if (play) lastPlay = play[1];
                if (/^(fatal|failed):/.test(line)) {
                    failures.push(line);
                    progress(`ansible: ${line.slice(0, 300)}`);
                }
            }
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        child.on("error", (e) => {
            running.delete(child);
            fs.closeSync(out);
            reject(e);
        });
        child.on("close", (code) => {
            running.delete(child);
            fs.closeSync(out);
            resolve({ code: code ?? -1, seconds: (Date.now() - t0) / 1000, log: logFile, failures });
        });
    });
}
