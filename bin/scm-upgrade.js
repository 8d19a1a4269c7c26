#!/usr/bin/env node
// Runs the TypeScript command line directly (no build step): tsx compiles on load.
require("tsx/cjs/api").register();

// The Pulumi SDK takes a stack trace for every resource and every promise it makes (thousands in a large
// preview). tsx turns Node's source maps on, which maps each of them back to TypeScript: about half the CPU
// of a 200-host preview. The CLI prints messages, never stack traces, so it keeps no source maps and no
// frame at all (even one frame, formatted for every promise, cost ~0.5 s of CPU in a 200-host preview; the
// SDK's own source positions lift the limit themselves); SCM_UPGRADE_DEBUG_STACKS=1 keeps both (debugging
// the tool itself).
if (process.env.SCM_UPGRADE_DEBUG_STACKS !== "1") {
    process.setSourceMapsEnabled(false);
    Error.stackTraceLimit = 0;
}

// The Pulumi SDK loads the TypeScript compiler and npm's arborist when it starts, for function serialization,
// which this tool never uses: about a second of CPU on every engine command. Required from the SDK, they are
// loaded on first use instead (a proxy that loads the real module when a property is read).
const Module = require("module");
const LAZY = new Set(["typescript", "@npmcli/arborist"]);
const load = Module._load;
Module._load = function (request, parent, isMain) {
    if (!LAZY.has(request) || !parent || !/[\\/]@pulumi[\\/]pulumi[\\/]/.test(parent.filename)) return load.call(this, request, parent, isMain);
    let real;
    const get = () => (real ??= load.call(this, request, parent, isMain));
    return new Proxy(
        {},
        {
            // `__esModule`: the SDK's `__importStar` then keeps the proxy instead of copying every export at once.
            get: (_t, key) => (key === "__esModule" ? true : Reflect.get(get(), key)),
            has: (_t, key) => key in get(),
            ownKeys: () => Reflect.ownKeys(get()),
            getOwnPropertyDescriptor: (_t, key) => {
                // tsx asks every loaded module for its own "module.exports" marker: not a reason to load it.
                if (key === "module.exports" && !real) return undefined;
                const d = Object.getOwnPropertyDescriptor(get(), key);
                return d && { ...d, configurable: true };
            },
        },
    );
};

require("../cli/main");
