#include "context.hpp"

#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace taskflow::bench {

namespace {

std::int64_t ScaleCount(std::int64_t n, double scale) {
  const auto scaled = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * scale));
  return scaled < 1 ? 1 : scaled;
}

const auto kProgramStart = std::chrono::steady_clock::now();

// The TaskFlow tables the drain writes to; vacuumed between scenarios when they exist.
constexpr const char* kTaskflowTables[] = {"taskflow.jobs", "taskflow.job_attempts",
                                           "taskflow.job_events"};

}  // namespace

Sizes Sizes::Scaled(double scale) const {
  Sizes s = *this;
  s.enqueue_jobs = ScaleCount(enqueue_jobs, scale);
  s.batch_jobs = ScaleCount(batch_jobs, scale);
  s.drain_jobs = ScaleCount(drain_jobs, scale);
  s.history_jobs = ScaleCount(history_jobs, scale);
  return s;
}

Context::Context(std::string db, Sizes sizes, HistoryFill history_fill)
    : db_(std::move(db)), sizes_(sizes), history_fill_(history_fill), admin_(db_) {}

pqxx::result Context::Exec(const std::string& sql) {
  pqxx::nontransaction tx(admin_);
  return tx.exec(sql);
}

std::int64_t Context::QueryInt(const std::string& sql) {
  const pqxx::result r = Exec(sql);
  if (r.empty() || r[0][0].is_null()) throw std::runtime_error("no value from: " + sql);
  return r[0][0].as<std::int64_t>();
}

std::string Context::QueryText(const std::string& sql) {
  const pqxx::result r = Exec(sql);
  if (r.empty() || r[0][0].is_null()) return {};
  return r[0][0].c_str();
}

void Context::Log(const std::string& message) {
  const double t =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - kProgramStart).count();
  std::fprintf(stderr, "[%8.2fs] %s\n", t, message.c_str());
}

void Context::EnsureQueue() {
  try {
    Exec(std::string("SELECT taskflow.create_queue('") + kQueue + "')");
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() != "42710") throw;  // duplicate_object: the queue is there already
  }
}

void Context::ResetTaskflow() {
  // Attempts and events first: whether or not their foreign keys cascade, this leaves nothing.
  const std::string bench_ids =
      std::string("(SELECT id FROM taskflow.jobs WHERE queue = '") + kQueue + "')";
  Exec("DELETE FROM taskflow.job_events WHERE job_id IN " + bench_ids);
  Exec("DELETE FROM taskflow.job_attempts WHERE job_id IN " + bench_ids);
  Exec(std::string("DELETE FROM taskflow.jobs WHERE queue = '") + kQueue + "'");
  VacuumTaskflow();
}

void Context::VacuumTaskflow() {
  std::string tables;
  for (const char* t : kTaskflowTables) {
    if (QueryText(std::string("SELECT to_regclass('") + t + "')::text").empty()) continue;
    tables += (tables.empty() ? "" : ", ") + std::string(t);
  }
  Vacuum(tables);
  Checkpoint();
}

void Context::FillReadyJobs(std::int64_t count) {
  const int batch = sizes_.batch_size;
  const std::string full = JobsArray(batch);
  pqxx::nontransaction tx(admin_);
  for (std::int64_t done = 0; done < count; done += batch) {
    const std::int64_t n = std::min<std::int64_t>(batch, count - done);
    tx.exec_params("SELECT count(*) FROM taskflow.schedule_many($1::jsonb)",
                   n == batch ? full : JobsArray(n));
  }
}

std::int64_t Context::CountJobs(const std::string& state) {
  std::string sql =
      std::string("SELECT count(*) FROM taskflow.jobs WHERE queue = '") + kQueue + "'";
  if (!state.empty()) sql += " AND state::text = '" + state + "'";
  return QueryInt(sql);
}

void Context::ResetCeiling() {
  Exec(std::string("CREATE SCHEMA IF NOT EXISTS ") + kCeilingSchema);
  Exec(std::string("DROP TABLE IF EXISTS ") + kCeilingSchema + ".jobs");
  // The columns a job queue needs to claim and finish work, indexed the way claims read it.
  Exec(std::string("CREATE TABLE ") + kCeilingSchema + R"(.jobs (
      id          bigserial PRIMARY KEY,
      queue       text NOT NULL,
      job_type    text NOT NULL,
      state       text NOT NULL DEFAULT 'ready',
      payload     jsonb NOT NULL DEFAULT '{}',
      priority    int NOT NULL DEFAULT 0,
      run_at      timestamptz NOT NULL DEFAULT now(),
      attempts    int NOT NULL DEFAULT 0,
      locked_by   text,
      locked_at   timestamptz,
      created_at  timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz))");
  Exec(std::string("CREATE INDEX jobs_claim ON ") + kCeilingSchema +
       ".jobs (state, priority DESC, run_at, id)");
  Vacuum(std::string(kCeilingSchema) + ".jobs");
  Checkpoint();
}

void Context::FillCeiling(std::int64_t count) {
  Exec(std::string("INSERT INTO ") + kCeilingSchema +
       ".jobs (queue, job_type) SELECT 'bench', 'bench' FROM generate_series(1, " +
       std::to_string(count) + ")");
  Vacuum(std::string(kCeilingSchema) + ".jobs");
  Checkpoint();
}

std::int64_t Context::CountCeiling(const std::string& state) {
  std::string sql = std::string("SELECT count(*) FROM ") + kCeilingSchema + ".jobs";
  if (!state.empty()) sql += " WHERE state = '" + state + "'";
  return QueryInt(sql);
}

void Context::Cleanup() {
  Exec(std::string("DROP SCHEMA IF EXISTS ") + kCeilingSchema + " CASCADE");
  // Ceilings alone run without the extension; then there are no bench jobs to remove.
  if (!QueryText("SELECT to_regclass('taskflow.jobs')::text").empty()) ResetTaskflow();
}

void Context::Vacuum(const std::string& tables) {
  if (!tables.empty()) Exec("VACUUM ANALYZE " + tables);
}

void Context::Checkpoint() {
  // A checkpoint before each timed part keeps one scenario's dirty pages from being flushed
  // during the next. It needs superuser or pg_checkpoint; without them it is only skipped.
  try {
    Exec("CHECKPOINT");
  } catch (const pqxx::insufficient_privilege&) {
  }
}

std::string JobsArray(std::int64_t count) {
  static const std::string kJob =
      std::string(R"({"job_type":")") + kJobType + R"(","queue":")" + kQueue + R"(","payload":{}})";
  std::string out = "[";
  out.reserve(static_cast<size_t>(count) * (kJob.size() + 1) + 2);
  for (std::int64_t i = 0; i < count; ++i) {
    if (i) out += ',';
    out += kJob;
  }
  out += ']';
  return out;
}

std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i];
  }
  out += '}';
  return out;
}

void Expect(const std::string& what, std::int64_t expected, std::int64_t actual) {
  if (expected != actual) {
    throw std::runtime_error(what + ": expected " + std::to_string(expected) + ", found " +
                             std::to_string(actual));
  }
}

}  // namespace taskflow::bench
