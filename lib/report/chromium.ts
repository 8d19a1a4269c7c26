/**
 * Debian's headless Chromium, for the tests and the documentation's screenshots. Installs nothing:
 * when the browser is missing, the error says which package to install.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";

/** `SCM_UPGRADE_CHROMIUM` or Debian's `/usr/bin/chromium`. */
export function chromiumPath(): string {
    return process.env.SCM_UPGRADE_CHROMIUM ?? "/usr/bin/chromium";
}

export function chromiumPresent(): boolean {
    try {
        fs.accessSync(chromiumPath(), fs.constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

export function requireChromium(): string {
    const bin = chromiumPath();
    if (!chromiumPresent()) {
        throw new Error(
            `Headless Chromium is missing (${bin}): install Debian's package with \`apt-get install chromium\` ` +
                `(scripts/setup.sh installs it when listed), or point SCM_UPGRADE_CHROMIUM at a Chromium binary.`,
        );
    }
    return bin;
}

/** The flags of every call: headless, offline, a fresh profile. */
function baseArgs(profile: string): string[] {
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        `--user-data-dir=${profile}`,
    ];
}

function run(args: string[], timeoutMs = 90000): string {
    const bin = requireChromium();
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "scm-chromium-"));
    try {
        const r = spawnSync(bin, [...baseArgs(profile), ...args], { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
        if (r.error) throw r.error;
        if (r.status !== 0) throw new Error(`chromium exited ${r.status}: ${r.stderr.split("\n").slice(-8).join("\n")}`);
        return r.stdout;
    } finally {
        fs.rmSync(profile, { recursive: true, force: true });
    }
}

/** The DOM after the page loaded (scripts run), serialized. */
export function dumpDom(file: string): string {
    return run(["--dump-dom", pathToFileURL(path.resolve(file)).href]);
}

/** A PNG of the page's first `width` x `height` pixels. */
export function screenshot(file: string, png: string, width: number, height: number): void {
    fs.rmSync(png, { force: true });
    run([`--screenshot=${path.resolve(png)}`, `--window-size=${Math.ceil(width)},${Math.ceil(height)}`, pathToFileURL(path.resolve(file)).href]);
    if (!fs.existsSync(png)) throw new Error(`chromium wrote no screenshot at ${png}`);
}
