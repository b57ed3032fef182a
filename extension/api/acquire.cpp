// taskflow.acquire: hands ready jobs to a worker.
//
// Per group of requested queues with equal queue priority (highest first), each round:
//  1. promotes the group's due SCHEDULED jobs to PENDING (so acquire sees them at once);
//  2. finds the tenants with ready jobs by a skip scan of jobs_ready_idx (queue, tenant, ...):
//     its cost grows with the tenants that HAVE ready jobs, not with the registered ones;
//  3. applies the limits for all workers together: queue concurrency_limit (RUNNING jobs
//     counted under a transaction advisory lock per limited queue, so concurrent acquirers
//     cannot both take the last slot), tenant max_running (slot reservations in shared memory,
//     pg/shared_state.hpp: acquirers never wait for each other's commits), and rate limits
//     (token buckets, row-locked);
//  4. shares the slots among the tenants whose head job has the top job priority by weighted
//     round robin (core::AllocateSlots; passes kept in shared memory);
//  5. locks the chosen jobs (FOR UPDATE SKIP LOCKED) and starts an attempt for each, recording
//     the transitions, in one statement.
#include <algorithm>
#include <climits>
#include <map>
#include <set>
#include <string>

#include "core/errors.hpp"
#include "core/fair_share.hpp"
#include "core/state_machine.hpp"
#include "core/validation.hpp"
#include "api/common.hpp"
#include "api/scheduler.hpp"
#include "api/tenancy.hpp"
#include "pg/settings.hpp"
#include "pg/shared_state.hpp"

using namespace taskflow;
using core::DomainError;
using core::ErrorCode;
using core::JobEvent;
using core::JobState;

namespace {

constexpr int kAcquireColumns = 12;  // the columns of taskflow.acquire (sql/src/040_worker.sql)
// Planned once per backend: with custom plans these statements were re-planned on every call
// (measured: half of a one-job acquire).
constexpr auto kGeneric = pg::Statement::Plans::Generic;

struct QueueRow {
  std::string name;
  int priority = 0;
  std::optional<int> concurrency_limit;
  bool rate_limited = false;
};

struct Head {  // best ready job of one tenant in the group
  std::string tenant;
  int priority = INT_MIN;
  std::int64_t next_run_at = 0;
  std::int64_t id = 0;
  bool Before(const Head& o) const {
    if (priority != o.priority) return priority > o.priority;
    if (next_run_at != o.next_run_at) return next_run_at < o.next_run_at;
    return id < o.id;
  }
};

std::int64_t LockKey(const std::string& kind, const std::string& name) {
  return static_cast<std::int64_t>(pg::FlowKey("taskflow.limit." + kind, name));
}

std::uint64_t PromoteDue(Datum queues) {
  // Usually nothing is due: a read-only probe of jobs_scheduled_idx is far cheaper than
  // starting the promoting statement (two data-modifying CTEs).
  static pg::Statement any_due(
      "SELECT EXISTS (SELECT FROM taskflow.jobs WHERE state = 'SCHEDULED' "
      "AND next_run_at <= now() AND queue = ANY($1))",
      {TEXTARRAYOID}, kGeneric);
  pg::Params probe;
  probe.Add(queues);
  probe.Run(any_due, true);
  if (!pg::ResultRow(0).Bool(1).value_or(false)) return 0;
  // The Scheduler's statement (scheduler.cpp), for this group's queues.
  std::uint64_t promoted = 0;
  for (const api::Promoted& q : api::PromoteDue(1000, queues)) promoted += q.jobs;
  return promoted;
}

// The last skip scan of this backend (acquire calls with the same queues and job types reuse
// it while pg::ReadyGeneration() is unchanged and it is younger than kHeadsCacheMaxAgeUs).
struct HeadsCache {
  std::string key;
  std::uint64_t generation = 0;
  std::int64_t taken_at = 0;  // microseconds (GetCurrentTimestamp)
  std::map<std::string, Head> heads;
};
HeadsCache heads_cache;
// A backstop: every path that makes jobs PENDING bumps the generation at commit.
constexpr std::int64_t kHeadsCacheMaxAgeUs = 250'000;
// A limited tenant's RUNNING jobs when this backend last counted them, with what the slot
// table showed just before (pg/shared_state.hpp): the bound on its RUNNING jobs later is
// counted + reservations committed since - RUNNING jobs ended since + reserved now (minus this
// transaction's that the count saw). Dropped when taskflow.tenants changes and after kCountMaxAgeUs (a backstop for
// RUNNING jobs that did not come through acquire, such as a restore).
struct CountEntry {
  int counted = 0;
  std::uint64_t committed_at = 0;
  std::uint64_t finished_at = 0;
  int own_at = 0;
  LocalTransactionId lxid = 0;
  std::uint64_t limits_generation = 0;
  std::int64_t taken_at = 0;
};
std::map<std::string, CountEntry> tenant_counts;
constexpr std::size_t kMaxTenantCounts = 10'000;
constexpr std::int64_t kCountMaxAgeUs = 1'000'000;

int Bound(const CountEntry& e, const pg::SlotView& v) {
  const int own_at = e.lxid == MyProc->lxid ? e.own_at : 0;
  const std::int64_t b = static_cast<std::int64_t>(e.counted) + static_cast<std::int64_t>(v.committed - e.committed_at) -
                         (static_cast<std::int64_t>(v.finished) - static_cast<std::int64_t>(e.finished_at)) +
                         v.reserved - own_at;
  return static_cast<int>(std::min<std::int64_t>(b, INT_MAX));
}

// A call hands its slots to at most this many tenants (see AllocateSlots' quantum).
constexpr int kTenantsPerCall = 25;

// The job_types argument as text (part of the cache key).
std::string JobTypesKey(Datum job_types) {
  char* text = pg::PgCall([&] {
    Oid out = InvalidOid;
    bool varlena = false;
    getTypeOutputInfo(TEXTARRAYOID, &out, &varlena);
    return OidOutputFunctionCall(out, job_types);
  });
  std::string key(text);
  pg::PgCall([&] { pfree(text); });
  return key;
}

// Tenants with ready jobs in one queue, with their best job: a recursive skip scan.
void FindHeads(const std::string& queue, Datum job_types, bool has_types,
               std::map<std::string, Head>* heads) {
  static pg::Statement stmt(
      "WITH RECURSIVE t AS ("
      "  (SELECT j.tenant_id, j.priority, j.next_run_at, j.id FROM taskflow.jobs j"
      "   WHERE j.queue = $1 AND j.state = 'PENDING' AND ($2::text[] IS NULL OR j.job_type = ANY($2))"
      "   ORDER BY j.tenant_id, j.priority DESC, j.next_run_at, j.id LIMIT 1)"
      "  UNION ALL"
      "  SELECT n.* FROM t, LATERAL ("
      "   SELECT j.tenant_id, j.priority, j.next_run_at, j.id FROM taskflow.jobs j"
      "   WHERE j.queue = $1 AND j.state = 'PENDING' AND j.tenant_id > t.tenant_id"
      "     AND ($2::text[] IS NULL OR j.job_type = ANY($2))"
      "   ORDER BY j.tenant_id, j.priority DESC, j.next_run_at, j.id LIMIT 1) n)"
      "SELECT tenant_id, priority, next_run_at, id FROM t",
      {TEXTOID, TEXTARRAYOID}, kGeneric);
  pg::Params p;
  p.AddText(queue).Add(job_types, !has_types);
  std::uint64_t n = p.Run(stmt);  // not read-only: must see this call's earlier rounds
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    Head h{row.Text(1).value_or(""), row.Int32(2).value_or(0), row.Timestamp(3).value_or(0),
           row.Int64(4).value_or(0)};
    auto it = heads->find(h.tenant);
    if (it == heads->end() || h.Before(it->second)) (*heads)[h.tenant] = h;
  }
}

