#!/usr/bin/env node
// A clone whose npm packages are missing, or older than its package-lock.json (a `git pull` since the set-up),
// gets the fix instead of Node's module trace or an SDK that no longer matches the code. Before anything loads.
const fs = require("fs");
const path = require("path");
const root = path.join(__dirname, "..");
const setUp = `Run the set-up in ${root}: bash scripts/setup.sh (or npm ci)`;
try {
    require.resolve("tsx/cjs/api");
} catch {
    process.stderr.write(`scm-upgrade: its npm packages are not installed (no node_modules/tsx). ${setUp}, then run this command again.\n`);
    process.exit(7); // EXIT.toolchain (cli/exitCodes.ts)
}
// The set-up's stamp: the hash of the package-lock.json it installed (scripts/setup.sh); none after a plain npm ci.
let stamp;
try {
    stamp = fs.readFileSync(path.join(root, "node_modules", ".scm-upgrade-lock.sha"), "utf8").trim();
} catch {}
if (stamp) {
    const lock = require("crypto")
        .createHash("sha256")
        .update(fs.readFileSync(path.join(root, "package-lock.json")))
        .digest("hex");
    if (lock !== stamp) process.stderr.write(`scm-upgrade: warning: package-lock.json changed since the npm packages were installed. ${setUp}.\n`);
}
require("./loader");
require("../cli/main");
