import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";

// `pulumi up -s <stack>` from the CLI: Pulumi's Node.js runtime loads Pulumi.yaml's `main`, else
// package.json's `main` (the library API, which registers nothing). The program it loads must be
// index.ts, and index.ts must register the rolling upgrade and read the cluster's live state first.

const root = path.join(__dirname, "..", "..");
const registered: string[] = [];
pulumi.runtime.setMocks(
    {
        newResource: (a) => {
            registered.push(`${a.type}::${a.name}`);
            return { id: `${a.name}-id`, state: { ...a.inputs, stdout: "SCMUP result=upgraded" } };
        },
        call: (a) => {
            throw new Error(`unmocked call ${a.token}`);
        },
    },
    "scm-upgrade",
    "unit",
);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-entry-"));
const pkg = path.join(tmp, "sequoiacm-3.2.0-release.tar.gz");
fs.writeFileSync(pkg, "package bytes");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function setConfig(address: string, port: number) {
    const hosts = [
        { name: "A", address, center: "primary", services: ["cloud", "content-server"], site: "root", rootSite: true },
        { name: "C", address: address.replace(/\.1$/, ".2"), center: "standby", services: ["cloud", "content-server"], site: "root", rootSite: true },
    ];
    pulumi.runtime.setAllConfig(
        {
            "scm-upgrade:package": JSON.stringify({ localPath: pkg }),
            "scm-upgrade:ssh": JSON.stringify({ user: "scmadmin", port, dialErrorLimit: 1, perDialTimeoutSeconds: 2 }),
            "scm-upgrade:hosts": JSON.stringify(hosts),
            "scm-upgrade:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
        },
        ["scm-upgrade:sshPrivateKey"],
    );
}

describe("the program `pulumi up` loads", () => {
    const main = (yaml.load(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { main?: string }).main;

    test("Pulumi.yaml names index.ts, not package.json's library entry", () => {
        expect(main).toBe("index.ts");
        const pkgMain = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).main;
        expect(pkgMain).not.toBe(main);
    });

    test("reads the live state first: an unreachable host stops it before any resource", async () => {
        setConfig("127.0.0.1", 1); // nothing listens on port 1
        registered.length = 0;
        jest.isolateModules(() => {
            (global as { entry?: Promise<unknown> }).entry = require(path.join(root, main!)) as Promise<unknown>;
        });
        await expect((global as { entry?: Promise<unknown> }).entry).rejects.toThrow(
            /Cannot reach host [AC] \(scmadmin@127\.0\.0\.[12]:1\) to read its live state/,
        );
        expect(registered.filter((t) => t.startsWith("command:"))).toEqual([]);
    });

    test("registers the RollingUpgrade and its nodes (live state read skipped for graph tests)", async () => {
        setConfig("127.0.0.1", 22);
        registered.length = 0;
        process.env.SCM_UPGRADE_LIVE_STATE = "none";
        try {
            let out: Promise<Record<string, unknown>> | undefined;
            jest.isolateModules(() => {
                out = require(path.join(root, main!)) as Promise<Record<string, unknown>>;
            });
            const r = await out!;
            expect(r.mode).toBe("upgrade");
            // Wait for every node's outputs: by then every resource of the rolling upgrade is registered.
            await new Promise((done) => (r.nodes as pulumi.Output<unknown>).apply(done));
            const runs = registered.filter((t) => t.startsWith("command:remote:Command::") && t.endsWith("-run")).sort();
            expect(runs).toEqual(["A-cloud", "A-content-server", "C-cloud", "C-content-server"].map((n) => `command:remote:Command::scm-${n}-run`));
        } finally {
            delete process.env.SCM_UPGRADE_LIVE_STATE;
        }
    });
});
