/**
 * The throwaway PostgreSQL cluster of sandbox/postgres.ts for one test file: started in beforeAll, stopped
 * in afterAll whatever happened.
 */
import { PostgresCluster, RunningPostgres, startPostgres } from "../../sandbox/postgres";

export type { PostgresCluster } from "../../sandbox/postgres";

/** Starts a cluster before the file's tests and stops it after them (the returned object fills in beforeAll). */
export function usePostgres(name: string): PostgresCluster {
    const cluster: PostgresCluster = { url: "", port: 0, dataDir: "", sql: () => "" };
    let running: RunningPostgres | undefined;
    beforeAll(async () => {
        running = await startPostgres(name);
        Object.assign(cluster, { url: running.url, port: running.port, dataDir: running.dataDir, sql: running.sql });
    }, 180000);
    afterAll(() => running?.stop());
    return cluster;
}
