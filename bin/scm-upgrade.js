#!/usr/bin/env node
require("./loader");
require("../cli/main");