struct TenantRow {
  double weight = 1;
  std::optional<int> max_running;
  bool rate_limited = false;
};

// Weight, max_running and whether a rate limit exists, for the contending tenants only (so the
// cost does not depend on how many tenants are registered).
std::map<std::string, TenantRow> TenantSettings(const std::vector<std::string>& tenants) {
  static pg::Statement stmt(
      "SELECT a.id, COALESCE(t.weight, 1), t.max_running, EXISTS (SELECT FROM "
      "  taskflow.rate_limits r WHERE r.scope = 'tenant' AND r.name = a.id) "
      "FROM unnest($1::text[]) AS a(id) LEFT JOIN taskflow.tenants t ON t.id = a.id",
      {TEXTARRAYOID}, kGeneric);
  pg::Params p;
  p.Add(api::TextArrayDatum(tenants));
  std::uint64_t n = p.Run(stmt, true);
  std::map<std::string, TenantRow> out;
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    out[row.Text(1).value_or("")] = {static_cast<double>(row.Int32(2).value_or(1)), row.Int32(3),
                                     row.Bool(4).value_or(false)};
  }
  return out;
}

// RUNNING jobs per limited queue (a scan of the RUNNING jobs; only for queues with a
// concurrency_limit), counted after the queue's advisory lock.
void CountRunningQueues(const std::vector<std::string>& queues, std::map<std::string, int>* out) {
  static pg::Statement stmt(
      "SELECT queue, count(*)::int FROM taskflow.jobs WHERE state = 'RUNNING' "
      "  AND queue = ANY($1) GROUP BY queue",
      {TEXTARRAYOID}, kGeneric);
  pg::Params p;
  p.Add(api::TextArrayDatum(queues));
  std::uint64_t n = p.Run(stmt);  // not read-only: a fresh snapshot after taking the lock
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    (*out)[row.Text(1).value_or("")] = row.Int32(2).value_or(0);
  }
}

