// Browser tests of the dashboard: Debian's Chromium driven by playwright-core against a real
// server (test/t/dashboard_browser.t starts it, a worker and the keys). Prints TAP lines.
// Environment: TF_BASE_URL, TF_ADMIN_KEY, TF_CLIENT_KEY (tenant TF_CLIENT_TENANT),
// TF_OTHER_TENANT, TF_QUEUE, TF_OTHER_QUEUE, PG* (psql schedules jobs), CHROMIUM (default
// /usr/bin/chromium), TASKFLOW_SCREENSHOTS=1 to save docs/img/overview.png.
import { browserSession, check, env, navigations, screenshot, serverEnv, sql } from "./harness.mjs";

const { BASE, ADMIN, CLIENT, CLIENT_TENANT, QUEUE } = serverEnv();
const OTHER_TENANT = env("TF_OTHER_TENANT");
const OTHER_QUEUE = env("TF_OTHER_QUEUE");

const { newPage, submitKey, signIn, run } = await browserSession(BASE, /401|Unauthorized/);
const cell = (page, queue, state) => page.locator(`tr[data-queue="${queue}"] td[data-state="${state}"]`);

await run(async () => {
  // --- a bad key is refused ---------------------------------------------------------------
  const anon = await newPage();
  await check("a bad key is refused on the sign-in page", async () => {
    await submitKey(anon, "tfk_" + "A".repeat(43));
    await anon.getByRole("alert").filter({ hasText: "not valid" }).waitFor({ timeout: 10000 });
    if (await anon.getByRole("navigation", { name: "Main" }).count()) throw new Error("navigation shown for a bad key");
  });
  await anon.context().close();

  // --- admin -------------------------------------------------------------------------------
  const page = await newPage();
  await check("an admin key signs in and sees the overview", async () => {
    await signIn(page, ADMIN);
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor({ timeout: 10000 });
    await page.getByText("Admin (all tenants)").waitFor();
    await cell(page, QUEUE, "PENDING").waitFor();
    await cell(page, OTHER_QUEUE, "PENDING").waitFor();
  });

  await check("a job scheduled with SQL appears on the overview without a reload", async () => {
    const before = Number(await cell(page, OTHER_QUEUE, "SCHEDULED").innerText());
    const navigated = navigations(page);
    sql(`SELECT taskflow.schedule('e2e.later', '{}', queue => '${OTHER_QUEUE}', tenant_id => '${OTHER_TENANT}', run_at => now() + interval '1 hour')`);
    await page.waitForFunction(
      ([q, want]) => Number(document.querySelector(`tr[data-queue="${q}"] td[data-state="SCHEDULED"]`)?.textContent) === want,
      [OTHER_QUEUE, before + 1], { timeout: 10000 });
    if (navigated() !== 0) throw new Error(`the page navigated ${navigated()} times`);
  });

  await check("a job run by the worker shows in the throughput chart and the workers table", async () => {
    sql(`SELECT taskflow.schedule('e2e.sleep', '{"seconds": 3}', queue => '${QUEUE}', tenant_id => '${CLIENT_TENANT}')`);
    await page.locator("table[data-testid=workers] tr[data-worker] li").filter({ hasText: "e2e.sleep" }).first().waitFor({ timeout: 15000 });
    await page.waitForFunction(
      (q) => Number(document.querySelector(`tr[data-queue="${q}"] td[data-state="SUCCEEDED"]`)?.textContent) >= 2,
      QUEUE, { timeout: 20000 });
    await page.getByRole("combobox", { name: "Queue" }).selectOption(QUEUE);
    await page.locator("[data-testid=chart-throughput] .recharts-bar-rectangle path").first().waitFor({ timeout: 15000 });
    const summary = await page.locator("#throughput-summary").innerText();
    if (!/^[1-9]\d* jobs succeeded/.test(summary)) throw new Error(`summary: ${summary}`);
  });

  await check("every chart has a text alternative (summary and data table)", async () => {
    for (const id of ["throughput", "failure-rate", "wait-latency", "run-latency"]) {
      const fig = page.locator(`[data-testid=chart-${id}]`);
      const describedBy = await fig.getAttribute("aria-describedby");
      const text = await page.locator(`#${describedBy}`).innerText();
      if (!text.trim()) throw new Error(`${id}: empty summary`);
      if ((await fig.locator("details table").count()) !== 1) throw new Error(`${id}: no data table`);
    }
  });

  await check("the paused queue is flagged", async () => {
    await page.locator(`tr[data-queue="${OTHER_QUEUE}"] .badge.paused`).waitFor({ timeout: 5000 });
  });

  await check("keyboard navigation reaches the skip link, the nav links and sign out", async () => {
    // a fresh load (the key stays in sessionStorage): focus starts at the top of the page
    await page.reload();
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor({ timeout: 10000 });
    const seen = [];
    // one Tab per nav link (their number grows with the views), at most 15
    for (let i = 0; i < 15 && !seen.includes("BUTTON:Sign out"); i++) {
      await page.keyboard.press("Tab");
      seen.push(await page.evaluate(() => {
        const el = document.activeElement;
        return el ? `${el.tagName}:${(el.textContent || "").trim()}` : "";
      }));
    }
    for (const want of ["A:Skip to content", "A:Overview", "BUTTON:Sign out"]) {
      if (!seen.includes(want)) throw new Error(`focus order ${JSON.stringify(seen)} lacks ${want}`);
    }
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    if (outline === "none") throw new Error("the focused element has no outline");
  });

  await screenshot(page, "the overview", "overview.png", () => page.locator("main").focus());

  await check("sign out returns to the sign-in page and forgets the key", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    const stored = await page.evaluate(() => sessionStorage.length);
    if (stored !== 0) throw new Error(`sessionStorage holds ${stored} items`);
  });
  await page.context().close();

  // --- a tenant's key ----------------------------------------------------------------------
  const tenant = await newPage();
  await check("a client key sees only its tenant's numbers", async () => {
    await signIn(tenant, CLIENT);
    await tenant.getByText(`Tenant ${CLIENT_TENANT}`).waitFor({ timeout: 10000 });
    await cell(tenant, QUEUE, "SUCCEEDED").waitFor();
    const want = sql(`SELECT count(*) FROM taskflow.jobs WHERE queue = '${QUEUE}' AND tenant_id = '${CLIENT_TENANT}' AND state = 'SUCCEEDED'`);
    await tenant.waitForFunction(
      ([q, w]) => document.querySelector(`tr[data-queue="${q}"] td[data-state="SUCCEEDED"]`)?.textContent === w,
      [QUEUE, want], { timeout: 10000 });
    // the other tenant's queue (where this tenant has no job) is not listed at all
    if (await tenant.locator(`tr[data-queue="${OTHER_QUEUE}"]`).count()) throw new Error(`${OTHER_QUEUE} is shown to ${CLIENT_TENANT}`);
    const pendingOther = sql(`SELECT count(*) FROM taskflow.jobs WHERE queue = '${QUEUE}' AND tenant_id <> '${CLIENT_TENANT}' AND state = 'PENDING'`);
    const pendingOwn = sql(`SELECT count(*) FROM taskflow.jobs WHERE queue = '${QUEUE}' AND tenant_id = '${CLIENT_TENANT}' AND state = 'PENDING'`);
    if (Number(pendingOther) === 0) throw new Error("test setup: the other tenant has no PENDING job in the shared queue");
    const shown = await cell(tenant, QUEUE, "PENDING").innerText();
    if (shown !== pendingOwn) throw new Error(`PENDING shown ${shown}, own ${pendingOwn}, other tenant ${pendingOther}`);
    const tenants = await tenant.locator("table[data-testid=tenants] tr[data-tenant]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-tenant")));
    if (tenants.some((t) => t !== CLIENT_TENANT)) throw new Error(`tenants shown: ${tenants}`);
  });
  await tenant.context().close();

});
