import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fileSha256, stopDigests } from "../../program/digest";

// The release's checksum: read as a stream (a release is hundreds of MB), once per run, again when the file changed.
describe("fileSha256", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-digest-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const sha = (b: Buffer | string) => crypto.createHash("sha256").update(b).digest("hex");

    test("a file of several read chunks gives its SHA-256; asked twice, it is read once", async () => {
        const f = path.join(dir, "release.tar.gz");
        const bytes = crypto.randomBytes(3 * (1 << 20) + 17);
        fs.writeFileSync(f, bytes);
        const first = fileSha256(f);
        expect(fileSha256(f)).toBe(first);
        expect(await first).toBe(sha(bytes));
    });

    test("a file changed since is read again", async () => {
        const f = path.join(dir, "changed.tar.gz");
        fs.writeFileSync(f, "one");
        expect(await fileSha256(f)).toBe(sha("one"));
        fs.writeFileSync(f, "two, longer");
        expect(await fileSha256(f)).toBe(sha("two, longer"));
    });

    test("a checksum still being read when the run ends is stopped; asked again, it is read anew", async () => {
        const f = path.join(dir, "large.tar.gz");
        const bytes = crypto.randomBytes(64 << 20);
        fs.writeFileSync(f, bytes);
        const abandoned = fileSha256(f);
        stopDigests();
        await expect(abandoned).rejects.toThrow("the checksum was no longer needed");
        expect(await fileSha256(f)).toBe(sha(bytes));
    });

    test("a missing file is a rejected promise (never thrown at the caller), not a checksum", async () => {
        await expect(fileSha256(path.join(dir, "missing.tar.gz"))).rejects.toThrow(/ENOENT/);
    });
});
