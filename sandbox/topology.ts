/** The sandbox cluster's shape: hosts, centers, services, node ports and sites. Pure functions. */

/** The four services the sandbox installs, by their `scmupgrade.py --service` names. */
export type SandboxService = "cloud" | "config-server" | "content-server" | "schedule-server";
export type Center = "primary" | "standby";

export interface ServiceLayout {
    /** Install folder under the install root. */
    folder: string;
    /** Folder of the jars inside the install folder. */
    jarDir: string;
    /** Control script in `<install>/bin/`. */
    ctl: string;
    /** The control script's "all nodes" option. */
    allOption: string[];
    /** Node type -> jar name stem (`<stem>-<version>.jar`). */
    jars: Record<string, string>;
}

/** Reference section 2. */
export const SERVICE_LAYOUT: Record<SandboxService, ServiceLayout> = {
    cloud: {
        folder: "sequoiacm-cloud",
        jarDir: "jars",
        ctl: "scmcloudctl.sh",
        allOption: ["-t", "all"],
        jars: {
            "service-center": "sequoiacm-cloud-servicecenter",
            gateway: "sequoiacm-cloud-gateway",
            "auth-server": "sequoiacm-cloud-authserver",
            "admin-server": "sequoiacm-cloud-adminserver",
            "service-trace": "sequoiacm-cloud-servicetrace",
        },
    },
    "config-server": {
        folder: "sequoiacm-config",
        jarDir: "jars",
        ctl: "confctl.sh",
        allOption: ["-t", "all"],
        jars: { "config-server": "sequoiacm-config-server" },
    },
    "content-server": {
        folder: "sequoiacm-content",
        jarDir: "lib",
        ctl: "scmctl.sh",
        allOption: ["--all"],
        jars: { "content-server": "sequoiacm-content-server" },
    },
    "schedule-server": {
        folder: "sequoiacm-schedule",
        jarDir: "jars",
        ctl: "schctl.sh",
        allOption: ["-t", "all"],
        jars: { "schedule-server": "sequoiacm-schedule-server" },
    },
};

export const SANDBOX_SERVICES = Object.keys(SERVICE_LAYOUT) as SandboxService[];

/** Default node ports (reference section 2). */
export const DEFAULT_PORTS: Record<string, number> = {
    gateway: 8080,
    "service-center": 8800,
    "auth-server": 8810,
    "admin-server": 8900,
    "config-server": 8190,
    "schedule-server": 8910,
    "content-server": 15000,
};

export interface SandboxNode {
    service: SandboxService;
    /** Node type: the folder under `conf/` (gateway, service-center, content-server, ...). */
    type: string;
    port: number;
}

export interface SandboxHostSpec {
    name: string;
    address: string;
    center: Center;
    /** Services installed on the host, in the default service order. */
    services: SandboxService[];
    nodes: SandboxNode[];
    /** The content-server site of the host, when it runs content-server. */
    site?: string;
    /** True on the hosts of the root (main) site. */
    rootSite?: boolean;
}

export const ROOT_SITE = "rootSite";
export const SERVICE_ORDER: SandboxService[] = ["cloud", "config-server", "content-server", "schedule-server"];

/**
 * The address of the i-th host (0-based): `127.<net>.<1 + i div 250>.<1 + i mod 250>`.
 * Never 127.0.0.1; `net` keeps two sandboxes (a user's and a test's) apart.
 */
export function hostAddress(net: number, i: number): string {
    if (!Number.isInteger(net) || net < 0 || net > 255) throw new Error(`The sandbox network octet must be 0-255, got ${net}.`);
    const third = 1 + Math.floor(i / 250);
    if (third > 255) throw new Error(`Too many sandbox hosts: ${i + 1}.`);
    return `127.${net}.${third}.${1 + (i % 250)}`;
}

function node(type: string): SandboxNode {
    const service = (Object.keys(SERVICE_LAYOUT) as SandboxService[]).find((s) => type in SERVICE_LAYOUT[s].jars)!;
    return { service, type, port: DEFAULT_PORTS[type] };
}

function servicesOf(nodes: SandboxNode[]): SandboxService[] {
    return SERVICE_ORDER.filter((s) => nodes.some((n) => n.service === s));
}

