// Browser tests of the dashboard's Workflows views: Debian's Chromium driven by playwright-core
// against a real taskflow-http (test/t/dashboard_workflows.t starts it, makes the keys, a diamond
// workflow a -> (b, c) -> d whose root it completed through SQL, and a workflow of 600 nodes).
// Prints TAP lines.
// Environment: TF_BASE_URL, TF_ADMIN_KEY, TF_CLIENT_KEY (tenant TF_CLIENT_TENANT, which owns the
// workflows), TF_OTHER_KEY (another tenant's key), TF_WORKFLOW (the diamond), TF_BIG_WORKFLOW
// (600 nodes), TF_JOBS (the diamond's job ids as JSON by key), TF_QUEUE, PG* (psql), CHROMIUM,
// TASKFLOW_SCREENSHOTS=1 to save docs/img/workflow-graph.png.
import { browserSession, check, env, expect, screenshot, serverEnv, sql, until } from "./harness.mjs";

const { BASE, ADMIN, CLIENT, CLIENT_TENANT, QUEUE } = serverEnv();
const OTHER = env("TF_OTHER_KEY");
const WF = env("TF_WORKFLOW");
const BIG = env("TF_BIG_WORKFLOW");
const JOBS = JSON.parse(env("TF_JOBS"));

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// the refusal the test provokes (another tenant's workflow: 404) is logged as a failed load
const { newPage, signIn, run } = await browserSession(BASE, /404|Failed to load resource/);
// The graph as the page draws it: each node's state and layer, and the edges.
async function graph(page) {
  return page.evaluate(() => {
    const g = document.querySelector("[data-testid=wf-graph]");
    if (!g) return null;
    const nodes = {};
    for (const a of g.querySelectorAll("a[data-node]")) {
      nodes[a.getAttribute("data-node")] = {
        state: a.getAttribute("data-state"), layer: Number(a.getAttribute("data-layer")),
        href: a.getAttribute("href"), left: a.offsetLeft, badge: a.querySelector(".state")?.textContent,
      };
    }
    const edges = [...g.querySelectorAll("path[data-edge-from]")]
      .map((p) => `${p.getAttribute("data-edge-from")}->${p.getAttribute("data-edge-to")}`).sort();
    return { nodes, edges };
  });
}
const states = (g) => Object.fromEntries(Object.entries(g.nodes).map(([k, n]) => [k, n.state]));
// acquires and completes the PENDING job of this type (as a worker would); it must be job `id`
function complete(id, jobType) {
  const r = sql(`WITH a AS (SELECT * FROM taskflow.acquire('e2e-sql-worker', ARRAY['${QUEUE}'], 1, job_types => ARRAY['${jobType}']))
                 SELECT a.job_id || ' ' || taskflow.complete(a.job_id, a.lease_token, '{"ok": true}') FROM a`);
  expect(r === `${id} SUCCEEDED`, `acquire + complete: ${r}`);
}

