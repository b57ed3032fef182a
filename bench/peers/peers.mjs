// One measurement of one system, printed as one JSON line on stdout (bench/peers/README.md).
//   node peers.mjs drain   --system taskflow|graphile|pgboss --jobs N [--concurrency 16]
//   node peers.mjs latency --system taskflow|graphile|pgboss --jobs N [--rate 200]
// The database comes from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE), which
// `pg` reads too. taskflow-worker is $TASKFLOW_WORKER_BIN.
//
// drain:   N no-op jobs appear at once (one committed transaction) while the worker waits;
//          the clock runs from that commit until the last job is finished (SUCCEEDED in
//          TaskFlow, deleted in Graphile Worker, completed in pg-boss), polled every 20 ms.
// latency: N jobs enqueued one per transaction at a fixed rate from this process; a job's
//          latency is the time its handler starts minus the time just before its enqueue call,
//          both on this process's monotonic clock (performance.now()). TaskFlow's handler is an
//          HTTP endpoint served by this process and called by taskflow-worker's http executor;
//          the peers' handlers run in this process.
import { spawn } from "node:child_process";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";

const args = Object.fromEntries(
  process.argv.slice(3).reduce((pairs, value, i, all) => (i % 2 === 0 ? [...pairs, [value.replace(/^--/, ""), all[i + 1]]] : pairs), []),
);
const mode = process.argv[2];
const system = args.system;
const jobs = Number(args.jobs ?? 20000);
const concurrency = Number(args.concurrency ?? 16);
const rate = Number(args.rate ?? 200);
const QUEUE = "bench";
const TYPE = "bench";

// The peers' settings: Graphile Worker with the batching options its performance docs describe
// (a local queue that fetches in batches, completions and failures batched), pg-boss with
// `concurrency` polling workers at its shortest polling interval, each fetching a batch.
const GRAPHILE_LOCAL_QUEUE = Number(process.env.GRAPHILE_LOCAL_QUEUE ?? 100);
const GRAPHILE_BATCH_DELAY = Number(process.env.GRAPHILE_BATCH_DELAY ?? 0);
const PGBOSS_BATCH = Number(process.env.PGBOSS_BATCH ?? 100);

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = (sorted.length - 1) * p;
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

async function withClient(fn) {
  const client = new pg.Client();
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function waitUntil(check, what, timeoutMs = 600000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ---------- TaskFlow ----------
async function taskflowReset(client) {
  await client.query(`SELECT taskflow.create_queue('${QUEUE}')`).catch((e) => {
    if (e.code !== "42710") throw e;
  });
  const ids = `(SELECT id FROM taskflow.jobs WHERE queue = '${QUEUE}')`;
  await client.query(`DELETE FROM taskflow.job_events WHERE job_id IN ${ids}`);
  await client.query(`DELETE FROM taskflow.job_attempts WHERE job_id IN ${ids}`);
  await client.query(`DELETE FROM taskflow.jobs WHERE queue = '${QUEUE}'`);
  await client.query("VACUUM ANALYZE taskflow.jobs, taskflow.job_attempts, taskflow.job_events");
  await client.query("CHECKPOINT").catch(() => {});
}

function startTaskflowWorker(handler, extra = []) {
  const bin = process.env.TASKFLOW_WORKER_BIN;
  if (!bin) throw new Error("set TASKFLOW_WORKER_BIN");
  // Default settings except what the scenario is about: the queue, the handler, concurrency.
  const child = spawn(bin, ["--queue", QUEUE, "--handler", `${TYPE}=${handler}`, "--concurrency", String(concurrency),
    "--log-level", "warn", "--worker-id", "bench-peers", ...extra], { stdio: ["ignore", "inherit", "inherit"] });
  let exited = false;
  child.on("exit", () => { exited = true; });
  return {
    child,
    alive: () => !exited,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      await new Promise((resolve) => child.on("exit", resolve));
    },
  };
}

async function waitForTaskflowWorker(client, worker) {
  await waitUntil(async () => {
    if (!worker.alive()) throw new Error("taskflow-worker exited at start");
    const r = await client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%LISTEN%taskflow_bench%' " +
      "OR (application_name LIKE 'taskflow-worker%' AND state = 'idle')");
    return r.rows[0].n > 0;
  }, "taskflow-worker to start", 20000);
  await sleep(300);
}

