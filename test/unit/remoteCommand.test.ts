import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { engineLogsOn, projectRoot, quietEngineLogs } from "../../engine/env";

// RemoteCommand (components/RemoteCommand.ts) must register exactly what the SDK's remote.Command
// registers for the same arguments: same type, same inputs (the connection with the provider's
// defaults, as a secret), same options the engine acts on.

const registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
pulumi.runtime.setMocks(
    {
        newResource: (a) => {
            registered.push({ type: a.type, name: a.name, inputs: a.inputs });
            return { id: `${a.name}-id`, state: { ...a.inputs, stdout: `out of ${a.name}` } };
        },
        call: (a) => {
            throw new Error(`unmocked call ${a.token}`);
        },
    },
    "scm-upgrade",
    "unit",
);

const { remote } = require("@pulumi/command") as typeof import("@pulumi/command");
const { RemoteCommand } = require("../../components/RemoteCommand") as typeof import("../../components/RemoteCommand");

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("RemoteCommand", () => {
    test("registers what remote.Command registers for the same arguments", async () => {
        const opts: Record<string, pulumi.CustomResourceOptions> = {};
        const record: pulumi.ResourceTransformation = (a) => {
            opts[a.name] = a.opts;
            return undefined;
        };
        const connection = { host: "127.0.0.9", user: "scmadmin", privateKey: pulumi.secret("key text"), proxy: { host: "10.0.0.1" } };
        const args = { connection, create: "echo 'it ran'", triggers: ["3.2.0", "run:1"] };
        const official = new remote.Command("official", args, { transformations: [record] });
        const ours = new RemoteCommand("ours", args, { transformations: [record] });
        expect(await value(ours.stdout)).toBe("out of ours");
        await value(official.stdout);

        const a = registered.find((r) => r.name === "official")!;
        const b = registered.find((r) => r.name === "ours")!;
        expect(b.type).toBe("command:remote:Command");
        expect(b.type).toBe(a.type);
        expect(b.inputs).toEqual(a.inputs);
        // A secret (Pulumi's secret signature around the value), with the provider's defaults in, as
        // remote.Command puts them (also on the bastion).
        expect(b.inputs.connection).toEqual({
            [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
            value: expect.objectContaining({ port: 22, dialErrorLimit: 10, perDialTimeout: 15, proxy: expect.objectContaining({ port: 22, user: "root" }) }),
        });
        for (const k of ["version", "additionalSecretOutputs", "replaceOnChanges"] as const) expect(opts.ours[k]).toEqual(opts.official[k]);
        expect(opts.ours.version).toBe(require("@pulumi/command/package.json").version);
    });

    test("commands given the same connection object share one prepared connection", async () => {
        const connection = { host: "127.0.0.10", user: "scmadmin" };
        const one = new RemoteCommand("one", { connection, create: "true" });
        const two = new RemoteCommand("two", { connection, create: "true" });
        const other = new RemoteCommand("other", { connection: { ...connection }, create: "true" });
        const conn = (r: unknown) => (r as { connection: pulumi.Output<unknown> }).connection;
        expect(await value(conn(one))).toEqual(await value(conn(two)));
        const inputs = (n: string) => registered.find((r) => r.name === n)!.inputs.connection;
        await Promise.all([value(one.stdout), value(two.stdout), value(other.stdout)]);
        expect(inputs("one")).toEqual(inputs("two"));
        expect(inputs("other")).toEqual(inputs("one"));
    });
});

describe("Pulumi's automatic logs in the tool's own Pulumi home", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "scm-logs-"));
    const logs = path.join(home, "logs");
    afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
    const was = process.env.SCM_UPGRADE_ENGINE_LOGS;
    afterEach(() => {
        if (was === undefined) delete process.env.SCM_UPGRADE_ENGINE_LOGS;
        else process.env.SCM_UPGRADE_ENGINE_LOGS = was;
    });

    test("a file stands where the CLI would make its log folder; SCM_UPGRADE_ENGINE_LOGS=1 gives the folder back", () => {
        delete process.env.SCM_UPGRADE_ENGINE_LOGS;
        fs.mkdirSync(logs);
        fs.writeFileSync(path.join(logs, "pulumi-1.log"), "old log");
        quietEngineLogs(home, true);
        expect(fs.lstatSync(logs).isFile()).toBe(true);
        expect(fs.readFileSync(logs, "utf8")).toContain("SCM_UPGRADE_ENGINE_LOGS=1");
        quietEngineLogs(home, true);
        expect(fs.lstatSync(logs).isFile()).toBe(true);
        process.env.SCM_UPGRADE_ENGINE_LOGS = "1";
        quietEngineLogs(home, true);
        expect(fs.existsSync(logs)).toBe(false);
    });

    test("a Pulumi home of the user's own is left as it is", () => {
        delete process.env.SCM_UPGRADE_ENGINE_LOGS;
        quietEngineLogs(home, false);
        expect(fs.existsSync(logs)).toBe(false);
        fs.mkdirSync(logs);
        quietEngineLogs(home, false);
        expect(fs.lstatSync(logs).isDirectory()).toBe(true);
    });

    test("engineLogsOn says whether the CLI will write them (the bench names it beside the provider)", () => {
        delete process.env.SCM_UPGRADE_ENGINE_LOGS;
        fs.rmSync(logs, { recursive: true, force: true });
        expect(engineLogsOn({ pulumiHome: home })).toBe(true); // the CLI makes the folder
        fs.mkdirSync(logs);
        expect(engineLogsOn({ pulumiHome: home })).toBe(true);
        fs.rmSync(logs, { recursive: true });
        fs.writeFileSync(logs, "off");
        expect(engineLogsOn({ pulumiHome: home })).toBe(false);
        const own = path.join(projectRoot, ".pulumi-home");
        expect(engineLogsOn({ pulumiHome: own })).toBe(false);
        process.env.SCM_UPGRADE_ENGINE_LOGS = "1";
        expect(engineLogsOn({ pulumiHome: own })).toBe(true);
    });
});
