/**
 * Real local users for `become: sudo` tests (root only): an install user in its own group, and a login user
 * who may sudo to anyone without a password. What did not exist is created, and removed by the returned function.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";

export interface LocalUsers {
    /** The user the tool logs in as. */
    login: string;
    /** The user that owns the installs and runs the nodes, and its group. */
    install: string;
    group: string;
    /** The sudoers.d file that lets `login` sudo; a name of its own per test file. */
    sudoers: string;
}

export function addLocalUsers(o: LocalUsers): () => void {
    const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8" });
    const createdUsers: string[] = [];
    let createdGroup = false;
    if (
        !sh("getent", ["group"])
            .split("\n")
            .some((l) => l.startsWith(`${o.group}:`))
    ) {
        sh("groupadd", [o.group]);
        createdGroup = true;
    }
    for (const [u, g] of [
        [o.install, o.group],
        [o.login, "users"],
    ]) {
        try {
            execFileSync("id", ["-u", u], { stdio: "ignore" });
        } catch {
            sh("useradd", ["-m", "-g", g, "-s", "/bin/bash", u]);
            createdUsers.push(u);
        }
    }
    // A new account's password is locked ("!"), and sshd without PAM refuses locked accounts even
    // for key logins: "*" means no password login, but not locked.
    sh("usermod", ["-p", "*", o.login]);
    fs.writeFileSync(o.sudoers, `${o.login} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    return () => {
        fs.rmSync(o.sudoers, { force: true });
        for (const u of createdUsers) execFileSync("userdel", ["-r", u], { stdio: "ignore" });
        if (createdGroup) execFileSync("groupdel", [o.group], { stdio: "ignore" });
    };
}
