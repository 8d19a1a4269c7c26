/**
 * The Ansible side of the bench, generated from the same config and the same `planWaves` as the tool,
 * so that the order is the same by construction:
 *   - the inventory: one host per config host (ansible_host = its address, port, user, key file, and
 *     installRoot, stagingDir, center, services, site), one group per wave (`wave_01`, ...) listing the
 *     wave's hosts in plan order, and the service catalogue of the services in use;
 *   - the playbook: the static staging play (`stage.yml`), then one play per wave, `serial` = the
 *     config's parallelism (1: one node at a time), each applying the static role `scm_node_upgrade`.
 * Pure functions (no files read) except `writeAnsibleFiles`.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { effectiveHost, UpgradeConfig } from "../../lib/config/schema";
import { batches, nodeKey, Wave } from "../../lib/plan";
import { serviceFilesOf, ServiceFiles } from "../../lib/shell";

/** The folder of the static Ansible files (ansible.cfg, stage.yml, roles/). */
export const ansibleDir = __dirname;

export interface InventoryHost {
    ansible_host: string;
    ansible_port: number;
    ansible_user: string;
    ansible_ssh_private_key_file?: string;
    installRoot: string;
    stagingDir: string;
    center: string;
    services: string[];
    site?: string;
    rootSite?: boolean;
}

export interface Inventory {
    all: {
        vars: {
            scm_package_path: string;
            scm_source_version: string;
            scm_target_version: string;
            scm_health_timeout_seconds: number;
            scm_service_files: Record<string, ServiceFiles>;
        };
        hosts: Record<string, InventoryHost>;
        children: Record<string, { hosts: Record<string, null> }>;
    };
}

export interface Play {
    name: string;
    hosts: string;
    serial: number;
    order: "inventory";
    gather_facts: false;
    any_errors_fatal: true;
    roles: { role: string; vars: { scm_service: string } }[];
}

export type PlaybookEntry = { import_playbook: string } | Play;

/** `wave_01`, `wave_02`, ... (zero-padded to the plan's width so groups sort in order). */
export function waveGroup(wave: Pick<Wave, "index">, waveCount: number): string {
    return `wave_${String(wave.index).padStart(Math.max(2, String(waveCount).length), "0")}`;
}

/** The inventory of a config; `packagePath` is where the release package is on every host. */
export function ansibleInventory(c: UpgradeConfig, waves: readonly Wave[], packagePath: string): Inventory {
    const hosts: Record<string, InventoryHost> = {};
    for (const h of c.hosts) {
        const e = effectiveHost(c, h);
        const entry: InventoryHost = {
            ansible_host: h.address,
            ansible_port: e.port,
            ansible_user: e.user,
            ...(e.privateKeyFile ? { ansible_ssh_private_key_file: e.privateKeyFile } : {}),
            installRoot: e.installRoot,
            stagingDir: e.stagingDir,
            center: h.center,
            services: c.serviceOrder.filter((s) => h.services.includes(s)),
        };
        if (h.site !== undefined) {
            entry.site = h.site;
            entry.rootSite = !!h.rootSite;
        }
        hosts[h.name] = entry;
    }
    const children: Inventory["all"]["children"] = {};
    for (const w of waves) children[waveGroup(w, waves.length)] = { hosts: Object.fromEntries(w.nodes.map((n) => [n.host, null])) };
    const used = [...new Set(waves.map((w) => w.service))];
    return {
        all: {
            vars: {
                scm_package_path: packagePath,
                scm_source_version: c.sourceVersion,
                scm_target_version: c.targetVersion,
                scm_health_timeout_seconds: c.healthTimeoutSeconds,
                scm_service_files: Object.fromEntries(used.map((s) => [s, serviceFilesOf(s)])),
            },
            hosts,
            children,
        },
    };
}

/** The playbook: staging on every host, then one play per wave in plan order. */
export function ansiblePlaybook(waves: readonly Wave[], parallelism: number, dir = ansibleDir): PlaybookEntry[] {
    // Cut as the tool cuts (throws on a parallelism below 1, as the tool does).
    for (const w of waves) batches(w, parallelism);
    return [
        { import_playbook: path.join(dir, "stage.yml") },
        ...waves.map(
            (w): Play => ({
                name: `wave ${w.index}/${waves.length}: ${w.id}`,
                hosts: waveGroup(w, waves.length),
                serial: parallelism,
                order: "inventory",
                gather_facts: false,
                any_errors_fatal: true,
                roles: [{ role: path.join(dir, "roles", "scm_node_upgrade"), vars: { scm_service: w.service } }],
            }),
        ),
    ];
}

/** The node order the playbook runs: per play, the hosts of its group, each with the play's service. */
export function playbookNodeOrder(inventory: Inventory, playbook: readonly PlaybookEntry[]): string[] {
    const out: string[] = [];
    for (const p of playbook) {
        if (!("roles" in p)) continue;
        const group = inventory.all.children[p.hosts];
        if (!group) throw new Error(`play ${p.name} targets ${p.hosts}, which the inventory does not define`);
        for (const host of Object.keys(group.hosts)) out.push(nodeKey({ host, service: p.roles[0].vars.scm_service as never }));
    }
    return out;
}

const dump = (x: unknown) => yaml.dump(x, { lineWidth: 200, noRefs: true, sortKeys: false });

/** Writes `inventory.yml` and `site.yml` into `outDir`; returns their paths. */
export function writeAnsibleFiles(outDir: string, c: UpgradeConfig, waves: readonly Wave[], packagePath: string): { inventory: string; playbook: string } {
    fs.mkdirSync(outDir, { recursive: true });
    const inventory = path.join(outDir, "inventory.yml");
    const playbook = path.join(outDir, "site.yml");
    const header = "# Generated by bench/ansible/generate.ts from planWaves: do not edit.\n";
    fs.writeFileSync(inventory, header + dump(ansibleInventory(c, waves, packagePath)));
    fs.writeFileSync(playbook, header + dump(ansiblePlaybook(waves, c.parallelism)));
    return { inventory, playbook };
}

/**
 * `npx tsx bench/ansible/generate.ts [--sandbox-dir D] [--out DIR] [--health-timeout S]`: the inventory
 * and playbook of an existing sandbox (default: the user's), to run the playbook by hand.
 */
if (require.main === module) {
    void (async () => {
        const { parseArgs } = await import("util");
        const { readState, sandboxDir } = await import("../../sandbox/state");
        const { benchConfig } = await import("../config");
        const { planWaves } = await import("../../lib/plan");
        const { values } = parseArgs({
            options: { "sandbox-dir": { type: "string" }, out: { type: "string" }, "health-timeout": { type: "string", default: "120" } },
        });
        const state = readState(values["sandbox-dir"]);
        if (!state) throw new Error(`No sandbox at ${sandboxDir(values["sandbox-dir"])}: run \`npm run sandbox -- up\` first.`);
        const c = benchConfig(state, Number(values["health-timeout"]));
        const out = path.resolve(values.out ?? path.join(state.dir, "ansible"));
        const f = writeAnsibleFiles(out, c, planWaves(c), state.packagePath);
        process.stdout.write(`ANSIBLE_CONFIG=${path.join(ansibleDir, "ansible.cfg")} ansible-playbook -i ${f.inventory} ${f.playbook}\n`);
    })().catch((e) => {
        process.stderr.write(`${(e as Error).message}\n`);
        process.exit(1);
    });
}