async function taskflowDrain() {
  return withClient(async (client) => {
    await taskflowReset(client);
    const worker = startTaskflowWorker("noop");
    try {
      await waitForTaskflowWorker(client, worker);
      const batch = 5000;
      await client.query("BEGIN");
      for (let done = 0; done < jobs; done += batch) {
        const n = Math.min(batch, jobs - done);
        await client.query(
          "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', $1::text, " +
          "'queue', $2::text, 'payload', '{}'::jsonb)) FROM generate_series(1, $3::int)))", [TYPE, QUEUE, n]);
      }
      const start = performance.now();
      await client.query("COMMIT");
      await waitUntil(async () => {
        if (!worker.alive()) throw new Error("taskflow-worker exited during the drain");
        const r = await client.query("SELECT count(*)::int AS n FROM taskflow.jobs WHERE queue = $1 AND state = 'SUCCEEDED'", [QUEUE]);
        return r.rows[0].n >= jobs;
      }, "the drain");
      const seconds = (performance.now() - start) / 1000;
      const attempts = await client.query(
        "SELECT count(*)::int AS n FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id WHERE j.queue = $1", [QUEUE]);
      if (attempts.rows[0].n !== jobs) throw new Error(`expected ${jobs} attempts, found ${attempts.rows[0].n}`);
      return { seconds, jobs, rate: jobs / seconds };
    } finally {
      await worker.stop();
    }
  });
}

async function runLatency(enqueue, started) {
  // started: Map i -> performance.now() at handler start, filled by the handler.
  const sent = new Array(jobs);
  const start = performance.now();
  for (let i = 0; i < jobs; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sent[i] = performance.now();
    await enqueue(i);
  }
  await waitUntil(async () => started.size >= jobs, "every handler to start", 60000);
  const ms = [];
  for (let i = 0; i < jobs; i++) ms.push(started.get(i) - sent[i]);
  ms.sort((a, b) => a - b);
  return { jobs, rate, p50_ms: percentile(ms, 0.5), p95_ms: percentile(ms, 0.95), p99_ms: percentile(ms, 0.99), max_ms: ms[ms.length - 1] };
}

