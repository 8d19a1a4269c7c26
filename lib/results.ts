/**
 * What a run did to one node (one service on one host): the program's output per node (stack output
 * `nodes`, keyed `<host>/<service>`), read back by the driver, the CLI's tables and the run report.
 */
export interface NodeResult {
    host: string;
    service: string;
    center: string;
    site?: string;
    wave: number;
    versionBefore: string;
    versionAfter: string;
    skipped: boolean;
    seconds: number;
    /** When the upgrade finished on the host; empty when skipped. */
    finishedAt: string;
    /**
     * What the run that recorded it did, on a record carried over from an earlier run of the other center
     * (`--only-center`); on the others, the stack's `mode` output says it.
     */
    action?: "upgrade" | "rollback";
}

/** Per-node results as read back from outputs or a saved event log: older runs may lack fields. */
export type RecordedNodes = Record<string, Partial<NodeResult>>;