// Queue limits: wait for the lock (one per limited queue, taken in one global order).
void AdvisoryLocks(std::vector<std::int64_t> keys) {
  if (keys.empty()) return;
  std::sort(keys.begin(), keys.end());  // one global order: no deadlocks between acquirers
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  static pg::Statement stmt("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) k",
                            {INT8ARRAYOID}, kGeneric);
  pg::Params p;
  p.Add(api::Int64ArrayDatum(keys));
  p.Run(stmt);
}

struct Bucket {
  std::string scope, name;
  core::TokenBucket bucket;
  double available = 0;
  int taken = 0;
};

std::vector<Bucket> LockBuckets(const std::vector<std::string>& queues,
                                const std::vector<std::string>& tenants) {
  static pg::Statement stmt(
      "SELECT scope, name, max_starts, period, tokens, refreshed_at FROM taskflow.rate_limits "
      "WHERE (scope = 'queue' AND name = ANY($1)) OR (scope = 'tenant' AND name = ANY($2)) "
      "ORDER BY scope, name FOR UPDATE",
      {TEXTARRAYOID, TEXTARRAYOID}, kGeneric);
  pg::Params p;
  p.Add(api::TextArrayDatum(queues)).Add(api::TextArrayDatum(tenants));
  std::uint64_t n = p.Run(stmt);
  std::vector<Bucket> out;
  std::int64_t now = api::NowMicros();
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    Bucket b;
    b.scope = row.Text(1).value_or("");
    b.name = row.Text(2).value_or("");
    b.bucket.max_starts = row.Int32(3).value_or(0);
    b.bucket.period_us = row.IntervalMicros(4).value_or(0);
    b.bucket.tokens = std::stod(row.Text(5).value_or("0"));
    b.available = b.bucket.Available(row.Timestamp(6).value_or(now), now);
    out.push_back(b);
  }
  return out;
}

