export * from "./StagedPackage";
export * from "./Preflight";
export * from "./ServiceUpgrade";
export * from "./RollingUpgrade";
export * from "./ServiceRollback";
export * from "./RollingRollback";
