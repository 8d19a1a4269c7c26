/**
 * The one owner of resource names. Components name their resources with these functions; the
 * event translator and the driver map names back to hosts and nodes with `buildNameIndex`. Pure:
 * no Pulumi import.
 */

/** The name of the program's top component, and the prefix of every resource under it. */
export const ROOT_NAME = "scm";

/** Component names, derived from the parent's name. */
export const componentName = {
    preflight: (parent: string, host: string) => `${parent}-${host}-preflight`,
    stage: (parent: string, host: string) => `${parent}-${host}-stage`,
    node: (parent: string, host: string, service: string) => `${parent}-${host}-${service}`,
    /** The soak before a primary wave: `<parent>-soak-<service>[-<site>]`. */
    soak: (parent: string, service: string, site?: string) => `${parent}-soak-${service}${site === undefined ? "" : `-${site}`}`,
};

/** Child (custom resource) names, derived from their component's name. */
export const childName = {
    preflightChecks: (component: string) => `${component}-checks`,
    stagePrepare: (component: string) => `${component}-prepare`,
    stageUpload: (component: string) => `${component}-upload`,
    stageUploadScript: (component: string) => `${component}-upload-script`,
    stageUnpack: (component: string) => `${component}-unpack`,
    nodeRun: (component: string) => `${component}-run`,
    nodeRollback: (component: string) => `${component}-rollback`,
    /** A soak's watch of the standby nodes of one host. */
    soakWatch: (component: string, host: string) => `${component}-${host}-watch`,
};

/** What a resource stands for. */
export type ResourceRole =
    | { role: "preflight"; host: string }
    | { role: "staging"; host: string; step: "prepare" | "upload" | "upload-script" | "unpack" }
    | { role: "node"; host: string; service: string; rollback: boolean }
    /** The watch of one host's standby nodes in the soak `soak` (its id, e.g. `soak/cloud/primary`). */
    | { role: "soak"; host: string; soak: string };

/** What the index needs of a soak (a `SoakStep` of lib/plan fits). */
export interface SoakNames {
    id: string;
    beforeWave: number;
    service: string;
    site?: string;
    seconds: number;
    watch: readonly { host: string; service: string }[];
}

/** A soak's watch on one host, as the index knows it. */
export interface SoakWatchInfo {
    soak: string;
    beforeWave: number;
    host: string;
    seconds: number;
    /** `<host>/<service>` of the standby nodes it watches. */
    nodes: string[];
}

/** Maps resource names (the last part of a URN) to their role, for one configuration. */
export interface NameIndex {
    get(name: string): ResourceRole | undefined;
    /** The nodes' names for one mode, e.g. to tell a node event from others. */
    nodes: Map<string, { host: string; service: string }>;
    preflight: Map<string, string>;
    /** The unpack step of each host's staging (the one that says "staged"). */
    staging: Map<string, string>;
    /** Each soak watch (one per soak and host). */
    soaks: Map<string, SoakWatchInfo>;
}

export function buildNameIndex(
    hosts: { name: string; services: readonly string[] }[],
    rollback = false,
    root = ROOT_NAME,
    soaks: readonly SoakNames[] = [],
): NameIndex {
    const all = new Map<string, ResourceRole>();
    const idx: NameIndex = { get: (n) => all.get(n), nodes: new Map(), preflight: new Map(), staging: new Map(), soaks: new Map() };
    for (const s of soaks) {
        const component = componentName.soak(root, s.service, s.site);
        for (const host of [...new Set(s.watch.map((n) => n.host))]) {
            const name = childName.soakWatch(component, host);
            all.set(name, { role: "soak", host, soak: s.id });
            const nodes = s.watch.filter((n) => n.host === host).map((n) => `${n.host}/${n.service}`);
            idx.soaks.set(name, { soak: s.id, beforeWave: s.beforeWave, host, seconds: s.seconds, nodes });
        }
    }
    for (const h of hosts) {
        const pre = childName.preflightChecks(componentName.preflight(root, h.name));
        all.set(pre, { role: "preflight", host: h.name });
        idx.preflight.set(pre, h.name);
        const stage = componentName.stage(root, h.name);
        all.set(childName.stagePrepare(stage), { role: "staging", host: h.name, step: "prepare" });
        all.set(childName.stageUpload(stage), { role: "staging", host: h.name, step: "upload" });
        all.set(childName.stageUploadScript(stage), { role: "staging", host: h.name, step: "upload-script" });
        const unpack = childName.stageUnpack(stage);
        all.set(unpack, { role: "staging", host: h.name, step: "unpack" });
        idx.staging.set(unpack, h.name);
        for (const s of h.services) {
            const node = componentName.node(root, h.name, s);
            all.set(childName.nodeRun(node), { role: "node", host: h.name, service: s, rollback: false });
            all.set(childName.nodeRollback(node), { role: "node", host: h.name, service: s, rollback: true });
            idx.nodes.set(rollback ? childName.nodeRollback(node) : childName.nodeRun(node), { host: h.name, service: s });
        }
    }
    return idx;
}

/** The resource name of a URN (its last `::` part). */
export function nameOfUrn(urn: string | undefined): string {
    return urn ? urn.slice(urn.lastIndexOf("::") + 2) : "";
}
