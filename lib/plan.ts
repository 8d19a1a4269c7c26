/**
 * The upgrade plan: a pure, deterministic function from the config to ordered waves of nodes
 * (reference section 1). A node is one service on one host; a wave is service x center (x site for content-server).
 *
 * Order: each service of `serviceOrder` in turn (skipping services no host runs), standby center before primary.
 * content-server follows `sitePolicy`:
 *   - `site-first` (default): root site standby, root site primary, then each branch site standby then primary;
 *   - `center-first`: standby root, standby branches, primary root, primary branches.
 * Branch sites come in order of first appearance in `hosts`; within a wave, nodes are in `hosts` order.
 */
import type { Center, SitePolicy } from "./config/schema";
import type { ServiceName } from "./services";
import { renderTable } from "./table";

/** One service on one host. */
export interface PlanNode {
    host: string;
    address: string;
    center: Center;
    service: ServiceName;
    /** content-server nodes only: the host's site. */
    site?: string;
    /** content-server nodes only: whether that site is the root site. */
    rootSite?: boolean;
}

export interface Wave {
    /** Position in the plan, from 1. */
    index: number;
    /** `cloud/standby`, or `content-server/standby/<site>` for content-server. */
    id: string;
    service: ServiceName;
    center: Center;
    /** content-server waves only. */
    site?: string;
    /** content-server waves only: the root site or a branch site. */
    siteRole?: "root" | "branch";
    /** Never empty; in hosts-list order. */
    nodes: PlanNode[];
}

/**
 * The center that must be finished before a run of `center` alone: the standby before an upgrade of the
 * primary (standby first, the vendor's order), the primary before a rollback of the standby (the exact
 * reverse). Undefined when none must.
 */
export function centerFirst(center: Center, mode: "upgrade" | "rollback"): Center | undefined {
    const first: Center = mode === "upgrade" ? "standby" : "primary";
    return center === first ? undefined : first;
}

/** What the plan reads of the config (an `UpgradeConfig` fits). */
export interface PlanInput {
    hosts: readonly {
        name: string;
        address: string;
        center: Center;
        services: readonly ServiceName[];
        site?: string;
        rootSite?: boolean;
    }[];
    serviceOrder: readonly ServiceName[];
    /** Default `site-first`. */
    sitePolicy?: SitePolicy;
}

const CENTER_ORDER: readonly Center[] = ["standby", "primary"];

/** `<host>/<service>`: unique per node, used for dependency maps and resource names. */
export function nodeKey(node: Pick<PlanNode, "host" | "service">): string {
    return `${node.host}/${node.service}`;
}

/** The ordered waves of the upgrade. Throws when a content-server host has no site (a config `validateConfig` refuses). */
export function planWaves(config: PlanInput): Wave[] {
    const policy = config.sitePolicy ?? "site-first";
    const waves: Omit<Wave, "index">[] = [];
    const seen = new Set<ServiceName>();
    for (const service of config.serviceOrder) {
        if (seen.has(service)) continue;
        seen.add(service);
        const running = config.hosts.filter((h) => h.services.includes(service));
        if (running.length === 0) continue;
        if (service !== "content-server") {
            for (const center of CENTER_ORDER) {
                const nodes = running.filter((h) => h.center === center).map((h): PlanNode => ({ host: h.name, address: h.address, center, service }));
                if (nodes.length) waves.push({ id: `${service}/${center}`, service, center, nodes });
            }
            continue;
        }
        for (const h of running) {
            if (h.site === undefined) throw new Error(`Host ${h.name} runs content-server but has no site: validate the config first.`);
        }
        const rootSite = running.find((h) => h.rootSite)?.site;
        const appearance = [...new Set(running.map((h) => h.site as string))];
        const sites = rootSite === undefined ? appearance : [rootSite, ...appearance.filter((s) => s !== rootSite)];
        const wave = (site: string, center: Center) => {
            const nodes = running
                .filter((h) => h.site === site && h.center === center)
                .map((h): PlanNode => ({ host: h.name, address: h.address, center, service, site, rootSite: site === rootSite }));
            if (nodes.length)
                waves.push({
                    id: `${service}/${center}/${site}`,
                    service,
                    center,
                    site,
                    siteRole: site === rootSite ? "root" : "branch",
                    nodes,
                });
        };
        if (policy === "site-first") {
            for (const site of sites) for (const center of CENTER_ORDER) wave(site, center);
        } else {
            for (const center of CENTER_ORDER) for (const site of sites) wave(site, center);
        }
    }
    return waves.map((w, i) => ({ index: i + 1, ...w }));
}

/** A wave's nodes in consecutive groups of at most `parallelism` (the nodes that upgrade at the same time). */
export function batches(wave: Pick<Wave, "nodes">, parallelism: number): PlanNode[][] {
    if (!Number.isInteger(parallelism) || parallelism < 1) throw new Error(`parallelism must be a whole number of 1 or more, not ${parallelism}.`);
    const out: PlanNode[][] = [];
    for (let i = 0; i < wave.nodes.length; i += parallelism) out.push(wave.nodes.slice(i, i + parallelism));
    return out;
}

/**
 * For each node (by `nodeKey`), every node that must finish before it starts: all nodes of earlier waves
 * and of earlier batches of its own wave. Entries are in plan order.
 */
export function predecessorsOf(plan: readonly Wave[], parallelism: number): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    const done: string[] = [];
    for (const wave of plan) {
        for (const batch of batches(wave, parallelism)) {
            for (const node of batch) out.set(nodeKey(node), new Set(done));
            done.push(...batch.map(nodeKey));
        }
    }
    return out;
}

