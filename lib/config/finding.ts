/** A finding of a field schema or a rule: what is wrong and what to do, both without a final period. */
export type Finding = { message: string; fix: string };

/** The value if it is a string. Rules read a partly invalid config, so every read is defensive. */
export function str(v: unknown): string | undefined {
    return typeof v === "string" ? v : undefined;
}

/** The value if it is a plain object. */
export function obj(v: unknown): Record<string, unknown> | undefined {
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
