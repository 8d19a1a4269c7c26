import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { knownStacks, planForDrawing, requireStackFile } from "../../cli/stacks";
import { DriverError } from "../../engine/errors";
import { seedHosts } from "../helpers/seed";

// Which stacks exist (a config file in stacks/), and the plan that `plan` and `report` draw.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-stacks-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(stack: string, config: Record<string, unknown>) {
    const prefixed = Object.fromEntries(Object.entries(config).map(([k, v]) => [`scm-upgrade:${k}`, v]));
    fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), yaml.dump({ config: prefixed }));
}

function refusal(f: () => unknown): DriverError {
    try {
        f();
    } catch (e) {
        return e as DriverError;
    }
    throw new Error("not refused");
}

test("known stacks are the stack files, sorted; other files are not stacks", () => {
    write("zeta", {});
    write("alpha", {});
    fs.writeFileSync(path.join(dir, "README.md"), "");
    expect(knownStacks(dir)).toEqual(["alpha", "zeta"]);
    expect(knownStacks(path.join(dir, "absent"))).toEqual([]);
});

test("a stack with no file is refused as exit-3 config, listing the known ones; the sandbox's says how to make it", () => {
    const e = refusal(() => requireStackFile("alpah", dir));
    expect(e).toBeInstanceOf(DriverError);
    expect(e.kind).toBe("invalid-config");
    expect(e.message).toContain('There is no stack "alpah": stacks/Pulumi.alpah.yaml does not exist.');
    expect(e.message).toContain("Known stacks (stacks/Pulumi.*.yaml): alpha, zeta.");
    const sandbox = refusal(() => requireStackFile("sandbox", dir));
    expect(sandbox.message).toContain("`npm run sandbox -- up`");
    expect(refusal(() => requireStackFile("x", path.join(dir, "absent"))).message).toContain("Known stacks (stacks/Pulumi.*.yaml): none.");
    expect(() => requireStackFile("alpha", dir)).not.toThrow();
});

test("planForDrawing: missing credentials and local files are warnings; any other problem refuses", () => {
    write("drawing", { package: { localPath: "/nowhere/sequoiacm-3.2.0-release.tar.gz" }, hosts: seedHosts });
    const r = planForDrawing("drawing", dir);
    expect(r.waves).toHaveLength(10);
    expect(r.warnings.map((w) => w.path).sort()).toEqual(["package.localPath", "ssh"]);
    write("broken", { package: { localPath: "/nowhere/sequoiacm.zip" }, hosts: seedHosts, targetVersion: "3.2" });
    const e = refusal(() => planForDrawing("broken", dir));
    expect(e.kind).toBe("invalid-config");
    expect(e.problems.map((p) => p.path).sort()).toEqual(["package.localPath", "targetVersion"]);
    // Not a credential problem: the refusal names only what blocks the plan itself.
    expect(e.problems.some((p) => p.path === "ssh")).toBe(false);
});
