import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { loadFromConfigMap } from "../../lib/config/load";
import { planWaves } from "../../lib/plan";

// The documented example stack for the seed's production cluster is accepted by the validation
// (with the key as a secret, as its comments say), and plans in the vendor's order.
test("stacks/Pulumi.production-example.yaml is a valid config for the seed cluster", () => {
    const file = path.join(__dirname, "..", "..", "stacks", "Pulumi.production-example.yaml");
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    const map: Record<string, { value?: string; objectValue?: unknown; secret?: boolean }> = {};
    for (const [k, v] of Object.entries(doc.config)) {
        map[k] = typeof v === "object" ? { objectValue: v, value: JSON.stringify(v) } : { value: String(v) };
    }
    map["scm-upgrade:sshPrivateKey"] = { secret: true, value: "[secret]" };
    const r = loadFromConfigMap(map, { fileExists: (p) => p === "/srv/releases/sequoiacm-3.2.0-release.tar.gz", readable: () => false });
    if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
    expect(r.config.installUser).toBe("scmadmin");
    expect(r.config.hosts.map((h) => `${h.name}:${h.center}`)).toEqual(["A:primary", "B:primary", "C:standby", "D:standby"]);
    expect(planWaves(r.config).map((w) => `${w.id}=${w.nodes.map((n) => n.host).join(",")}`)).toEqual([
        "cloud/standby=C,D",
        "cloud/primary=A,B",
        "config-server/standby=C",
        "config-server/primary=A",
        "content-server/standby/rootSite=C",
        "content-server/primary/rootSite=A",
        "content-server/standby/branchSite1=D",
        "content-server/primary/branchSite1=B",
        "schedule-server/standby=D",
        "schedule-server/primary=B",
    ]);
});
