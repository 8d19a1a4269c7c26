import * as v8 from "v8";
import * as vm from "vm";

/**
 * A soft cap on this process's heap: a full collection whenever the heap has grown `headroomMiB` past
 * what the last one left alive. V8 sizes its heap for the machine (gigabytes here) and lets garbage pile
 * up to several times the live data before it collects: a 1,000-host preview keeps ~115 MiB alive yet
 * reached ~500 MiB of RSS, most of it garbage from the SDK's gRPC messages and promises. A hard limit
 * (`--max-old-space-size`) would end a larger run with "heap out of memory"; this one rises with the live
 * data and never fails a run. Measured at 1,000 hosts (bench/README.md, "The fixed part of `up`, and the heap"): 96 MiB of
 * headroom, ~370 MiB of RSS instead of 500 to 570, for 1.5 to 3 s of collections.
 */
export interface HeapCap {
    /** Collections forced so far, and the milliseconds they took. */
    collections: number;
    milliseconds: number;
    /** Bytes alive after the last collection (the floor the headroom is counted from). */
    floorBytes: number;
    stop(): void;
}

/** The CLI's headroom (SCM_UPGRADE_HEAP_HEADROOM_MIB changes it; 0 turns the cap off). */
export const HEAP_HEADROOM_MIB = 96;

export function capHeapGrowth(headroomMiB = HEAP_HEADROOM_MIB, everyMs = 200): HeapCap {
    // `gc` is exposed to code compiled after the flag is set: a new context's global is.
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const headroom = headroomMiB * 1024 * 1024;
    const cap: HeapCap = {
        collections: 0,
        milliseconds: 0,
        floorBytes: v8.getHeapStatistics().used_heap_size,
        stop: () => clearInterval(timer),
    };
    const timer = setInterval(() => {
        if (v8.getHeapStatistics().used_heap_size - cap.floorBytes <= headroom) return;
        const t0 = process.hrtime.bigint();
        gc();
        cap.milliseconds += Number(process.hrtime.bigint() - t0) / 1e6;
        cap.collections++;
        cap.floorBytes = v8.getHeapStatistics().used_heap_size;
    }, everyMs);
    timer.unref(); // never what keeps the process alive
    return cap;
}