async function taskflowLatency() {
  const started = new Map();
  const server = http.createServer((req, res) => {
    const at = performance.now();
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || "{}");
      if (typeof body.i === "number" && !started.has(body.i)) started.set(body.i, at);
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  let tcpConnections = 0;  // how many the http executor opened for the jobs
  server.on("connection", () => { tcpConnections += 1; });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  try {
    return await withClient(async (client) => {
      await taskflowReset(client);
      const worker = startTaskflowWorker(`http:${url}`);
      try {
        await waitForTaskflowWorker(client, worker);
        const result = await runLatency(async (i) => {
          await client.query({ name: "schedule", text: "SELECT taskflow.schedule(job_type => $1, queue => $2, payload => $3::jsonb)",
            values: [TYPE, QUEUE, JSON.stringify({ i })] });
        }, started);
        await waitUntil(async () => {
          const r = await client.query("SELECT count(*)::int AS n FROM taskflow.jobs WHERE queue = $1 AND state = 'SUCCEEDED'", [QUEUE]);
          return r.rows[0].n >= jobs;
        }, "the jobs to succeed", 60000);
        return { ...result, handler: "taskflow-worker http executor -> node:http on loopback", tcp_connections: tcpConnections };
      } finally {
        await worker.stop();
      }
    });
  } finally {
    server.close();
  }
}

// ---------- Graphile Worker ----------
async function graphileReset() {
  const { runMigrations } = await import("graphile-worker");
  await runMigrations({ connectionString: process.env.TASKFLOW_DATABASE_URL });
  await withClient(async (client) => {
    await client.query("DELETE FROM graphile_worker._private_jobs");
    await client.query("VACUUM ANALYZE graphile_worker._private_jobs");
    await client.query("CHECKPOINT").catch(() => {});
  });
}

async function graphileRunner(taskList) {
  const { run } = await import("graphile-worker");
  return run({
    connectionString: process.env.TASKFLOW_DATABASE_URL,
    concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: new (await import("graphile-worker")).Logger(() => () => {}),
    taskList,
    preset: {
      worker: {
        localQueue: { size: GRAPHILE_LOCAL_QUEUE },
        completeJobBatchDelay: GRAPHILE_BATCH_DELAY,
        failJobBatchDelay: GRAPHILE_BATCH_DELAY,
      },
    },
  });
}

async function graphileDrain() {
  await graphileReset();
  const runner = await graphileRunner({ [TYPE]: async () => {} });
  try {
    await sleep(300);
    return await withClient(async (client) => {
      await client.query("BEGIN");
      const batch = 5000;
      for (let done = 0; done < jobs; done += batch) {
        const n = Math.min(batch, jobs - done);
        await client.query(
          "SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(SELECT json_populate_record(null::graphile_worker.job_spec, " +
          "json_build_object('identifier', $1::text, 'payload', '{}'::json)) FROM generate_series(1, $2::int)))", [TYPE, n]);
      }
      const start = performance.now();
      await client.query("COMMIT");
      await waitUntil(async () => {
        const r = await client.query("SELECT count(*)::int AS n FROM graphile_worker._private_jobs");
        return r.rows[0].n === 0;
      }, "the drain");
      const seconds = (performance.now() - start) / 1000;
      return { seconds, jobs, rate: jobs / seconds, local_queue: GRAPHILE_LOCAL_QUEUE, batch_delay_ms: GRAPHILE_BATCH_DELAY };
    });
  } finally {
    await runner.stop();
  }
}

async function graphileLatency() {
  await graphileReset();
  const started = new Map();
  const runner = await graphileRunner({ [TYPE]: async (payload) => {
    const at = performance.now();
    if (!started.has(payload.i)) started.set(payload.i, at);
  } });
  try {
    await sleep(300);
    return await withClient(async (client) => {
      const result = await runLatency(async (i) => {
        await client.query({ name: "add", text: "SELECT graphile_worker.add_job($1, $2::json)", values: [TYPE, JSON.stringify({ i })] });
      }, started);
      await waitUntil(async () => {
        const r = await client.query("SELECT count(*)::int AS n FROM graphile_worker._private_jobs");
        return r.rows[0].n === 0;
      }, "the jobs to finish", 60000);
      return { ...result, handler: "in process", local_queue: GRAPHILE_LOCAL_QUEUE, batch_delay_ms: GRAPHILE_BATCH_DELAY };
    });
  } finally {
    await runner.stop();
  }
}

// ---------- pg-boss ----------
async function pgboss() {
  const { default: PgBoss } = await import("pg-boss");
  const boss = new PgBoss({ connectionString: process.env.TASKFLOW_DATABASE_URL, max: concurrency + 4, supervise: false, schedule: false });
  boss.on("error", (e) => console.error("pg-boss:", e.message));
  await boss.start();
  await boss.deleteQueue(TYPE).catch(() => {});
  await boss.createQueue(TYPE);
  await withClient(async (client) => {
    // deleteQueue leaves earlier runs' completed jobs behind; the drain counts completed jobs.
    await client.query("DELETE FROM pgboss.job WHERE name = $1", [TYPE]);
    await client.query("VACUUM ANALYZE pgboss.job").catch(() => {});
    await client.query("CHECKPOINT").catch(() => {});
  });
  return boss;
}

async function pgbossWork(boss, handler) {
  // pg-boss 10: each work() call is one polling loop that fetches a batch, runs the handler and
  // completes the batch in one statement, then waits the polling interval (0.5 s at least):
  // `concurrency` loops of PGBOSS_BATCH jobs each, a batch's jobs run at once.
  for (let w = 0; w < concurrency; w++) {
    await boss.work(TYPE, { batchSize: PGBOSS_BATCH, pollingIntervalSeconds: 0.5 },
      async (batch) => { await Promise.all(batch.map((job) => handler(job))); });
  }
}

async function pgbossDrain() {
  const boss = await pgboss();
  try {
    await pgbossWork(boss, async () => {});
    await sleep(300);
    return await withClient(async (client) => {
      await client.query("BEGIN");
      await client.query(
        "INSERT INTO pgboss.job (name, data) SELECT $1, '{}'::jsonb FROM generate_series(1, $2::int)", [TYPE, jobs]);
      const start = performance.now();
      await client.query("COMMIT");
      await waitUntil(async () => {
        const r = await client.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'", [TYPE]);
        return r.rows[0].n >= jobs;
      }, "the drain");
      const seconds = (performance.now() - start) / 1000;
      return { seconds, jobs, rate: jobs / seconds, workers: concurrency, batch_size: PGBOSS_BATCH };
    });
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
  }
}

async function pgbossLatency() {
  const boss = await pgboss();
  const started = new Map();
  try {
    await pgbossWork(boss, async (job) => {
      const at = performance.now();
      if (!started.has(job.data.i)) started.set(job.data.i, at);
    });
    await sleep(300);
    const result = await runLatency(async (i) => { await boss.send(TYPE, { i }); }, started);
    return { ...result, handler: "in process", polling_interval_s: 0.5 };
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
  }
}

const table = {
  drain: { taskflow: taskflowDrain, graphile: graphileDrain, pgboss: pgbossDrain },
  latency: { taskflow: taskflowLatency, graphile: graphileLatency, pgboss: pgbossLatency },
};
const fn = table[mode]?.[system];
if (!fn) {
  console.error("usage: node peers.mjs drain|latency --system taskflow|graphile|pgboss --jobs N");
  process.exit(2);
}
try {
  const result = await fn();
  console.log(JSON.stringify({ scenario: `${mode}`, system, ...result }));
  process.exit(0);
} catch (e) {
  console.error(`${mode} ${system}: ${e.stack ?? e}`);
  process.exit(1);
}
