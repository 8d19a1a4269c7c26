import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { inQuickackNetns, QUICKACK_ENV } from "../../bench/quickack";

// `npm run bench -- --quickack` runs the bench in a network namespace of its own whose loopback route has
// delayed ACKs off; this machine's own network is left as it was.
describe("the bench's --quickack network", () => {
    test("the command runs in a namespace of its own with quickack 1 on its loopback route; its exit code comes back; the namespace is deleted", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-quickack-"));
        try {
            const out = path.join(dir, "seen");
            const script = [`ip route show table local 127.0.0.0/8 > "$1"`, `echo "$${QUICKACK_ENV}" >> "$1"`, `ip netns identify $$ >> "$1"`, "exit 7"].join(
                "\n",
            );
            const code = await inQuickackNetns(["bash", "-c", script, "bash", out], () => undefined);
            expect(code).toBe(7);
            const [route, ns, inside] = fs.readFileSync(out, "utf8").trim().split("\n");
            expect(route).toMatch(/^local 127\.0\.0\.0\/8 dev lo .*\bquickack 1\b/);
            expect(ns).toMatch(/^scm-bench-quickack-\d+$/);
            expect(inside).toBe(ns);
            expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(ns);
            expect(execFileSync("ip", ["route", "show", "table", "local", "127.0.0.0/8"], { encoding: "utf8" })).not.toContain("quickack");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
