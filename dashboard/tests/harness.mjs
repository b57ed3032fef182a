// What every browser test of the dashboard shares: its environment, TAP output, psql, Debian's
// Chromium through playwright-core, a browser session whose pages record script errors, CSP
// violations and requests to another origin, signing in, waiting, confirmations and screenshots.
// The suites (e2e*.mjs) are run by TAP scripts in test/t, which start the server, the worker and
// the keys and pass them in the environment.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

// The checkout's root (screenshots go to docs/img there).
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// A required environment variable; without it the run is one failed test.
export function env(name) {
  const v = process.env[name];
  if (!v) {
    console.log(`not ok 1 - environment variable ${name} is set`);
    console.log("1..1");
    process.exit(1);
  }
  return v;
}

// What every suite is given (test/t/dashboard_lib.sh's run_browser_tests, dashboard_workflows.t):
// the server's URL, an admin key, a tenant's key, that tenant and the queue.
export function serverEnv() {
  return {
    BASE: env("TF_BASE_URL"), ADMIN: env("TF_ADMIN_KEY"), CLIENT: env("TF_CLIENT_KEY"),
    CLIENT_TENANT: env("TF_CLIENT_TENANT"), QUEUE: env("TF_QUEUE"),
  };
}

let n = 0;
let failed = 0;
// One TAP line; diagnostics after a failure.
export function ok(cond, name, diag) {
  n += 1;
  if (cond) console.log(`ok ${n} - ${name}`);
  else {
    failed += 1;
    console.log(`not ok ${n} - ${name}`);
    if (diag) for (const line of String(diag).split("\n")) console.log(`#   ${line}`);
  }
}
// A named check: passes when fn resolves, fails with the error's message when it throws.
export async function check(name, fn) {
  try {
    await fn();
    ok(true, name);
  } catch (e) {
    ok(false, name, e && e.message ? e.message : e);
  }
}
// The plan line and the exit status.
export function finish() {
  console.log(`1..${n}`);
  process.exit(failed > 0 ? 1 : 0);
}

// A failed expectation inside a check: throws with the message.
export function expect(cond, message) {
  if (!cond) throw new Error(message);
}
// Polls fn (which answers { ok, value }) every 150 ms until ok, then gives value; after ms a
// failure that names what it waited for and the last value.
export async function until(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last.ok) return last.value;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last && last.value)}`);
}

const PSQL = ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c"];
// One statement through psql (the PG* environment), unaligned output.
export function sql(statement) {
  return execFileSync("psql", [...PSQL, statement], { encoding: "utf8" }).trim();
}
// The extension's own message for a statement it refuses (what the UI must show).
export function sqlError(statement) {
  try {
    execFileSync("psql", [...PSQL, statement], { encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    const m = /ERROR:\s+(.*)/.exec(String(e.stderr));
    if (m) return m[1].trim();
  }
  throw new Error(`${statement} did not fail`);
}

// Headless Chromium (CHROMIUM, default Debian's /usr/bin/chromium; no sandbox: CI runs as root).
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

// A browser on the server at `base` whose pages (newPage) record every script error, every console
// error (a CSP violation among them) except the `tolerated` ones (the refusals a suite provokes
// are logged by Chromium as failed loads) and every request outside the server. run(body) runs
// the suite: a throw is one failed test, the last test is that nothing was recorded; then the
// browser closes and the plan line ends the output.
export async function browserSession(base, tolerated) {
  const browser = await launchBrowser();
  const violations = [];
  async function newPage() {
    const context = await browser.newContext({ viewport: { width: 1360, height: 1000 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error" && !tolerated.test(m.text())) violations.push(m.text());
    });
    page.on("pageerror", (e) => violations.push(String(e)));
    page.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:")) violations.push(`request outside the server: ${r.url()}`);
    });
    return page;
  }
  // Types the key into the sign-in page and submits it.
  async function submitKey(page, key) {
    await page.goto(`${base}/`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  // Signs in with the key and waits for the main navigation.
  async function signIn(page, key) {
    await submitKey(page, key);
    await page.getByRole("navigation", { name: "Main" }).waitFor({ timeout: 10000 });
  }
  async function run(body) {
    try {
      await body();
      ok(violations.length === 0, "no script error, CSP violation or request outside the server", violations.join("\n"));
    } catch (e) {
      ok(false, "the browser run ended early", e && e.stack ? e.stack : e);
    } finally {
      await browser.close();
    }
    finish();
  }
  return { newPage, submitKey, signIn, run };
}

// How often the page's main frame navigated since this call (a live view must not reload).
export function navigations(page) {
  let n = 0;
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) n += 1; });
  return () => n;
}

// Answers the page's confirmation (role alertdialog): waits for the question, when given, and
// presses the confirm button.
export async function confirmDialog(page, question, button) {
  const dialog = page.getByRole("alertdialog");
  if (question) await dialog.filter({ hasText: question }).waitFor();
  await dialog.getByRole("button", { name: button }).click();
}

// With TASKFLOW_SCREENSHOTS set, one test that saves the whole page as docs/img/<file> (the
// pointer moved out of the way; prepare, when given, runs just before the shot).
export async function screenshot(page, what, file, prepare) {
  if (!process.env.TASKFLOW_SCREENSHOTS) return;
  await check(`screenshot of ${what} saved to docs/img/${file}`, async () => {
    mkdirSync(path.join(root, "docs/img"), { recursive: true });
    await page.mouse.move(0, 0);
    if (prepare) await prepare();
    await page.screenshot({ path: path.join(root, "docs/img", file), fullPage: true });
  });
}
