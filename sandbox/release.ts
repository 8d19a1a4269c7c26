import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { renderAsset, writeServiceBinaries } from "./install";
import { RELEASE_NAME, ScriptBehaviour, TARGET_VERSION } from "./state";
import { SANDBOX_SERVICES, SERVICE_LAYOUT } from "./topology";

// Fixed archive metadata, so the same assets always give the same bytes (and the same sha256).
const TAR_FLAGS = ["--sort=name", "--mode=a+rX,go-w", "--mtime=2023-06-01 00:00:00Z", "--owner=0", "--group=0", "--numeric-owner"];

function tarGz(cwd: string, entry: string, out: string): void {
    execFileSync("bash", ["-c", 'set -o pipefail; tar "${@:3}" -C "$1" -cf - "$2" | gzip -n -9 > "$0"', out, cwd, entry, ...TAR_FLAGS], {
        stdio: ["ignore", "ignore", "pipe"],
    });
}

/**
 * The first line of the sandbox's `scmupgrade.py`. The vendor's names `/usr/bin/python` (reference section 3); the
 * sandbox's hosts share one machine, so each host's `/usr/bin/python` is `<host root>/usr/bin/python`, reached from
 * the folder the script runs in (`<host root>/opt/scm_upgrade/sequoiacm`, where the vendor's procedure and the tool
 * run it): the kernel resolves `/proc/self/cwd/../../..` to that host's root. The `interpreter` fault removes or
 * replaces that file (sandbox/faults.ts).
 */
export const SCRIPT_INTERPRETER = "/proc/self/cwd/../../../usr/bin/python";

/** Marks the 3.2.0 script as Python 2 only, for the sandbox's stand-in Python 3 (see faults.ts, `interpreter: python3`). */
export const PYTHON2_ONLY_MARK = "# scm-sandbox: python2-only";

/** The sandbox's `scmupgrade.py` in one of the vendor's two behaviours. */
export function renderUpgradeScript(behaviour: ScriptBehaviour): string {
    const lines = renderAsset("scmupgrade.py").split("\n");
    if (lines[0] !== "#!/usr/bin/python") throw new Error("assets/scmupgrade.py must start with the vendor's #!/usr/bin/python");
    lines[0] = `#!${SCRIPT_INTERPRETER}`;
    const at = lines.indexOf("# @@SANDBOX_BEHAVIOUR@@");
    if (at < 0) throw new Error("assets/scmupgrade.py lacks the # @@SANDBOX_BEHAVIOUR@@ line.");
    const head = [`BEHAVIOUR = ${JSON.stringify(behaviour)}`];
    if (behaviour === "3.2.0") head.push(`${PYTHON2_ONLY_MARK} (stands for the vendor's "import commands" and "except X, e": Python 3 cannot compile it)`);
    lines.splice(at, 1, ...head);
    return lines.join("\n");
}

/**
 * Builds `<sandbox>/release/sequoiacm-3.2.0-release.tar.gz`: top folder `sequoiacm/` with `scmupgrade.py`
 * (in the given vendor behaviour) and `package/<install-folder>-3.2.0-release.tar.gz` per service (each holding `<install-folder>/bin/`
 * and its jar folder). Returns the tarball's path. Byte-for-byte reproducible.
 */
export function buildRelease(sandboxDir: string, behaviour: ScriptBehaviour = "3.2.0"): string {
    const releaseDir = path.join(sandboxDir, "release");
    const build = path.join(releaseDir, "build");
    fs.rmSync(build, { recursive: true, force: true });
    const top = path.join(build, "sequoiacm");
    const pkgDir = path.join(top, "package");
    fs.mkdirSync(pkgDir, { recursive: true });
    // Mode 0644 on purpose: the vendor's procedure needs `chmod +x scmupgrade.py` and `chmod u+x bin/*.sh`.
    fs.writeFileSync(path.join(top, "scmupgrade.py"), renderUpgradeScript(behaviour), { mode: 0o644 });
    fs.chmodSync(path.join(top, "scmupgrade.py"), 0o644);
    for (const service of SANDBOX_SERVICES) {
        const folder = SERVICE_LAYOUT[service].folder;
        const svcBuild = path.join(build, "services");
        writeServiceBinaries(path.join(svcBuild, folder), service, TARGET_VERSION, 0o644);
        tarGz(svcBuild, folder, path.join(pkgDir, `${folder}-${TARGET_VERSION}-release.tar.gz`));
    }
    for (const d of [build, top, pkgDir]) fs.chmodSync(d, 0o755);
    const out = path.join(releaseDir, RELEASE_NAME);
    tarGz(build, "sequoiacm", `${out}.tmp`);
    fs.renameSync(`${out}.tmp`, out);
    fs.rmSync(build, { recursive: true, force: true });
    return out;
}