function siteLabel(w: Wave): string {
    return w.site === undefined ? "-" : `${w.site} (${w.siteRole ?? "branch"})`;
}

const hostList = (w: Wave) => w.nodes.map((n) => n.host).join(", ");

/** How long the upgraded standby nodes are watched before a primary wave, and how often. */
export interface SoakSettings {
    seconds: number;
    intervalSeconds: number;
}

/**
 * A soak: before a primary wave, every standby node upgraded before it (all services so far) is watched for
 * `seconds`, its health read every `intervalSeconds`; a node not UP, or whose version changed, stops the run.
 */
export interface SoakStep {
    /** `soak/<service>/primary`, or `soak/content-server/primary/<site>`. */
    id: string;
    /** The index of the primary wave it comes before. */
    beforeWave: number;
    service: ServiceName;
    site?: string;
    seconds: number;
    intervalSeconds: number;
    /** The standby nodes watched, in plan order. */
    watch: PlanNode[];
}

/**
 * The soaks of a plan: one before each primary wave that has standby waves before it since the previous soak
 * (site-first: before each primary wave; center-first content-server: before the first primary site only).
 * Pass the whole plan (not one filtered by center) so that a soak watches every standby node before it; none
 * without settings.
 */
export function soakSteps(plan: readonly Wave[], soak: SoakSettings | undefined): SoakStep[] {
    if (!soak || soak.seconds <= 0) return [];
    const out: SoakStep[] = [];
    const standby: PlanNode[] = [];
    let fresh = false;
    for (const w of plan) {
        if (w.center === "standby") {
            standby.push(...w.nodes);
            fresh = true;
            continue;
        }
        if (!fresh) continue;
        fresh = false;
        out.push({
            id: `soak/${w.service}/primary${w.site === undefined ? "" : `/${w.site}`}`,
            beforeWave: w.index,
            service: w.service,
            ...(w.site === undefined ? {} : { site: w.site }),
            seconds: soak.seconds,
            intervalSeconds: Math.min(soak.intervalSeconds, soak.seconds),
            watch: [...standby],
        });
    }
    return out;
}

/**
 * The soak settings of a run: the config's, or `overrideSeconds` (the `--soak` flag; 0 turns the soak off) with
 * the config's interval (at most the soak), else 10 s or less.
 */
export function soakSettings(configured: SoakSettings | undefined, overrideSeconds?: number): SoakSettings | undefined {
    if (overrideSeconds === undefined) return configured;
    if (!Number.isInteger(overrideSeconds) || overrideSeconds < 0)
        throw new Error(`the soak must be a whole number of seconds, 0 or more, not ${overrideSeconds}`);
    if (overrideSeconds === 0) return undefined;
    return { seconds: overrideSeconds, intervalSeconds: Math.min(configured?.intervalSeconds ?? 10, overrideSeconds) };
}

const hostsOf = (nodes: readonly PlanNode[]) => [...new Set(nodes.map((n) => n.host))];

/** One line for a soak: `soak 600 s (every 10 s): C, D`. */
export function soakLabel(s: SoakStep): string {
    return `soak ${s.seconds} s (every ${s.intervalSeconds} s): ${s.watch.length} standby node${s.watch.length === 1 ? "" : "s"} on ${hostsOf(s.watch).join(", ")}`;
}

/** The plan as a plain-text table: wave, service, center, site, hosts; a soak is its own row before its primary wave. */
export function renderPlanTable(plan: readonly Wave[], soaks: readonly SoakStep[] = []): string {
    if (plan.length === 0) return "(empty plan: no host runs a service of serviceOrder)";
    const header = ["wave", "service", "center", "site", "hosts"];
    const rows = plan.flatMap((w) => {
        const row = [String(w.index), w.service, w.center, siteLabel(w), hostList(w)];
        const soak = soaks.find((s) => s.beforeWave === w.index);
        return soak ? [["soak", w.service, "standby", soak.site ?? "-", soakLabel(soak)], row] : [row];
    });
    return renderTable(header, rows);
}

/**
 * The plan as JSON text: `{ "waves": [ { index, id, service, center, site?, siteRole?, nodes } ] }`, and
 * `"soaks": [ { id, beforeWave, service, site?, seconds, intervalSeconds, watch } ]` when there are soaks.
 */
export function planToJson(plan: readonly Wave[], soaks: readonly SoakStep[] = []): string {
    return JSON.stringify(soaks.length ? { waves: plan, soaks } : { waves: plan }, null, 2);
}

function waveTitle(w: Wave): string {
    return `${w.index}. ${w.service} / ${w.center}${w.site === undefined ? "" : ` / ${siteLabel(w)}`}`;
}

/** The plan as a Mermaid flowchart: one box per wave, chained in order. */
export function planToMermaid(plan: readonly Wave[]): string {
    const esc = (s: string) => s.replace(/"/g, "#quot;");
    const lines = ["flowchart TD"];
    for (const w of plan) lines.push(`    w${w.index}["${esc(waveTitle(w))}<br/>${esc(hostList(w))}"]`);
    for (let i = 1; i < plan.length; i++) lines.push(`    w${plan[i - 1].index} --> w${plan[i].index}`);
    return lines.join("\n");
}

/** The plan as a Graphviz digraph: one box per wave, chained in order. */
export function planToDot(plan: readonly Wave[]): string {
    const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
    const lines = ["digraph plan {", "    rankdir=TB;", "    node [shape=box];"];
    for (const w of plan) lines.push(`    w${w.index} [label="${esc(waveTitle(w))}\\n${esc(hostList(w))}"];`);
    for (let i = 1; i < plan.length; i++) lines.push(`    w${plan[i - 1].index} -> w${plan[i].index};`);
    lines.push("}");
    return lines.join("\n");
}