await run(async () => {
  const page = await newPage();
  await signIn(page, ADMIN);

  await check("the navigation has Workflows; the list shows the diamond with its state and counts", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Workflows" }).click();
    await page.getByRole("heading", { name: "Workflows", level: 1 }).waitFor();
    const row = page.locator(`table[data-testid=workflows] tr[data-workflow="${WF}"]`);
    await row.waitFor({ timeout: 10000 });
    const cells = await row.locator("th, td").allInnerTexts();
    expect(cells[0] === WF && cells[1] === "diamond-e2e", `row ${JSON.stringify(cells)}`);
    expect(await row.locator('td[data-field=state] [data-state="running"]').count() === 1, `state cell ${cells[2]}`);
    const counts = Object.fromEntries(await row.locator("li[data-count-state]").evaluateAll((lis) =>
      lis.map((li) => [li.getAttribute("data-count-state"), li.querySelector(".wf-count").textContent])));
    expect(same(counts, { PENDING: "2", SCHEDULED: "1", SUCCEEDED: "1" }), `counts ${JSON.stringify(counts)}`);
    expect(cells[4] === "4" && cells[5] === CLIENT_TENANT, `nodes / tenant ${JSON.stringify(cells)}`);
    // a node has run (started), others have not (no finish yet)
    expect(cells[7] !== "–" && cells[8] === "–", `started / finished ${JSON.stringify(cells)}`);
    await page.locator(`table[data-testid=workflows] tr[data-workflow="${BIG}"]`).waitFor();
  });

  await check("the tenant filter keeps the list to a tenant", async () => {
    await page.getByLabel("Tenant").fill("nobody-here");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.getByText("No workflow of this tenant.").waitFor({ timeout: 10000 });
    expect(page.url().includes("tenant=nobody-here"), `url ${page.url()}`);
    await page.getByLabel("Tenant").fill(CLIENT_TENANT);
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.locator(`table[data-testid=workflows] tr[data-workflow="${WF}"]`).waitFor({ timeout: 10000 });
  });

  await check("the workflow's graph: 4 nodes in 3 layers with their states, 4 edges", async () => {
    await page.locator(`tr[data-workflow="${WF}"]`).getByRole("link", { name: WF }).click();
    await page.locator("[data-testid=workflow-detail]").waitFor({ timeout: 10000 });
    const g = await graph(page);
    expect(g, "no graph on the page");
    expect(same(Object.keys(g.nodes).sort(), ["a", "b", "c", "d"]), `nodes ${JSON.stringify(g.nodes)}`);
    expect(same(states(g), { a: "SUCCEEDED", b: "PENDING", c: "PENDING", d: "SCHEDULED" }), `states ${JSON.stringify(states(g))}`);
    expect(same(g.edges, ["a->b", "a->c", "b->d", "c->d"]), `edges ${JSON.stringify(g.edges)}`);
    expect(g.nodes.a.layer === 0 && g.nodes.b.layer === 1 && g.nodes.c.layer === 1 && g.nodes.d.layer === 2, `layers ${JSON.stringify(g.nodes)}`);
    expect(g.nodes.a.left < g.nodes.b.left && g.nodes.b.left === g.nodes.c.left && g.nodes.c.left < g.nodes.d.left, `positions ${JSON.stringify(g.nodes)}`);
    for (const k of ["a", "b", "c", "d"]) {
      expect(g.nodes[k].href === `#/jobs/${JOBS[k]}`, `node ${k} links to ${g.nodes[k].href}`);
      expect(g.nodes[k].badge === g.nodes[k].state, `node ${k}'s badge says ${g.nodes[k].badge}`);
    }
    // the node is coloured like the Jobs view's badge of its state
    const colours = await page.evaluate(() => {
      const n = document.querySelector('[data-testid=wf-graph] a[data-node="a"]');
      return [getComputedStyle(n).backgroundColor, getComputedStyle(n.querySelector(".state")).backgroundColor];
    });
    expect(colours[0] === colours[1] && colours[0] !== "rgba(0, 0, 0, 0)", `colours ${JSON.stringify(colours)}`);
    const started = await page.getByTestId("wf-started").innerText();
    expect(started !== "–", "no started time");
    expect(await page.getByTestId("wf-finished").innerText() === "–", "a running workflow shows a finished time");
    const counts = await page.getByTestId("wf-counts").innerText();
    expect(/SUCCEEDED\s*1/.test(counts) && /PENDING\s*2/.test(counts) && /SCHEDULED\s*1/.test(counts), `counts ${counts}`);
  });

  await check("a node finishing shows without a reload", async () => {
    complete(JOBS.b, "e2e.left");
    await until("b SUCCEEDED in the graph", async () => {
      const g = await graph(page);
      return { ok: g && g.nodes.b.state === "SUCCEEDED", value: g && states(g) };
    });
  });

  await screenshot(page, "the workflow", "workflow-graph.png");

  await check("clicking a node opens its job, which links back to its workflow", async () => {
    await page.locator('[data-testid=wf-graph] a[data-node="c"]').click();
    await page.locator("[data-testid=job-detail]").waitFor({ timeout: 10000 });
    expect(page.url().endsWith(`#/jobs/${JOBS.c}`), `url ${page.url()}`);
    await page.getByRole("heading", { level: 1 }).filter({ hasText: `Job ${JOBS.c}` }).waitFor();
    await page.getByTestId("job-workflow").getByRole("link", { name: `Workflow ${WF}` }).click();
    await page.locator("[data-testid=wf-graph]").waitFor({ timeout: 10000 });
    expect(page.url().endsWith(`#/workflows/${WF}`), `url ${page.url()}`);
  });

  await check("Cancel workflow asks first, then every node is final (the graph shows it)", async () => {
    await page.getByRole("button", { name: "Cancel workflow" }).click();
    const confirm = page.getByTestId("confirm");
    await confirm.waitFor();
    const text = await confirm.innerText();
    expect(/its 2 unfinished nodes/.test(text), `confirmation: ${text}`);
    expect(sql(`SELECT count(*) FROM taskflow.jobs WHERE id IN (${JOBS.c}, ${JOBS.d}) AND state = 'CANCELLED'`) === "0",
      "cancelled before the confirmation");
    await confirm.getByRole("button", { name: `Confirm cancel of workflow ${WF}` }).click();
    await page.getByTestId("action-result").filter({ hasText: "Workflow cancelled" }).waitFor({ timeout: 10000 });
    const g = await until("every node final", async () => {
      const g = await graph(page);
      return { ok: g && same(states(g), { a: "SUCCEEDED", b: "SUCCEEDED", c: "CANCELLED", d: "CANCELLED" }), value: g };
    });
    expect(g.edges.length === 4, "edges gone after the cancel");
    const db = sql(`SELECT string_agg(state::text, ',' ORDER BY id) FROM taskflow.jobs WHERE id IN (${Object.values(JOBS).join(",")})`);
    expect(db === "SUCCEEDED,SUCCEEDED,CANCELLED,CANCELLED", `database: ${db}`);
    await page.getByRole("heading", { level: 1 }).locator('[data-state="cancelled"]').waitFor({ timeout: 10000 });
    expect(await page.getByRole("button", { name: "Cancel workflow" }).count() === 0, "Cancel still offered on a finished workflow");
    expect(await page.getByTestId("wf-finished").innerText() !== "–", "no finished time");
    const reason = await page.locator('tr[data-node-row="c"]').innerText();
    expect(/cancelled from the dashboard/.test(reason), `node c's row: ${reason}`);
  });

  await check("a workflow of 600 nodes: no graph, the counts and a paged node table say so", async () => {
    await page.goto(`${BASE}/#/workflows/${BIG}`);
    await page.getByTestId("graph-too-big").filter({ hasText: "This workflow has 600 nodes: the graph is drawn for at most 500" }).waitFor({ timeout: 15000 });
    expect(await page.locator("[data-testid=wf-graph]").count() === 0, "a graph was drawn");
    const counts = await page.getByTestId("wf-counts").innerText();
    expect(/PENDING\s*1\b/.test(counts) && /SCHEDULED\s*599\b/.test(counts), `counts ${counts}`);
    const rows = page.locator("table[data-testid=wf-nodes] tbody tr");
    expect(await rows.count() === 50, `${await rows.count()} rows on the first page`);
    await page.getByText("Page 1 of 12 (600 nodes)").waitFor();
    await page.getByRole("button", { name: "Next nodes" }).click();
    await page.getByText("Page 2 of 12 (600 nodes)").waitFor();
    await page.getByLabel("Show nodes in state").selectOption("PENDING");
    expect(await rows.count() === 1 && (await rows.first().getAttribute("data-node-row")) === "root", "the PENDING filter");
  });

  const tenant = await newPage();
  await check("the owning tenant's key lists and opens the workflow", async () => {
    await signIn(tenant, CLIENT);
    await tenant.goto(`${BASE}/#/workflows`);
    await tenant.locator(`tr[data-workflow="${WF}"]`).waitFor({ timeout: 10000 });
    expect(await tenant.getByLabel("Tenant").count() === 0, "a tenant key is offered the tenant filter");
    await tenant.goto(`${BASE}/#/workflows/${WF}`);
    await tenant.locator("[data-testid=wf-graph] a[data-node=d]").waitFor({ timeout: 10000 });
  });
  await tenant.context().close();
  const other = await newPage();
  await check("another tenant's key neither lists nor opens it", async () => {
    await signIn(other, OTHER);
    await other.goto(`${BASE}/#/workflows`);
    await other.getByText("No workflow.").waitFor({ timeout: 10000 });
    await other.goto(`${BASE}/#/workflows/${WF}`);
    await other.getByRole("heading", { name: "Workflow not found" }).waitFor({ timeout: 10000 });
  });
  await other.context().close();

});
