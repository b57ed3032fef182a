// Runs the peer scenarios in rounds (each measurement in its own node process, peers.mjs) on the
// server of the libpq environment and prints the medians and TaskFlow's ratios to the peers.
//   node run.mjs [--jobs 20000] [--latency-jobs 2000] [--rate 200] [--repeat 3]
//                [--only peer-drain,peer-latency] [--systems taskflow,graphile,pgboss]
// Progress on stderr; stdout: a table, then one JSON line with every figure.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const jobs = Number(opt("jobs", 20000));
const latencyJobs = Number(opt("latency-jobs", 2000));
const rate = Number(opt("rate", 200));
const repeat = Number(opt("repeat", 3));
const only = opt("only", "peer-drain,peer-latency").split(",");
const systems = opt("systems", "taskflow,graphile,pgboss").split(",");

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function measure(mode, system) {
  const extra = mode === "drain" ? ["--jobs", String(jobs)] : ["--jobs", String(latencyJobs), "--rate", String(rate)];
  const r = spawnSync(process.execPath, [path.join(here, "peers.mjs"), mode, "--system", system, "--concurrency", "16", ...extra],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 900000 });
  if (r.status !== 0) throw new Error(`${mode} ${system} failed (exit ${r.status})`);
  const line = r.stdout.trim().split("\n").pop();
  return JSON.parse(line);
}

const results = { drain: {}, latency: {} };
for (let round = 1; round <= repeat; round++) {
  for (const mode of ["drain", "latency"]) {
    if (!only.includes(`peer-${mode}`)) continue;
    for (const system of systems) {
      process.stderr.write(`round ${round}/${repeat}: ${mode} ${system} ... `);
      const m = measure(mode, system);
      process.stderr.write(mode === "drain" ? `${Math.round(m.rate)} jobs/s\n` : `p50 ${m.p50_ms.toFixed(2)} ms, p99 ${m.p99_ms.toFixed(2)} ms\n`);
      (results[mode][system] ??= []).push(m);
    }
  }
}

const summary = { jobs, latency_jobs: latencyJobs, rate, repeat, drain: {}, latency: {}, ratios: {} };
for (const [system, runs] of Object.entries(results.drain)) {
  summary.drain[system] = { median_rate: median(runs.map((r) => r.rate)), rates: runs.map((r) => Math.round(r.rate)) };
}
for (const [system, runs] of Object.entries(results.latency)) {
  summary.latency[system] = {
    median_p50_ms: median(runs.map((r) => r.p50_ms)),
    median_p99_ms: median(runs.map((r) => r.p99_ms)),
    p50s: runs.map((r) => +r.p50_ms.toFixed(2)),
    p99s: runs.map((r) => +r.p99_ms.toFixed(2)),
  };
}
for (const peer of systems.filter((s) => s !== "taskflow")) {
  if (summary.drain.taskflow && summary.drain[peer]) {
    // Per round too: the machine is shared, so a round's ratio is the fairer comparison.
    const perRound = results.drain.taskflow.map((t, i) => t.rate / results.drain[peer][i].rate);
    summary.ratios[`drain taskflow/${peer}`] = { median_of_medians: summary.drain.taskflow.median_rate / summary.drain[peer].median_rate,
      per_round: perRound.map((x) => +x.toFixed(2)), median_per_round: median(perRound) };
  }
  if (summary.latency.taskflow && summary.latency[peer]) {
    summary.ratios[`latency p50 taskflow/${peer}`] = summary.latency.taskflow.median_p50_ms / summary.latency[peer].median_p50_ms;
    summary.ratios[`latency p99 taskflow/${peer}`] = summary.latency.taskflow.median_p99_ms / summary.latency[peer].median_p99_ms;
  }
}

const pad = (s, n) => String(s).padEnd(n);
console.log(`peer benchmark: drain ${jobs} no-op jobs at concurrency 16; latency ${latencyJobs} jobs at ${rate}/s; ${repeat} rounds`);
for (const [system, d] of Object.entries(summary.drain)) {
  console.log(`${pad("peer-drain", 14)}${pad(system, 10)}${pad(Math.round(d.median_rate) + " jobs/s", 16)}(${d.rates.join(", ")})`);
}
for (const [system, l] of Object.entries(summary.latency)) {
  console.log(`${pad("peer-latency", 14)}${pad(system, 10)}p50 ${l.median_p50_ms.toFixed(2)} ms, p99 ${l.median_p99_ms.toFixed(2)} ms  (p50s ${l.p50s.join(", ")}; p99s ${l.p99s.join(", ")})`);
}
for (const [name, value] of Object.entries(summary.ratios)) {
  console.log(`ratio ${pad(name, 32)}${typeof value === "number" ? value.toFixed(2) : `${value.median_per_round.toFixed(2)} (rounds ${value.per_round.join(", ")})`}`);
}
console.log(JSON.stringify(summary));
