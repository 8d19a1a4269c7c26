/**
 * Versions: `X.Y.Z` strings, and the installed version of a service read from its jar names
 * (reference section 2: `sequoiacm-config/jars/sequoiacm-config-server-<ver>.jar` and so on).
 */
import { ServiceName, serviceSpec } from "./services";

export interface Version {
    readonly major: number;
    readonly minor: number;
    readonly patch: number;
    /** Pre-release suffix after `-` (`SNAPSHOT` in `3.2.0-SNAPSHOT`), if any. */
    readonly pre?: string;
}

/** What a config may say: exactly `X.Y.Z`, digits only, no leading zeros. */
const STRICT_VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
/** What a jar may carry: `X.Y.Z` with an optional `-suffix` (development builds). */
const VERSION_BODY = String.raw`\d+\.\d+\.\d+(?:-[0-9A-Za-z][0-9A-Za-z.]*)?`;
const LOOSE_VERSION = new RegExp(`^(\\d+)\\.(\\d+)\\.(\\d+)(?:-([0-9A-Za-z][0-9A-Za-z.]*))?$`);

/** True for `3.2.0`; false for `3.2`, `v3.2.0`, `3.2.0-SNAPSHOT`, `03.2.0`. */
export function isStrictVersion(s: unknown): s is string {
    return typeof s === "string" && STRICT_VERSION.test(s);
}

/** Parses `X.Y.Z` or `X.Y.Z-suffix`; undefined for anything else. */
export function parseVersion(s: string): Version | undefined {
    const m = LOOSE_VERSION.exec(s.trim());
    if (!m) return undefined;
    const v = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
    return m[4] === undefined ? v : { ...v, pre: m[4] };
}

function comparePre(a: string | undefined, b: string | undefined): number {
    if (a === b) return 0;
    // A release is greater than any of its pre-releases (semver rule).
    if (a === undefined) return 1;
    if (b === undefined) return -1;
    const pa = a.split(".");
    const pb = b.split(".");
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const x = pa[i];
        const y = pb[i];
        if (x === undefined) return -1;
        if (y === undefined) return 1;
        const nx = /^\d+$/.test(x);
        const ny = /^\d+$/.test(y);
        if (nx && ny && Number(x) !== Number(y)) return Number(x) < Number(y) ? -1 : 1;
        if (nx !== ny) return nx ? -1 : 1;
        if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
}

/** -1, 0 or 1 as `a` is older than, equal to or newer than `b`. Throws on a string that is not a version. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
    const va = parseVersion(a);
    const vb = parseVersion(b);
    if (!va) throw new Error(`"${a}" is not a version: use X.Y.Z such as 3.2.0.`);
    if (!vb) throw new Error(`"${b}" is not a version: use X.Y.Z such as 3.2.0.`);
    for (const k of ["major", "minor", "patch"] as const) {
        if (va[k] !== vb[k]) return va[k] < vb[k] ? -1 : 1;
    }
    return Math.sign(comparePre(va.pre, vb.pre)) as -1 | 0 | 1;
}

function escapeRegExp(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The regular expression of a catalogue jar pattern (`sequoiacm-config-server-<ver>.jar`); group 1 is the version. */
export function jarPatternRegex(pattern: string): RegExp {
    const [before, after] = pattern.split("<ver>");
    if (after === undefined) throw new Error(`jar pattern "${pattern}" has no <ver> placeholder.`);
    return new RegExp(`^${escapeRegExp(before)}(${VERSION_BODY})${escapeRegExp(after)}$`);
}

/** The installed version of one service on one host, as its jar names tell it. */
export type InstalledVersion =
    /** Every version-carrying jar shows the same version. `missing` lists catalogue patterns with no jar (informative). */
    | { readonly kind: "version"; readonly version: string; readonly jars: readonly string[]; readonly missing: readonly string[] }
    /** The jars disagree: a half-done upgrade or a hand-copied jar. Versions sorted oldest first. */
    | { readonly kind: "mixed"; readonly versions: readonly { readonly version: string; readonly jars: readonly string[] }[] }
    /** No version-carrying jar at all: the service is not installed in that folder. */
    | { readonly kind: "none" };

/**
 * Reads the installed version of `service` from the file names of its jar folder.
 * `files` is a list of names or paths (only the last path segment counts), or the raw output of `ls -1`.
 * Files that match none of the service's jar patterns (dependencies, `sequoiacm-cloud-tools-*.jar`) are ignored.
 */
export function installedVersionFromJars(service: ServiceName, files: readonly string[] | string): InstalledVersion {
    const names = (typeof files === "string" ? files.split(/\r?\n/) : files)
        .map((f) => f.trim().split("/").pop() ?? "")
        .filter((f) => f !== "");
    const patterns = serviceSpec(service).jarPatterns;
    const byVersion = new Map<string, string[]>();
    const missing: string[] = [];
    for (const pattern of patterns) {
        const re = jarPatternRegex(pattern);
        let found = false;
        for (const name of names) {
            const m = re.exec(name);
            if (!m) continue;
            found = true;
            const list = byVersion.get(m[1]) ?? [];
            if (!list.includes(name)) list.push(name);
            byVersion.set(m[1], list);
        }
        if (!found) missing.push(pattern);
    }
    if (byVersion.size === 0) return { kind: "none" };
    const versions = [...byVersion.entries()]
        .map(([version, jars]) => ({ version, jars: [...jars].sort() }))
        .sort((a, b) => compareVersions(a.version, b.version));
    if (versions.length === 1) return { kind: "version", version: versions[0].version, jars: versions[0].jars, missing };
    return { kind: "mixed", versions };
}

/** One line for people: `3.1.2`, `mixed versions: 3.1.2 (a.jar), 3.2.0 (b.jar)`, `not installed (no sequoiacm-config-server-<ver>.jar)`. */
export function describeInstalled(service: ServiceName, v: InstalledVersion): string {
    switch (v.kind) {
        case "version":
            return v.version;
        case "mixed":
            return `mixed versions: ${v.versions.map((x) => `${x.version} (${x.jars.join(", ")})`).join(", ")}`;
        case "none":
            return `not installed (no ${serviceSpec(service).jarPatterns.join(" or ")})`;
    }
}

/** The version a control script's `--version` prints (`SequoiaCM tools version:3.2.0`), or undefined. */
export function parseToolVersion(output: string): string | undefined {
    const m = new RegExp(`SequoiaCM tools version:\\s*(${VERSION_BODY})`).exec(output);
    return m ? m[1] : undefined;
}
