import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pulumiBinary, pulumiHome } from "../../engine/env";
import { projectRoot } from "../../engine/paths";

/** `scm-upgrade` as a subprocess, as a user or a pipeline runs it: no TTY, empty stdin. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120000) {
    const r = spawnSync(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), ...args], {
        cwd: projectRoot,
        encoding: "utf8",
        env: { ...process.env, ...env },
        input: "",
        timeout: timeoutMs,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `runCli` without blocking this process: for tests that serve something the run needs from this process
 * (a bastion's listener). Killed after `timeoutMs`.
 */
export function runCliAsync(
    args: string[],
    env: Record<string, string> = {},
    timeoutMs = 600000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), ...args], {
            cwd: projectRoot,
            env: { ...process.env, ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
}

/**
 * `scm-upgrade` started as a subprocess and left running: the child (for signals) and its end, with stdout and
 * stderr together in the order they came and the time it closed.
 */
export function startCli(args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, [path.join(projectRoot, "bin", "scm-upgrade.js"), ...args], {
        cwd: projectRoot,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const done = new Promise<{ code: number | null; out: string; at: number }>((resolve) =>
        child.on("close", (code) => resolve({ code, out, at: Date.now() })),
    );
    return { child, done };
}

/**
 * A Pulumi home whose `pulumi` notes every command it is asked to run, with all its arguments, then runs the
 * real CLI (its plugins are the real home's; the stack's passphrase too). `commands()`: the first word of each,
 * in order (`pulumi version`, the Automation API's check, left out); `argv()`: every run's whole argument list;
 * `inputs()`: what reached a run other than its arguments and is not meant to be secret: a file named with
 * `--file`, and the standard input of `stack import` (a state). Removed after the file's tests.
 */
export function loggingPulumiHome(): {
    env: Record<string, string>;
    home: string;
    commands: () => string[];
    argv: () => string[][];
    inputs: () => { name: string; text: string }[];
} {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "scm-logging-home-"));
    const log = path.join(home, "commands.log");
    const kept = path.join(home, "inputs");
    fs.mkdirSync(path.join(home, "bin"));
    fs.mkdirSync(kept);
    const real = fs.realpathSync(pulumiBinary());
    // One line per run: each argument base64-encoded (an argument may hold line ends), separated by spaces.
    fs.writeFileSync(
        path.join(home, "bin", "pulumi"),
        [
            "#!/bin/sh",
            `{ for a in "$@"; do printf '%s' "$a" | base64 -w0; printf ' '; done; echo; } >> '${log}'`,
            `n=$(wc -l < '${log}'); prev=""`,
            `file=""; for a in "$@"; do [ "$prev" = --file ] && [ -f "$a" ] && cp -- "$a" '${kept}'/"$n-file" && file=$a; prev=$a; done`,
            // stdin only when it is the state (no --file): the caller may leave a --file run's stdin open
            `if [ "$1" = stack ] && [ "$2" = import ] && [ -z "$file" ]; then cat > '${kept}'/"$n-stdin"; exec '${real}' "$@" < '${kept}'/"$n-stdin"; fi`,
            `exec '${real}' "$@"`,
            "",
        ].join("\n"),
        { mode: 0o755 },
    );
    fs.symlinkSync(path.join(pulumiHome(), "plugins"), path.join(home, "plugins"));
    fs.writeFileSync(path.join(home, "logs"), ""); // no automatic logs (engine/env.ts quietEngineLogs)
    afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
    const passphrase = process.env.PULUMI_CONFIG_PASSPHRASE_FILE ?? path.join(pulumiHome(), "passphrase");
    const argv = () =>
        fs.existsSync(log)
            ? fs
                  .readFileSync(log, "utf8")
                  .split("\n")
                  .filter((l) => l.trim())
                  .map((l) =>
                      l
                          .trim()
                          .split(" ")
                          .map((a) => Buffer.from(a, "base64").toString("utf8")),
                  )
            : [];
    return {
        env: { SCM_UPGRADE_PULUMI_HOME: home, ...(process.env.PULUMI_CONFIG_PASSPHRASE === undefined ? { PULUMI_CONFIG_PASSPHRASE_FILE: passphrase } : {}) },
        home,
        commands: () =>
            argv()
                .map((a) => a[0] ?? "")
                .filter((c) => c !== "version"),
        argv,
        inputs: () => fs.readdirSync(kept).map((name) => ({ name, text: fs.readFileSync(path.join(kept, name), "utf8") })),
    };
}

/**
 * `scm-upgrade <args>` on a terminal (a pseudo-terminal from python3's pty): once `prompt` has been printed,
 * `keys` are typed (e.g. "n\r", or "\x03" for Ctrl-C). The exit code and everything the terminal showed.
 */
export function runCliOnTerminal(args: string[], env: Record<string, string>, prompt: string, keys: string): { code: number; out: string } {
    const script = [
        "import json, os, pty, sys, time",
        "pid, fd = pty.fork()",
        "if pid == 0:",
        "    os.execv(sys.argv[2], sys.argv[2:])",
        "prompt = sys.argv[1].encode()",
        "out = b''",
        "sent = False",
        "while True:",
        "    try: chunk = os.read(fd, 4096)",
        "    except OSError: break",
        "    if not chunk: break",
        "    out += chunk",
        "    if not sent and prompt in out:",
        "        time.sleep(0.2); os.write(fd, sys.stdin.buffer.read()); sent = True",
        "_, status = os.waitpid(pid, 0)",
        "print(json.dumps({'code': os.waitstatus_to_exitcode(status), 'out': out.decode()}))",
    ].join("\n");
    const r = spawnSync("python3", ["-c", script, prompt, process.execPath, path.join(projectRoot, "bin", "scm-upgrade.js"), ...args], {
        cwd: projectRoot,
        encoding: "utf8",
        env: { ...process.env, ...env },
        input: keys,
        timeout: 120000,
    });
    return JSON.parse(r.stdout) as { code: number; out: string };
}
