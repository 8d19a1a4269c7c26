/**
 * Cross-field and topology checks of the config, as named rules. The value may be partly invalid (the
 * rules run even when fields failed, to list every problem at once), so every field is read defensively
 * and a rule whose inputs are invalid stays silent: the field's own problem says it.
 */
import { closestServiceName, DEFAULT_SERVICE_ORDER, isServiceName, SERVICE_NAMES, ServiceName, serviceOfNodeType } from "../services";
import { compareVersions, isStrictVersion } from "../versions";
import { Finding, obj, str } from "./finding";
import { BECOME_MODES, BecomeMode, Center, CENTERS, DEFAULTS, ValidateOptions } from "./vocabulary";

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

/** What every rule reads: the raw config, its hosts as views, its `ssh` object, the validation options. */
interface RuleInput {
    v: Record<string, unknown>;
    hosts: HostView[];
    ssh: Record<string, unknown>;
    opts: ValidateOptions;
}
type Report = (f: Finding, at?: (string | number)[]) => void;

/** The target version is above the source version, and hosts are listed. */
function versionsGoForward({ v }: RuleInput, report: Report): void {
    const target = str(v.targetVersion);
    const source = str(v.sourceVersion);
    if (isStrictVersion(target) && isStrictVersion(source) && compareVersions(target, source) <= 0)
        report(
            {
                message: `targetVersion ${target} is not greater than sourceVersion ${source}`,
                fix: "set targetVersion to the version being installed (such as 3.2.0) and sourceVersion to the version running now (such as 3.1.2); downgrades are not supported",
            },
            ["targetVersion"],
        );

    if (Array.isArray(v.hosts) && v.hosts.length === 0)
        report({ message: "lists no hosts", fix: "list every host to upgrade as { name, address, center, services }" }, ["hosts"]);
}

/** Host names and SSH endpoints are unique. */
function uniqueHosts({ hosts, ssh }: RuleInput, report: Report): void {
    const defaultPort = typeof ssh.port === "number" ? ssh.port : DEFAULTS.sshPort;
    const byName = new Map<string, HostView>();
    const byEndpoint = new Map<string, HostView>();
    for (const h of hosts) {
        if (h.name !== undefined) {
            const first = byName.get(h.name);
            if (first)
                report({ message: `duplicate host name "${h.name}" (also hosts[${first.i}])`, fix: "give every host a unique name" }, ["hosts", h.i, "name"]);
            else byName.set(h.name, h);
        }
        if (h.address !== undefined) {
            const p = h.sshPort ?? defaultPort;
            const key = `${h.address.toLowerCase()}:${p}`;
            const first = byEndpoint.get(key);
            if (first)
                report(
                    {
                        message: `address ${h.address} port ${p} is already used by host ${first.label} (hosts[${first.i}])`,
                        fix: "give each host its own address, or its own ssh.port when several sshd share one address",
                    },
                    ["hosts", h.i, "address"],
                );
            else byEndpoint.set(key, h);
        }
    }
}

/** Services are listed once, in serviceOrder, with a node in both centers. */
function servicesInOrderAndBothCenters({ v, hosts }: RuleInput, report: Report): void {
    const order = Array.isArray(v.serviceOrder) ? v.serviceOrder : [];
    const orderValid = order.filter(isServiceName);
    const seenInOrder = new Map<ServiceName, number>();
    order.forEach((s, k) => {
        if (!isServiceName(s)) return;
        if (seenInOrder.has(s))
            report({ message: `"${s}" is listed twice (also serviceOrder[${seenInOrder.get(s)}])`, fix: "list each service once" }, ["serviceOrder", k]);
        else seenInOrder.set(s, k);
    });
    if (Array.isArray(v.serviceOrder) && v.serviceOrder.length === 0)
        report({ message: "is empty", fix: `list the services to upgrade in order, such as ${DEFAULT_SERVICE_ORDER.join(", ")}` }, ["serviceOrder"]);
    // With an empty or partly misspelt serviceOrder, "not in serviceOrder" would only repeat that problem.
    const orderKnown = Array.isArray(v.serviceOrder) && order.length > 0 && orderValid.length === order.length;
    for (const h of hosts) {
        const seen = new Set<ServiceName>();
        for (const { service, j } of h.services) {
            if (seen.has(service))
                report({ message: `"${service}" is listed twice on host ${h.label}`, fix: "list each service of a host once" }, ["hosts", h.i, "services", j]);
            seen.add(service);
            if (orderKnown && !orderValid.includes(service))
                report(
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
                {
                    message: `${service} runs on ${present} host${running.length > 1 ? "s" : ""} ${names(running)} but on no ${missing} host`,
                    fix: `add ${service} to the services of a ${missing} host: a rolling upgrade needs a node of every service in both centers`,
                },
                at,
            );
        }
    }
}

