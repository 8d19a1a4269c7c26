/** From zod issues to problems people can act on: each names its field and a fix, in config order. */
import { z } from "zod";
import { closestName, DEFAULT_SERVICE_ORDER } from "../services";
import { KNOWN_KEYS } from "./shapes";
import { ConfigProblem, HEALTH_TIMEOUT_RANGE, SOAK_RANGE } from "./vocabulary";

/** What each field expects, keyed by its index-free path; used in the fix of a missing or mistyped field. */
const EXPECTS: Record<string, string> = {
    targetVersion: "a version X.Y.Z such as 3.2.0",
    sourceVersion: "a version X.Y.Z such as 3.1.2",
    package: "{ localPath: <the tarball on this machine> } or { remotePath: <the tarball already on every host> }",
    "package.localPath": "the path of the release tarball on this machine",
    "package.remotePath": "the absolute path of the release tarball on every host",
    stagingDir: "an absolute path such as /opt/scm_upgrade",
    installRoot: "an absolute path such as /opt/sequoiacm",
    installUser: "a user name such as scmadmin",
    installGroup: "a group name such as scmadmin_group",
    become: "login, sudo or su",
    ssh: "{ user, port, privateKeyFile, bastion }",
    "ssh.user": "a user name such as scmadmin",
    "ssh.port": "a port number such as 22",
    "ssh.privateKeyFile": "the path of a private key file on this machine",
    "ssh.bastion": "{ host, port, user }",
    "ssh.bastion.host": "the bastion's IP address or DNS name",
    "ssh.bastion.port": "a port number such as 22",
    "ssh.bastion.user": "a user name",
    "ssh.dialErrorLimit": "a whole number such as 3",
    "ssh.perDialTimeoutSeconds": "a whole number of seconds such as 10",
    "ssh.unansweredSeconds": "a whole number of seconds such as 60",
    hosts: "a list of { name, address, center, services, site, rootSite }",
    "hosts[]": "{ name, address, center, services, site, rootSite }",
    "hosts[].name": "a short unique name such as A",
    "hosts[].address": "the host's IP address or DNS name",
    "hosts[].center": "primary or standby",
    "hosts[].services": "a list of services such as [cloud, config-server]",
    "hosts[].services[]": "a service name such as content-server",
    "hosts[].site": "the content-server site name",
    "hosts[].rootSite": "true or false",
    "hosts[].ssh": "{ user, port, privateKeyFile }",
    "hosts[].ssh.user": "a user name such as scmadmin",
    "hosts[].ssh.port": "a port number such as 22",
    "hosts[].ssh.privateKeyFile": "the path of a private key file on this machine",
    "hosts[].installRoot": "an absolute path such as /opt/sequoiacm",
    "hosts[].stagingDir": "an absolute path such as /opt/scm_upgrade",
    serviceOrder: `a list of services such as [${DEFAULT_SERVICE_ORDER.join(", ")}]`,
    "serviceOrder[]": "a service name such as content-server",
    sitePolicy: "site-first or center-first",
    parallelism: "a whole number, 1 or more",
    healthTimeoutSeconds: `a whole number of seconds between ${HEALTH_TIMEOUT_RANGE.min} and ${HEALTH_TIMEOUT_RANGE.max}`,
    healthStableSeconds: "a whole number of seconds between 0 and 3600, such as 30",
    upgradeScript: "the path of scmupgrade.py on this machine",
    rollbackOnHealthFailure: "true or false",
    soak: "{ seconds, intervalSeconds } such as { seconds: 600, intervalSeconds: 10 }",
    "soak.seconds": `a whole number of seconds between ${SOAK_RANGE.min} and ${SOAK_RANGE.max}, such as 600`,
    "soak.intervalSeconds": "a whole number of seconds, at most soak.seconds, such as 10",
};

const TYPE_WORDS: Record<string, string> = {
    string: "text",
    number: "a number",
    boolean: "true or false",
    array: "a list",
    object: "an object",
};

