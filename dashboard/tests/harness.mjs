// What every browser test of the dashboard shares: its environment, TAP output, psql, and
// Debian's Chromium through playwright-core. The suites (e2e*.mjs) are run by TAP scripts in
// test/t, which start the server, the worker and the keys and pass them in the environment.
import { execFileSync } from "node:child_process";
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

// One statement through psql (the PG* environment), unaligned output.
export function sql(statement) {
  return execFileSync("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement], { encoding: "utf8" }).trim();
}

// Headless Chromium (CHROMIUM, default Debian's /usr/bin/chromium; no sandbox: CI runs as root).
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}
