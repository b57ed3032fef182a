// Observability scenarios: what a Prometheus scrape of taskflow.metrics() costs with a large
// history (issue 6: under 50 ms with 1,000,000 finished jobs).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "context.hpp"
#include "scenarios.hpp"

namespace taskflow::bench {

namespace {

constexpr int kScrapes = 20;

std::string Milliseconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", s * 1000.0);
  return buf;
}

// The value of one series in a metrics() text, -1 when it is missing.
std::int64_t SeriesValue(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const std::size_t at = ("\n" + text).find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + key.size() - 1));
}

}  // namespace

// Fills the history, restarts the metrics counters so that the roll-up counts that history
// (the fill writes rows directly, behind the roll-up's watermark), waits until the roll-up has
// caught up, then times kScrapes calls of taskflow.metrics() on one connection.
Measurement MetricsScrape(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  const Sizes& s = ctx.sizes();
  FillFinishedHistory(ctx, s.history_jobs);
  Expect("finished jobs in history", s.history_jobs, ctx.CountJobs("SUCCEEDED"));

  const double rollup_seconds = ResetStatsAndRollUp(ctx);
  ctx.VacuumTaskflow();

  pqxx::connection conn(ctx.db());
  conn.prepare("metrics", "SELECT taskflow.metrics()");
  pqxx::nontransaction tx(conn);
  std::string text = tx.exec_prepared1("metrics")[0].as<std::string>();  // warm-up
  std::vector<double> times;
  for (int i = 0; i < kScrapes; ++i) {
    const auto start = std::chrono::steady_clock::now();
    text = tx.exec_prepared1("metrics")[0].as<std::string>();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const std::string q = std::string("{queue=\"") + kQueue + "\"";
  Expect("taskflow_jobs_finished_total of the history", s.history_jobs,
         SeriesValue(text,
                     std::string("taskflow_jobs_finished_total") + q + ",outcome=\"succeeded\"}"));
  Expect("taskflow_jobs succeeded of the history", s.history_jobs,
         SeriesValue(text, std::string("taskflow_jobs") + q + ",state=\"succeeded\"}"));

  Measurement m;
  m.jobs = kScrapes;
  for (double t : times) m.seconds += t;
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = (sorted[(kScrapes - 1) / 2] + sorted[kScrapes / 2]) / 2.0;
  Context::Log("metrics-scrape: median " + Milliseconds(median) + " over " +
               std::to_string(kScrapes) + " scrapes with " + std::to_string(s.history_jobs) +
               " finished jobs");
  m.notes.emplace_back("scrape median",
                       Milliseconds(median) + " (min " + Milliseconds(sorted.front()) + ", max " +
                           Milliseconds(sorted.back()) + ", " + std::to_string(text.size()) +
                           " bytes; target < 50 ms)");
  m.notes.emplace_back("history", std::to_string(s.history_jobs) +
                                      " SUCCEEDED jobs, counters rolled up in " +
                                      Milliseconds(rollup_seconds) + " after reset_stats()");
  ctx.ResetTaskflow();
  return m;
}

}  // namespace taskflow::bench
