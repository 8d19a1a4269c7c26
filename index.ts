// The Pulumi program of scm-upgrade (`pulumi up -s <stack>`); `scm-upgrade` runs the same one inline.
import { upgradeProgram } from "./program/program";

export = upgradeProgram();
