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
export function dumpDom(file: string, windowWidth = 1100, windowHeight = 900): string {
    return run([`--window-size=${windowWidth},${windowHeight}`, "--dump-dom", pathToFileURL(path.resolve(file)).href]);
}

/** A PNG of the page's first `width` x `height` pixels. */
export function screenshot(file: string, png: string, width: number, height: number): void {
    fs.rmSync(png, { force: true });
    run([`--screenshot=${path.resolve(png)}`, `--window-size=${Math.ceil(width)},${Math.ceil(height)}`, pathToFileURL(path.resolve(file)).href]);
    if (!fs.existsSync(png)) throw new Error(`chromium wrote no screenshot at ${png}`);
}

export interface ProbedElement {
    /** The element's `data-*` attributes. */
    data: Record<string, string>;
    x: number;
    y: number;
    width: number;
    height: number;
    /** The element's text, as laid out. */
    text: string;
}

export interface Probe {
    /** The document's scroll size, in CSS pixels. */
    width: number;
    height: number;
    elements: ProbedElement[];
}

/**
 * Loads a copy of an HTML page with a measuring script added (the page itself has none, and its
 * Content-Security-Policy forbids scripts: the copy relaxes it) and returns the laid-out box of every
 * element matching `selector`: what the browser actually drew, not what the HTML says.
 */
export function probe(htmlFile: string, selector: string, windowWidth = 1100): Probe {
    const html = fs.readFileSync(htmlFile, "utf8");
    const script = `<script>(function(){
var out = { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight, elements: [] };
document.querySelectorAll(${JSON.stringify(selector)}).forEach(function (el) {
  var r = el.getBoundingClientRect(); var data = {};
  for (var i = 0; i < el.attributes.length; i++) { var a = el.attributes[i]; if (a.name.indexOf("data-") === 0) data[a.name.slice(5)] = a.value; }
  out.elements.push({ data: data, x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height, text: el.textContent });
});
var s = document.createElement("script"); s.type = "application/json"; s.id = "scm-probe";
s.textContent = JSON.stringify(out).replace(/</g, "\\\\u003c"); document.body.appendChild(s);
})();</script>`;
    const relaxed = html
        .replace(
            /<meta http-equiv="Content-Security-Policy"[^>]*>/,
            `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">`,
        )
        .replace(/<\/body>/, `${script}\n</body>`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scm-probe-"));
    try {
        const copy = path.join(dir, "probe.html");
        fs.writeFileSync(copy, relaxed);
        const dom = dumpDom(copy, windowWidth);
        const m = /<script type="application\/json" id="scm-probe">([\s\S]*?)<\/script>/.exec(dom);
        if (!m) throw new Error("the measuring script did not run: no #scm-probe in the dumped DOM");
        return JSON.parse(m[1]) as Probe;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
