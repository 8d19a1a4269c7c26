// Loaded with `node -r bench/maxrss.cjs`: at exit, writes this process's peak resident set size
// (process.resourceUsage().maxRSS, KiB) to the file named by $SCM_BENCH_MAXRSS_FILE.
"use strict";
const fs = require("fs");
const file = process.env.SCM_BENCH_MAXRSS_FILE;
if (file) {
    process.on("exit", () => {
        try {
            fs.writeFileSync(file, String(process.resourceUsage().maxRSS));
        } catch {
            // the measurement is optional; never change the exit of the process measured
        }
    });
}
