import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateConfig } from "../../lib/config/schema";
import { parseLiveProbe, renderLiveProbe } from "../../lib/probe";
import { hostLockPath, unfinishedMark } from "../../lib/shell";
import { seedHosts } from "../helpers/seed";

// The live-state probe: a node is done only at the target with every node port answering a
// top-level UP. Run with bash on a fake install (no SSH), with curl replaced by a stub (no traffic).

function fakeHost(version: string, up: boolean) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "scm-probe-"));
    const install = path.join(root, "opt", "sequoiacm", "sequoiacm-config");
    fs.mkdirSync(path.join(install, "jars"), { recursive: true });
    fs.mkdirSync(path.join(install, "conf", "config-server", "8190"), { recursive: true });
    fs.writeFileSync(path.join(install, "jars", `sequoiacm-config-server-${version}.jar`), "");
    const bin = path.join(root, "bin");
    fs.mkdirSync(bin);
    const doc = up ? '{"status":"UP","diskSpace":{"status":"UP"}}' : '{"status":"DOWN","diskSpace":{"status":"UP"}}';
    fs.writeFileSync(path.join(bin, "curl"), `#!/bin/sh\necho "$*" >> "${root}/curl.log"\necho '${doc}'\n`, { mode: 0o755 });
    return { root, bin };
}

/** `before(stagingDir)` runs on the fake host before the probe: what an earlier run left there. */
async function probe(version: string, up: boolean, before?: (stagingDir: string) => Promise<() => void>) {
    const h = fakeHost(version, up);
    const after = before ? await before(path.join(h.root, "opt", "scm_upgrade")) : () => undefined;
    const r = validateConfig(
        {
            package: { remotePath: "/srv/sequoiacm-3.2.0-release.tar.gz" },
            ssh: { user: "scmadmin", privateKeyFile: "/keys/id" },
            installRoot: path.join(h.root, "opt", "sequoiacm"),
            stagingDir: path.join(h.root, "opt", "scm_upgrade"),
            hosts: seedHosts,
        },
        { fileExists: () => true, readable: () => true },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const text = renderLiveProbe(r.config, "C");
    const out = execFileSync("bash", ["-c", text], { encoding: "utf8", env: { ...process.env, PATH: `${h.bin}:${process.env.PATH}` } });
    after();
    const curl = fs.existsSync(path.join(h.root, "curl.log")) ? fs.readFileSync(path.join(h.root, "curl.log"), "utf8") : "";
    fs.rmSync(h.root, { recursive: true, force: true });
    // Host C also runs cloud and content-server, not installed in this fake: only config-server matters here.
    return { nodes: parseLiveProbe("C", out).filter((n) => n.service === "config-server"), curl };
}

describe("live-state probe", () => {
    test("at the target and UP: done", async () => {
        const r = await probe("3.2.0", true);
        expect(r.nodes).toEqual([{ host: "C", service: "config-server", version: "3.2.0", done: true, detail: "at 3.2.0, healthy" }]);
        expect(r.curl).toContain(":8190/internal/v1/health");
    });
    test("at the target, top-level DOWN under nested UP: not done", async () => {
        expect((await probe("3.2.0", false)).nodes[0]).toMatchObject({ done: false, detail: "at 3.2.0, not running or not healthy: 8190" });
    });
    test("not at the target: not done, and no health read needed", async () => {
        const r = await probe("3.1.2", true);
        expect(r.nodes[0]).toMatchObject({ version: "3.1.2", done: false, detail: "installed 3.1.2" });
        expect(r.curl).toBe("");
    });
    test("at the target and UP, but an earlier run's upgrade did not finish (its mark is there): not done", async () => {
        const r = await probe("3.2.0", true, async (staging) => {
            const mark = unfinishedMark(staging, "sequoiacm-config", "3.2.0");
            fs.mkdirSync(path.dirname(mark), { recursive: true });
            fs.writeFileSync(mark, "");
            return () => undefined;
        });
        expect(r.nodes[0]).toMatchObject({
            version: "3.2.0",
            done: false,
            detail: "at 3.2.0, the upgrade of an earlier run did not finish (its nodes may not run as they did before)",
        });
    });
    test("at the target and UP, but a script of another run holds the host's lock: not done", async () => {
        let holder: ReturnType<typeof spawn> | undefined;
        let lock = "";
        const r = await probe("3.2.0", true, async (staging) => {
            lock = hostLockPath(staging);
            fs.mkdirSync(staging, { recursive: true });
            fs.writeFileSync(lock, "");
            // a script at work: it holds the lock on a descriptor of its own, as the node script does
            const h = spawn("bash", ["-c", 'exec 9<"$1"; flock 9; echo locked; sleep 30', "holder", lock], { stdio: ["ignore", "pipe", "inherit"] });
            holder = h;
            await new Promise<void>((res) => h.stdout?.once("data", () => res()));
            return () => h.kill("SIGKILL");
        });
        expect(holder?.killed).toBe(true);
        expect(r.nodes[0]).toMatchObject({
            version: "3.2.0",
            done: false,
            detail: `installed 3.2.0, a script of another run is at work on the host (it holds ${lock})`,
        });
        // Once it is gone, the same host reads done.
        const free = await probe("3.2.0", true, async (staging) => {
            fs.mkdirSync(staging, { recursive: true });
            fs.writeFileSync(hostLockPath(staging), "");
            return () => undefined;
        });
        expect(free.nodes[0]).toMatchObject({ done: true });
    });
});
