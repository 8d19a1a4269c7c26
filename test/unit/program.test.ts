import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

// The Pulumi program (index.ts / the driver's inline program) under mocks: it reads the stack's
// config, refuses a bad one before creating anything, and hands credentials on only as secrets.

const created: pulumi.runtime.MockResourceArgs[] = [];
pulumi.runtime.setMocks(
    {
        newResource: (a) => {
            created.push(a);
            return { id: `${a.name}-id`, state: { ...a.inputs, stdout: "SCMUP result=upgraded" } };
        },
        call: (a) => {
            throw new Error(`unmocked call ${a.token}`);
        },
    },
    "scm-upgrade",
    "unit",
);
const { upgradeProgram } = require("../../program/program") as typeof import("../../program/program");
const { connectionFor } = require("../../program/connection") as typeof import("../../program/connection");
const { validateConfig } = require("../../lib/config/schema") as typeof import("../../lib/config/schema");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-program-"));
const pkg = path.join(tmp, "sequoiacm-3.2.0-release.tar.gz");
fs.writeFileSync(pkg, "package bytes");
const keyFile = path.join(tmp, "id_ed25519");
fs.writeFileSync(keyFile, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const hosts = [
    { name: "A", address: "10.0.0.1", center: "primary", services: ["cloud", "content-server"], site: "root", rootSite: true },
    { name: "C", address: "10.0.1.1", center: "standby", services: ["cloud", "content-server"], site: "root", rootSite: true },
];

function setConfig(values: Record<string, unknown>, secrets: Record<string, string> = {}) {
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) all[`scm-upgrade:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    for (const [k, v] of Object.entries(secrets)) all[`scm-upgrade:${k}`] = v;
    pulumi.runtime.setAllConfig(
        all,
        Object.keys(secrets).map((k) => `scm-upgrade:${k}`),
    );
}

const outputOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("the program", () => {
    test("builds the rolling upgrade from the stack config; the package's sha256 is in the triggers", async () => {
        created.length = 0;
        setConfig({ package: { localPath: pkg }, ssh: { user: "scmadmin" }, hosts }, { sshPrivateKey: "KEY-FROM-SECRET-CONFIG" });
        const out = await upgradeProgram({ live: "none" });
        expect(out.mode).toBe("upgrade");
        expect((out.waves as { id: string; nodes: string[] }[]).map((w) => `${w.id}:${w.nodes.join(",")}`)).toEqual([
            "cloud/standby:C/cloud",
            "cloud/primary:A/cloud",
            "content-server/standby/root:C/content-server",
            "content-server/primary/root:A/content-server",
        ]);
        await new Promise((r) => setTimeout(r, 50));
        const upload = created.find((c) => c.type === "command:remote:CopyToRemote");
        expect(upload?.inputs.triggers[0]).toBe(crypto.createHash("sha256").update("package bytes").digest("hex"));
        expect(created.filter((c) => c.name.endsWith("-run")).map((c) => c.name)).toEqual([
            "scm-C-cloud-run",
            "scm-A-cloud-run",
            "scm-C-content-server-run",
            "scm-A-content-server-run",
        ]);
    });

    test("every upload carries the release's sha256 as its asset's hash: the engine does not read and hash the release once per host", async () => {
        // What the program sends the engine, before the mocks turn it back into objects (which drops the hash).
        type Request = { getObject(): { toJavaScript(): Record<string, unknown> } };
        const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as {
            MockMonitor: { prototype: { registerResource(req: Request, cb: unknown): void } };
        };
        const sent = jest.spyOn(MockMonitor.prototype, "registerResource");
        try {
            created.length = 0;
            setConfig({ package: { localPath: pkg }, ssh: { user: "scmadmin" }, hosts }, { sshPrivateKey: "KEY" });
            await upgradeProgram({ live: "none" });
            await new Promise((r) => setTimeout(r, 50));
            const sources = sent.mock.calls
                .map(([req]) => req.getObject().toJavaScript().source as Record<string, string> | undefined)
                .filter((x) => x !== undefined);
            expect(created.filter((c) => c.type === "command:remote:CopyToRemote")).toHaveLength(hosts.length);
            expect(sources).toHaveLength(hosts.length);
            for (const src of sources)
                expect({ path: src.path, hash: src.hash }).toEqual({ path: pkg, hash: crypto.createHash("sha256").update("package bytes").digest("hex") });
        } finally {
            sent.mockRestore();
        }
    });

    test("an invalid config fails the program with every problem and creates nothing", async () => {
        created.length = 0;
        setConfig({ package: { localPath: path.join(tmp, "missing.tar.gz") }, hosts: [{ ...hosts[0], services: ["clud"] }], targetVersion: "3.2" });
        const err = await upgradeProgram({ live: "none" }).then(
            () => new Error("no error"),
            (e: Error) => e,
        );
        expect(err.message).toContain("the scm-upgrade configuration has 6 problems; no host was touched");
        expect(err.message).toContain('- targetVersion: bad version "3.2". Fix: use X.Y.Z such as 3.2.0');
        expect(err.message).toContain('- hosts[0].services[0]: unknown service "clud". Fix: did you mean "cloud"?');
        expect(err.message).toContain("- package.localPath: no file at");
        expect(created).toEqual([]);
    });

    test("a misspelt key or a missing credential is refused by name, with the driver's own validation", async () => {
        created.length = 0;
        setConfig({ package: { localPath: pkg }, ssh: { user: "scmadmin" }, hosts, paralelism: 2 });
        const err = await upgradeProgram({ live: "none" }).then(
            () => new Error("no error"),
            (e: Error) => e,
        );
        expect(err.message).toContain('- paralelism: unknown key "paralelism"');
        expect(err.message).toContain("- ssh: no SSH credential for hosts A, C");
        expect(created).toEqual([]);
    });

    test("connections carry the key and password only as Pulumi secrets; a key file is read and wrapped at once", async () => {
        const r = validateConfig({ package: { localPath: pkg }, ssh: { user: "scmadmin", privateKeyFile: keyFile }, hosts });
        if (!r.ok) throw new Error(JSON.stringify(r.problems));
        const conn = connectionFor(r.config, r.config.hosts[0], { password: pulumi.secret("pw") }) as unknown as Record<string, unknown>;
        expect(conn.host).toBe("10.0.0.1");
        expect(conn.user).toBe("scmadmin");
        expect(await pulumi.isSecret(conn.privateKey as pulumi.Output<string>)).toBe(true);
        expect(await pulumi.isSecret(conn.password as pulumi.Output<string>)).toBe(true);
        expect(await outputOf(conn.privateKey as pulumi.Output<string>)).toContain("not-a-real-key");
        expect(conn.dialErrorLimit).toBe(3);
    });
});
