import * as pulumi from "@pulumi/pulumi";
import type { BecomeMode } from "../lib/config/schema";
import { remote, types } from "@pulumi/command";
import { RemoteCommand } from "./RemoteCommand";
import { renderPrepareStaging, renderUnpack, uploadDir } from "../lib/shell";
import { childName } from "../lib/names";
import { settledOptions } from "./settled";

export interface StagedPackageArgs {
    /** Host name, for messages. */
    host: string;
    /** SSH connection to the host (stored as a secret by the provider). */
    connection: pulumi.Input<types.input.remote.ConnectionArgs>;
    /** Staging folder on the host. Default in config: `/opt/scm_upgrade`. */
    stagingDir: string;
    become: BecomeMode;
    /** SSH login user (owner of the upload folder in `sudo` mode). */
    loginUser: string;
    installUser: string;
    installGroup: string;
    /** A tarball on this machine (uploaded) with its sha256, or a path already on the host. */
    package: { localPath: string; sha256: string } | { remotePath: string };
    /** A separate `scmupgrade.py` on this machine, uploaded and put in place of the package's own. */
    upgradeScript?: { localPath: string; sha256: string };
    /** What must finish first (the preflight of every host). */
    after?: pulumi.Input<pulumi.Resource>[];
    /** Extra trigger values (a run token when a node of this host needs work). */
    extraTriggers?: string[];
    /** No node of this host needs work in this run (read live): nothing is staged again. */
    settled?: boolean;
    /** Seconds the unpack waits for an earlier run's script on the host (lib/shell `hostLockWait`). */
    lockWaitSeconds?: number;
}

/**
 * A file to upload, with its SHA-256 (the program computed it once). `hash` is the asset's own field on the
 * wire, which the engine fills in only when it is missing: without it the engine read and hashed the whole
 * file once per resource that uploads it, i.e. once per host (a 300 MB release at 40 hosts: 12 GB).
 */
function hashedFileAsset(localPath: string, sha256: string): pulumi.asset.FileAsset {
    return Object.assign(new pulumi.asset.FileAsset(localPath), { hash: Promise.resolve(sha256) });
}

/**
 * The release staged on one host, as the vendor prescribes: uploaded, unpacked into the staging
 * folder, handed to the install user and group, `scmupgrade.py` made executable. Staged again
 * when the package's checksum changes (the triggers), never otherwise.
 */
export class StagedPackage extends pulumi.ComponentResource {
    /** The checksum (or host path) of what is staged. */
    public readonly staged: pulumi.Output<string>;
    /** The command that unpacks the release on the host (the last of the staging). */
    public readonly command: RemoteCommand;

    constructor(name: string, args: StagedPackageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("sequoiacm:upgrade:StagedPackage", name, {}, opts);
        const identity = "sha256" in args.package ? args.package.sha256 : args.package.remotePath;
        const triggers = [identity, args.upgradeScript?.sha256 ?? "", args.stagingDir, ...(args.extraTriggers ?? [])];
        const keep = settledOptions(args.settled);

        // A package already on the host is unpacked by one command (it makes the staging folder itself). An
        // upload makes its own missing folders as the login user (the command provider's copy, both the
        // official one from 1.2.1 and the stand-in), which is all the upload folder needs with `login` and
        // `su`; only `sudo` needs a command first, to make the folder as root and give it to the login user.
        // One SSH round trip fewer per host otherwise.
        const uploading = "localPath" in args.package || !!args.upgradeScript;
        const prepare =
            uploading && args.become === "sudo"
                ? new RemoteCommand(
                      childName.stagePrepare(name),
                      {
                          connection: args.connection,
                          create: renderPrepareStaging({ stagingDir: args.stagingDir, become: args.become, loginUser: args.loginUser }),
                          triggers,
                      },
                      { parent: this, dependsOn: args.after ?? [], ...keep },
                  )
                : undefined;

        const uploads: pulumi.Resource[] = [];
        let tarballPath: string;
        if ("localPath" in args.package) {
            tarballPath = `${uploadDir(args.stagingDir)}/${args.package.localPath.split("/").pop()}`;
            uploads.push(
                new remote.CopyToRemote(
                    childName.stageUpload(name),
                    {
                        connection: args.connection,
                        source: hashedFileAsset(args.package.localPath, args.package.sha256),
                        remotePath: tarballPath,
                        triggers,
                    },
                    { parent: this, dependsOn: prepare ? [prepare] : (args.after ?? []), ...keep },
                ),
            );
        } else {
            tarballPath = args.package.remotePath;
        }
        let scriptOverridePath: string | undefined;
        if (args.upgradeScript) {
            scriptOverridePath = `${uploadDir(args.stagingDir)}/scmupgrade.py`;
            uploads.push(
                new remote.CopyToRemote(
                    childName.stageUploadScript(name),
                    {
                        connection: args.connection,
                        source: hashedFileAsset(args.upgradeScript.localPath, args.upgradeScript.sha256),
                        remotePath: scriptOverridePath,
                        triggers,
                    },
                    { parent: this, dependsOn: prepare ? [prepare] : (args.after ?? []), ...keep },
                ),
            );
        }

        const unpack = new RemoteCommand(
            childName.stageUnpack(name),
            {
                connection: args.connection,
                create: renderUnpack({
                    host: args.host,
                    stagingDir: args.stagingDir,
                    tarballPath,
                    sha256: "sha256" in args.package ? args.package.sha256 : undefined,
                    installUser: args.installUser,
                    installGroup: args.installGroup,
                    become: args.become,
                    scriptOverridePath,
                    lockWaitSeconds: args.lockWaitSeconds,
                }),
                triggers,
            },
            { parent: this, dependsOn: uploads.length ? uploads : (args.after ?? []), ...keep },
        );
        this.command = unpack;
        this.staged = unpack.stdout.apply(() => identity);
        this.registerOutputs({ staged: this.staged });
    }
}
