/**
 * A throwaway PostgreSQL cluster for the team-mode tests and the bench: `initdb` in a fresh folder, `pg_ctl start`
 * on a free loopback port (no Unix socket outside that folder), one database for the Pulumi state, and
 * `pg_ctl stop` + the folder removed in afterAll (or by `stop()`), whatever happened. initdb refuses to run as root:
 * as root the server runs as the `postgres` system user (Debian's package creates it); as a normal
 * user it runs as that user.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export interface PostgresCluster {
    /** The Pulumi backend URL of the cluster's state database. */
    url: string;
    port: number;
    dataDir: string;
    /** Runs SQL in the state database through psql; returns its stdout (unaligned, tuples only). */
    sql(query: string): string;
}

/** The binaries of the newest PostgreSQL installed (Debian: /usr/lib/postgresql/<major>/bin), or on PATH. */
export function postgresBinDir(): string {
    const root = "/usr/lib/postgresql";
    if (fs.existsSync(root)) {
        const majors = fs
            .readdirSync(root)
            .filter((d) => fs.existsSync(path.join(root, d, "bin", "initdb")))
            .sort((a, b) => Number(b) - Number(a));
        if (majors.length) return path.join(root, majors[0], "bin");
    }
    const which = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
    if (which.status === 0 && which.stdout.trim()) return path.dirname(which.stdout.trim());
    throw new Error("PostgreSQL is not installed (no initdb): run `bash scripts/setup.sh` as root, or `sudo apt-get install postgresql`.");
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

const asRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL binary as the cluster's owner; throws with its output when it fails. */
function pg(bin: string, args: string[], timeoutMs = 120000): string {
    const cmd = asRoot() ? ["runuser", "-u", "postgres", "--", bin, ...args] : [bin, ...args];
    const r = spawnSync(cmd[0], cmd.slice(1), { encoding: "utf8", timeout: timeoutMs, cwd: "/" });
    if (r.status !== 0) throw new Error(`${path.basename(bin)} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
    return r.stdout;
}

export interface RunningPostgres extends PostgresCluster {
    /** Stops the server (immediate) and removes its folder; safe to call twice. */
    stop(): void;
}

/**
 * Starts a throwaway cluster now (outside jest too: the bench uses it). Stopped by `stop()`, or at the
 * latest when this process exits.
 */
export async function startPostgres(name: string): Promise<RunningPostgres> {
    const bin = postgresBinDir();
    // World-traversable parent (mode 0755), the data folder itself owned by the server's user.
    const base = fs.mkdtempSync(path.join(os.tmpdir(), `scm-pg-${name}-`));
    fs.chmodSync(base, 0o755);
    const dataDir = path.join(base, "data");
    const sockDir = path.join(base, "sock");
    let started = false;
    // Should stop() never be called (a killed worker), stop the server with this process.
    const stopServer = () => {
        if (!started) return;
        started = false;
        try {
            pg(path.join(bin, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "-t", "30", "stop"]);
        } catch {
            // already stopped
        }
    };
    process.once("exit", stopServer);
    const cluster: RunningPostgres = {
        url: "",
        port: 0,
        dataDir,
        sql: (query) =>
            pg(path.join(bin, "psql"), ["-X", "-A", "-t", "-h", "127.0.0.1", "-p", String(cluster.port), "-U", "postgres", "-d", "pulumi", "-c", query]),
        stop: () => {
            try {
                stopServer();
            } finally {
                process.off("exit", stopServer);
                fs.rmSync(base, { recursive: true, force: true });
            }
        },
    };
    try {
        fs.mkdirSync(dataDir, { mode: 0o700 });
        fs.mkdirSync(sockDir, { mode: 0o755 });
        if (asRoot()) {
            const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
            const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
            if (!Number.isInteger(uid) || !Number.isInteger(gid))
                throw new Error("running as root, but there is no `postgres` system user to run the server as");
            fs.chownSync(dataDir, uid, gid);
            fs.chownSync(sockDir, uid, gid);
        }
        pg(path.join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
        cluster.port = await freePort();
        const opts = `-c listen_addresses=127.0.0.1 -p ${cluster.port} -k ${sockDir} -c fsync=off -c max_connections=50`;
        pg(path.join(bin, "pg_ctl"), ["-D", dataDir, "-l", path.join(dataDir, "server.log"), "-o", opts, "-w", "-t", "60", "start"]);
        started = true;
        pg(path.join(bin, "createdb"), ["-h", "127.0.0.1", "-p", String(cluster.port), "-U", "postgres", "pulumi"]);
        cluster.url = `postgres://postgres@127.0.0.1:${cluster.port}/pulumi?sslmode=disable`;
        return cluster;
    } catch (e) {
        cluster.stop();
        throw e;
    }
}
