import * as fs from "fs";
import * as path from "path";
import { SandboxHostState } from "./state";
import { SandboxService, SERVICE_LAYOUT } from "./topology";

export const assetsDir = path.join(__dirname, "assets");
const COMMON_MARKER = "# @@SANDBOX_COMMON@@";

export type AssetName = "scmctl.py" | "scmnode.py" | "scmupgrade.py";

const rendered = new Map<AssetName, string>();

/** A Python asset with the shared code of `assets/common.py` inlined, so each installed file stands alone. */
export function renderAsset(name: AssetName): string {
    let text = rendered.get(name);
    if (text === undefined) {
        const body = fs.readFileSync(path.join(assetsDir, name), "utf8");
        const common = fs.readFileSync(path.join(assetsDir, "common.py"), "utf8").trimEnd();
        if (!body.includes(COMMON_MARKER)) throw new Error(`${name} lacks the ${COMMON_MARKER} line.`);
        text = body.replace(COMMON_MARKER, () => common);
        rendered.set(name, text);
    }
    return text;
}

/** The bash control script `bin/<ctl>` of one service and tools version: it hands over to `sandbox_ctl.py`. */
export function renderCtlScript(service: SandboxService, version: string): string {
    const ctl = SERVICE_LAYOUT[service].ctl;
    return [
        "#!/bin/bash",
        `# SequoiaCM ${version} control script for ${service} nodes (scm-upgrade sandbox).`,
        "# Every control script shares one implementation: sandbox_ctl.py next to it.",
        'bin_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        "py=/usr/bin/python3",
        '[ -x "$py" ] || py=python3',
        `exec "$py" -S -B "$bin_dir/sandbox_ctl.py" ${service} ${version} ${ctl} "$@"`,
        "",
    ].join("\n");
}

export function jarNames(service: SandboxService, version: string): string[] {
    return Object.values(SERVICE_LAYOUT[service].jars).map((stem) => `${stem}-${version}.jar`);
}

/**
 * Writes the version-specific binaries of a service into `folder`: `bin/` (control script and the
 * shared sandbox scripts) and the jar folder with placeholder jars. `scriptMode` is the mode of `bin/*.sh`.
 */
export function writeServiceBinaries(folder: string, service: SandboxService, version: string, scriptMode = 0o755): void {
    const layout = SERVICE_LAYOUT[service];
    const bin = path.join(folder, "bin");
    const jars = path.join(folder, layout.jarDir);
    fs.mkdirSync(bin, { recursive: true });
    fs.mkdirSync(jars, { recursive: true });
    fs.writeFileSync(path.join(bin, layout.ctl), renderCtlScript(service, version), { mode: scriptMode });
    fs.chmodSync(path.join(bin, layout.ctl), scriptMode);
    fs.writeFileSync(path.join(bin, "sandbox_ctl.py"), renderAsset("scmctl.py"), { mode: 0o644 });
    fs.writeFileSync(path.join(bin, "sandbox_node.py"), renderAsset("scmnode.py"), { mode: 0o644 });
    for (const jar of jarNames(service, version)) {
        fs.writeFileSync(path.join(jars, jar), `placeholder jar of the scm-upgrade sandbox: ${jar}\n`);
    }
}

/** `conf/<type>/<port>/application.properties` text of one node (reference section 2 and 4 keys). */
export function renderProperties(host: SandboxHostState, type: string, port: number, serviceCenter: string): string {
    const lines = [`server.port=${port}`];
    if (type === "content-server") {
        lines.push(`spring.application.name=${host.site}`);
    } else {
        lines.push(`spring.application.name=${type}`);
    }
    lines.push(`eureka.client.service-url.defaultZone=http://${serviceCenter}/eureka/`);
    lines.push(`eureka.instance.metadata-map.zone=${host.center === "primary" ? "zone1" : "zone2"}`);
    if (type === "service-center") {
        // 3.2.0 requires the metadata source of service-center before the upgrade (reference section 4).
        lines.push("scm.store.sequoiadb.urls=127.0.0.1:11810");
        lines.push("scm.store.sequoiadb.username=sdbadmin");
        lines.push("scm.store.sequoiadb.password=/opt/sequoiacm/secret/metasource.pwd");
    }
    return lines.join("\n") + "\n";
}

/** The host descriptor the sandbox scripts find by walking up from their own folder. */
export function writeHostDescriptor(host: SandboxHostState, sandboxDir: string): void {
    const d = { name: host.name, address: host.address, center: host.center, sshPort: host.sshPort, sandboxDir };
    fs.mkdirSync(host.hostDir, { recursive: true });
    fs.writeFileSync(path.join(host.hostDir, "sandbox-host.json"), JSON.stringify(d, null, 2) + "\n");
}

/**
 * A fresh SequoiaCM install of `version` on one host: per service the install folder with `bin/`,
 * jars, `conf/<type>/<port>/application.properties` and `log/`; the empty staging folder.
 */
export function installHost(host: SandboxHostState, sandboxDir: string, version: string, serviceCenterOf: (h: SandboxHostState) => string): void {
    writeHostDescriptor(host, sandboxDir);
    fs.mkdirSync(host.stagingDir, { recursive: true });
    for (const service of host.services) {
        const install = path.join(host.installRoot, SERVICE_LAYOUT[service].folder);
        writeServiceBinaries(install, service, version);
        fs.mkdirSync(path.join(install, "log"), { recursive: true });
        for (const n of host.nodes.filter((x) => x.service === service)) {
            const conf = path.join(install, "conf", n.type, String(n.port));
            fs.mkdirSync(conf, { recursive: true });
            fs.writeFileSync(path.join(conf, "application.properties"), renderProperties(host, n.type, n.port, serviceCenterOf(host)));
        }
    }
}
