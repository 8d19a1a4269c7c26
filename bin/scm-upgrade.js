#!/usr/bin/env node
// Runs the TypeScript command line directly (no build step): tsx compiles on load.
require("tsx/cjs/api").register();
require("../cli/main");
