import * as crypto from "crypto";
import * as fs from "fs";

const digests = new Map<string, { stamp: string; digest: Promise<string> }>();
const reading = new Set<fs.ReadStream>();

/**
 * The SHA-256 (hex) of a file on this machine, read as a stream: a release tarball is hundreds of MB, which
 * read whole would sit in the driver's memory. Once per run and file: the driver starts it as soon as the
 * config is valid, so that it is ready, or nearly, when the engine runs the program. A file changed since
 * (size, time or inode) is read again.
 */
export function fileSha256(path: string): Promise<string> {
    let st: fs.Stats;
    try {
        st = fs.statSync(path);
    } catch (e) {
        return Promise.reject(e);
    }
    const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
    const known = digests.get(path);
    if (known?.stamp === stamp) return known.digest;
    const digest = new Promise<string>((resolve, reject) => {
        const h = crypto.createHash("sha256");
        const stream = fs.createReadStream(path, { highWaterMark: 1 << 20 });
        reading.add(stream);
        stream
            .on("close", () => reading.delete(stream))
            .on("data", (d) => h.update(d))
            .on("end", () => resolve(h.digest("hex")))
            .on("error", reject);
    });
    digests.set(path, { stamp, digest });
    digest.catch(() => digests.delete(path));
    return digest;
}

/**
 * Stops every checksum still being read: a run that ended before its program needed them (nothing to do, a
 * host unreadable) does not wait for a large release to be read to its end. Asked again, it is read anew.
 */
export function stopDigests(): void {
    for (const s of reading) s.destroy(new Error("the checksum was no longer needed"));
}