/** `hosts[2].services[0]` from `["hosts", 2, "services", 0]`; `scm-upgrade` for the root. */
export function formatPath(segments: readonly PropertyKey[]): string {
    let out = "";
    for (const s of segments) out += typeof s === "number" ? `[${s}]` : out === "" ? String(s) : `.${String(s)}`;
    return out === "" ? "scm-upgrade" : out;
}

function patternOf(segments: readonly PropertyKey[]): string {
    let out = "";
    for (const s of segments) out += typeof s === "number" ? "[]" : out === "" ? String(s) : `.${String(s)}`;
    return out;
}

function describeValue(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "a list";
    switch (typeof v) {
        case "string":
            return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
        case "number":
            return `the number ${v}`;
        case "boolean":
            return String(v);
        case "object":
            return "an object";
        default:
            return typeof v;
    }
}

export function issueToProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
    const at = formatPath(issue.path);
    const pattern = patternOf(issue.path);
    const field = at;
    const expects = EXPECTS[pattern];
    switch (issue.code) {
        case "custom": {
            const fix = (issue.params as { fix?: string } | undefined)?.fix;
            return [{ path: at, message: issue.message, fix: fix ?? (expects ? `set ${field} to ${expects}` : "see docs/architecture.md") }];
        }
        case "unrecognized_keys": {
            const known = KNOWN_KEYS[pattern] ?? [];
            return issue.keys.map((key) => {
                const guess = closestName(key, known);
                const list = known.join(", ");
                return {
                    path: formatPath([...issue.path, key]),
                    message: `unknown key "${key}"`,
                    fix: guess ? `did you mean "${guess}"? Known keys here: ${list}` : `remove it; known keys here: ${list}`,
                };
            });
        }
        case "invalid_type": {
            if (issue.path.length === 0)
                return [
                    {
                        path: at,
                        message:
                            issue.input === undefined ? "no configuration is set" : `the configuration must be an object, not ${describeValue(issue.input)}`,
                        fix: "set at least scm-upgrade:package and scm-upgrade:hosts in the stack file (see docs/architecture.md)",
                    },
                ];
            if (issue.input === undefined)
                return [{ path: at, message: "is missing", fix: `set ${field} to ${expects ?? TYPE_WORDS[issue.expected] ?? issue.expected}` }];
            const want = TYPE_WORDS[issue.expected] ?? issue.expected;
            return [
                {
                    path: at,
                    message: `must be ${want}, not ${describeValue(issue.input)}`,
                    fix: `set ${field} to ${expects ?? want}`,
                },
            ];
        }
        default:
            return [{ path: at, message: issue.message, fix: expects ? `set ${field} to ${expects}` : "see docs/architecture.md" }];
    }
}

const TOP_ORDER = KNOWN_KEYS[""];

/** Problems in config order: top-level keys as documented, then index by index. */
export function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
    const key = (p: ConfigProblem) => {
        const top = /^[^.[]+/.exec(p.path)?.[0] ?? "";
        const rank = TOP_ORDER.indexOf(top);
        return { rank: rank < 0 ? TOP_ORDER.length : rank, rest: p.path };
    };
    const collator = new Intl.Collator("en", { numeric: true });
    return problems
        .map((p, n) => ({ p, n, k: key(p) }))
        .sort((a, b) => a.k.rank - b.k.rank || collator.compare(a.k.rest, b.k.rest) || a.n - b.n)
        .map((x) => x.p);
}

/**
 * The problems for people, one per line under a header naming the stack config file
 * (`stackFile`, default `stacks/Pulumi.<stack>.yaml`):
 * `  - hosts[2].services[0]: unknown service "clod". Fix: did you mean "cloud"? ...`
 */
export function formatProblems(problems: readonly ConfigProblem[], stackFile?: string | { stackFile?: string }): string {
    const file = (typeof stackFile === "string" ? stackFile : stackFile?.stackFile) ?? "stacks/Pulumi.<stack>.yaml";
    const n = problems.length;
    const header = `${file}: the scm-upgrade configuration has ${n} problem${n === 1 ? "" : "s"}; no host was touched:`;
    return [header, ...problems.map((p) => `  - ${p.path}: ${p.message}. Fix: ${p.fix}`)].join("\n");
}
