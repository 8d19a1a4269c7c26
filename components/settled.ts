/**
 * Options for the children of a resource whose work is already done on the host (read live before
 * the run): the engine keeps whatever the state holds, so no input change (a new trigger, a new
 * script text, a rotated key) runs anything there. A resource not yet in the state is still created.
 */
export function settledOptions(settled: boolean | undefined): { ignoreChanges?: string[] } {
    return settled ? { ignoreChanges: ["triggers", "create", "update", "connection", "source", "remotePath"] } : {};
}
