/**
 * The minimal times the critical path is made of, measured directly on the sandbox hosts (this
 * machine), with no SSH and no wrapper script:
 *   - staging once: the tool's own staging text (renderUnpack of the package on the host) run with bash;
 *   - one node: `scmupgrade.py --service S --install-path X --start` run in the host's staging
 *     folder, with the bench's slowdown in place, until every node of that service on that host
 *     answers healthy on the 3.2 endpoints (polled every 50 ms; content-server: Node-Status running).
 * Once per node shape (service x node types on the host): every node of a shape gets its time.
 * The nodes measured are upgraded by it: the caller resets the sandbox afterwards.
 */
import { spawn } from "child_process";
import * as path from "path";
import { effectiveHost, UpgradeConfig } from "../lib/config/schema";
import { nodeKey, PlanNode, Wave } from "../lib/plan";
import { renderUnpack } from "../lib/shell";
import { installDir, nodeHealth } from "../sandbox/cluster";
import { findHost, SandboxState } from "../sandbox/state";
import { SandboxService } from "../sandbox/topology";
import { nodeShape } from "./critical";

export interface Calibration {
    /** Minimal staging time of one host, seconds (the fastest of the hosts staged here). */
    stagingSeconds: number;
    /** Per shape: the host measured and its minimal time in seconds. */
    shapes: Record<string, { node: string; seconds: number; scriptSeconds: number }>;
}

function bash(script: string, cwd?: string): Promise<{ code: number; out: string; ms: number }> {
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const child = spawn("bash", ["-c", script], { cwd, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, out, ms: Date.now() - t0 }));
    });
}

export function shapeOf(state: SandboxState, node: Pick<PlanNode, "host" | "service">): string {
    const h = findHost(state, node.host);
    return nodeShape(
        node.service,
        h.nodes.filter((n) => n.service === node.service).map((n) => n.type),
    );
}

/** Seconds per node, from the calibration, by shape. */
export function nodeSecondsFrom(state: SandboxState, cal: Calibration): (n: PlanNode) => number {
    return (n) => {
        const s = cal.shapes[shapeOf(state, n)];
        if (!s) throw new Error(`no calibration for node ${nodeKey(n)} (shape ${shapeOf(state, n)})`);
        return s.seconds;
    };
}

export async function calibrate(state: SandboxState, c: UpgradeConfig, waves: readonly Wave[], log: (line: string) => void): Promise<Calibration> {
    const pick = new Map<string, PlanNode>();
    for (const w of waves) for (const n of w.nodes) if (!pick.has(shapeOf(state, n))) pick.set(shapeOf(state, n), n);
    const hosts = [...new Set([...pick.values()].map((n) => n.host))];
    let stagingMs = Infinity;
    for (const name of hosts) {
        const h = c.hosts.find((x) => x.name === name)!;
        const e = effectiveHost(c, h);
        // The package is on the host (remotePath, bench/config.ts): the tool's staging is this one command.
        const unpack = await bash(
            renderUnpack({
                stagingDir: e.stagingDir,
                tarballPath: state.packagePath,
                installUser: c.installUser,
                installGroup: c.installGroup,
                become: c.become,
            }),
        );
        if (unpack.code !== 0) throw new Error(`staging on ${name} failed: ${unpack.out}`);
        stagingMs = Math.min(stagingMs, unpack.ms);
    }
    const shapes: Calibration["shapes"] = {};
    for (const [shape, n] of pick) {
        const h = findHost(state, n.host);
        const install = installDir(h, n.service as SandboxService);
        const pkg = path.join(effectiveHost(c, c.hosts.find((x) => x.name === n.host)!).stagingDir, "sequoiacm");
        const t0 = Date.now();
        const r = await bash(`./scmupgrade.py --service ${n.service} --install-path '${install}' --start`, pkg);
        const scriptMs = Date.now() - t0;
        if (!r.out.includes("upgrade success!")) throw new Error(`calibration of ${nodeKey(n)}: scmupgrade.py failed:\n${r.out.slice(-600)}`);
        const ports = h.nodes.filter((x) => x.service === n.service).map((x) => x.port);
        const deadline = Date.now() + c.healthTimeoutSeconds * 1000;
        for (;;) {
            const health = await Promise.all(ports.map((p) => nodeHealth(h.address, n.service as SandboxService, p, c.targetVersion)));
            if (health.every((x) => x === "UP")) break;
            if (Date.now() > deadline) throw new Error(`calibration of ${nodeKey(n)}: not healthy in ${c.healthTimeoutSeconds}s (${health.join(", ")})`);
            await new Promise((res) => setTimeout(res, 50));
        }
        const seconds = (Date.now() - t0) / 1000;
        shapes[shape] = { node: nodeKey(n), seconds, scriptSeconds: scriptMs / 1000 };
        log(`minimal time of ${shape.padEnd(44)} ${seconds.toFixed(2)} s (scmupgrade.py ${(scriptMs / 1000).toFixed(2)} s, on ${nodeKey(n)})`);
    }
    return { stagingSeconds: stagingMs / 1000, shapes };
}
