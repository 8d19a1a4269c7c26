import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// bin/loader.js, as the command line loads it, in a process of its own (its hooks are the whole process's).
const root = path.join(__dirname, "..", "..");

function inChild(script: string, env: Record<string, string> = {}): Record<string, unknown> {
    const r = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(path.join(root, "bin", "loader.js"))});\n${script}`], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, ...env },
        timeout: 60000,
    });
    expect(r.stderr).toBe("");
    return JSON.parse(r.stdout) as Record<string, unknown>;
}

const LOADED = `const loaded = (re) => Object.keys(require.cache).some((f) => re.test(f.split(require("path").sep).join("/")));`;

describe("the command line's loader (bin/loader.js)", () => {
    test("the SDK and zod start without the modules this tool never uses; our TypeScript still compiles", () => {
        const out = inChild(`${LOADED}
            require("@pulumi/pulumi"); require("@pulumi/pulumi/automation"); require("@pulumi/command");
            const z = require("zod");
            const names = require(${JSON.stringify(path.join(root, "lib", "names.ts"))});
            console.log(JSON.stringify({
                typescript: loaded(/node_modules\\/typescript\\//),
                arborist: loaded(/node_modules\\/@npmcli\\/arborist\\//),
                normalize: loaded(/node_modules\\/normalize-package-data\\//),
                zodLocales: loaded(/node_modules\\/zod\\/v4\\/locales\\/(de|fr)\\.cjs$/),
                sdk: loaded(/node_modules\\/@pulumi\\/pulumi\\/automation\\/stack\\.js$/),
                ours: typeof names.childName,
                english: z.string().safeParse(1).error.issues[0].message,
            }));`);
        expect(out).toEqual({
            typescript: false,
            arborist: false,
            normalize: false,
            zodLocales: false,
            sdk: true,
            ours: "object",
            english: "Invalid input: expected string, received number",
        });
    });

    test("a module held back loads when it is used, and works through its stand-in as it would itself", () => {
        const out = inChild(`${LOADED}
            const Module = require("module");
            // required as the SDK requires them, from a file of the SDK
            const sdkFile = require.resolve("@pulumi/pulumi/runtime/closure/codePaths.js");
            require(sdkFile);
            const parent = require.cache[sdkFile];
            const normalize = Module._load("normalize-package-data", parent, false);
            const before = loaded(/node_modules\\/normalize-package-data\\//);
            // as TypeScript's __importDefault and __importStar leave it: the module itself under "default"
            const data = { name: "x", version: "1.0.0" };
            normalize.default(data);
            const called = { before, after: loaded(/node_modules\\/normalize-package-data\\//), id: data._id };
            const shim = require("@pulumi/pulumi/typescript-shim");
            const ts = { before: loaded(/node_modules\\/typescript\\//), version: typeof shim.version, kind: typeof shim.SyntaxKind };
            ts.after = loaded(/node_modules\\/typescript\\//);
            const z = require("zod");
            z.config(z.locales.de());
            const german = z.string().safeParse(1).error.issues[0].message;
            z.config(z.locales.en());
            console.log(JSON.stringify({ called, ts, german, direct: typeof normalize }));`);
        expect(out).toEqual({
            called: { before: false, after: true, id: "x@1.0.0" },
            ts: { before: false, version: "string", kind: "object", after: true },
            german: expect.stringMatching(/^Ungültige Eingabe/),
            direct: "function",
        });
    });

    test("the command line keeps no stack frame unless asked (SCM_UPGRADE_DEBUG_STACKS=1)", () => {
        const script = "console.log(JSON.stringify({ limit: Error.stackTraceLimit }));";
        expect(inChild(script)).toEqual({ limit: 0 });
        expect(inChild(script, { SCM_UPGRADE_DEBUG_STACKS: "1" })).toEqual({ limit: 10 });
    });
});

// bin/scm-upgrade.js in a copy of the project: its own bin/ and package-lock.json, the rest linked to this one.
describe("the command line's first lines (bin/scm-upgrade.js)", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scm-bin-"));
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

    function copy(o: { packages: boolean; lock?: string }) {
        const dir = fs.mkdtempSync(path.join(tmp, "clone-"));
        fs.cpSync(path.join(root, "bin"), path.join(dir, "bin"), { recursive: true });
        for (const f of ["cli", "lib", "engine", "program", "components", "report", "api.ts", "package.json", "tsconfig.json"]) {
            fs.symlinkSync(path.join(root, f), path.join(dir, f));
        }
        const lock = o.lock ?? fs.readFileSync(path.join(root, "package-lock.json"), "utf8");
        fs.writeFileSync(path.join(dir, "package-lock.json"), lock);
        if (o.packages) {
            const nm = path.join(dir, "node_modules");
            fs.mkdirSync(nm);
            for (const e of fs.readdirSync(path.join(root, "node_modules"))) {
                if (!e.startsWith(".")) fs.symlinkSync(path.join(root, "node_modules", e), path.join(nm, e));
            }
            // as scripts/setup.sh leaves it after installing this lock file
            fs.writeFileSync(path.join(nm, ".scm-upgrade-lock.sha"), `${crypto.createHash("sha256").update(lock).digest("hex")}\n`);
        }
        return dir;
    }
    const run = (dir: string) =>
        spawnSync(process.execPath, [path.join(dir, "bin", "scm-upgrade.js"), "--help"], { cwd: dir, encoding: "utf8", timeout: 60000 });

    test("no npm packages: exit 7 (toolchain) and the set-up to run, not Node's module trace", () => {
        const dir = copy({ packages: false });
        const r = run(dir);
        expect(r.status).toBe(7);
        expect(r.stderr).toContain("scm-upgrade: its npm packages are not installed (no node_modules/tsx)");
        expect(r.stderr).toContain(`Run the set-up in ${dir}: bash scripts/setup.sh (or npm ci)`);
        expect(r.stderr).not.toMatch(/Require stack|MODULE_NOT_FOUND|at Module/);
        expect(r.stdout).toBe("");
    });

    test("packages installed from another package-lock.json: a warning naming the set-up, then the command runs", () => {
        const dir = copy({ packages: true });
        const current = run(dir);
        expect(current.status).toBe(0);
        expect(current.stdout).toMatch(/^Usage: scm-upgrade/m);
        expect(current.stderr).toBe("");

        const pulled = path.join(dir, "package-lock.json");
        fs.appendFileSync(pulled, "\n");
        const stale = run(dir);
        expect(stale.status).toBe(0);
        expect(stale.stdout).toMatch(/^Usage: scm-upgrade/m);
        expect(stale.stderr).toBe(
            `scm-upgrade: warning: package-lock.json changed since the npm packages were installed. Run the set-up in ${dir}: bash scripts/setup.sh (or npm ci).\n`,
        );
    });
});