void SpendBuckets(const std::vector<Bucket>& buckets) {
  static pg::Statement stmt(
      "UPDATE taskflow.rate_limits r SET tokens = u.tokens, refreshed_at = now() "
      "FROM unnest($1::text[], $2::text[], $3::float8[]) AS u(scope, name, tokens) "
      "WHERE r.scope = u.scope AND r.name = u.name",
      {TEXTARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID}, kGeneric);
  if (buckets.empty()) return;
  std::vector<std::string> scopes, names;
  std::vector<Datum> tokens;
  for (const Bucket& b : buckets) {
    scopes.push_back(b.scope);
    names.push_back(b.name);
    tokens.push_back(Float8GetDatum(std::max(0.0, b.available - b.taken)));
  }
  Datum* td = tokens.data();
  int tn = static_cast<int>(tokens.size());
  Datum token_array = pg::PgCall([&] {
    return PointerGetDatum(construct_array(td, tn, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
  });
  pg::Params p;
  p.Add(api::TextArrayDatum(scopes)).Add(api::TextArrayDatum(names)).Add(token_array);
  p.Run(stmt);
}

struct Candidate {
  std::int64_t id;
  std::string queue;
  std::string tenant;
  std::optional<int> running;  // the tenant's RUNNING jobs, for limited tenants
};

// Locks up to `count` ready jobs per tenant at job priority >= min_priority, best first.
std::vector<Candidate> LockCandidates(Datum queues, int queue_count, const std::vector<std::string>& tenants,
                                      const std::vector<std::int32_t>& counts, const std::vector<bool>& limited,
                                      int min_priority, Datum job_types, bool has_types) {
  // Several queues of equal priority: the best k of each queue, then the best k of those.
  static pg::Statement many(
      "SELECT c.id, c.queue, c.tenant_id, r.running "
      "FROM unnest($2::text[], $3::int[], $6::bool[]) AS a(tenant, k, lim), "
      "LATERAL (SELECT CASE WHEN a.lim THEN (SELECT count(*)::int FROM taskflow.jobs r "
      "  WHERE r.tenant_id = a.tenant AND r.state = 'RUNNING') END AS running OFFSET 0) r, "
      "LATERAL (SELECT x.* FROM unnest($1::text[]) AS qn(name), LATERAL ("
      "    SELECT j.id, j.queue, j.tenant_id, j.priority, j.next_run_at FROM taskflow.jobs j"
      "    WHERE j.queue = qn.name AND j.tenant_id = a.tenant AND j.state = 'PENDING'"
      "      AND j.priority >= $4 AND ($5::text[] IS NULL OR j.job_type = ANY($5))"
      "    ORDER BY j.priority DESC, j.next_run_at, j.id LIMIT a.k FOR UPDATE SKIP LOCKED) x"
      "  ORDER BY x.priority DESC, x.next_run_at, x.id LIMIT a.k) c",
      {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, INT4OID, TEXTARRAYOID, BOOLARRAYOID}, kGeneric);
  // One queue (the usual case): one index range per tenant, no re-sorting.
  static pg::Statement one(
      "SELECT c.id, c.queue, c.tenant_id, r.running "
      "FROM unnest($2::text[], $3::int[], $6::bool[]) AS a(tenant, k, lim), "
      "LATERAL (SELECT CASE WHEN a.lim THEN (SELECT count(*)::int FROM taskflow.jobs r "
      "  WHERE r.tenant_id = a.tenant AND r.state = 'RUNNING') END AS running OFFSET 0) r, "
      "LATERAL (SELECT j.id, j.queue, j.tenant_id FROM taskflow.jobs j"
      "    WHERE j.queue = ($1::text[])[1] AND j.tenant_id = a.tenant AND j.state = 'PENDING'"
      "      AND j.priority >= $4 AND ($5::text[] IS NULL OR j.job_type = ANY($5))"
      "    ORDER BY j.priority DESC, j.next_run_at, j.id LIMIT a.k FOR UPDATE SKIP LOCKED) c",
      {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, INT4OID, TEXTARRAYOID, BOOLARRAYOID}, kGeneric);
  std::vector<Datum> lim;
  lim.reserve(limited.size());
  for (bool l : limited) lim.push_back(BoolGetDatum(l));
  Datum* ld = lim.data();
  int ln = static_cast<int>(lim.size());
  Datum lim_array = pg::PgCall([&] {
    return PointerGetDatum(construct_array(ld, ln, BOOLOID, 1, true, TYPALIGN_CHAR));
  });
  pg::Params p;
  p.Add(queues).Add(api::TextArrayDatum(tenants)).Add(api::Int32ArrayDatum(counts));
  p.AddInt32(min_priority).Add(job_types, !has_types).Add(lim_array);
  // Not read-only: the count must take its snapshot after pg::ReadSlots.
  std::uint64_t n = p.Run(queue_count == 1 ? one : many);
  std::vector<Candidate> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    out.push_back({row.Int64(1).value_or(0), row.Text(2).value_or(""), row.Text(3).value_or(""), row.Int32(4)});
  }
  return out;
}

// Starts an attempt for each chosen job (Acquire transition from the core table) and returns
// the rows acquire() hands out, in acquisition order.
// v2: the schema is 0.2.0's (api::SchemaIs0_2); a 0.1.0 schema not updated yet hands out NULL
// for traceparent and the dependencies (its acquire() declares neither column: the extra values
// are not returned).
std::string StartAttemptsSql(bool v2) {
  return "WITH upd AS ("
      "  UPDATE taskflow.jobs j SET state = " +
          api::TargetStateSql(JobState::Pending, JobEvent::Acquire) +
          "    , attempts = j.attempts + 1, lease_token = gen_random_uuid(),"
          "    lease_duration = COALESCE($3, q.lease, $4),"
          "    lease_expires_at = now() + COALESCE($3, q.lease, $4),"
          "    started_at = now(), worker_id = $2, last_heartbeat_at = NULL, heartbeats = NULL"
          "  FROM taskflow.queues q WHERE j.id = ANY($1) AND q.name = j.queue AND j.state IN " +
          api::SourceStatesSql(JobEvent::Acquire) +
          "  RETURNING j.id, j.attempts, j.lease_token, j.job_type, j.payload, j.queue, j.tenant_id,"
          "    j.correlation_id, j.lease_expires_at, j.timeout, " +
          std::string(v2 ? "j.traceparent, j.dependency_count"
                         : "NULL::text AS traceparent, 0 AS dependency_count") +
          ", j.state, j.priority, j.next_run_at), "
          "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason)"
          "  SELECT id, 'PENDING', state, $2, 'acquired' FROM upd) "
          "SELECT upd.id, upd.attempts, upd.lease_token, upd.job_type, upd.payload, upd.queue,"
          "  upd.tenant_id, upd.correlation_id, upd.lease_expires_at, upd.timeout, upd.traceparent," +
          std::string(v2 ?
          "  dep.dependencies"
          // only a job with dependencies pays for reading them (docs/workflows.md); inline (the
          // same query as taskflow._dependency_results), planned once with this statement
          "  FROM upd LEFT JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object("
          "      'job_id', d.depends_on, 'key', n.node_key, 'job_type', p.job_type,"
          "      'state', COALESCE(p.state, d.parent_state), 'on_failure', d.on_failure,"
          "      'result', p.result, 'error_type', p.last_error_type,"
          "      'error_message', p.last_error_message, 'finished_at', p.finished_at)"
          "      ORDER BY d.depends_on) AS dependencies"
          "    FROM taskflow.job_dependencies d"
          "    LEFT JOIN taskflow.jobs p ON p.id = d.depends_on"
          "    LEFT JOIN taskflow.workflow_nodes n ON n.job_id = d.depends_on"
          "    WHERE upd.dependency_count > 0 AND d.job_id = upd.id) dep ON true"
          : "  NULL::jsonb AS dependencies FROM upd") +
          "  ORDER BY upd.priority DESC, upd.next_run_at, upd.id";
}

std::uint64_t StartAttempts(const std::vector<std::int64_t>& ids, Datum worker_id,
                            const std::optional<std::int64_t>& lease) {
  static pg::Statement schema_0_2(StartAttemptsSql(true),
                                  {INT8ARRAYOID, TEXTOID, INTERVALOID, INTERVALOID}, kGeneric);
  static pg::Statement schema_0_1(StartAttemptsSql(false),
                                  {INT8ARRAYOID, TEXTOID, INTERVALOID, INTERVALOID}, kGeneric);
  pg::Statement& stmt = api::SchemaIs0_2() ? schema_0_2 : schema_0_1;
  std::int64_t default_lease = static_cast<std::int64_t>(taskflow_default_lease_s) * 1000000;
  pg::Params p;
  p.Add(api::Int64ArrayDatum(ids)).Add(worker_id).AddOptInterval(lease).AddInterval(default_lease);
  return p.Run(stmt);
}

}  // namespace

