// The package's entry point (package.json "main") exposes the driver for pipelines and the
// components for other Pulumi programs, and loading it has no side effect (no output, no exit).
test("the library API exports the driver, the plan and the components", () => {
    const writes: string[] = [];
    const spy = jest.spyOn(process.stdout, "write").mockImplementation((c) => {
        writes.push(String(c));
        return true;
    });
    const lib = require("../../" + require("../../package.json").main);
    spy.mockRestore();
    for (const name of [
        "preview",
        "up",
        "destroy",
        "refresh",
        "status",
        "preflight",
        "plan",
        "planWaves",
        "validateConfig",
        "checkSecretValue",
        "setStackSecret",
        "unsetStackSecret",
    ]) {
        expect({ name, type: typeof lib[name] }).toEqual({ name, type: "function" });
    }
    for (const name of ["RollingUpgrade", "ServiceUpgrade", "StagedPackage", "Preflight", "RollingRollback", "ServiceRollback"]) {
        expect({ name, type: typeof lib[name] }).toEqual({ name, type: "function" });
    }
    expect(new lib.DriverError("stack-locked", "x").kind).toBe("stack-locked");
    expect(writes).toEqual([]);
});
