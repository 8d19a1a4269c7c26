/**
 * The SequoiaCM service catalogue (reference `sequoiacm.md` section 2), as data.
 *
 * Service names are the `--service` names of `scmupgrade.py`. Everything else the tool needs to know about a
 * service on a host (folders, control script, jar names, node types and their default ports) is here, so the
 * shell text, the preflight and the plan never spell a folder or a jar name themselves.
 */

/** The `--service` names `scmupgrade.py` accepts, in the reference's order. */
export const SERVICE_NAMES = [
    "cloud",
    "config-server",
    "content-server",
    "schedule-server",
    "fulltext-server",
    "mq-server",
    "om-server",
    "s3-server",
    "daemon",
] as const;

export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The order of reference section 1: cloud, config-server, content-server, schedule-server. */
export const DEFAULT_SERVICE_ORDER: readonly ServiceName[] = ["cloud", "config-server", "content-server", "schedule-server"];

/** Where a jar naming rule comes from, so nobody mistakes a guess for a fact. */
export type JarNameSource =
    /** Stated in reference section 2 (cloud, config-server, schedule-server, content-server). */
    | "reference"
    /** Read from SequoiaCM's own cluster tool source (its `ServiceType` jar globs); not checked on a 3.1.2 install. */
    | "upstream-source";

/** One kind of node a service runs (`-t <type>` of the control script, `conf/<type>/<port>/`). */
export interface NodeTypeSpec {
    /** The node type as the control script and the `conf/` folder name it. */
    readonly type: string;
    /** The server port a node of this type listens on when the installer was not told otherwise; undefined when it has none. */
    readonly defaultPort?: number;
}

export interface ServiceSpec {
    readonly name: ServiceName;
    /** Folder under the install root, e.g. `sequoiacm-cloud` (also the last folder `scmupgrade.py --install-path` must end with). */
    readonly installFolder: string;
    /** Folder under the install folder that holds the service's jars: `jars`, or `lib` for content-server. */
    readonly jarFolder: string;
    /** Control script in `<install>/bin/`. */
    readonly controlScript: string;
    /** Arguments of the control script's start/stop that select every node (`-t all`, `--all`, none for daemon). */
    readonly allNodesArgs: readonly string[];
    /** Node types of the service. */
    readonly nodeTypes: readonly NodeTypeSpec[];
    /**
     * Names of the jars that carry the installed version, `<ver>` standing for the version,
     * e.g. `sequoiacm-config-server-<ver>.jar`. Every one of them present in the jar folder must show the same version.
     */
    readonly jarPatterns: readonly string[];
    readonly jarNameSource: JarNameSource;
    /** First SequoiaCM version that ships the service, when it is not in every 3.x release. */
    readonly since?: string;
}

const CATALOGUE: Readonly<Record<ServiceName, ServiceSpec>> = {
    cloud: {
        name: "cloud",
        installFolder: "sequoiacm-cloud",
        jarFolder: "jars",
        controlScript: "scmcloudctl.sh",
        allNodesArgs: ["-t", "all"],
        nodeTypes: [
            { type: "service-center", defaultPort: 8800 },
            { type: "gateway", defaultPort: 8080 },
            { type: "auth-server", defaultPort: 8810 },
            { type: "admin-server", defaultPort: 8900 },
            // 8890 is the default of SequoiaCM's node-creation tool; the reference gives no port for service-trace.
            { type: "service-trace", defaultPort: 8890 },
        ],
        jarPatterns: [
            "sequoiacm-cloud-servicecenter-<ver>.jar",
            "sequoiacm-cloud-gateway-<ver>.jar",
            "sequoiacm-cloud-authserver-<ver>.jar",
            "sequoiacm-cloud-adminserver-<ver>.jar",
            "sequoiacm-cloud-servicetrace-<ver>.jar",
        ],
        jarNameSource: "reference",
    },
    "config-server": {
        name: "config-server",
        installFolder: "sequoiacm-config",
        jarFolder: "jars",
        controlScript: "confctl.sh",
        allNodesArgs: ["-t", "all"],
        nodeTypes: [{ type: "config-server", defaultPort: 8190 }],
        jarPatterns: ["sequoiacm-config-server-<ver>.jar"],
        jarNameSource: "reference",
    },
    "content-server": {
        name: "content-server",
        installFolder: "sequoiacm-content",
        jarFolder: "lib",
        controlScript: "scmctl.sh",
        allNodesArgs: ["--all"],
        nodeTypes: [{ type: "content-server", defaultPort: 15000 }],
        jarPatterns: ["sequoiacm-content-server-<ver>.jar"],
        jarNameSource: "reference",
    },
    "schedule-server": {
        name: "schedule-server",
        installFolder: "sequoiacm-schedule",
        jarFolder: "jars",
        controlScript: "schctl.sh",
        allNodesArgs: ["-t", "all"],
        nodeTypes: [{ type: "schedule-server", defaultPort: 8910 }],
        jarPatterns: ["sequoiacm-schedule-server-<ver>.jar"],
        jarNameSource: "reference",
    },
    "fulltext-server": {
        name: "fulltext-server",
        installFolder: "sequoiacm-fulltext",
        jarFolder: "jars",
        controlScript: "ftctl.sh",
        allNodesArgs: ["-t", "all"],
        nodeTypes: [{ type: "fulltext-server", defaultPort: 8610 }],
        jarPatterns: ["sequoiacm-fulltext-server-<ver>.jar"],
        jarNameSource: "upstream-source",
    },
    "mq-server": {
        name: "mq-server",
        installFolder: "sequoiacm-mq",
        jarFolder: "jars",
        controlScript: "mqctl.sh",
        allNodesArgs: ["-t", "all"],
        nodeTypes: [{ type: "mq-server", defaultPort: 8710 }],
        jarPatterns: ["sequoiacm-mq-server-<ver>.jar"],
        jarNameSource: "upstream-source",
    },
    "om-server": {
        name: "om-server",
        installFolder: "sequoiacm-om",
        jarFolder: "jars",
        controlScript: "omctl.sh",
        allNodesArgs: ["-t", "all"],
        nodeTypes: [{ type: "om-server", defaultPort: 9000 }],
        // Not `sequoiacm-om-server-`: SequoiaCM's own tools look for `sequoiacm-om-omserver-*.jar`.
        jarPatterns: ["sequoiacm-om-omserver-<ver>.jar"],
        jarNameSource: "upstream-source",
    },
    "s3-server": {
        name: "s3-server",
        installFolder: "sequoiacm-s3",
        jarFolder: "jars",
        controlScript: "s3ctl.sh",
        allNodesArgs: ["-t", "all"],
        nodeTypes: [{ type: "s3-server", defaultPort: 16000 }],
        jarPatterns: ["sequoiacm-s3-server-<ver>.jar"],
        jarNameSource: "upstream-source",
    },
    daemon: {
        name: "daemon",
        installFolder: "daemon",
        jarFolder: "jars",
        controlScript: "scmd.sh",
        allNodesArgs: [],
        // The daemon is a watchdog process, not a node with a server port.
        nodeTypes: [{ type: "daemon" }],
        jarPatterns: ["sequoiacm-daemon-tools-<ver>.jar"],
        jarNameSource: "upstream-source",
        since: "3.1.3",
    },
};