// taskflow.acquire(worker_id, queues, max_jobs, lease, job_types) RETURNS TABLE(...)
TF_FUNCTION(taskflow_acquire) {
  pg::RequireArg(fcinfo, 0, "worker_id");
  pg::RequireArg(fcinfo, 1, "queues");
  Datum worker_id = PG_GETARG_DATUM(0);
  int max_jobs = pg::ArgOptInt32(fcinfo, 2).value_or(1);
  std::optional<std::int64_t> lease = pg::ArgOptIntervalMicros(fcinfo, 3);
  if (max_jobs < 1 || max_jobs > 10000) {
    throw DomainError(ErrorCode::InvalidParameterValue, "max_jobs must be between 1 and 10000");
  }
  if (lease) core::ValidateDuration(*lease, "lease");
  bool has_types = !pg::ArgIsNull(fcinfo, 4);
  Datum job_types = has_types ? PG_GETARG_DATUM(4) : Datum(0);

  pg::SetResult out(fcinfo);
  pg::SpiConnection spi;
  api::RequireUnconfined("acquire");  // a confined session never takes another tenant's job

  // The requested queues, grouped by queue priority (highest first). Unknown queue: error (a
  // typo would otherwise idle a worker silently); paused queues are skipped.
  static pg::Statement queue_rows(
      "SELECT r.name, q.name IS NOT NULL, q.priority, q.paused, q.concurrency_limit, "
      "  EXISTS (SELECT FROM taskflow.rate_limits l WHERE l.scope = 'queue' AND l.name = r.name) "
      "FROM unnest($1::text[]) WITH ORDINALITY AS r(name, n) "
      "LEFT JOIN taskflow.queues q ON q.name = r.name ORDER BY r.n",
      {TEXTARRAYOID}, kGeneric);
  pg::Params qp;
  qp.Add(PG_GETARG_DATUM(1));
  std::uint64_t nq = qp.Run(queue_rows, true);
  std::map<int, std::vector<QueueRow>, std::greater<int>> groups;
  for (std::uint64_t i = 0; i < nq; ++i) {
    pg::ResultRow row(i);
    std::optional<std::string> name = row.Text(1);
    if (!name) throw DomainError(ErrorCode::InvalidParameterValue, "queues must not contain NULL");
    if (!row.Bool(2).value_or(false)) {
      throw DomainError(ErrorCode::UndefinedObject, "queue \"" + *name + "\" does not exist",
                        "Create it first: SELECT taskflow.create_queue('" + *name + "');");
    }
    if (row.Bool(4).value_or(false)) continue;  // paused
    QueueRow q{*name, row.Int32(3).value_or(0), row.Int32(5), row.Bool(6).value_or(false)};
    auto& group = groups[q.priority];
    if (std::none_of(group.begin(), group.end(), [&](const QueueRow& g) { return g.name == q.name; })) {
      group.push_back(q);
    }
  }

  int remaining = max_jobs;
  for (auto& [queue_priority, group] : groups) {
    if (remaining <= 0) break;
    std::vector<std::string> names;
    for (const QueueRow& q : group) names.push_back(q.name);
    Datum names_array = api::TextArrayDatum(names);
    if (PromoteDue(names_array) > 0) pg::ReadyChanged();
    std::string group_key = names.front();
    for (const auto& n : names) group_key = std::min(group_key, n);

    // The tenants with ready jobs: the last skip scan of this backend for the same queues and
    // job types while nothing was made PENDING since (and not too long ago), else a new one.
    std::string cache_key;
    for (const auto& n : names) cache_key += n + '\x1f';
    cache_key += has_types ? JobTypesKey(job_types) : std::string("*");
    std::map<std::string, Head> heads;
    bool fresh = false;  // `heads` is this call's own scan
    bool stale = false;  // tenants were dropped from `heads` since (they may have lower-priority jobs)
    auto scan = [&] {
      const std::uint64_t generation = pg::ReadyGeneration();  // before the scan's snapshot
      heads.clear();
      for (const auto& n : names) FindHeads(n, job_types, has_types, &heads);
      heads_cache = {cache_key, generation, pg::PgCall([] { return GetCurrentTimestamp(); }), heads};
      fresh = true;
      stale = false;
    };
    const std::int64_t now = pg::PgCall([] { return GetCurrentTimestamp(); });
    if (heads_cache.key == cache_key && heads_cache.generation == pg::ReadyGeneration() &&
        now - heads_cache.taken_at >= 0 && now - heads_cache.taken_at < kHeadsCacheMaxAgeUs) {
      heads = heads_cache.heads;
    } else {
      scan();
    }

    std::map<std::string, TenantRow> settings;
    std::set<std::string> full;          // limited tenants found at their max_running in this call
    for (int round = 0; round < 16 && remaining > 0; ++round) {
      int top = INT_MIN;
      for (const auto& [t, h] : heads) {
        if (full.count(t) == 0) top = std::max(top, h.priority);
      }
      if (top == INT_MIN) {
        if (!heads.empty()) break;        // every tenant left is at its limit
        if (fresh && !stale) break;       // nothing ready
        scan();  // the tenants ran out at their priority: look again (lower priorities, others)
        continue;
      }
      std::vector<Head> contenders;
      for (const auto& [t, h] : heads) {
        if (h.priority == top && full.count(t) == 0) contenders.push_back(h);
      }
      std::sort(contenders.begin(), contenders.end(),
                [](const Head& a, const Head& b) { return a.Before(b); });
      std::vector<std::string> tenants, unknown;
      for (const Head& h : contenders) {
        tenants.push_back(h.tenant);
        if (settings.count(h.tenant) == 0) unknown.push_back(h.tenant);
      }
      if (!unknown.empty()) settings.merge(TenantSettings(unknown));

      // Limits, for all workers together. Queue concurrency_limit: counted under an advisory
      // lock per limited queue, waited for.
      std::vector<std::int64_t> lock_keys;
      std::vector<std::string> limited_queues;
      bool any_rate = false;
      for (const QueueRow& q : group) {
        if (q.concurrency_limit) {
          lock_keys.push_back(LockKey("queue", q.name));
          limited_queues.push_back(q.name);
        }
        any_rate = any_rate || q.rate_limited;
      }
      AdvisoryLocks(lock_keys);
      std::map<std::string, int> running_q;
      if (!limited_queues.empty()) CountRunningQueues(limited_queues, &running_q);

      // Tenant max_running: slot reservations in shared memory (pg/shared_state.hpp), so
      // acquirers of the same tenants neither wait for each other's commits nor count RUNNING
      // jobs on every call: a tenant is counted again only when this backend's count of it is
      // missing, a second old or from before taskflow.tenants changed (see CountEntry).
      std::vector<std::string> limited;
      for (const auto& t : tenants) {
        if (settings[t].max_running) limited.push_back(t);
      }
      if (!limited.empty() && !pg::SlotsAvailable()) {
        throw DomainError(ErrorCode::ObjectNotInPrerequisiteState,
                          "tenant \"" + limited.front() + "\" has a max_running limit, which needs taskflow in shared_preload_libraries",
                          "Add taskflow to shared_preload_libraries in postgresql.conf and restart the server.");
      }
      if (tenant_counts.size() >= kMaxTenantCounts) tenant_counts.clear();  // between rounds only
      std::vector<std::uint32_t> stripes;
      for (const auto& t : limited) stripes.push_back(pg::SlotStripe(t));
      std::vector<pg::SlotView> views = pg::ReadSlots(stripes);
      const std::int64_t round_now = pg::PgCall([] { return GetCurrentTimestamp(); });
      const std::uint64_t limits_generation = pg::LimitsGeneration();
      std::map<std::string, int> tenant_cap;
      std::set<std::string> to_count;
      for (std::size_t i = 0; i < limited.size(); ++i) {
        const std::string& t = limited[i];
        const int limit = *settings[t].max_running;
        const int others = std::max(0, views[i].reserved - views[i].own);
        auto e = tenant_counts.find(t);
        const bool valid = e != tenant_counts.end() && e->second.limits_generation == limits_generation &&
                           round_now - e->second.taken_at >= 0 && round_now - e->second.taken_at < kCountMaxAgeUs;
        const int room = valid ? limit - Bound(e->second, views[i]) : 0;
        // The bound follows starts and ends as they commit: no need to count again, unless it
        // says full while this transaction holds reservations (a rolled-back savepoint's jobs
        // are PENDING again but still reserved: a count sees them as not running).
        if (valid && !(room <= 0 && views[i].own > 0)) {
          tenant_cap[t] = std::max(0, room);
        } else {
          tenant_cap[t] = std::max(0, limit - others);  // unknown: counted below if it gets slots
          to_count.insert(t);
        }
      }

      std::vector<Bucket> buckets;
      for (const auto& t : tenants) any_rate = any_rate || settings[t].rate_limited;
      if (any_rate) buckets = LockBuckets(names, tenants);
      std::map<std::string, int> queue_cap;  // slots each queue may still start
      for (const QueueRow& q : group) {
        int cap = INT_MAX;
        if (q.concurrency_limit) cap = std::max(0, *q.concurrency_limit - running_q[q.name]);
        for (const Bucket& b : buckets) {
          if (b.scope == "queue" && b.name == q.name) cap = std::min(cap, static_cast<int>(b.available));
        }
        queue_cap[q.name] = cap;
      }
      long total_queue_cap = 0;
      for (const auto& [n, c] : queue_cap) total_queue_cap += c;
      const int group_cap = static_cast<int>(std::min<long>(remaining, total_queue_cap));
      if (group_cap <= 0) {
        SpendBuckets(buckets);
        break;
      }

      // Weighted round robin among the contenders.
      std::vector<std::uint64_t> keys;
      for (const auto& t : tenants) keys.push_back(pg::FlowKey(group_key, t));
      std::uint64_t vkey = pg::FlowKey(group_key, std::string("\x01vtime"));
      std::vector<core::Flow> flows;
      for (std::size_t i = 0; i < tenants.size(); ++i) {
        core::Flow f;
        f.tenant = tenants[i];
        f.weight = settings[tenants[i]].weight;
        int cap = group_cap;
        auto tc = tenant_cap.find(tenants[i]);
        if (tc != tenant_cap.end()) cap = std::min(cap, tc->second);
        for (const Bucket& b : buckets) {
          if (b.scope == "tenant" && b.name == tenants[i]) cap = std::min(cap, static_cast<int>(b.available));
        }
        f.cap = cap;
        flows.push_back(f);
      }
      // A big batch goes to at most kTenantsPerCall tenants (a few slots each): each tenant
      // costs an index descent in LockCandidates, and the passes keep the shares over calls.
      const int quantum = (group_cap + kTenantsPerCall - 1) / kTenantsPerCall;
      int allocated = 0;
      pg::UpdatePasses(keys, vkey, [&](std::vector<double>& passes, double vtime) {
        for (std::size_t i = 0; i < flows.size(); ++i) {
          flows[i].pass = core::JoinPass(passes[i], vtime, flows[i].weight);
        }
        allocated = core::AllocateSlots(flows, group_cap, quantum);
        double new_vtime = vtime;
        for (std::size_t i = 0; i < flows.size(); ++i) {
          passes[i] = flows[i].pass;
          if (flows[i].given > 0) new_vtime = std::max(new_vtime, flows[i].pass - 1.0 / std::max(flows[i].weight, 1.0));
        }
        return new_vtime;
      });

      std::vector<std::string> alloc_tenants;
      std::vector<std::int32_t> alloc_counts;
      std::vector<bool> alloc_count;
      std::map<std::string, int> allocated_to;  // slots each tenant was given before trimming
      for (const auto& f : flows) {
        if (f.given > 0) {
          alloc_tenants.push_back(f.tenant);
          alloc_counts.push_back(f.given);
          alloc_count.push_back(to_count.count(f.tenant) != 0);
          allocated_to[f.tenant] = f.given;
        }
      }
      // Locks the candidates and, in the same statement (so after ReadSlots), counts the
      // RUNNING jobs of the limited tenants that need it.
      std::vector<Candidate> cands;
      if (!alloc_tenants.empty()) {
        cands = LockCandidates(names_array, static_cast<int>(names.size()), alloc_tenants, alloc_counts,
                               alloc_count, top, job_types, has_types);
      }
      std::map<std::string, int> locked;
      std::map<std::string, int> fresh_counts;
      for (const Candidate& c : cands) {
        locked[c.tenant]++;
        if (c.running) fresh_counts[c.tenant] = *c.running;
      }
      // Right after the count: what had finished (or was committing) by then.
      std::map<std::string, std::uint64_t> finished_at;
      {
        std::vector<std::string> names_counted;
        std::vector<std::uint32_t> counted_stripes;
        for (const auto& [t, n] : fresh_counts) {
          names_counted.push_back(t);
          counted_stripes.push_back(pg::SlotStripe(t));
        }
        std::vector<std::uint64_t> f = pg::ReadFinished(counted_stripes);
        for (std::size_t i = 0; i < names_counted.size(); ++i) finished_at[names_counted[i]] = f[i];
      }

      // Limited tenants: trim to the room their bound leaves and reserve that. Extra locked
      // jobs stay PENDING (the tenant is at its limit: nobody could start them now anyway).
      bool trimmed = false;  // fewer free slots than estimated: the rest goes out next round
      std::map<std::string, std::pair<std::uint32_t, int>> reserved;  // tenant -> stripe, slots
      {
        const LocalTransactionId lxid = MyProc->lxid;
        std::vector<pg::SlotRequest> requests;
        std::vector<std::size_t> flow_of;
        for (std::size_t i = 0; i < limited.size(); ++i) {
          const std::string& t = limited[i];
          for (std::size_t k = 0; k < flows.size(); ++k) {
            core::Flow& f = flows[k];
            if (f.tenant != t || f.given <= 0) continue;
            const int limit = *settings[t].max_running;
            if (locked[t] == 0) {  // nothing locked (and so not counted): nothing to reserve
              core::ReturnSlots(f, f.given);
              continue;
            }
            if (to_count.count(t) != 0) {
              tenant_counts[t] = {fresh_counts[t], views[i].committed, finished_at[t], views[i].own, lxid,
                                  limits_generation, round_now};
            }
            const CountEntry& e = tenant_counts.at(t);
            const int room = std::max(0, limit - Bound(e, views[i]));
            if (room == 0 && to_count.count(t) != 0) full.insert(t);
            const int keep = std::min({f.given, room, locked[t]});
            if (f.given > keep) {
              if (keep < std::min(f.given, locked[t])) trimmed = true;
              core::ReturnSlots(f, f.given - keep);
            }
            if (f.given > 0) {
              requests.push_back({stripes[i], limit, e.counted, e.committed_at, e.finished_at,
                                  e.lxid == lxid ? e.own_at : 0, f.given});
              flow_of.push_back(k);
            }
          }
        }
        if (!requests.empty()) {
          std::vector<int> granted = pg::ReserveSlots(requests);
          for (std::size_t r = 0; r < requests.size(); ++r) {
            core::Flow& f = flows[flow_of[r]];
            if (granted[r] < f.given) {
              core::ReturnSlots(f, f.given - granted[r]);
              trimmed = true;
            }
            if (granted[r] > 0) reserved[f.tenant] = {requests[r].stripe, granted[r]};
          }
        }
      }

      // Keep each tenant's share and each queue's cap; the rest stays PENDING.
      std::map<std::string, int> share;
      for (const auto& f : flows) share[f.tenant] = f.given;
      std::vector<std::int64_t> chosen;
      std::map<std::string, int> used;
      for (const Candidate& c : cands) {
        if (share[c.tenant] <= 0 || queue_cap[c.queue] <= 0) continue;
        share[c.tenant]--;
        queue_cap[c.queue]--;
        used[c.tenant]++;
        for (Bucket& b : buckets) {
          if ((b.scope == "queue" && b.name == c.queue) || (b.scope == "tenant" && b.name == c.tenant)) {
            b.taken++;
          }
        }
        chosen.push_back(c.id);
      }
      bool exhausted = false;
      std::vector<double> deltas(flows.size(), 0.0);  // slots given out but not used
      for (std::size_t i = 0; i < flows.size(); ++i) {
        const core::Flow& f = flows[i];
        if (allocated_to[f.tenant] > 0 && locked[f.tenant] < allocated_to[f.tenant]) {
          // Fewer ready jobs (not locked by others) than given: none left at this priority.
          // Drop the tenant for this call; the next call scans again.
          heads.erase(f.tenant);
          heads_cache.generation = 0;
          exhausted = true;
          stale = true;
        }
        auto r = reserved.find(f.tenant);
        if (r != reserved.end()) pg::UnreserveSlots(r->second.first, r->second.second - used[f.tenant]);
        deltas[i] = -(allocated_to[f.tenant] - used[f.tenant]) / std::max(f.weight, 1.0);
        core::ReturnSlots(flows[i], f.given - used[f.tenant]);
      }
      pg::AddToPasses(keys, deltas);
      SpendBuckets(buckets);

      std::uint64_t got = chosen.empty() ? 0 : StartAttempts(chosen, worker_id, lease);
      for (std::uint64_t i = 0; i < got; ++i) {
        Datum values[kAcquireColumns];
        bool nulls[kAcquireColumns];
        HeapTuple tuple = SPI_tuptable->vals[i];
        TupleDesc desc = SPI_tuptable->tupdesc;
        pg::PgCall([&] { heap_deform_tuple(tuple, desc, values, nulls); });
        out.PutValues(values, nulls);
      }
      remaining -= static_cast<int>(got);
      // Another round only when it can give something this one could not: slots of tenants
      // that ran out, or whose count was stale. When the round handed out fewer slots than
      // it had, every contender is at its cap already.
      if (!exhausted && !trimmed && (got == 0 || allocated < group_cap)) break;
      // Slots lost to trimming only: not worth another round for the last few (the caller may
      // get up to a tenth fewer than it asked for while tenants are at their limits).
      if (!exhausted && got > 0 && (static_cast<long>(group_cap) - static_cast<long>(got)) * 10 <= group_cap) break;
    }
  }
  return Datum(0);
}
