import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { plainStackConfig, readStackConfigFile } from "../../lib/config/stackFile";

describe("a stack's config from its file (lib/config/stackFile.ts)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-stackfile-"));
    const project = path.join(dir, "Pulumi.yaml");
    const stacks = path.join(dir, "stacks");
    const write = (stack: string, text: string) => fs.writeFileSync(path.join(stacks, `Pulumi.${stack}.yaml`), text);
    beforeAll(() => {
        fs.mkdirSync(stacks);
        fs.writeFileSync(project, "name: scm-upgrade\nruntime: nodejs\nstackConfigDir: stacks\n");
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("without secrets it is the whole config, as the CLI gives it (objects also as JSON text)", () => {
        write(
            "plain",
            "config:\n  scm-upgrade:parallelism: 2\n  scm-upgrade:become: login\n  scm-upgrade:ssh:\n    user: scmadmin\n    privateKeyFile: /keys/id\n",
        );
        expect(plainStackConfig(project, stacks, "plain")).toEqual({
            "scm-upgrade:parallelism": { value: "2" },
            "scm-upgrade:become": { value: "login" },
            "scm-upgrade:ssh": { value: '{"user":"scmadmin","privateKeyFile":"/keys/id"}', objectValue: { user: "scmadmin", privateKeyFile: "/keys/id" } },
        });
        expect(plainStackConfig(project, stacks, "plain")).toEqual(readStackConfigFile(stacks, "plain"));
    });

    test("a secret, an ESC environment, project-level config or no file: the CLI must be asked", () => {
        write("secret", "config:\n  scm-upgrade:become: login\n  scm-upgrade:sshPrivateKey:\n    secure: v1:abc\n");
        expect(plainStackConfig(project, stacks, "secret")).toBeUndefined();
        expect(readStackConfigFile(stacks, "secret")?.["scm-upgrade:sshPrivateKey"]).toEqual({ secret: true });
        write("env", "environment:\n  - prod/ssh\nconfig:\n  scm-upgrade:become: login\n");
        expect(plainStackConfig(project, stacks, "env")).toBeUndefined();
        expect(plainStackConfig(project, stacks, "missing")).toBeUndefined();
        write("plain2", "config:\n  scm-upgrade:become: login\n");
        expect(plainStackConfig(project, stacks, "plain2")).toBeDefined();
        fs.appendFileSync(project, "config:\n  scm-upgrade:become:\n    default: sudo\n");
        expect(plainStackConfig(project, stacks, "plain2")).toBeUndefined();
        expect(plainStackConfig(path.join(dir, "nowhere.yaml"), stacks, "plain2")).toBeUndefined();
    });
});
