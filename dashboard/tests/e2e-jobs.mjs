// Browser tests of the dashboard's Jobs, Job detail and Dead letters views: Debian's Chromium
// driven by playwright-core against a real server and worker (test/t/dashboard_jobs_views.t
// starts them, makes two DEAD jobs and the keys). Prints TAP lines.
// Environment: TF_BASE_URL, TF_ADMIN_KEY, TF_CLIENT_KEY (tenant TF_CLIENT_TENANT),
// TF_OTHER_TENANT, TF_QUEUE, TF_DEAD_JOB, TF_DEAD_JOB2 (DEAD jobs of type e2e.flaky),
// TF_OTHER_JOB (a job of TF_OTHER_TENANT), TF_FLAG_FILE (makes e2e.flaky succeed),
// TF_WORKER_ID, PG* (psql), CHROMIUM, TASKFLOW_SCREENSHOTS=1 to save docs/img/job-timeline.png.
import { writeFileSync } from "node:fs";
import { browserSession, check, confirmDialog, env, expect, navigations, screenshot, serverEnv, sql, until } from "./harness.mjs";

const { BASE, ADMIN, CLIENT, CLIENT_TENANT, QUEUE } = serverEnv();
const OTHER_TENANT = env("TF_OTHER_TENANT");
const DEAD = env("TF_DEAD_JOB");
const DEAD2 = env("TF_DEAD_JOB2");
const OTHER_JOB = env("TF_OTHER_JOB");
const FLAG = env("TF_FLAG_FILE");
const WORKER = env("TF_WORKER_ID");

// refusals the tests provoke (404, 409, 422) are logged by Chromium as failed loads
const { newPage, signIn, run } = await browserSession(BASE, /401|404|409|422|Unauthorized|Failed to load resource/);
const timeline = (page) => page.locator("[data-testid=timeline] li");
const jobRows = (page) => page.locator("[data-testid=jobs] tbody tr[data-job]");
// waits until the Jobs table shows n rows
const rowCount = (page, n) =>
  page.waitForFunction((want) => document.querySelectorAll("[data-testid=jobs] tbody tr[data-job]").length === want, n, { timeout: 10000 });
// the ids of the Jobs table's rows
const ids = (page) => jobRows(page).evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-job"))));