/** Every content-server host names its site; exactly one site is the root site. */
function contentServerSites({ hosts }: RuleInput, report: Report): void {
    const content = hosts.filter((h) => runs(h, "content-server"));
    for (const h of hosts) {
        if (!h.servicesKnown) continue;
        if (runs(h, "content-server")) {
            if (!h.siteSet)
                report(
                    {
                        message: `host ${h.label} runs content-server but has no site`,
                        fix: "set site to the name of its content-server site (spring.application.name in conf/content-server/<port>/application.properties)",
                    },
                    ["hosts", h.i, "site"],
                );
        } else if (!likelyRuns(h, "content-server")) {
            if (h.siteSet)
                report({ message: `host ${h.label} has a site but runs no content-server`, fix: "remove site, or add content-server to its services" }, [
                    "hosts",
                    h.i,
                    "site",
                ]);
            if (h.rootSite)
                report({ message: `host ${h.label} sets rootSite but runs no content-server`, fix: "remove rootSite, or add content-server to its services" }, [
                    "hosts",
                    h.i,
                    "rootSite",
                ]);
        }
    }
    const rootSites = new Map<string, HostView[]>();
    for (const h of content) if (h.rootSite && h.site !== undefined) rootSites.set(h.site, [...(rootSites.get(h.site) ?? []), h]);
    const rootWithoutSite = content.some((h) => h.rootSite && h.site === undefined);
    if (content.length > 0 && rootSites.size === 0 && !rootWithoutSite) {
        const sites = [...new Set(content.flatMap((h) => (h.site !== undefined ? [h.site] : [])))];
        report(
            {
                message: `no root site: none of the content-server hosts (${names(content)}) sets rootSite${sites.length ? `; sites: ${sites.join(", ")}` : ""}`,
                fix: "set rootSite: true on the content-server hosts of the main site (exactly one site)",
            },
            ["hosts"],
        );
    }
    if (rootSites.size > 1)
        report(
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
                {
                    message: `site "${h.site}" is the root site on ${names(roots)} but a branch site on host ${h.label}`,
                    fix: `set rootSite: true on every host of site "${h.site}", or give the branch site another name`,
                },
                ["hosts", h.i, "rootSite"],
            );
    }
}

/** The SSH user can reach the install user the way `become` says. */
function becomeFitsSshUser({ v, hosts, ssh }: RuleInput, report: Report): void {
    const installUser = str(v.installUser);
    const become = BECOME_MODES.find((b) => b === v.become);
    const globalUser = str(ssh.user);
    if (installUser !== undefined && become !== undefined) {
        const usesGlobal = hosts.length === 0 || hosts.some((h) => h.sshUser === undefined);
        if (usesGlobal && (globalUser !== undefined || ssh.user === undefined)) {
            const f = becomeFinding(become, globalUser ?? installUser, installUser, globalUser === undefined, "ssh.user");
            if (f) report(f, ["ssh", "user"]);
        }
        for (const h of hosts) {
            if (h.sshUser === undefined) continue;
            const f = becomeFinding(become, h.sshUser, installUser, false, `hosts[${h.i}].ssh.user`);
            if (f) report(f, ["hosts", h.i, "ssh", "user"]);
        }
    }
}

/** Every host has an SSH credential (when the caller says which secrets exist). */
function sshCredentials({ hosts, ssh, opts }: RuleInput, report: Report): void {
    if (opts.secretsPresent) {
        const secrets = new Set(opts.secretsPresent);
        const globalKey = str(ssh.privateKeyFile);
        const hasSecret = secrets.has("sshPrivateKey") || secrets.has("sshPassword");
        const bare = hosts.filter((h) => h.privateKeyFile === undefined && globalKey === undefined);
        if (!hasSecret && bare.length > 0)
            report(
                {
                    message: `no SSH credential for host${bare.length > 1 ? "s" : ""} ${names(bare)}`,
                    fix: "set ssh.privateKeyFile (or the host's ssh.privateKeyFile), or store a key or a password as a secret: scm-upgrade secret sshPrivateKey --stack <stack> --from <key file> (or scm-upgrade secret sshPassword --stack <stack>)",
                },
                ["ssh"],
            );
        if (
            secrets.has("sshPrivateKeyPassphrase") &&
            !secrets.has("sshPrivateKey") &&
            globalKey === undefined &&
            hosts.every((h) => h.privateKeyFile === undefined)
        )
            report(
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

/** The rules, in the order their problems are found (problems are sorted by field afterwards). */
export const RULES: readonly { name: string; check: (input: RuleInput, report: Report) => void }[] = [
    { name: "versions-go-forward", check: versionsGoForward },
    { name: "unique-hosts", check: uniqueHosts },
    { name: "services-in-order-and-both-centers", check: servicesInOrderAndBothCenters },
    { name: "content-server-sites", check: contentServerSites },
    { name: "become-fits-ssh-user", check: becomeFitsSshUser },
    { name: "ssh-credentials", check: sshCredentials },
];

/** Runs every rule on a raw config value; `report` receives each finding with its field path. */
export function crossChecks(value: unknown, report: Report, opts: ValidateOptions): void {
    const v = obj(value);
    if (!v) return;
    const input: RuleInput = { v, hosts: hostViews(v.hosts), ssh: obj(v.ssh) ?? {}, opts };
    for (const rule of RULES) rule.check(input, report);
}
