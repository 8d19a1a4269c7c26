/**
 * The stack configuration (namespace `scm-upgrade`, docs/architecture.md): zod schema, defaults, and the
 * cross-field checks of the cluster topology. `validateConfig` lists every problem at once, each with its
 * field path and a fix, so an invalid config is refused before any host is touched.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { z } from "zod";
import {
    closestName,
    closestServiceName,
    DEFAULT_SERVICE_ORDER,
    isServiceName,
    SERVICE_NAMES,
    ServiceName,
    serviceOfNodeType,
} from "../services";
import { compareVersions, isStrictVersion } from "../versions";

export type { ServiceName } from "../services";

export const CENTERS = ["primary", "standby"] as const;
export type Center = (typeof CENTERS)[number];

export const SITE_POLICIES = ["site-first", "center-first"] as const;
export type SitePolicy = (typeof SITE_POLICIES)[number];

/** How commands reach the install user: log in as it, or switch to it from the SSH user. */
export const BECOME_MODES = ["login", "sudo", "su"] as const;
export type BecomeMode = (typeof BECOME_MODES)[number];

/** Secret config keys, read as secrets by the program (never by this module). */
export const SECRET_KEYS = ["sshPrivateKey", "sshPassword", "sshPrivateKeyPassphrase"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

/** Bounds of `soak.seconds` and `soak.intervalSeconds`; the interval defaults to the smaller of 10 s and the soak. */
export const SOAK_RANGE = { min: 1, max: 86400, defaultIntervalSeconds: 10 } as const;

/** Bounds of `healthTimeoutSeconds`. */
export const HEALTH_TIMEOUT_RANGE = { min: 5, max: 3600 } as const;

export const DEFAULTS = {
    targetVersion: "3.2.0",
    sourceVersion: "3.1.2",
    stagingDir: "/opt/scm_upgrade",
    installRoot: "/opt/sequoiacm",
    installUser: "scmadmin",
    installGroup: "scmadmin_group",
    become: "login" as BecomeMode,
    sshPort: 22,
    dialErrorLimit: 3,
    perDialTimeoutSeconds: 10,
    serviceOrder: DEFAULT_SERVICE_ORDER,
    sitePolicy: "site-first" as SitePolicy,
    parallelism: 1,
    healthTimeoutSeconds: 120,
    rollbackOnHealthFailure: false,
} as const;

/** One thing wrong with the config. */
export interface ConfigProblem {
    /** Field path such as `hosts[2].services[0]`; `scm-upgrade` for the config as a whole. */
    path: string;
    /** What is wrong, without a final period. */
    message: string;
    /** What to do about it, without a final period. */
    fix: string;
}

/** Where the release tarball comes from. */
export type PackageSource =
    /** A tarball on this machine (absolute after validation), copied to every host. */
    | { localPath: string }
    /** A tarball already on every host. */
    | { remotePath: string };

export interface ValidateOptions {
    /** True when a regular file exists at this absolute path. Default: `fs.statSync(p).isFile()`. */
    fileExists?: (p: string) => boolean;
    /** True when this absolute path is a file this process can read. Default: `fs.accessSync(p, R_OK)` on a file. */
    readable?: (p: string) => boolean;
    /** Folder relative local paths (package, key files, upgrade script) are resolved against. Default: `process.cwd()`. */
    baseDir?: string;
    /** What `~` stands for in local paths. Default: `os.homedir()`. */
    homeDir?: string;
    /**
     * Which secret keys the stack sets. When given, every host must have some SSH credential: a key file,
     * the `sshPrivateKey` secret or the `sshPassword` secret. When omitted, credentials are not checked.
     */
    secretsPresent?: readonly SecretKey[];
}

export type ValidationResult = { ok: true; config: UpgradeConfig } | { ok: false; problems: ConfigProblem[] };

// ---------------------------------------------------------------------------------------------------------------
// Field schemas. Every refusal is a custom issue carrying its fix in `params.fix`.

type Ctx = z.core.$RefinementCtx<unknown>;
type Finding = { message: string; fix: string };

function report(ctx: Ctx, f: Finding, at?: (string | number)[]): void {
    ctx.addIssue({ code: "custom", message: f.message, params: { fix: f.fix }, ...(at ? { path: at } : {}) });
}

/** A string schema whose values must pass `check`. */
function checkedString(check: (s: string) => Finding | undefined) {
    return z.string().superRefine((s, ctx) => {
        const f = check(s);
        if (f) report(ctx as Ctx, f);
    });
}

/** A string schema narrowed to one of `values`, with a "did you mean" on a near miss. */
function oneOf<T extends string>(values: readonly T[], meaning?: string) {
    return z.string().transform((s, ctx): T => {
        if ((values as readonly string[]).includes(s)) return s as T;
        const guess = closestName(s, values);
        const allowed = meaning ?? values.join(", ");
        report(ctx as Ctx, {
            message: `"${s}" is not one of ${values.join(", ")}`,
            fix: guess ? `did you mean "${guess}"? Use ${allowed}` : `use ${allowed}`,
        });
        // The parse fails on the issue above; the text stays in place for the cross-checks' "did you mean".
        return s as T;
    });
}

const version = (example: string) =>
    checkedString((s) => (isStrictVersion(s) ? undefined : { message: `bad version "${s}"`, fix: `use X.Y.Z such as ${example}` }));

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * The characters a path on the hosts may have. The tool quotes every value it sends, but the vendor's
 * scmupgrade.py pastes its paths unquoted into shell commands (`os.system("tar -xf " + package + ...)`), so a
 * space, a quote, `$`, a backquote or `;` in the install or staging folder would break it or run as a command.
 */
export const SAFE_PATH = /^\/[A-Za-z0-9._+@,=\/-]*$/;

/** An absolute path on the hosts, in the safe character set. */
const remoteAbsPath = (example: string) =>
    checkedString((s) => {
        if (s === "") return { message: "is empty", fix: `use an absolute path such as ${example}` };
        if (CONTROL_CHARS.test(s)) return { message: `${JSON.stringify(s)} contains a control character`, fix: `use an absolute path such as ${example}` };
        if (!s.startsWith("/")) return { message: `"${s}" is not an absolute path`, fix: `use an absolute path such as ${example}` };
        if (s.split("/").includes("..")) return { message: `"${s}" contains ".."`, fix: `write the path without "..", such as ${example}` };
        const bad = [...new Set([...s].filter((ch) => !/[A-Za-z0-9._+@,=\/-]/.test(ch)))];
        if (bad.length)
            return {
                message: `${JSON.stringify(s)} contains ${bad.map((ch) => (ch === " " ? "a space" : JSON.stringify(ch))).join(", ")}, which the shell commands of scmupgrade.py cannot take`,
                fix: `use only letters, digits and . _ - + @ , = / in paths on the hosts, such as ${example}`,
            };
        return undefined;
    });

const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const POSIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const SITE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const DNS_OR_IPV4 = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

const posixName = (what: "user" | "group", example: string) =>
    checkedString((s) =>
        POSIX_NAME.test(s)
            ? undefined
            : {
                  message: `"${s}" is not a valid ${what} name`,
                  fix: `use lower-case letters, digits, "_" or "-", starting with a letter or "_", such as ${example}`,
              },
    );

const loginUser = checkedString((s) =>
    USER_NAME.test(s)
        ? undefined
        : { message: `"${s}" is not a valid user name`, fix: `use letters, digits, "_", "." or "-", such as scmadmin` },
);

const port = (example = 22) =>
    z.number().superRefine((n, ctx) => {
        if (!Number.isInteger(n) || n < 1 || n > 65535)
            report(ctx as Ctx, { message: `${n} is not a port number`, fix: `use a whole number between 1 and 65535 such as ${example}` });
    });

function wholeNumber(min: number, max: number, field: string, meaning: string) {
    return z.number().superRefine((n, ctx) => {
        if (!Number.isInteger(n) || n < min || n > max)
            report(ctx as Ctx, { message: `${n} is out of range`, fix: `set ${field} (${meaning}) to a whole number between ${min} and ${max}` });
    });
}

const address = checkedString((s) => {
    const fix = "use the host's IP address or DNS name only, such as 10.0.0.11";
    if (s.includes("@")) return { message: `"${s}" contains a user`, fix: "put the user in ssh.user (or this host's ssh.user) and only the address here" };
    if (/^[^:]+:\d+$/.test(s)) return { message: `"${s}" contains a port`, fix: "put the port in ssh.port (or this host's ssh.port) and only the address here" };
    if (DNS_OR_IPV4.test(s) || (s.includes(":") && IPV6.test(s))) return undefined;
    return { message: `"${s}" is not a host address`, fix };
});

const hostName = checkedString((s) =>
    HOST_NAME.test(s)
        ? undefined
        : { message: `"${s}" is not a valid host name`, fix: `use letters, digits, "_", "." or "-" (no spaces or "/"), such as A or scm-node-1` },
);

const siteName = checkedString((s) =>
    SITE_NAME.test(s)
        ? undefined
        : { message: `"${s}" is not a valid site name`, fix: `use the content-server site name as SequoiaCM knows it: letters, digits, "_", "." or "-", such as rootSite` },
);

/** A service name, narrowed to `ServiceName`; a near miss or a cloud node type gets a suggestion. */
const serviceName = z.string().transform((s, ctx): ServiceName => {
    if (isServiceName(s)) return s;
    const nodeTypeOf = serviceOfNodeType(s);
    const guess = closestServiceName(s);
    const fix = nodeTypeOf
        ? `"${s}" is a node type of ${nodeTypeOf}: list "${nodeTypeOf}" (scmupgrade.py upgrades all its node types at once)`
        : `${guess ? `did you mean "${guess}"? ` : ""}Use one of ${SERVICE_NAMES.join(", ")}`;
    report(ctx as Ctx, { message: `unknown service "${s}"`, fix });
    // The parse fails on the issue above; the text stays in place so the cross-checks can guess what was meant.
    return s as ServiceName;
});

function expandLocal(p: string, opts: ValidateOptions): string {
    const home = opts.homeDir ?? os.homedir();
    if (p === "~") return home;
    if (p.startsWith("~/")) return path.join(home, p.slice(2));
    return path.resolve(opts.baseDir ?? process.cwd(), p);
}

function defaultFileExists(p: string): boolean {
    try {
        return fs.statSync(p).isFile();
    } catch {
        return false;
    }
}

function defaultReadable(p: string): boolean {
    try {
        fs.accessSync(p, fs.constants.R_OK);
        return fs.statSync(p).isFile();
    } catch {
        return false;
    }
}

/** A path on this machine, resolved to an absolute path and checked with the injected fs function. */
function localFile(opts: ValidateOptions, kind: "file" | "readable", what: string, extraCheck?: (abs: string) => Finding | undefined) {
    const test = kind === "file" ? (opts.fileExists ?? defaultFileExists) : (opts.readable ?? defaultReadable);
    return z.string().transform((s, ctx) => {
        if (s.trim() === "") {
            report(ctx as Ctx, { message: "is empty", fix: `set it to the path of ${what} on this machine` });
            return z.NEVER;
        }
        const abs = expandLocal(s, opts);
        const shown = abs === s ? `"${s}"` : `"${s}" (${abs})`;
        const extra = extraCheck?.(abs);
        if (extra) report(ctx as Ctx, extra);
        else if (!test(abs))
            report(ctx as Ctx, {
                message: kind === "file" ? `no file at ${shown}` : `cannot read ${shown}`,
                fix:
                    kind === "file"
                        ? `check the path of ${what}, relative paths count from ${opts.baseDir ?? "the project folder"}`
                        : `check the path and the permissions of ${what}, or store the key as a secret: pulumi config set --secret scm-upgrade:sshPrivateKey < <key file>`,
            });
        return abs;
    });
}

const TARBALL = /\.(tar\.gz|tgz)$/;
const tarballCheck = (s: string): Finding | undefined =>
    TARBALL.test(s) ? undefined : { message: `"${s}" is not a .tar.gz file`, fix: "use the release tarball, such as sequoiacm-3.2.0-release.tar.gz" };

// ---------------------------------------------------------------------------------------------------------------
// Object shapes (strict: an unknown key is refused, naming it).

function shapes(opts: ValidateOptions) {
    const keyFile = () => localFile(opts, "readable", "the SSH private key");
    const packageShape = {
        /** The release tarball on this machine; its sha256 is computed and it is copied to every host. */
        localPath: localFile(opts, "file", "the release tarball", (abs) => tarballCheck(abs)).optional(),
        /** The release tarball already present on every host (absolute path). */
        remotePath: remoteAbsPath("/tmp/sequoiacm-3.2.0-release.tar.gz")
            .superRefine((s, ctx) => {
                if (s.startsWith("/")) {
                    const f = tarballCheck(s);
                    if (f) report(ctx as Ctx, f);
                }
            })
            .optional(),
    };
    const bastionShape = {
        host: address,
        port: port().default(DEFAULTS.sshPort),
        /** Default: the SSH user of the host. */
        user: loginUser.optional(),
    };
    const sshShape = {
        /** Default: `installUser`. */
        user: loginUser.optional(),
        port: port().default(DEFAULTS.sshPort),
        privateKeyFile: keyFile().optional(),
        bastion: z.strictObject(bastionShape).optional(),
        /** Failed SSH dials before a host counts as unreachable (the provider's `dialErrorLimit`). */
        dialErrorLimit: wholeNumber(1, 100, "dialErrorLimit", "failed SSH dials before a host counts as unreachable").default(DEFAULTS.dialErrorLimit),
        /** Seconds one SSH dial may take (the provider's `perDialTimeout`). */
        perDialTimeoutSeconds: wholeNumber(1, 600, "perDialTimeoutSeconds", "seconds one SSH dial may take").default(DEFAULTS.perDialTimeoutSeconds),
    };
    const hostSshShape = {
        user: loginUser.optional(),
        port: port().optional(),
        privateKeyFile: keyFile().optional(),
    };
    const hostShape = {
        name: hostName,
        address,
        center: oneOf(CENTERS, "primary or standby"),
        services: z.array(serviceName),
        /** The content-server site of the host (required when it runs content-server). */
        site: siteName.optional(),
        /** The host's content-server belongs to the root (main) site. */
        rootSite: z.boolean().default(false),
        ssh: z.strictObject(hostSshShape).optional(),
        installRoot: remoteAbsPath("/opt/sequoiacm").optional(),
        stagingDir: remoteAbsPath("/opt/scm_upgrade").optional(),
    };
    const soakShape = {
        /** How long the standby nodes are watched before each primary wave, in seconds. */
        seconds: wholeNumber(SOAK_RANGE.min, SOAK_RANGE.max, "soak.seconds", "how long the upgraded standby nodes are watched before each primary wave, e.g. 600"),
        /** How often their health is read during the soak. */
        intervalSeconds: wholeNumber(SOAK_RANGE.min, 3600, "soak.intervalSeconds", "how often the standby nodes' health is read during the soak, e.g. 10").optional(),
    };
    const topShape = {
        targetVersion: version("3.2.0").default(DEFAULTS.targetVersion),
        sourceVersion: version("3.1.2").default(DEFAULTS.sourceVersion),
        package: z.strictObject(packageShape).superRefine((p, ctx) => {
            // Runs even when a field failed (to list every problem), so `p` may be anything.
            const o = obj(p);
            if (!o) return;
            const has = (k: string) => o[k] !== undefined;
            if (!has("localPath") && !has("remotePath"))
                report(ctx as Ctx, {
                    message: "sets neither localPath nor remotePath",
                    fix: "set package.localPath to the tarball on this machine, or package.remotePath to the tarball already on every host",
                });
            else if (has("localPath") && has("remotePath"))
                report(ctx as Ctx, { message: "sets both localPath and remotePath", fix: "keep exactly one of them" });
        }, { when: () => true })
            .transform((p): PackageSource => (p.localPath !== undefined ? { localPath: p.localPath } : { remotePath: p.remotePath as string })),
        stagingDir: remoteAbsPath("/opt/scm_upgrade").default(DEFAULTS.stagingDir),
        installRoot: remoteAbsPath("/opt/sequoiacm").default(DEFAULTS.installRoot),
        installUser: posixName("user", "scmadmin").default(DEFAULTS.installUser),
        installGroup: posixName("group", "scmadmin_group").default(DEFAULTS.installGroup),
        become: oneOf(BECOME_MODES, "login (the SSH user is the install user), sudo or su").default(DEFAULTS.become),
        ssh: z.strictObject(sshShape).prefault({}),
        hosts: z.array(z.strictObject(hostShape)),
        serviceOrder: z.array(serviceName).default([...DEFAULTS.serviceOrder]),
        sitePolicy: oneOf(SITE_POLICIES, "site-first or center-first").default(DEFAULTS.sitePolicy),
        parallelism: z
            .number()
            .superRefine((n, ctx) => {
                if (!Number.isInteger(n) || n < 1)
                    report(ctx as Ctx, { message: `${n} is not a whole number of 1 or more`, fix: "set parallelism to how many nodes of one wave upgrade at once: 1 or more (default 1)" });
            })
            .default(DEFAULTS.parallelism),
        healthTimeoutSeconds: z
            .number()
            .superRefine((n, ctx) => {
                const { min, max } = HEALTH_TIMEOUT_RANGE;
                if (!Number.isInteger(n) || n < min || n > max)
                    report(ctx as Ctx, {
                        message: `${n} is out of range`,
                        fix: `use a whole number of seconds between ${min} and ${max} (default ${DEFAULTS.healthTimeoutSeconds})`,
                    });
            })
            .default(DEFAULTS.healthTimeoutSeconds),
        upgradeScript: localFile(opts, "file", "scmupgrade.py").optional(),
        rollbackOnHealthFailure: z.boolean().default(DEFAULTS.rollbackOnHealthFailure),
        /** Watch the upgraded standby nodes this long before each primary wave (default: no soak). */
        soak: z
            .strictObject(soakShape)
            .superRefine((sk, ctx) => {
                const o = obj(sk);
                if (o && typeof o.seconds === "number" && typeof o.intervalSeconds === "number" && o.intervalSeconds > o.seconds)
                    report(ctx as Ctx, {
                        message: `intervalSeconds ${o.intervalSeconds} is longer than the soak (${o.seconds} s)`,
                        fix: "set soak.intervalSeconds to at most soak.seconds (how often the standby nodes' health is read during the soak)",
                    }, ["intervalSeconds"]);
            }, { when: () => true })
            .transform((sk) => ({ seconds: sk.seconds, intervalSeconds: sk.intervalSeconds ?? Math.min(SOAK_RANGE.defaultIntervalSeconds, sk.seconds) }))
            .optional(),
    };
    return { packageShape, bastionShape, sshShape, hostSshShape, hostShape, soakShape, topShape };
}

/** The config schema; `opts` supplies the file checks and how local paths resolve. */
export function makeConfigSchema(opts: ValidateOptions = {}) {
    return z.strictObject(shapes(opts).topShape).superRefine((value, ctx) => crossChecks(value, ctx as Ctx, opts), {
        // Run even when some fields failed, so that every problem is listed at once.
        when: () => true,
    });
}

export type UpgradeConfig = z.output<ReturnType<typeof makeConfigSchema>>;
export type HostConfig = UpgradeConfig["hosts"][number];
/** The config as written, before defaults. */
export type UpgradeConfigInput = z.input<ReturnType<typeof makeConfigSchema>>;

/** Keys allowed at each (index-free) object path, for "did you mean" on an unknown key. */
const KNOWN_KEYS: Record<string, readonly string[]> = (() => {
    const s = shapes({});
    return {
        "": Object.keys(s.topShape),
        package: Object.keys(s.packageShape),
        ssh: Object.keys(s.sshShape),
        "ssh.bastion": Object.keys(s.bastionShape),
        "hosts[]": Object.keys(s.hostShape),
        "hosts[].ssh": Object.keys(s.hostSshShape),
        soak: Object.keys(s.soakShape),
    };
})();

// ---------------------------------------------------------------------------------------------------------------
// Cross-field and topology checks. The value may be partly invalid (this runs even when fields failed), so
// every field is read defensively and a check whose inputs are invalid stays silent: the field error says it.

function str(v: unknown): string | undefined {
    return typeof v === "string" ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

interface HostView {
    i: number;
    label: string;
    name?: string;
    address?: string;
    center?: Center;
    /** false when the center is set but not valid: checks that need it stay silent. */
    centerKnown: boolean;
    /** The valid service names of the host, with their index in `services`. */
    services: { service: ServiceName; j: number }[];
    /** Valid names plus the closest guess for each misspelt one: what the host most likely runs. */
    likely: Set<ServiceName>;
    /** false when `services` is not a list: checks that need it stay silent. */
    servicesKnown: boolean;
    site?: string;
    siteSet: boolean;
    rootSite: boolean;
    sshUser?: string;
    sshPort?: number;
    privateKeyFile?: string;
}

function hostViews(hosts: unknown): HostView[] {
    if (!Array.isArray(hosts)) return [];
    return hosts.map((raw, i) => {
        const h = obj(raw) ?? {};
        const name = str(h.name);
        const center = CENTERS.find((c) => c === h.center);
        const ssh = obj(h.ssh) ?? {};
        const list: unknown[] = Array.isArray(h.services) ? h.services : [];
        const services = list.flatMap((s, j) => (isServiceName(s) ? [{ service: s, j }] : []));
        const likely = new Set<ServiceName>(services.map((x) => x.service));
        for (const s of list) {
            const guess = typeof s === "string" && !isServiceName(s) ? (serviceOfNodeType(s) ?? closestServiceName(s)) : undefined;
            if (guess) likely.add(guess);
        }
        return {
            i,
            label: name !== undefined ? `"${name}"` : `hosts[${i}]`,
            name,
            address: str(h.address),
            center,
            centerKnown: center !== undefined,
            services,
            likely,
            servicesKnown: Array.isArray(h.services),
            site: str(h.site),
            siteSet: h.site !== undefined,
            rootSite: h.rootSite === true,
            sshUser: str(ssh.user),
            sshPort: typeof ssh.port === "number" ? ssh.port : undefined,
            privateKeyFile: str(ssh.privateKeyFile),
        };
    });
}

const runs = (h: HostView, s: ServiceName) => h.services.some((x) => x.service === s);
/** Runs `s`, counting a misspelt name as its closest service: a typo should not also read as a missing node. */
const likelyRuns = (h: HostView, s: ServiceName) => h.likely.has(s);
const names = (hs: HostView[]) => hs.map((h) => h.name ?? `hosts[${h.i}]`).join(", ");

function crossChecks(value: unknown, ctx: Ctx, opts: ValidateOptions): void {
    const v = obj(value);
    if (!v) return;
    const hosts = hostViews(v.hosts);

    // Versions: the upgrade must go forward.
    const target = str(v.targetVersion);
    const source = str(v.sourceVersion);
    if (isStrictVersion(target) && isStrictVersion(source) && compareVersions(target, source) <= 0)
        report(
            ctx,
            {
                message: `targetVersion ${target} is not greater than sourceVersion ${source}`,
                fix: "set targetVersion to the version being installed (such as 3.2.0) and sourceVersion to the version running now (such as 3.1.2); downgrades are not supported",
            },
            ["targetVersion"],
        );

    if (Array.isArray(v.hosts) && v.hosts.length === 0)
        report(ctx, { message: "lists no hosts", fix: "list every host to upgrade as { name, address, center, services }" }, ["hosts"]);

    // Unique host names and unique SSH endpoints.
    const ssh = obj(v.ssh) ?? {};
    const defaultPort = typeof ssh.port === "number" ? ssh.port : DEFAULTS.sshPort;
    const byName = new Map<string, HostView>();
    const byEndpoint = new Map<string, HostView>();
    for (const h of hosts) {
        if (h.name !== undefined) {
            const first = byName.get(h.name);
            if (first)
                report(ctx, { message: `duplicate host name "${h.name}" (also hosts[${first.i}])`, fix: "give every host a unique name" }, ["hosts", h.i, "name"]);
            else byName.set(h.name, h);
        }
        if (h.address !== undefined) {
            const p = h.sshPort ?? defaultPort;
            const key = `${h.address.toLowerCase()}:${p}`;
            const first = byEndpoint.get(key);
            if (first)
                report(
                    ctx,
                    {
                        message: `address ${h.address} port ${p} is already used by host ${first.label} (hosts[${first.i}])`,
                        fix: "give each host its own address, or its own ssh.port when several sshd share one address",
                    },
                    ["hosts", h.i, "address"],
                );
            else byEndpoint.set(key, h);
        }
    }

    // Services: listed once per host, in serviceOrder, each with a node in both centers.
    const order = Array.isArray(v.serviceOrder) ? v.serviceOrder : [];
    const orderValid = order.filter(isServiceName);
    const seenInOrder = new Map<ServiceName, number>();
    order.forEach((s, k) => {
        if (!isServiceName(s)) return;
        if (seenInOrder.has(s))
            report(ctx, { message: `"${s}" is listed twice (also serviceOrder[${seenInOrder.get(s)}])`, fix: "list each service once" }, ["serviceOrder", k]);
        else seenInOrder.set(s, k);
    });
    if (Array.isArray(v.serviceOrder) && v.serviceOrder.length === 0)
        report(ctx, { message: "is empty", fix: `list the services to upgrade in order, such as ${DEFAULT_SERVICE_ORDER.join(", ")}` }, ["serviceOrder"]);
    // With an empty or partly misspelt serviceOrder, "not in serviceOrder" would only repeat that problem.
    const orderKnown = Array.isArray(v.serviceOrder) && order.length > 0 && orderValid.length === order.length;
    for (const h of hosts) {
        const seen = new Set<ServiceName>();
        for (const { service, j } of h.services) {
            if (seen.has(service))
                report(ctx, { message: `"${service}" is listed twice on host ${h.label}`, fix: "list each service of a host once" }, ["hosts", h.i, "services", j]);
            seen.add(service);
            if (orderKnown && !orderValid.includes(service))
                report(
                    ctx,
                    {
                        message: `"${service}" is not in serviceOrder, so it would never be upgraded`,
                        fix: `add "${service}" to serviceOrder, or remove it from this host`,
                    },
                    ["hosts", h.i, "services", j],
                );
        }
    }
    for (const service of SERVICE_NAMES) {
        const running = hosts.filter((h) => runs(h, service));
        if (running.length === 0 || hosts.some((h) => !h.servicesKnown)) continue;
        if (hosts.some((h) => likelyRuns(h, service) && !h.centerKnown)) continue;
        const first = running[0];
        const at = ["hosts", first.i, "services", first.services.find((x) => x.service === service)!.j];
        for (const [missing, present] of [
            ["standby", "primary"],
            ["primary", "standby"],
        ] as const) {
            if (hosts.some((h) => likelyRuns(h, service) && h.center === missing)) continue;
            report(
                ctx,
                {
                    message: `${service} runs on ${present} host${running.length > 1 ? "s" : ""} ${names(running)} but on no ${missing} host`,
                    fix: `add ${service} to the services of a ${missing} host: a rolling upgrade needs a node of every service in both centers`,
                },
                at,
            );
        }
    }

    // Content-server sites: every content-server host names its site; exactly one site is the root site.
    const content = hosts.filter((h) => runs(h, "content-server"));
    for (const h of hosts) {
        if (!h.servicesKnown) continue;
        if (runs(h, "content-server")) {
            if (!h.siteSet)
                report(
                    ctx,
                    {
                        message: `host ${h.label} runs content-server but has no site`,
                        fix: "set site to the name of its content-server site (spring.application.name in conf/content-server/<port>/application.properties)",
                    },
                    ["hosts", h.i, "site"],
                );
        } else if (!likelyRuns(h, "content-server")) {
            if (h.siteSet)
                report(ctx, { message: `host ${h.label} has a site but runs no content-server`, fix: "remove site, or add content-server to its services" }, ["hosts", h.i, "site"]);
            if (h.rootSite)
                report(ctx, { message: `host ${h.label} sets rootSite but runs no content-server`, fix: "remove rootSite, or add content-server to its services" }, ["hosts", h.i, "rootSite"]);
        }
    }
    const rootSites = new Map<string, HostView[]>();
    for (const h of content) if (h.rootSite && h.site !== undefined) rootSites.set(h.site, [...(rootSites.get(h.site) ?? []), h]);
    const rootWithoutSite = content.some((h) => h.rootSite && h.site === undefined);
    if (content.length > 0 && rootSites.size === 0 && !rootWithoutSite) {
        const sites = [...new Set(content.flatMap((h) => (h.site !== undefined ? [h.site] : [])))];
        report(
            ctx,
            {
                message: `no root site: none of the content-server hosts (${names(content)}) sets rootSite${sites.length ? `; sites: ${sites.join(", ")}` : ""}`,
                fix: "set rootSite: true on the content-server hosts of the main site (exactly one site)",
            },
            ["hosts"],
        );
    }
    if (rootSites.size > 1)
        report(
            ctx,
            {
                message: `more than one root site: ${[...rootSites].map(([s, hs]) => `${s} (${names(hs)})`).join(", ")}`,
                fix: "keep rootSite: true on the hosts of one site only; the other sites are branch sites",
            },
            ["hosts"],
        );
    for (const h of content) {
        if (h.rootSite || h.site === undefined) continue;
        const roots = rootSites.get(h.site);
        if (roots)
            report(
                ctx,
                {
                    message: `site "${h.site}" is the root site on ${names(roots)} but a branch site on host ${h.label}`,
                    fix: `set rootSite: true on every host of site "${h.site}", or give the branch site another name`,
                },
                ["hosts", h.i, "rootSite"],
            );
    }

    // How commands reach the install user.
    const installUser = str(v.installUser);
    const become = BECOME_MODES.find((b) => b === v.become);
    const globalUser = str(ssh.user);
    if (installUser !== undefined && become !== undefined) {
        const usesGlobal = hosts.length === 0 || hosts.some((h) => h.sshUser === undefined);
        if (usesGlobal && (globalUser !== undefined || ssh.user === undefined)) {
            const f = becomeFinding(become, globalUser ?? installUser, installUser, globalUser === undefined, "ssh.user");
            if (f) report(ctx, f, ["ssh", "user"]);
        }
        for (const h of hosts) {
            if (h.sshUser === undefined) continue;
            const f = becomeFinding(become, h.sshUser, installUser, false, `hosts[${h.i}].ssh.user`);
            if (f) report(ctx, f, ["hosts", h.i, "ssh", "user"]);
        }
    }

    // SSH credentials, when the caller says which secrets exist.
    if (opts.secretsPresent) {
        const secrets = new Set(opts.secretsPresent);
        const globalKey = str(ssh.privateKeyFile);
        const hasSecret = secrets.has("sshPrivateKey") || secrets.has("sshPassword");
        const bare = hosts.filter((h) => h.privateKeyFile === undefined && globalKey === undefined);
        if (!hasSecret && bare.length > 0)
            report(
                ctx,
                {
                    message: `no SSH credential for host${bare.length > 1 ? "s" : ""} ${names(bare)}`,
                    fix: "set ssh.privateKeyFile (or the host's ssh.privateKeyFile), or store a key or a password as a secret: pulumi config set --secret scm-upgrade:sshPrivateKey < <key file> (or scm-upgrade:sshPassword)",
                },
                ["ssh"],
            );
        if (secrets.has("sshPrivateKeyPassphrase") && !secrets.has("sshPrivateKey") && globalKey === undefined && hosts.every((h) => h.privateKeyFile === undefined))
            report(
                ctx,
                {
                    message: "sshPrivateKeyPassphrase is set but no private key is configured",
                    fix: "set the key too (ssh.privateKeyFile or the sshPrivateKey secret), or remove the passphrase",
                },
                ["sshPrivateKeyPassphrase"],
            );
    }
}

function becomeFinding(become: BecomeMode, user: string, installUser: string, defaulted: boolean, field: string): Finding | undefined {
    const who = defaulted ? `the SSH user defaults to the install user "${installUser}" (${field} is not set)` : `the SSH user is "${user}"`;
    switch (become) {
        case "login":
            return user === installUser
                ? undefined
                : {
                      message: `become is login, so the SSH user must be the install user "${installUser}", but ${who}`,
                      fix: `set become to sudo to log in as "${user}" and switch to "${installUser}", or set ${field} to "${installUser}"`,
                  };
        case "sudo":
            return user !== installUser
                ? undefined
                : {
                      message: `become is sudo, but ${defaulted ? who : `the SSH user is the install user "${installUser}" itself`}`,
                      fix: `set ${field} to the login user allowed to sudo to "${installUser}", or set become to login`,
                  };
        case "su":
            // su from any user but root asks for the install user's password, which this tool does not hold.
            return user === "root"
                ? undefined
                : {
                      message: `become is su, which needs the SSH user to be root (su asks any other user for a password), but ${who}`,
                      fix: `set ${field} to root, or set become to sudo`,
                  };
    }
}

// ---------------------------------------------------------------------------------------------------------------
// From zod issues to problems.

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

function issueToProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
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
                        message: issue.input === undefined ? "no configuration is set" : `the configuration must be an object, not ${describeValue(issue.input)}`,
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
function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
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
 * Validates a raw config object (the `scm-upgrade:` keys without their namespace, values already parsed from JSON).
 * Returns the config with its defaults, or every problem found.
 */
export function validateConfig(raw: unknown, opts: ValidateOptions = {}): ValidationResult {
    const result = makeConfigSchema(opts).safeParse(raw, { reportInput: true });
    if (result.success) return { ok: true, config: result.data };
    const seen = new Set<string>();
    const problems = result.error.issues.flatMap(issueToProblems).filter((p) => {
        const k = `${p.path}\u0000${p.message}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
    });
    return { ok: false, problems: sortProblems(problems) };
}

/** Like `validateConfig`, but throws an Error whose message is `formatProblems(...)`. */
export function parseConfig(raw: unknown, opts: ValidateOptions & { stackFile?: string } = {}): UpgradeConfig {
    const r = validateConfig(raw, opts);
    if (!r.ok) throw new Error(formatProblems(r.problems, opts.stackFile));
    return r.config;
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

/** A host with the SSH defaults and per-host overrides merged. */
export interface EffectiveHost {
    name: string;
    address: string;
    center: Center;
    services: ServiceName[];
    site?: string;
    rootSite: boolean;
    /** SSH login user: host `ssh.user`, else `ssh.user`, else `installUser`. */
    user: string;
    /** SSH port: host `ssh.port`, else `ssh.port` (default 22). */
    port: number;
    /** Local private key file: host `ssh.privateKeyFile`, else `ssh.privateKeyFile`; none means a secret key or password. */
    privateKeyFile?: string;
    installRoot: string;
    stagingDir: string;
    /** The bastion to jump through, its user defaulting to the host's SSH user. */
    bastion?: { host: string; port: number; user: string };
}

export function effectiveHost(config: UpgradeConfig, host: HostConfig): EffectiveHost {
    const user = host.ssh?.user ?? config.ssh.user ?? config.installUser;
    const privateKeyFile = host.ssh?.privateKeyFile ?? config.ssh.privateKeyFile;
    const b = config.ssh.bastion;
    return {
        name: host.name,
        address: host.address,
        center: host.center,
        services: [...host.services],
        ...(host.site !== undefined ? { site: host.site } : {}),
        rootSite: host.rootSite,
        user,
        port: host.ssh?.port ?? config.ssh.port,
        ...(privateKeyFile !== undefined ? { privateKeyFile } : {}),
        installRoot: host.installRoot ?? config.installRoot,
        stagingDir: host.stagingDir ?? config.stagingDir,
        ...(b ? { bastion: { host: b.host, port: b.port, user: b.user ?? user } } : {}),
    };
}
