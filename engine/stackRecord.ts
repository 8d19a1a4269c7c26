/**
 * What the backend recorded of a stack, read without the Pulumi CLI: the root stack's outputs in its last
 * checkpoint and its newest history entry, as the Automation API's `outputs()` and `history(1, 1, false)`
 * give them (each of those is a CLI start-up, with passphrase secrets the key's derivation too: ~0.5 s).
 * A secret is never shown: the entry's config says which keys are secret, not their values. Undefined
 * when this cannot tell (another backend, a form it does not read, a secret output): then ask the CLI.
 */
import type { OutputMap, UpdateSummary } from "@pulumi/pulumi/automation";
import { holdsSecure } from "../lib/config/stackFile";
import { blobText, readCheckpoint, readNewestHistoryEntry } from "./locks";

/** How the engine marks a secret in a checkpoint (Pulumi's `sig` key and the secret's signature). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_MARK = "1b47061264138c4ac30d75fd1eb44270";

function holdsSecret(v: unknown): boolean {
    if (v === null || typeof v !== "object") return false;
    if ((v as Record<string, unknown>)[SECRET_SIG] === SECRET_MARK) return true;
    return Object.values(v).some(holdsSecret);
}

type Checkpoint = {
    version?: unknown;
    checkpoint?: { latest?: { resources?: { type?: string; parent?: string; delete?: boolean; outputs?: Record<string, unknown> }[] } | null };
};

/** The root stack resource's outputs, as `stack output --json --show-secrets` marks them; undefined when one is secret. */
function outputsOf(text: string): OutputMap | undefined {
    const j = JSON.parse(text) as Checkpoint;
    if (typeof j.version !== "number" || typeof j.checkpoint !== "object" || j.checkpoint === null) return undefined;
    // The CLI's root: the first resource of the stack type without a parent (pulumi resource/stack GetRootStackResource).
    const root = (j.checkpoint.latest?.resources ?? []).find((r) => r.type === "pulumi:pulumi:Stack" && !r.parent);
    const outputs = root?.outputs ?? {};
    if (holdsSecret(outputs)) return undefined;
    return Object.fromEntries(Object.entries(outputs).map(([k, value]) => [k, { value, secret: false }]));
}

type HistoryEntry = {
    version?: number;
    kind?: string;
    startTime?: number;
    endTime?: number;
    message?: string;
    environment?: Record<string, string>;
    config?: Record<string, unknown>;
    result?: string;
    resourceChanges?: Record<string, number>;
};

/** A config value as the history stores it (a stack file's form), as `stack history --json` shows it without secrets. */
function configValueOf(v: unknown): { value?: string; objectValue?: unknown; secret: boolean } {
    if (holdsSecure(v)) return { secret: true };
    if (v !== null && typeof v === "object") return { value: JSON.stringify(v), objectValue: v, secret: false };
    return { value: String(v ?? ""), secret: false };
}

/** An entry as the Automation API gives it (times as Dates); an update still in progress has no end yet. */
function summaryOf(text: string): UpdateSummary {
    const e = JSON.parse(text) as HistoryEntry;
    const ended = e.result !== "in-progress";
    return {
        version: e.version ?? 0,
        kind: e.kind,
        startTime: new Date((e.startTime ?? 0) * 1000),
        message: e.message ?? "",
        environment: e.environment ?? {},
        config: Object.fromEntries(Object.entries(e.config ?? {}).map(([k, v]) => [k, configValueOf(v)])),
        result: e.result,
        ...(ended ? { endTime: new Date((e.endTime ?? 0) * 1000), resourceChanges: e.resourceChanges ?? {} } : {}),
    } as UpdateSummary;
}

export interface StackRecord {
    outputs: OutputMap;
    /** The newest update, refresh or destroy; undefined when there has been none. */
    lastRun?: UpdateSummary;
}

/** The stack's record from its backend; undefined when the stack is not there or this cannot read it. */
export async function readStackRecord(url: string, stack: string): Promise<StackRecord | undefined> {
    try {
        const checkpoint = await readCheckpoint(url, stack);
        if (typeof checkpoint === "string") return undefined;
        const head = await readNewestHistoryEntry(url, stack);
        if (head === "unknown") return undefined;
        const checkpointText = blobText(checkpoint.name, checkpoint.data);
        const headText = head === "none" ? "" : blobText(head.name, head.data);
        if (checkpointText === undefined || headText === undefined) return undefined;
        const outputs = outputsOf(checkpointText);
        if (!outputs) return undefined;
        return { outputs, lastRun: headText ? summaryOf(headText) : undefined };
    } catch {
        return undefined;
    }
}
