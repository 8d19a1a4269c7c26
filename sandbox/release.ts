import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { renderAsset, writeServiceBinaries } from "./install";
import { RELEASE_NAME, TARGET_VERSION } from "./state";
import { SANDBOX_SERVICES, SERVICE_LAYOUT } from "./topology";

// Fixed archive metadata, so the same assets always give the same bytes (and the same sha256).
const TAR_FLAGS = ["--sort=name", "--mode=a+rX,go-w", "--mtime=2023-06-01 00:00:00Z", "--owner=0", "--group=0", "--numeric-owner"];

function tarGz(cwd: string, entry: string, out: string): void {
    execFileSync("bash", ["-c", 'set -o pipefail; tar "${@:3}" -C "$1" -cf - "$2" | gzip -n -9 > "$0"', out, cwd, entry, ...TAR_FLAGS], {
        stdio: ["ignore", "ignore", "pipe"],
    });
}

/**
 * Builds `<sandbox>/release/sequoiacm-3.2.0-release.tar.gz`: top folder `sequoiacm/` with `scmupgrade.py`
 * and `package/<install-folder>-3.2.0-release.tar.gz` per service (each holding `<install-folder>/bin/`
 * and its jar folder). Returns the tarball's path. Byte-for-byte reproducible.
 */
export function buildRelease(sandboxDir: string): string {
    const releaseDir = path.join(sandboxDir, "release");
    const build = path.join(releaseDir, "build");
    fs.rmSync(build, { recursive: true, force: true });
    const top = path.join(build, "sequoiacm");
    const pkgDir = path.join(top, "package");
    fs.mkdirSync(pkgDir, { recursive: true });
    // Mode 0644 on purpose: the vendor's procedure needs `chmod +x scmupgrade.py` and `chmod u+x bin/*.sh`.
    fs.writeFileSync(path.join(top, "scmupgrade.py"), renderAsset("scmupgrade.py"), { mode: 0o644 });
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
