import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    asInstallUser,
    renderPreflight,
    renderPrepareStaging,
    renderServiceRollback,
    renderServiceUpgrade,
    renderUnpack,
    serviceFilesOf,
} from "../../lib/shell";

// Every shell text, rendered with hostile values in every field, run with bash: nothing in a value is
// ever run. Each payload would create a file in the canary folder if the shell read it as syntax.

const canary = fs.mkdtempSync(path.join(os.tmpdir(), "scm-canary-"));
const work = fs.mkdtempSync(path.join(os.tmpdir(), "scm-hostile-"));

const HOSTILE = [
    `x"; touch ${canary}/dq; echo "`,
    `x'; touch ${canary}/sq; echo '`,
    `$(touch ${canary}/dollar)`,
    "`touch " + canary + "/backquote`",
    `x; touch ${canary}/semicolon`,
    `x\ntouch ${canary}/newline`,
    `-rf --no-preserve-root $(touch ${canary}/dash)`,
    `with space $(touch ${canary}/space) && touch ${canary}/and`,
    `ünïcödé ✓ $(touch ${canary}/unicode)`,
    `x | touch ${canary}/pipe`,
    `\${IFS}$(touch\${IFS}${canary}/ifs)`,
    `x\\" ; touch ${canary}/backslash ; #`,
    `*?[x] > ${canary}/redirect`,
];

function runAll(script: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("bash", ["-c", script], { cwd: work, encoding: "utf8", timeout: 30000, env: { ...process.env, HOME: work } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const texts = (v: string): [string, string][] => {
    const svc = serviceFilesOf("content-server");
    // every value a node's upgrade and rollback share
    const node = {
        host: v,
        healthAddress: v,
        installRoot: v,
        stagingDir: v,
        installUser: v,
        become: "login" as const,
        targetVersion: v,
        service: svc,
        healthTimeoutSeconds: 1,
    };
    return [
        ["prepare (login)", renderPrepareStaging({ stagingDir: v, become: "login", loginUser: v })],
        [
            "unpack, package missing",
            renderUnpack({ host: v, stagingDir: v, tarballPath: v, sha256: v, installUser: v, installGroup: v, become: "login", scriptOverridePath: v }),
        ],
        [
            "preflight",
            renderPreflight({
                host: v,
                installRoot: v,
                stagingDir: v,
                installUser: v,
                installGroup: v,
                become: "login",
                sourceVersion: v,
                targetVersion: v,
                services: [svc, serviceFilesOf("cloud")],
                minFreeMb: 1,
                uploads: true,
                packageOnHost: v,
            }),
        ],
        ["upgrade", renderServiceUpgrade({ ...node, rollbackOnHealthFailure: true })],
        ["rollback", renderServiceRollback({ ...node, sourceVersion: v })],
        ["as install user", asInstallUser(`echo ${"$"}0`, "login", v)],
    ];
};

test("the canary works: an unquoted payload does create its file", () => {
    const r = runAll(`eval "echo ${HOSTILE[2]}"`);
    expect(r.status).toBe(0);
    expect(fs.readdirSync(canary)).toEqual(["dollar"]);
    fs.rmSync(path.join(canary, "dollar"));
});

describe.each(HOSTILE.map((v) => [JSON.stringify(v), v]))("value %s", (_shown, value) => {
    test.each(texts(value))("%s: runs, fails cleanly, runs nothing from the value", (_name, script) => {
        const r = runAll(script);
        expect(fs.readdirSync(canary)).toEqual([]);
        // bash parsed the whole text: no syntax error from a value.
        expect(r.stderr).not.toMatch(/syntax error|unexpected EOF|command not found/);
        expect(r.status).not.toBeNull();
    });
});

test("unpack of a real tarball into a hostile staging folder: still nothing runs", () => {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), "scm-hostile-src-"));
    fs.mkdirSync(path.join(src, "sequoiacm", "package"), { recursive: true });
    fs.writeFileSync(path.join(src, "sequoiacm", "scmupgrade.py"), "#!/usr/bin/python3\n");
    const tarball = path.join(src, "r.tar.gz");
    spawnSync("tar", ["-czf", tarball, "-C", src, "sequoiacm"]);
    for (const v of HOSTILE) {
        const r = runAll(renderUnpack({ host: v, stagingDir: v, tarballPath: tarball, installUser: v, installGroup: v, become: "login" }));
        expect({ v, canary: fs.readdirSync(canary) }).toEqual({ v, canary: [] });
        // it got as far as handing the files to the (impossible) owner
        expect({ v, reason: /SCMUP reason=cannot hand [\s\S]* to /.test(r.stdout) }).toEqual({ v, reason: true });
    }
});
