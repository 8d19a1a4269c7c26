// How the command line loads (its own file, so that test/unit/loader.test.ts loads exactly this).
//
// The TypeScript runs directly (no build step): tsx compiles on load. Only our own files need it:
// the packages' JavaScript goes to Node's own loader, as without tsx (tsx looks at each of the ~340 files the
// Pulumi SDK and its packages load to decide whether to compile it: ~0.25 s of every command's start).
const Module = require("module");
const nodeJs = Module._extensions[".js"];
require("tsx/cjs/api").register();
const tsxJs = Module._extensions[".js"];
const PACKAGES = /[\\/]node_modules[\\/]/;
Module._extensions[".js"] = function (module, filename) {
    return (PACKAGES.test(filename) ? nodeJs : tsxJs).call(this, module, filename);
};

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

// Modules that packages load when they start, for work this tool never asks of them: the Pulumi SDK's
// TypeScript compiler, npm's arborist and normalize-package-data (function serialization: about a second of CPU
// on every engine command), and zod's messages in forty languages (~0.1 s; its English ones load on their
// own). Each is loaded on first use instead: a proxy that loads the real module when it is used.
const LAZY = new Map([
    ["typescript", /[\\/]@pulumi[\\/]pulumi[\\/]/],
    ["@npmcli/arborist", /[\\/]@pulumi[\\/]pulumi[\\/]/],
    ["normalize-package-data", /[\\/]@pulumi[\\/]pulumi[\\/]/],
    ["../locales/index.cjs", /[\\/]zod[\\/]v4[\\/](core|classic)[\\/]/],
]);
const load = Module._load;
Module._load = function (request, parent, isMain) {
    if (!parent || !LAZY.get(request)?.test(parent.filename)) return load.call(this, request, parent, isMain);
    let real;
    const get = () => (real ??= load.call(this, request, parent, isMain));
    // A function as the target, so that a module that is a function can be called through the proxy (an arrow
    // function: it has no own property the proxy would have to report as it is).
    return new Proxy(() => undefined, {
        // `__esModule`: TypeScript's `__importStar` then keeps the proxy instead of copying every export at once,
        // and `__importDefault` keeps it too; `default` is then the module itself, as those helpers make it.
        get: (_t, key) => {
            if (key === "__esModule") return true;
            const m = get();
            return key === "default" && !m.__esModule ? m : Reflect.get(m, key);
        },
        apply: (_t, self, args) => Reflect.apply(get(), self, args),
        has: (_t, key) => key in get(),
        ownKeys: () => Reflect.ownKeys(get()),
        getOwnPropertyDescriptor: (_t, key) => {
            // tsx asks every loaded module for its own "module.exports" marker: not a reason to load it.
            if (key === "module.exports" && !real) return undefined;
            const d = Object.getOwnPropertyDescriptor(get(), key);
            return d && { ...d, configurable: true };
        },
    });
};
