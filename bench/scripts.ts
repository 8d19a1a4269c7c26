/**
 * The reference line of the bench, NOT the tool: the tool's exact shell texts (lib/shell.ts) sent
 * with the plain ssh client, in the order the tool's program chains them (components/RollingUpgrade.ts):
 * the preflight on every host, then staging on every host, then every node in plan order, batch
 * after batch. No engine, no state: it shows what the scripts themselves cost over SSH.
 */
import { effectiveHost, UpgradeConfig } from "../lib/config/schema";
import { mapLimit } from "../sandbox/cluster";
import { batches, nodeKey, Wave } from "../lib/plan";
import { preflightArgsFor, upgradeArgsFor } from "../lib/nodeArgs";
import { parseMarkers, renderPreflight, renderServiceUpgrade, renderUnpack } from "../lib/shell";
import { sshRun, SshTarget } from "../sandbox/ssh";

export interface ScriptsRun {
    seconds: number;
    preflightSeconds: number;
    stagingSeconds: number;
    upgradeSeconds: number;
    nodes: { key: string; result: string; seconds: number }[];
}

function target(c: UpgradeConfig, host: string): SshTarget {
    const h = c.hosts.find((x) => x.name === host);
    if (!h) throw new Error(`no host ${host}`);
    const e = effectiveHost(c, h);
    if (!e.privateKeyFile) throw new Error(`host ${host} has no key file`);
    return { address: h.address, port: e.port, user: e.user, keyPath: e.privateKeyFile };
}

async function must(c: UpgradeConfig, host: string, what: string, script: string, ok: (values: Record<string, string>) => boolean) {
    const r = await sshRun(target(c, host), script);
    const m = parseMarkers(r.stdout);
    if (r.code !== 0 || !ok(m.values)) {
        const failed = m.checks.filter((x) => x.status === "fail").map((x) => `${x.name}: ${x.detail}`);
        throw new Error(`${what} on ${host} failed (exit ${r.code}): ${m.values.reason ?? ""} ${failed.join("; ")} ${r.stderr.trim().slice(-400)}`);
    }
    return { ...r, markers: m };
}

/** Runs the whole upgrade with the tool's shell texts; rejects at the first failure. */
export async function runScripts(
    c: UpgradeConfig,
    waves: readonly Wave[],
    packagePath: string,
    log: (line: string) => void,
    concurrency = 16,
): Promise<ScriptsRun> {
    const t0 = Date.now();
    await mapLimit([...c.hosts], concurrency, async (h) => {
        // minFreeMb 200: what the program passes (components/RollingUpgrade.ts).
        await must(c, h.name, "preflight", renderPreflight(preflightArgsFor(c, h.name, 200)), (v) => v.result === "ok");
    });
    const t1 = Date.now();
    log(`scripts: preflight of ${c.hosts.length} hosts in ${((t1 - t0) / 1000).toFixed(1)} s`);
    await mapLimit([...c.hosts], concurrency, async (h) => {
        const e = effectiveHost(c, h);
        // The package is on the host (remotePath): the tool unpacks it with this one command, nothing before it.
        await must(
            c,
            h.name,
            "staging",
            renderUnpack({ stagingDir: e.stagingDir, tarballPath: packagePath, installUser: c.installUser, installGroup: c.installGroup, become: c.become }),
            (v) => v.result === "staged",
        );
    });
    const t2 = Date.now();
    log(`scripts: staging on ${c.hosts.length} hosts in ${((t2 - t1) / 1000).toFixed(1)} s`);
    const nodes: ScriptsRun["nodes"] = [];
    for (const w of waves) {
        const tw = Date.now();
        for (const batch of batches(w, c.parallelism)) {
            await Promise.all(
                batch.map(async (n) => {
                    const r = await must(
                        c,
                        n.host,
                        `upgrade of ${n.service}`,
                        renderServiceUpgrade(upgradeArgsFor(c, n.host, n.service)),
                        (v) => v.result === "upgraded" || v.result === "skipped",
                    );
                    nodes.push({ key: nodeKey(n), result: r.markers.values.result, seconds: r.ms / 1000 });
                }),
            );
        }
        log(`scripts: wave ${w.index}/${waves.length} ${w.id} (${w.nodes.map((n) => n.host).join(", ")}) in ${((Date.now() - tw) / 1000).toFixed(1)} s`);
    }
    const t3 = Date.now();
    return { seconds: (t3 - t0) / 1000, preflightSeconds: (t1 - t0) / 1000, stagingSeconds: (t2 - t1) / 1000, upgradeSeconds: (t3 - t2) / 1000, nodes };
}