export function isServiceName(s: unknown): s is ServiceName {
    return typeof s === "string" && (SERVICE_NAMES as readonly string[]).includes(s);
}

/** The catalogue entry of a service. */
export function serviceSpec(name: ServiceName): ServiceSpec {
    return CATALOGUE[name];
}

/** Every catalogue entry, in `SERVICE_NAMES` order. */
export function allServiceSpecs(): ServiceSpec[] {
    return SERVICE_NAMES.map((n) => CATALOGUE[n]);
}

/** `<installRoot>/<installFolder>`, without a trailing slash (what `scmupgrade.py --install-path` gets). */
export function serviceInstallPath(installRoot: string, service: ServiceName): string {
    return `${installRoot.replace(/\/+$/, "")}/${CATALOGUE[service].installFolder}`;
}

/** `<installRoot>/<installFolder>/<jarFolder>`: where the version-carrying jars are. */
export function serviceJarDir(installRoot: string, service: ServiceName): string {
    return `${serviceInstallPath(installRoot, service)}/${CATALOGUE[service].jarFolder}`;
}

/** `<installRoot>/<installFolder>/bin/<controlScript>`. */
export function serviceControlScriptPath(installRoot: string, service: ServiceName): string {
    return `${serviceInstallPath(installRoot, service)}/bin/${CATALOGUE[service].controlScript}`;
}

/** The service whose node type this is (`gateway` -> `cloud`), for people who list node types as services. */
export function serviceOfNodeType(type: string): ServiceName | undefined {
    const t = type.trim().toLowerCase();
    return SERVICE_NAMES.find((n) => CATALOGUE[n].nodeTypes.some((nt) => nt.type === t));
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
    const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let diag = prev[0];
        prev[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const up = prev[j];
            prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
            diag = up;
        }
    }
    return prev[b.length];
}

/**
 * The candidate closest to `input` (case-insensitive edit distance), or undefined when none is close enough
 * (distance at most 3, or `input` is a prefix of exactly one candidate such as `config` for `config-server`).
 * Ties go to the earlier candidate.
 */
export function closestName(input: string, candidates: readonly string[]): string | undefined {
    const needle = input.trim().toLowerCase();
    if (needle === "") return undefined;
    const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(needle));
    if (prefixed.length === 1) return prefixed[0];
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const c of candidates) {
        const d = editDistance(needle, c.toLowerCase());
        if (d < bestDistance) {
            best = c;
            bestDistance = d;
        }
    }
    return bestDistance <= Math.max(1, Math.min(3, Math.floor(needle.length / 2))) ? best : undefined;
}

/** The valid service name closest to a misspelt one (`clod` -> `cloud`, `config` -> `config-server`). */
export function closestServiceName(input: string): ServiceName | undefined {
    return closestName(input, SERVICE_NAMES) as ServiceName | undefined;
}
