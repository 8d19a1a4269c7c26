import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { decryptedStackConfig, openValue, passphraseKey, passphraseOf } from "../../engine/passphrase";
import { plainStackConfig, stackFileConfig } from "../../lib/config/stackFile";

// The passphrase secrets provider's format, sealed here with Node's own AES-256-GCM (the e2e engine test
// checks the same reads against what the real CLI wrote). The key is derived as the provider derives it
// (1,000,000 rounds, ~0.3 s once).
const phrase = "unit-test passphrase";
const salt = Buffer.from("0123456789abcdef", "hex").subarray(0, 8);
const key = crypto.pbkdf2Sync(phrase, salt, 1_000_000, 32, "sha256");
function seal(text: string, k = key): string {
    const nonce = crypto.randomBytes(12);
    const c = crypto.createCipheriv("aes-256-gcm", k, nonce);
    const body = Buffer.concat([c.update(text, "utf8"), c.final(), c.getAuthTag()]);
    return `v1:${nonce.toString("base64")}:${body.toString("base64")}`;
}
const encryptionSalt = `v1:${salt.toString("base64")}:${seal("pulumi")}`;

describe("passphrase secrets read in this process (engine/passphrase.ts)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-passphrase-"));
    const project = path.join(dir, "Pulumi.yaml");
    const stacks = path.join(dir, "stacks");
    const write = (stack: string, text: string) => fs.writeFileSync(path.join(stacks, `Pulumi.${stack}.yaml`), text);
    const env = { PULUMI_CONFIG_PASSPHRASE: phrase };
    beforeAll(() => {
        fs.mkdirSync(stacks);
        fs.writeFileSync(project, "name: scm-upgrade\nruntime: nodejs\nstackConfigDir: stacks\n");
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("each secret opens to its text, beside the plain values, as the CLI lists them", async () => {
        const pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        write(
            "ok",
            `encryptionsalt: ${encryptionSalt}\nconfig:\n  scm-upgrade:become: login\n  scm-upgrade:ssh:\n    user: scmadmin\n` +
                `  scm-upgrade:sshPrivateKey:\n    secure: ${seal(pem)}\n  scm-upgrade:sshPassword:\n    secure: ${seal("p@ss wörd")}\n`,
        );
        expect(plainStackConfig(project, stacks, "ok")).toBeUndefined();
        expect(await decryptedStackConfig(project, stacks, "ok", env)).toEqual({
            "scm-upgrade:become": { value: "login" },
            "scm-upgrade:ssh": { value: '{"user":"scmadmin"}', objectValue: { user: "scmadmin" } },
            "scm-upgrade:sshPrivateKey": { value: pem, secret: true },
            "scm-upgrade:sshPassword": { value: "p@ss wörd", secret: true },
        });
    });

    test("what this process cannot decide is left to the CLI (undefined)", async () => {
        const secret = `  scm-upgrade:sshPassword:\n    secure: ${seal("pw")}\n`;
        write("p", `encryptionsalt: ${encryptionSalt}\nconfig:\n${secret}`);
        expect(await decryptedStackConfig(project, stacks, "p", env)).toBeDefined();
        // Another passphrase: the salt's check value does not open.
        expect(await decryptedStackConfig(project, stacks, "p", { PULUMI_CONFIG_PASSPHRASE: "wrong" })).toBeUndefined();
        // No passphrase at all.
        expect(await decryptedStackConfig(project, stacks, "p", {})).toBeUndefined();
        // A value tampered with (its tag no longer matches), or sealed with another key.
        const sealed = seal("pw");
        const tampered = `${sealed.slice(0, -4)}${sealed.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
        write("tampered", `encryptionsalt: ${encryptionSalt}\nconfig:\n  scm-upgrade:sshPassword:\n    secure: ${tampered}\n`);
        expect(await decryptedStackConfig(project, stacks, "tampered", env)).toBeUndefined();
        write("otherkey", `encryptionsalt: ${encryptionSalt}\nconfig:\n  scm-upgrade:sshPassword:\n    secure: ${seal("pw", crypto.randomBytes(32))}\n`);
        expect(await decryptedStackConfig(project, stacks, "otherkey", env)).toBeUndefined();
        // Another secrets provider, or none named in the file.
        write("kms", `secretsprovider: awskms://alias/scm\nencryptedkey: abc\nconfig:\n${secret}`);
        expect(await decryptedStackConfig(project, stacks, "kms", env)).toBeUndefined();
        write("nosalt", `config:\n${secret}`);
        expect(await decryptedStackConfig(project, stacks, "nosalt", env)).toBeUndefined();
        // A secret below a value's top level (`config set --secret --path`): the CLI's to read, and not plain either.
        write("nested", `encryptionsalt: ${encryptionSalt}\nconfig:\n  scm-upgrade:ssh:\n    user: scmadmin\n    password:\n      secure: ${seal("pw")}\n`);
        expect(stackFileConfig(project, stacks, "nested")).toBeUndefined();
        expect(plainStackConfig(project, stacks, "nested")).toBeUndefined();
        expect(await decryptedStackConfig(project, stacks, "nested", env)).toBeUndefined();
        // An ESC environment, or no stack file.
        write("esc", `environment:\n  - prod/ssh\nencryptionsalt: ${encryptionSalt}\nconfig:\n${secret}`);
        expect(await decryptedStackConfig(project, stacks, "esc", env)).toBeUndefined();
        expect(await decryptedStackConfig(project, stacks, "missing", env)).toBeUndefined();
    });

    test("a value in another format, or an encryptionsalt of another version, opens nothing", async () => {
        expect(openValue(key, "v2:abc:def")).toBeUndefined();
        expect(openValue(key, "v1:abc")).toBeUndefined();
        expect(openValue(key, "v1:AAAA:AA==")).toBeUndefined();
        expect(openValue(key, seal("x"))).toBe("x");
        expect(await passphraseKey(phrase, encryptionSalt)).toEqual(key);
        expect(await passphraseKey(phrase, encryptionSalt.replace(/^v1:/, "v2:"))).toBeUndefined();
    });

    test("the passphrase is the CLI's: PULUMI_CONFIG_PASSPHRASE first (even empty), else the file's text trimmed, from the project's folder", () => {
        fs.writeFileSync(path.join(dir, "phrase"), "  from the file \n");
        expect(passphraseOf({ PULUMI_CONFIG_PASSPHRASE: "given", PULUMI_CONFIG_PASSPHRASE_FILE: "phrase" }, dir)).toBe("given");
        expect(passphraseOf({ PULUMI_CONFIG_PASSPHRASE: "", PULUMI_CONFIG_PASSPHRASE_FILE: "phrase" }, dir)).toBe("");
        expect(passphraseOf({ PULUMI_CONFIG_PASSPHRASE_FILE: "phrase" }, dir)).toBe("from the file");
        expect(passphraseOf({ PULUMI_CONFIG_PASSPHRASE_FILE: path.join(dir, "phrase") }, "/")).toBe("from the file");
        expect(passphraseOf({ PULUMI_CONFIG_PASSPHRASE_FILE: "no-such-file" }, dir)).toBeUndefined();
        expect(passphraseOf({}, dir)).toBeUndefined();
    });
});
