/** The newest vendor scmupgrade.py (`up --script latest`): --backup-path, and the refusal of a second run over a completed backup. */
import * as fs from "fs";
import * as path from "path";
import { readAudit } from "../../sandbox/audit";
import { clearFaults, setFault, setInterpreterFault } from "../../sandbox/faults";
import { jars, useSandbox } from "./fixture";

const sb = useSandbox("latest", 35, { script: "latest" });

const upgrade = (host: string, args: string) => sb.ssh(host, `cd '${path.dirname(sb.script(host))}' && ./scmupgrade.py ${args}`);

beforeAll(async () => {
    await sb.stage("C");
});
afterEach(() => clearFaults({ dir: sb.dir }));

test("the release carries the newest script: --backup-path in its help, no Python-2-only mark", async () => {
    expect(sb.state().script).toBe("latest");
    const text = fs.readFileSync(sb.script("C"), "utf8");
    expect(text.split("\n")[0]).toBe("#!/proc/self/cwd/../../../usr/bin/python");
    expect(text).not.toContain("scm-sandbox: python2-only");
    const h = await upgrade("C", "-h");
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("--backup-path=<path>");
});

test("a run that failed after its backup cannot be repeated as is: exit 2; a fresh --backup-path runs", async () => {
    const install = sb.install("C", "config-server");
    const backup = `${path.dirname(sb.script("C"))}/service_tmp/sequoiacm-config/backup`;
    setFault("C", "config-server", { step: "start" }, sb.dir);
    const first = await upgrade("C", `--service=config-server --install-path=${install} --start`);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain(`backup success, backup location:${backup}\n`);
    expect(first.stdout.trim().split("\n").pop()).toBe("[ERROR] start node failed! check and restart node");
    expect(fs.existsSync(`${backup}/.backup_completed`)).toBe(true);
    clearFaults({ dir: sb.dir });

    const again = await upgrade("C", `--service=config-server --install-path=${install} --start`);
    expect(again.code).toBe(2);
    expect(again.stdout).toBe(`[ERROR] a backup exists in the specified backup directory:${backup}\n`);

    const fresh = path.join(sb.dir, "fresh-backup");
    const third = await upgrade("C", `--service=config-server --install-path=${install} --backup-path=${fresh}/ --start`);
    expect(third.code).toBe(0);
    expect(third.stdout.trim().split("\n").pop()).toBe("[INFO] upgrade success!");
    expect(fs.existsSync(path.join(fresh, "sequoiacm-config", "backup", ".backup_completed"))).toBe(true);
    // the fresh backup is of what was installed then: the 3.2.0 jars of the first run
    expect(fs.readdirSync(path.join(fresh, "sequoiacm-config", "backup", "jars"))).toEqual(["sequoiacm-config-server-3.2.0.jar"]);
    expect(jars(install, "config-server")).toEqual(["sequoiacm-config-server-3.2.0.jar"]);
    const ends = readAudit(sb.dir).filter((e) => e.host === "C" && e.service === "config-server" && e.action === "upgrade" && e.outcome !== "begin");
    expect(ends.map((e) => [e.outcome, e.exitCode])).toEqual([
        ["failed", 1],
        ["failed", 2],
        ["success", 0],
    ]);

    // rollback from the default backup (the 3.1.2 one of the first run) removes its marker
    const back = await upgrade("C", `--service=config-server --install-path=${install} --rollback --start`);
    expect(back.stdout.split("\n").filter((l) => l.startsWith("[INFO]"))).toEqual([
        "[INFO] check backup",
        "[INFO] stop node",
        "[INFO] rollback backup",
        "[INFO] start node",
        "[INFO] rollback success!",
    ]);
    expect(jars(install, "config-server")).toEqual(["sequoiacm-config-server-3.1.2.jar"]);
    expect(fs.existsSync(`${backup}/.backup_completed`)).toBe(false);
});

test("the newest script runs on a Python 3 /usr/bin/python", async () => {
    setInterpreterFault("C", "python3", sb.dir);
    const r = await upgrade("C", "-h");
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    setInterpreterFault("C", "missing", sb.dir);
    expect([126, 127]).toContain((await upgrade("C", "-h")).code);
});