await run(async () => {
  const page = await newPage();
  await signIn(page, ADMIN);

  // --- dead letters, before any retry -------------------------------------------------------
  await check("Dead letters: the two DEAD jobs form one group (job type x error type) with a sample link", async () => {
    await page.getByRole("link", { name: "Dead letters" }).click();
    await page.getByRole("heading", { name: "Dead letters", level: 1 }).waitFor();
    const row = page.locator('tr[data-group="e2e.flaky/exit_code"]');
    await row.waitFor({ timeout: 10000 });
    const cells = await row.locator("td").allInnerTexts();
    expect(cells[1] === "2", `count cell ${JSON.stringify(cells)}`);
    await row.getByRole("button", { name: "Purge e2e.flaky / exit_code" }).waitFor();
    const sample = await row.getByRole("link").getAttribute("href");
    expect(sample === `#/jobs/${DEAD}` || sample === `#/jobs/${DEAD2}`, `sample link ${sample}`);
  });

  // --- job detail of a DEAD job --------------------------------------------------------------
  await check("Job detail: a DEAD job shows its payload, last error, attempt and timeline", async () => {
    await page.goto(`${BASE}/#/jobs/${DEAD}`);
    const detail = page.locator("[data-testid=job-detail]");
    await detail.waitFor({ timeout: 10000 });
    await page.getByRole("heading", { level: 1 }).filter({ hasText: `Job ${DEAD}` }).locator('[data-state="DEAD"]').waitFor();
    const payload = JSON.parse(await page.locator("[data-testid=payload]").innerText());
    expect(payload.order === 1, `payload ${JSON.stringify(payload)}`);
    const lastError = await page.locator("[data-testid=last-error]").innerText();
    expect(/exit_code.*exit code 3.*flag file is missing/s.test(lastError), `last error: ${lastError}`);
    const attempts = page.locator("[data-testid=attempts] tbody tr");
    expect((await attempts.count()) === 1, `${await attempts.count()} attempt rows`);
    const a1 = await attempts.first().innerText();
    expect(a1.includes(WORKER) && a1.includes("failed") && a1.includes("exit_code") && /attempts exhausted/.test(a1),
      `attempt row: ${a1}`);
    const steps = await timeline(page).allInnerTexts();
    expect(steps.length >= 3, `timeline ${JSON.stringify(steps)}`);
    expect(/created as\s+PENDING/.test(steps[0]), `first step: ${steps[0]}`);
    expect(steps.some((s) => /PENDING\s*→\s*RUNNING by e2e-jobs-worker/.test(s)), `no acquisition by the worker: ${JSON.stringify(steps)}`);
    expect(/RUNNING\s*→\s*DEAD by e2e-jobs-worker: exit_code: attempts exhausted/.test(steps[steps.length - 1]),
      `last step: ${steps[steps.length - 1]}`);
    await page.getByText(/Scheduled by a caller at/).waitFor();
    // the correlation chain lists the job itself
    await page.getByRole("list", { name: "Jobs with the same correlation id" }).getByText(`Job ${DEAD} (this job)`).waitFor();
  });

  await screenshot(page, "a DEAD job's detail", "job-timeline.png");

  await check("Job detail: cancelling a DEAD job shows the state machine's refusal", async () => {
    await page.getByRole("button", { name: "Cancel job" }).click();
    const msg = page.locator("[data-testid=action-result]");
    await msg.waitFor({ timeout: 10000 });
    const text = await msg.innerText();
    expect(/^Cancel refused: .*cannot cancel job \d+: it is DEAD/.test(text), `message: ${text}`);
    expect((await msg.getAttribute("role")) === "alert", "the refusal is not an alert");
    expect(sql(`SELECT state FROM taskflow.jobs WHERE id = ${DEAD}`) === "DEAD", "the job changed state");
  });

  await check("Job detail: Retry brings the job back and the page shows it succeed without a reload", async () => {
    writeFileSync(FLAG, "");
    const navigated = navigations(page);
    await page.getByRole("button", { name: "Retry" }).click();
    await page.locator("[data-testid=action-result]").filter({ hasText: "Retried: the job is PENDING" }).waitFor({ timeout: 10000 });
    await page.getByRole("heading", { level: 1 }).locator('[data-state="SUCCEEDED"]').waitFor({ timeout: 20000 });
    const attempts = await page.locator("[data-testid=attempts] tbody tr").allInnerTexts();
    expect(attempts.length === 2 && attempts[1].includes("succeeded"), `attempts ${JSON.stringify(attempts)}`);
    const result = JSON.parse(await page.locator("[data-testid=result]").innerText());
    expect(result.ok === true && result.attempt === 2, `result ${JSON.stringify(result)}`);
    const steps = await timeline(page).allInnerTexts();
    expect(steps.some((s) => /DEAD\s*→\s*PENDING by \S+: retried/.test(s)), `no retry step: ${JSON.stringify(steps)}`);
    expect(/RUNNING\s*→\s*SUCCEEDED/.test(steps[steps.length - 1]), `last step ${steps[steps.length - 1]}`);
    expect(navigated() === 0, `the page navigated ${navigated()} times`);
  });

  await check("Dead letters: re-drive a group after a confirmation with its count; its job succeeds", async () => {
    await page.getByRole("link", { name: "Dead letters" }).click();
    const row = page.locator('tr[data-group="e2e.flaky/exit_code"]');
    await row.waitFor({ timeout: 10000 });
    expect((await row.locator("td").nth(1).innerText()) === "1", "the group does not count 1 after the retry");
    await row.getByRole("button", { name: "Re-drive e2e.flaky / exit_code" }).click();
    await confirmDialog(page, "Re-drive (retry) 1 DEAD job of e2e.flaky / exit_code?", "Confirm redrive of 1");
    await page.locator("[data-testid=dl-result]").filter({ hasText: "1 changed, 0 skipped" }).waitFor({ timeout: 10000 });
    await page.getByText("No dead letters.").waitFor({ timeout: 10000 });
    await until("the re-driven job to succeed", () => {
      const state = sql(`SELECT state FROM taskflow.jobs WHERE id = ${DEAD2}`);
      return { ok: state === "SUCCEEDED", value: state };
    });
  });

  // --- the jobs list ------------------------------------------------------------------------
  const later = (type, count, tenant = CLIENT_TENANT) =>
    sql(`SELECT count(taskflow.schedule('${type}', jsonb_build_object('n', i), queue => '${QUEUE}', tenant_id => '${tenant}', run_at => now() + interval '1 hour')) FROM generate_series(1, ${count}) i`);
  later("e2e.later", 3);
  later("e2e.keep", 1);
  later("e2e.many", 55);

  await check("Jobs: the filter form is labelled, keyboard-usable and kept in the URL", async () => {
    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
    // every form control of the view has an accessible name
    const unnamed = await page.locator("main").evaluate((main) =>
      [...main.querySelectorAll("input, select, button, textarea")]
        .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !(el.textContent || "").trim())
        .map((el) => el.outerHTML));
    expect(unnamed.length === 0, `controls without a name: ${unnamed.join(" ")}`);
    // keyboard only: tick SCHEDULED, type the job type, Enter submits
    await page.getByRole("checkbox", { name: "SCHEDULED" }).focus();
    await page.keyboard.press("Space");
    await page.getByLabel("Job type").focus();
    await page.keyboard.type("e2e.later");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => location.hash.includes("state=SCHEDULED") && location.hash.includes("job_type=e2e.later"));
    await rowCount(page, 3);
    // Tab reaches the filter controls and the Apply button
    await page.getByLabel("Queue", { exact: true }).focus();
    const seen = [];
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press("Tab");
      seen.push(await page.evaluate(() => document.activeElement?.getAttribute("name") || (document.activeElement?.textContent || "").trim()));
    }
    for (const want of ["tenant", "job_type", "correlation_id", "payload", "Apply filters"]) {
      expect(seen.includes(want), `focus order ${JSON.stringify(seen)} lacks ${want}`);
    }
    // the filter survives a reload (it lives in the URL)
    await page.reload();
    await rowCount(page, 3);
    expect(await page.getByRole("checkbox", { name: "SCHEDULED" }).isChecked(), "SCHEDULED unticked after a reload");
    expect((await page.getByLabel("Job type").inputValue()) === "e2e.later", "job type lost after a reload");
  });

  await check("Jobs: bulk-cancel all jobs matching the filter after a confirmation with the count", async () => {
    await page.getByRole("button", { name: "Select all matching this filter" }).click();
    await page.locator("[data-testid=selection]").filter({ hasText: "All 3 jobs matching this filter selected" }).waitFor({ timeout: 10000 });
    await page.getByRole("button", { name: "Cancel selected" }).click();
    await confirmDialog(page, "Cancel 3 jobs matching this filter?", "Confirm cancel of 3");
    await page.locator("[data-testid=bulk-result]").filter({ hasText: "3 matched, 3 changed, 0 skipped" }).waitFor({ timeout: 10000 });
    await page.getByText("No job matches this filter.").waitFor({ timeout: 10000 });
    expect(sql("SELECT string_agg(state::text, ',' ORDER BY id) FROM taskflow.jobs WHERE job_type = 'e2e.later'") === "CANCELLED,CANCELLED,CANCELLED",
      "the filtered jobs are not all CANCELLED");
    expect(sql("SELECT state FROM taskflow.jobs WHERE job_type = 'e2e.keep'") === "SCHEDULED", "a job outside the filter changed");
    const reasons = sql("SELECT DISTINCT reason FROM taskflow.job_events WHERE to_state = 'CANCELLED' AND job_id IN (SELECT id FROM taskflow.jobs WHERE job_type = 'e2e.later')");
    expect(/cancelled from the dashboard/.test(reasons), `reason ${reasons}`);
  });

  await check("Jobs: selected rows, bulk retry of CANCELLED ones, skipped jobs reported with the refusal", async () => {
    await page.getByRole("checkbox", { name: "SCHEDULED" }).uncheck();
    await page.getByRole("button", { name: "Apply filters" }).click();
    await rowCount(page, 3);
    await page.getByRole("checkbox", { name: "Select every job on this page" }).check();
    await page.locator("[data-testid=selection]").filter({ hasText: "3 selected" }).waitFor();
    await page.getByRole("button", { name: "Retry selected" }).click();
    await confirmDialog(page, null, "Confirm retry of 3");
    await page.locator("[data-testid=bulk-result]").filter({ hasText: "3 changed" }).waitFor({ timeout: 10000 });
    // retrying them again: every one is refused by the state machine and listed
    await page.getByRole("checkbox", { name: "Select every job on this page" }).check();
    await page.getByRole("button", { name: "Retry selected" }).click();
    await confirmDialog(page, null, "Confirm retry of 3");
    const res = page.locator("[data-testid=bulk-result]").filter({ hasText: "0 changed, 3 skipped" });
    await res.waitFor({ timeout: 10000 });
    await res.getByText(/cannot retry job \d+: it is PENDING/).first().waitFor();
  });

  await check("Jobs: keyset pages with Next page", async () => {
    await page.goto(`${BASE}/#/jobs?job_type=e2e.many`);
    await rowCount(page, 50);
    const first = await ids(page);
    await page.getByRole("button", { name: "Next page" }).click();
    await rowCount(page, 5);
    expect(/after=\d+/.test(await page.evaluate(() => location.hash)), "the cursor is not in the URL");
    const second = await ids(page);
    expect(Math.max(...second) < Math.min(...first), `pages overlap: ${first} / ${second}`);
    expect((await page.getByRole("button", { name: "Next page" }).count()) === 0, "a Next page button on the last page");
    await page.getByRole("button", { name: "First page" }).click();
    await rowCount(page, 50);
  });

  await check("Jobs: a bad jsonpath shows the server's 422 message", async () => {
    await page.getByLabel("Payload (jsonpath predicate)").fill("$.n ==");
    await page.getByRole("button", { name: "Apply filters" }).click();
    const err = page.locator("[data-testid=list-error]");
    await err.waitFor({ timeout: 10000 });
    const text = await err.innerText();
    expect(/jsonpath|payload/i.test(text), `message: ${text}`);
    await page.getByLabel("Payload (jsonpath predicate)").fill("$.n == 7");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await rowCount(page, 1);
  });

  await check("Jobs: a job scheduled with SQL appears in the filtered list without a reload", async () => {
    const navigated = navigations(page);
    sql(`SELECT taskflow.schedule('e2e.many', '{"n": 7, "late": true}', queue => '${QUEUE}', tenant_id => '${CLIENT_TENANT}', run_at => now() + interval '1 hour')`);
    await rowCount(page, 2);
    expect(navigated() === 0, `the page navigated ${navigated()} times`);
  });

  await check("Jobs: rows link to the job's detail", async () => {
    const id = await jobRows(page).first().getAttribute("data-job");
    await jobRows(page).first().getByRole("link", { name: id }).click();
    await page.getByRole("heading", { level: 1 }).filter({ hasText: `Job ${id}` }).waitFor({ timeout: 10000 });
  });
  await page.context().close();

  // --- a tenant's key -----------------------------------------------------------------------
  const tenant = await newPage();
  await signIn(tenant, CLIENT);
  await check("a tenant key typing another tenant's job URL sees not found", async () => {
    await tenant.goto(`${BASE}/#/jobs/${OTHER_JOB}`);
    await tenant.getByRole("heading", { name: "Job not found", level: 1 }).waitFor({ timeout: 10000 });
    expect((await tenant.getByRole("button", { name: "Retry" }).count()) === 0, "action buttons shown");
    // its own job opens
    await tenant.goto(`${BASE}/#/jobs/${DEAD}`);
    await tenant.locator("[data-testid=job-detail]").waitFor({ timeout: 10000 });
  });
  await check("a tenant key lists only its tenant's jobs and has no Purge", async () => {
    await tenant.goto(`${BASE}/#/jobs`);
    await jobRows(tenant).first().waitFor({ timeout: 10000 });
    const tenants = await tenant.locator("[data-testid=jobs] tbody tr[data-job] td:nth-child(6)").allInnerTexts();
    expect(tenants.length > 0 && tenants.every((t) => t === CLIENT_TENANT), `tenants shown: ${[...new Set(tenants)]}`);
    expect((await tenant.getByRole("button", { name: "Purge selected" }).count()) === 0, "Purge shown to a client key");
    // filtering by the other tenant finds nothing
    await tenant.goto(`${BASE}/#/jobs?tenant=${OTHER_TENANT}`);
    await tenant.getByText("No job matches this filter.").waitFor({ timeout: 10000 });
  });
  await check("a tenant key's bulk action on another tenant's job id is skipped as not existing", async () => {
    const r = await tenant.evaluate(async ([id]) => {
      const key = sessionStorage.getItem("taskflow.apiKey");
      const res = await fetch("/dashboard/api/jobs/bulk", {
        method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ action: "cancel", ids: [Number(id)] }),
      });
      return res.json();
    }, [OTHER_JOB]);
    expect(r.changed === 0 && r.skipped_count === 1, JSON.stringify(r));
    expect(sql(`SELECT state FROM taskflow.jobs WHERE id = ${OTHER_JOB}`) === "PENDING", "the other tenant's job changed");
  });
  await tenant.context().close();

});
