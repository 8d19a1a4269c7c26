/**
 * The live state of a host's nodes, read before every preview and up so that the engine decides
 * from what is on the hosts, not from what the state file remembers. Pure: shell text and parsing.
 */
import { UpgradeConfig, effectiveHost } from "./config/schema";
import { ServiceName } from "./services";
import {
    asInstallUser,
    CONF_PORTS_FN,
    healthBase,
    healthPath,
    healthyFn,
    installedVersionFn,
    hostLockPath,
    runningRecord,
    serviceFilesOf,
    shQuote,
    TOP_STATUS_FN,
    unfinishedMark,
} from "./shell";

/** One node (a service on a host) as it is now. */
export interface LiveNode {
    host: string;
    service: string;
    /** The installed version from the jar names: a version, `none` or `mixed`. */
    version: string;
    /** At the target, every node that must run running, and healthy (top-level status UP). */
    done: boolean;
    /** Why it is not done, when it is not. */
    detail: string;
}

/**
 * The probe for one host: one SSH command, as the install user, printing one line per service:
 * `SCMUP live service=<s> version=<v> done=yes|no detail=<why>`. A node counts as done only when it
 * is at the target with its nodes running and healthy, the same test the node script uses before it
 * skips a node, so the probe and the run agree. The services are read at once (one subshell each):
 * the host's answer takes as long as its slowest service, not their sum.
 */
export function renderLiveProbe(config: UpgradeConfig, hostName: string): string {
    const host = config.hosts.find((h) => h.name === hostName);
    if (!host) throw new Error(`no host ${hostName} in the configuration`);
    const e = effectiveHost(config, host);
    const lines = ["set -u", "export LC_ALL=C", TOP_STATUS_FN, `target=${shQuote(config.targetVersion)}`];
    lines.push(`health_base=${shQuote(healthBase(host.address))}`, `health_path=${shQuote(healthPath(config.targetVersion))}`);
    // A script of another run still at work on the host (it holds the host's lock: a driver killed outright whose
    // script goes on) may yet change what this read sees: no node of the host counts as done, and the run that
    // follows waits for the lock, then reads the install afresh. One flock, no wait.
    lines.push(
        `lock=${shQuote(hostLockPath(e.stagingDir))}`,
        'busy=; if [ -r "$lock" ] && command -v flock >/dev/null 2>&1 && ! flock -n 8 8<"$lock"; then busy=1; fi',
    );
    for (const name of host.services) {
        const s = serviceFilesOf(name as ServiceName);
        const install = `${e.installRoot.replace(/\/+$/, "")}/${s.folder}`;
        lines.push(
            "(",
            `svc=${shQuote(s.service)}`,
            `install=${shQuote(install)}`,
            `ctl=${shQuote(`${install}/bin/${s.ctl}`)}`,
            `record=${shQuote(runningRecord(e.stagingDir, s.folder, config.targetVersion))}`,
            `unfinished=${shQuote(unfinishedMark(e.stagingDir, s.folder, config.targetVersion))}`,
            installedVersionFn(s),
            // The node ports configured on the host: no control script runs, so the read stays quick and changes nothing.
            CONF_PORTS_FN,
            healthyFn({ service: s }),
            'v=$(installed_version "$install")',
            'done=no; detail="installed $v"',
            'if [ -n "$busy" ]; then detail="installed $v, a script of another run is at work on the host (it holds $lock)"',
            // the node script of an earlier run cut off after scmupgrade.py: the nodes may not run as they did
            'elif [ "$v" = "$target" ] && [ -f "$unfinished" ]; then detail="at $target, the upgrade of an earlier run did not finish (its nodes may not run as they did before)"',
            'elif [ "$v" = "$target" ]; then',
            // `read` and a plain substitution: no `tr` to fork (newlines split the ports as well as spaces)
            '  must=; if [ -f "$record" ]; then read -r -d "" must < "$record" || true; else must=$(conf_ports); fi',
            // A node that answers its health document with a top-level UP is running and healthy; the
            // nodes are asked at once (the substitution ends when the last one has answered).
            '  sick=$(for p in $must; do (healthy "$p" || printf " %s" "$p") & done; wait)',
            '  if [ -n "$sick" ]; then detail="at $target, not running or not healthy:$sick"; else done=yes; detail="at $target, healthy"; fi',
            "fi",
            'echo "SCMUP live service=$svc version=$v done=$done detail=$detail"',
            ") &",
        );
    }
    lines.push("wait");
    return asInstallUser(lines.join("\n"), config.become, config.installUser);
}

/** The probe's output for one host, as nodes. Services the probe did not report are missing. */
export function parseLiveProbe(host: string, stdout: string): LiveNode[] {
    const out: LiveNode[] = [];
    for (const line of stdout.split("\n")) {
        const m = /^SCMUP live service=(\S+) version=(\S+) done=(yes|no) detail=(.*)$/.exec(line.trim());
        if (m) out.push({ host, service: m[1], version: m[2], done: m[3] === "yes", detail: m[4] });
    }
    return out;
}

/** The live state of the whole cluster, keyed `<host>/<service>`. */
export type LiveState = Record<string, LiveNode>;

export const liveKey = (host: string, service: string) => `${host}/${service}`;
