import type { Center } from "../../lib/config/schema";
import type { ServiceName } from "../../lib/services";

/** The seed's four hosts (reference section 1): A, B primary; C, D standby; root site on A and C. */
export const seedHosts: { name: string; address: string; center: Center; services: ServiceName[]; site: string; rootSite?: boolean }[] = [
    { name: "A", address: "10.0.0.1", center: "primary", services: ["cloud", "config-server", "content-server"], site: "rootSite", rootSite: true },
    { name: "B", address: "10.0.0.2", center: "primary", services: ["cloud", "schedule-server", "content-server"], site: "branchSite1" },
    { name: "C", address: "10.0.0.3", center: "standby", services: ["cloud", "config-server", "content-server"], site: "rootSite", rootSite: true },
    { name: "D", address: "10.0.0.4", center: "standby", services: ["cloud", "schedule-server", "content-server"], site: "branchSite1" },
];