function host(name: string, address: string, center: Center, types: string[], site?: string): SandboxHostSpec {
    const nodes = types.map(node);
    const h: SandboxHostSpec = { name, address, center, services: servicesOf(nodes), nodes };
    if (site) {
        h.site = site;
        h.rootSite = site === ROOT_SITE;
    }
    return h;
}

const CLOUD_A = ["gateway", "service-center", "config-server"];
const CLOUD_B = ["auth-server", "admin-server", "schedule-server"];

/** The seed's cluster (reference section 1): A, B primary; C, D standby. */
export function seedTopology(net: number): SandboxHostSpec[] {
    return [
        host("A", hostAddress(net, 0), "primary", [...CLOUD_A, "content-server"], ROOT_SITE),
        host("B", hostAddress(net, 1), "primary", [...CLOUD_B, "content-server"], "branchSite1"),
        host("C", hostAddress(net, 2), "standby", [...CLOUD_A, "content-server"], ROOT_SITE),
        host("D", hostAddress(net, 3), "standby", [...CLOUD_B, "content-server"], "branchSite1"),
    ];
}

/**
 * N hosts (N >= 4; 4 gives the seed). Half per center (primary gets the odd one). In each center the
 * hosts cycle through four roles: gateway + service-center + config-server; auth-server + admin-server
 * + schedule-server; then two content-server hosts. Content-server hosts take the sites in turn,
 * root site first, so every site has nodes in both centers as soon as there are enough hosts
 * (up to 5 sites: rootSite, branchSite1..4). At most 3 nodes per host.
 */
export function scaledTopology(n: number, net: number): SandboxHostSpec[] {
    if (!Number.isInteger(n) || n < 4) throw new Error(`--hosts must be a whole number of at least 4, got ${n}.`);
    if (n === 4) return seedTopology(net);
    const perCenter = { primary: Math.ceil(n / 2), standby: Math.floor(n / 2) };
    // Content hosts per center decide how many sites fit: each site needs a node in both centers.
    const contentHosts = (k: number) => (k < 4 ? k : Math.floor(k / 4) * 2 + Math.max(0, (k % 4) - 2));
    const sitesCount = Math.max(1, Math.min(5, contentHosts(perCenter.primary), contentHosts(perCenter.standby)));
    const sites = [ROOT_SITE, ...Array.from({ length: sitesCount - 1 }, (_, i) => `branchSite${i + 1}`)];
    const width = Math.max(3, String(n).length);
    const out: SandboxHostSpec[] = [];
    let index = 0;
    for (const center of ["primary", "standby"] as Center[]) {
        const k = perCenter[center];
        let content = 0;
        for (let j = 0; j < k; j++) {
            const name = `${center === "primary" ? "p" : "s"}${String(j + 1).padStart(width, "0")}`;
            const address = hostAddress(net, index++);
            // Few hosts in a center: the seed's layout, content-server on every host.
            const role = j % 4;
            const extra = k < 4 ? ["content-server"] : [];
            if (role === 0) out.push(host(name, address, center, [...CLOUD_A, ...extra], k < 4 ? sites[content++ % sites.length] : undefined));
            else if (role === 1) out.push(host(name, address, center, [...CLOUD_B, ...extra], k < 4 ? sites[content++ % sites.length] : undefined));
            else out.push(host(name, address, center, ["content-server"], sites[content++ % sites.length]));
        }
    }
    return out;
}

/** Checks the invariants the upgrade tool relies on; returns the problems found. */
export function topologyProblems(hosts: SandboxHostSpec[]): string[] {
    const problems: string[] = [];
    for (const s of SANDBOX_SERVICES) {
        for (const c of ["primary", "standby"] as Center[]) {
            if (!hosts.some((h) => h.center === c && h.services.includes(s))) problems.push(`${s} has no node in the ${c} center`);
        }
    }
    const rootSites = new Set(hosts.filter((h) => h.rootSite).map((h) => h.site));
    if (rootSites.size !== 1) problems.push(`expected exactly one root site, found ${rootSites.size}`);
    const names = new Set<string>();
    const addrs = new Set<string>();
    for (const h of hosts) {
        if (names.has(h.name)) problems.push(`duplicate host name ${h.name}`);
        if (addrs.has(h.address)) problems.push(`duplicate address ${h.address}`);
        names.add(h.name);
        addrs.add(h.address);
    }
    return problems;
}
