/**
 * Versions: `X.Y.Z` strings as the config states them and as jar names carry them. The hosts read the
 * installed version with the shell function of lib/shell.ts (`installedVersionFn`).
 */

export interface Version {
    readonly major: number;
    readonly minor: number;
    readonly patch: number;
    /** Pre-release suffix after `-` (`SNAPSHOT` in `3.2.0-SNAPSHOT`), if any. */
    readonly pre?: string;
}

/** What a config may say: exactly `X.Y.Z`, digits only, no leading zeros. */
const STRICT_VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const LOOSE_VERSION = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z][0-9A-Za-z.]*))?$/;

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
