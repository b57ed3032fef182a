// Browser tests of the dashboard's Queues, Rules and Tenants views: Debian's Chromium driven by
// playwright-core against a real taskflow-worker --http that also runs jobs
// (test/t/dashboard_admin_views.t starts it and makes the keys, queue and rules). Prints TAP lines.
// Environment: TF_BASE_URL, TF_ADMIN_KEY, TF_CLIENT_KEY (tenant TF_CLIENT_TENANT),
// TF_OTHER_TENANT, TF_QUEUE (the worker's queue), TF_RULE_ID (a rule of TF_CLIENT_TENANT that
// schedules into TF_QUEUE), TF_BAD_RULE_ID (a rule whose action fails), PG* (psql), CHROMIUM.
import { browserSession, check, env, serverEnv, sql, sqlError, until } from "./harness.mjs";

const { BASE, ADMIN, CLIENT, CLIENT_TENANT, QUEUE } = serverEnv();
const OTHER_TENANT = env("TF_OTHER_TENANT");
const RULE_ID = env("TF_RULE_ID");
const BAD_RULE_ID = env("TF_BAD_RULE_ID");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// the refusals the tests provoke (422, 403, 409) are logged by Chromium as failed loads
const { newPage, signIn, run } = await browserSession(BASE, /401|403|409|422|Failed to load resource/);
const nav = (page) => page.getByRole("navigation", { name: "Main" });
// every input, select and button of the page has an accessible name (label, aria-label or text)
async function unlabelled(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll("main input, main select, main button, main textarea")) {
      const named = (el.labels && el.labels.length > 0) || el.getAttribute("aria-label") ||
        el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim());
      if (!named) bad.push(el.outerHTML.slice(0, 120));
    }
    return bad;
  });
}
// presses Tab until the focused element's accessible label matches, or fails after `max` presses
async function tabTo(page, re, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const name = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return "";
      const label = el.getAttribute("aria-label") || (el.labels && el.labels[0] ? el.labels[0].textContent : "") || el.textContent || "";
      return label.trim();
    });
    if (re.test(name)) return name;
  }
  throw new Error(`Tab never reached ${re}`);
}
const queueRow = (page) => page.locator(`table[data-testid=queue-settings] tr[data-queue="${QUEUE}"]`);
const jobStates = (ids) => sql(`SELECT string_agg(state::text, ',' ORDER BY id) FROM taskflow.jobs WHERE id IN (${ids.join(",")})`);

