/**
 * The config's vocabulary: its enumerations, defaults and bounds, and the types every part of the
 * config module shares (a problem, the validation options and result).
 */
import { DEFAULT_SERVICE_ORDER, ServiceName } from "../services";
import type { UpgradeConfig } from "./shapes";

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
export const isSecretKey = (name: string): name is SecretKey => (SECRET_KEYS as readonly string[]).includes(name);

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
    unansweredSeconds: 60,
    serviceOrder: DEFAULT_SERVICE_ORDER,
    sitePolicy: "site-first" as SitePolicy,
    parallelism: 1,
    healthTimeoutSeconds: 120,
    healthStableSeconds: 0,
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
    /**
     * The command neither uploads nor unpacks the release (rollback, status, refresh): its files on this machine
     * (`package.localPath`, `upgradeScript`) are resolved but not looked for, so a rollback works without them.
     */
    releaseUnused?: boolean;
}

export type { ServiceName };

export type ValidationResult = { ok: true; config: UpgradeConfig } | { ok: false; problems: ConfigProblem[] };
