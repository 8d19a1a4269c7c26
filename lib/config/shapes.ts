/**
 * The config's shapes: one zod schema per field, with defaults, each refusal carrying its fix, and the
 * strict objects built from them (an unknown key is refused by name). `makeConfigSchema` adds the
 * cross-field rules of rules.ts.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { z } from "zod";
import { closestName, closestServiceName, isServiceName, SERVICE_NAMES, ServiceName, serviceOfNodeType } from "../services";
import { isStrictVersion } from "../versions";
import { Finding, obj } from "./finding";
import { crossChecks } from "./rules";
import { BECOME_MODES, CENTERS, DEFAULTS, HEALTH_TIMEOUT_RANGE, PackageSource, SITE_POLICIES, SOAK_RANGE, ValidateOptions } from "./vocabulary";

// ---------------------------------------------------------------------------------------------------------------
// Field schemas. Every refusal is a custom issue carrying its fix in `params.fix`.

type Ctx = z.core.$RefinementCtx<unknown>;

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

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this pattern's job.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * The characters a path on the hosts may have. The tool quotes every value it sends, but the vendor's
 * scmupgrade.py pastes its paths unquoted into shell commands (`os.system("tar -xf " + package + ...)`), so a
 * space, a quote, `$`, a backquote or `;` in the install or staging folder would break it or run as a command.
 */
export const SAFE_PATH = /^\/[A-Za-z0-9._+@,=/-]*$/;

/** An absolute path on the hosts, in the safe character set. */
const remoteAbsPath = (example: string) =>
    checkedString((s) => {
        if (s === "") return { message: "is empty", fix: `use an absolute path such as ${example}` };
        if (CONTROL_CHARS.test(s)) return { message: `${JSON.stringify(s)} contains a control character`, fix: `use an absolute path such as ${example}` };
        if (!s.startsWith("/")) return { message: `"${s}" is not an absolute path`, fix: `use an absolute path such as ${example}` };
        if (s.split("/").includes("..")) return { message: `"${s}" contains ".."`, fix: `write the path without "..", such as ${example}` };
        const bad = [...new Set([...s].filter((ch) => !/[A-Za-z0-9._+@,=/-]/.test(ch)))];
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
    USER_NAME.test(s) ? undefined : { message: `"${s}" is not a valid user name`, fix: `use letters, digits, "_", "." or "-", such as scmadmin` },
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
    if (/^[^:]+:\d+$/.test(s))
        return { message: `"${s}" contains a port`, fix: "put the port in ssh.port (or this host's ssh.port) and only the address here" };
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
        : {
              message: `"${s}" is not a valid site name`,
              fix: `use the content-server site name as SequoiaCM knows it: letters, digits, "_", "." or "-", such as rootSite`,
          },
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
                        : `check the path and the permissions of ${what}, or store the key as a secret: scm-upgrade secret sshPrivateKey --stack <stack> --from <key file>`,
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
    const releaseOpts: ValidateOptions = opts.releaseUnused ? { ...opts, fileExists: () => true } : opts;
    const packageShape = {
        /** The release tarball on this machine; its sha256 is computed and it is copied to every host. */
        localPath: localFile(releaseOpts, "file", "the release tarball", (abs) => tarballCheck(abs)).optional(),
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
        /**
         * A host with a step in flight that answers no SSH login this long counts as lost: the run stops (the
         * provider would wait for it for ever). Probed by the tool itself while the step runs.
         */
        unansweredSeconds: wholeNumber(5, 3600, "unansweredSeconds", "seconds a host with a step in flight may answer no SSH before the run stops").default(
            DEFAULTS.unansweredSeconds,
        ),
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
        seconds: wholeNumber(
            SOAK_RANGE.min,
            SOAK_RANGE.max,
            "soak.seconds",
            "how long the upgraded standby nodes are watched before each primary wave, e.g. 600",
        ),
        /** How often their health is read during the soak. */
        intervalSeconds: wholeNumber(
            SOAK_RANGE.min,
            3600,
            "soak.intervalSeconds",
            "how often the standby nodes' health is read during the soak, e.g. 10",
        ).optional(),
    };
    const topShape = {
        targetVersion: version("3.2.0").default(DEFAULTS.targetVersion),
        sourceVersion: version("3.1.2").default(DEFAULTS.sourceVersion),
        package: z
            .strictObject(packageShape)
            .superRefine(
                (p, ctx) => {
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
                },
                { when: () => true },
            )
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
                    report(ctx as Ctx, {
                        message: `${n} is not a whole number of 1 or more`,
                        fix: "set parallelism to how many nodes of one wave upgrade at once: 1 or more (default 1)",
                    });
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
        /**
         * After its health gate, a node must stay healthy this long before the next node starts (Kubernetes'
         * `minReadySeconds`): one that dies right after `scmupgrade.py` reported success stops the run there. Default 0.
         */
        healthStableSeconds: wholeNumber(
            0,
            3600,
            "healthStableSeconds",
            "how long each upgraded node must stay healthy after its health gate, e.g. 30",
        ).default(DEFAULTS.healthStableSeconds),
        upgradeScript: localFile(releaseOpts, "file", "scmupgrade.py").optional(),
        rollbackOnHealthFailure: z.boolean().default(DEFAULTS.rollbackOnHealthFailure),
        /** Watch the upgraded standby nodes this long before each primary wave (default: no soak). */
        soak: z
            .strictObject(soakShape)
            .superRefine(
                (sk, ctx) => {
                    const o = obj(sk);
                    if (o && typeof o.seconds === "number" && typeof o.intervalSeconds === "number" && o.intervalSeconds > o.seconds)
                        report(
                            ctx as Ctx,
                            {
                                message: `intervalSeconds ${o.intervalSeconds} is longer than the soak (${o.seconds} s)`,
                                fix: "set soak.intervalSeconds to at most soak.seconds (how often the standby nodes' health is read during the soak)",
                            },
                            ["intervalSeconds"],
                        );
                },
                { when: () => true },
            )
            .transform((sk) => ({ seconds: sk.seconds, intervalSeconds: sk.intervalSeconds ?? Math.min(SOAK_RANGE.defaultIntervalSeconds, sk.seconds) }))
            .optional(),
    };
    return { packageShape, bastionShape, sshShape, hostSshShape, hostShape, soakShape, topShape };
}

/** The config schema; `opts` supplies the file checks and how local paths resolve. */
export function makeConfigSchema(opts: ValidateOptions = {}) {
    return z.strictObject(shapes(opts).topShape).superRefine((value, ctx) => crossChecks(value, (f, at) => report(ctx as Ctx, f, at), opts), {
        // Run even when some fields failed, so that every problem is listed at once.
        when: () => true,
    });
}

export type UpgradeConfig = z.output<ReturnType<typeof makeConfigSchema>>;
export type HostConfig = UpgradeConfig["hosts"][number];
/** Keys allowed at each (index-free) object path, for "did you mean" on an unknown key. */
export const KNOWN_KEYS: Record<string, readonly string[]> = (() => {
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