await run(async () => {
  const page = await newPage();
  await check("an admin key sees Queues, Rules and Tenants in the navigation", async () => {
    await signIn(page, ADMIN);
    for (const name of ["Queues", "Rules", "Tenants"]) await nav(page).getByRole("link", { name }).waitFor({ timeout: 5000 });
  });

  await check("the Queues view lists the queue with its counts and settings", async () => {
    await nav(page).getByRole("link", { name: "Queues" }).click();
    await page.getByRole("heading", { name: "Queues", level: 1 }).waitFor();
    await queueRow(page).locator("td[data-field=status]").filter({ hasText: "Active" }).waitFor({ timeout: 10000 });
    const policy = await queueRow(page).locator("td[data-field=retry_policy]").innerText();
    if (!/5 attempts, exponential/.test(policy)) throw new Error(`retry policy cell: ${policy}`);
  });

  let ids = [];
  await check("Pause (by keyboard) pauses the queue: the worker leaves its new jobs PENDING", async () => {
    await tabTo(page, new RegExp(`^Pause queue ${QUEUE}$`));
    await page.keyboard.press("Enter");
    await queueRow(page).locator(".badge.paused").waitFor({ timeout: 5000 });
    await page.getByTestId("queues-status").filter({ hasText: `Queue ${QUEUE} paused.` }).waitFor();
    if (sql(`SELECT paused FROM taskflow.queues WHERE name = '${QUEUE}'`) !== "t") throw new Error("not paused in the database");
    ids = sql(`SELECT string_agg(taskflow.schedule('e2e.sleep', '{"seconds": 0}', queue => '${QUEUE}', tenant_id => '${CLIENT_TENANT}')::text, ',') FROM generate_series(1, 3)`).split(",");
    // the worker polls every 200 ms: 3 s is 15 polls
    await sleep(3000);
    const states = jobStates(ids);
    if (states !== "PENDING,PENDING,PENDING") throw new Error(`jobs of the paused queue: ${states}`);
    await page.waitForFunction((q) => Number(document.querySelector(`table[data-testid=queue-settings] tr[data-queue="${q}"] td[data-state=PENDING]`)?.textContent) >= 3,
      QUEUE, { timeout: 10000 });
  });

  await check("Resume: the worker runs the jobs and the Pending count drops without a reload", async () => {
    await page.getByRole("button", { name: `Resume queue ${QUEUE}` }).click();
    await queueRow(page).locator("td[data-field=status]").filter({ hasText: "Active" }).waitFor({ timeout: 5000 });
    await until("the jobs to succeed", () => {
      const states = jobStates(ids);
      return { ok: states === "SUCCEEDED,SUCCEEDED,SUCCEEDED", value: states };
    }, 20000);
    await page.waitForFunction((q) => Number(document.querySelector(`table[data-testid=queue-settings] tr[data-queue="${q}"] td[data-state=PENDING]`)?.textContent) === 0,
      QUEUE, { timeout: 10000 });
  });

  await check("a concurrency limit of -1 is refused with the extension's message, nothing changed", async () => {
    const expected = sqlError(`SELECT taskflow.alter_queue('${QUEUE}', concurrency_limit => -1)`);
    await page.getByRole("button", { name: `Edit settings of queue ${QUEUE}` }).click();
    await page.getByRole("heading", { name: `Settings of queue ${QUEUE}` }).waitFor();
    await page.getByLabel("Concurrency limit").fill("-1");
    await page.getByRole("button", { name: "Save settings" }).click();
    const alert = page.getByTestId("queue-edit-error");
    await alert.waitFor({ timeout: 5000 });
    const text = await alert.innerText();
    if (!text.includes(expected)) throw new Error(`shown: "${text}", the extension says: "${expected}"`);
    const form = await page.locator("#queue-edit").getAttribute("aria-describedby");
    if (form !== "queue-edit-error") throw new Error(`the form is not described by its error (${form})`);
    if (sql(`SELECT coalesce(concurrency_limit::text, 'null') FROM taskflow.queues WHERE name = '${QUEUE}'`) !== "null")
      throw new Error("the refused limit was stored");
  });

  await check("a retry policy the extension refuses (0 attempts) shows its message", async () => {
    const expected = sqlError(`SELECT taskflow.alter_queue('${QUEUE}', retry_policy => '{"max_attempts": 0}')`);
    await page.getByLabel("Concurrency limit").fill("");
    await page.getByLabel("Use the default policy").uncheck();
    await page.getByLabel("Max attempts").fill("0");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByTestId("queue-edit-error").filter({ hasText: expected }).waitFor({ timeout: 5000 });
    if (sql(`SELECT coalesce(max_attempts::text, 'null') FROM taskflow.queues WHERE name = '${QUEUE}'`) !== "null")
      throw new Error("the refused policy was stored");
  });

  await check("valid settings are saved (by keyboard) and shown in the table", async () => {
    await page.getByLabel("Max attempts").fill("7");
    await page.getByLabel("Strategy").selectOption("linear");
    await page.getByLabel("Concurrency limit").fill("3");
    await page.getByLabel("Lease (ms)").fill("120000");
    await page.getByLabel("Lease (ms)").focus();
    await page.keyboard.press("Enter");  // submits the form
    await page.getByTestId("queues-status").filter({ hasText: `Queue ${QUEUE} saved.` }).waitFor({ timeout: 5000 });
    await queueRow(page).locator("td[data-field=concurrency_limit]").filter({ hasText: /^3$/ }).waitFor({ timeout: 5000 });
    await queueRow(page).locator("td[data-field=retry_policy]").filter({ hasText: "7 attempts, linear" }).waitFor();
    await queueRow(page).locator("td[data-field=lease]").filter({ hasText: "2 min" }).waitFor();
    const row = sql(`SELECT concurrency_limit || ' ' || max_attempts || ' ' || strategy || ' ' || lease FROM taskflow.queues WHERE name = '${QUEUE}'`);
    if (row !== "3 7 linear 00:02:00") throw new Error(`stored: ${row}`);
  });

  await check("every control of the Queues view is labelled", async () => {
    await page.getByRole("button", { name: `Edit settings of queue ${QUEUE}` }).click();
    await page.locator("#queue-edit").waitFor();
    const bad = await unlabelled(page);
    if (bad.length) throw new Error(`unlabelled: ${bad.join(" | ")}`);
    await page.getByRole("button", { name: "Cancel" }).click();
  });

  // --- rules --------------------------------------------------------------------------------
  const ruleRow = (p, id) => p.locator(`table[data-testid=rules] tr[data-rule-id="${id}"]`);
  await check("the Rules view lists the rules with trigger and enabled flag", async () => {
    await nav(page).getByRole("link", { name: "Rules" }).click();
    await page.getByRole("heading", { name: "Rules", level: 1 }).waitFor();
    await ruleRow(page, RULE_ID).locator("td[data-field=enabled]").filter({ hasText: "Enabled" }).waitFor({ timeout: 10000 });
    await ruleRow(page, RULE_ID).locator("td[data-field=last-firing]").filter({ hasText: "never" }).waitFor();
  });

  await check("Disable and Enable change the rule (Fire now is off while disabled)", async () => {
    const name = sql(`SELECT name FROM taskflow.automation_rules WHERE id = ${RULE_ID}`);
    await ruleRow(page, RULE_ID).getByRole("button", { name: `Disable rule ${name}` }).click();
    await ruleRow(page, RULE_ID).locator("td[data-field=enabled]").filter({ hasText: "Disabled" }).waitFor({ timeout: 5000 });
    if (sql(`SELECT enabled FROM taskflow.automation_rules WHERE id = ${RULE_ID}`) !== "f") throw new Error("still enabled in the database");
    if (!(await ruleRow(page, RULE_ID).getByRole("button", { name: `Fire rule ${name} now` }).isDisabled())) throw new Error("Fire now enabled on a disabled rule");
    await ruleRow(page, RULE_ID).getByRole("button", { name: `Enable rule ${name}` }).click();
    await ruleRow(page, RULE_ID).locator("td[data-field=enabled]").filter({ hasText: "Enabled" }).waitFor({ timeout: 5000 });
    if (sql(`SELECT enabled FROM taskflow.automation_rules WHERE id = ${RULE_ID}`) !== "t") throw new Error("not enabled in the database");
  });

  await check("Fire now (by keyboard) shows the job created, listed in the rule's firings, and the worker runs it", async () => {
    const name = sql(`SELECT name FROM taskflow.automation_rules WHERE id = ${RULE_ID}`);
    await page.getByRole("button", { name: `Fire rule ${name} now` }).focus();
    await page.keyboard.press("Enter");
    const result = page.getByTestId(`rule-result-${RULE_ID}`);
    await result.filter({ hasText: /Fired: created job #\d+/ }).waitFor({ timeout: 5000 });
    const job = /#(\d+)/.exec(await result.innerText())[1];
    if (sql(`SELECT tenant_id FROM taskflow.jobs WHERE id = ${job}`) !== CLIENT_TENANT) throw new Error(`job ${job} is not the rule's tenant's`);
    const firings = page.getByTestId(`firings-${RULE_ID}`);
    await firings.locator("tr[data-outcome=created]").filter({ hasText: `#${job}` }).waitFor({ timeout: 5000 });
    await ruleRow(page, RULE_ID).locator("td[data-field=last-firing]").filter({ hasText: `created, jobs #${job}` }).waitFor({ timeout: 5000 });
    await until("the fired job to succeed", () => {
      const state = sql(`SELECT state FROM taskflow.jobs WHERE id = ${job}`);
      return { ok: state === "SUCCEEDED", value: state };
    }, 20000);
  });

  await check("a firing that fails shows its error and SQLSTATE", async () => {
    const name = sql(`SELECT name FROM taskflow.automation_rules WHERE id = ${BAD_RULE_ID}`);
    await page.getByRole("button", { name: `Fire rule ${name} now` }).click();
    const result = page.getByTestId(`rule-result-${BAD_RULE_ID}`);
    await result.filter({ hasText: "The firing failed:" }).waitFor({ timeout: 5000 });
    const [error, state] = sql(`SELECT error || '|' || error_sqlstate FROM taskflow.rule_firings WHERE rule_id = ${BAD_RULE_ID} ORDER BY id DESC LIMIT 1`).split("|");
    const text = await result.innerText();
    if (!text.includes(error) || !text.includes(`SQLSTATE ${state}`)) throw new Error(`shown "${text}", recorded "${error}" ${state}`);
    const row = page.getByTestId(`firings-${BAD_RULE_ID}`).locator("tr[data-outcome=error]").first();
    await row.waitFor({ timeout: 5000 });
    const rowText = await row.innerText();
    if (!rowText.includes(state)) throw new Error(`firing row: ${rowText}`);
  });

  await check("every control of the Rules view is labelled", async () => {
    const bad = await unlabelled(page);
    if (bad.length) throw new Error(`unlabelled: ${bad.join(" | ")}`);
    await page.getByRole("heading", { name: "Webhook deliveries" }).waitFor();
  });

  // --- tenants ------------------------------------------------------------------------------
  await check("the Tenants view shows limits, weight, running and the share of the last hour", async () => {
    await nav(page).getByRole("link", { name: "Tenants" }).click();
    const row = page.locator(`table[data-testid=tenants] tr[data-tenant="${CLIENT_TENANT}"]`);
    await row.waitFor({ timeout: 10000 });
    await page.locator(`table[data-testid=tenants] tr[data-tenant="${OTHER_TENANT}"]`).waitFor();
    if ((await row.locator("td[data-field=max_running]").innerText()) !== "4") throw new Error("max_running");
    if ((await row.locator("td[data-field=weight]").innerText()) !== "2") throw new Error("weight");
    const started = Number(await row.locator("td[data-field=started_1h]").innerText());
    if (!(started >= 4)) throw new Error(`started_1h ${started}`);
    const share = await row.locator("td[data-field=share_1h]").innerText();
    if (!/^\d+(\.\d)? %$/.test(share) || Number(share.split(" ")[0]) <= 0) throw new Error(`share ${share}`);
    if (!(await row.locator("meter").getAttribute("aria-label"))) throw new Error("the meter has no label");
  });
  await page.context().close();

  // --- a client key --------------------------------------------------------------------------
  const client = await newPage();
  await check("a client key does not see Queues in the navigation, and typing its URL shows no queue", async () => {
    await signIn(client, CLIENT);
    await nav(client).getByRole("link", { name: "Rules" }).waitFor();
    if (await nav(client).getByRole("link", { name: "Queues" }).count()) throw new Error("Queues link shown");
    await client.goto(`${BASE}/#/queues`);
    await client.getByRole("heading", { name: "Queues", level: 1 }).waitFor();
    await client.getByText("they need an admin key").waitFor();
    if (await client.locator("table[data-testid=queue-settings]").count()) throw new Error("queue table shown");
  });

  await check("a client key sees only its tenant on Tenants, without the share", async () => {
    await nav(client).getByRole("link", { name: "Tenants" }).click();
    await client.locator(`table[data-testid=tenants] tr[data-tenant="${CLIENT_TENANT}"]`).waitFor({ timeout: 10000 });
    const tenants = await client.locator("table[data-testid=tenants] tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.tenant));
    if (tenants.join(",") !== CLIENT_TENANT) throw new Error(`tenants shown: ${tenants}`);
    if (await client.getByRole("columnheader", { name: "Share (last hour)" }).count()) throw new Error("share column shown");
  });

  await check("a client key sees only its tenant's rules", async () => {
    await nav(client).getByRole("link", { name: "Rules" }).click();
    await client.locator(`table[data-testid=rules] tr[data-rule-id="${RULE_ID}"]`).waitFor({ timeout: 10000 });
    const tenants = await client.locator("table[data-testid=rules] tbody tr[data-rule-id] td:nth-of-type(1)").allInnerTexts();
    if (tenants.some((t) => t !== CLIENT_TENANT)) throw new Error(`rules of tenants ${tenants}`);
  });
  await client.context().close();

});
