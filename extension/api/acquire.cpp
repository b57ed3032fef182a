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
//
// The arithmetic (caps, slot bounds, trimming, when to stop) is core::acquire_plan, tested
// without PostgreSQL (test/core/acquire_plan_test.cpp); this file runs the SQL stages around it:
// taskflow_acquire → ReadQueueGroups → AcquireFromGroup (per group) → RunRound (per round):
// LoadTenantSettings, LockQueueLimits, EstimateTenantCaps, LockRateLimits, ShareSlots,
// LockChosenJobs, ReserveTenantSlots, KeepWithinCaps, SettleRound, StartAndEmit.
#include <algorithm>
#include <climits>
#include <map>
#include <set>
#include <optional>
#include <string>

#include "core/acquire_plan.hpp"
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
using core::Candidate;
using core::DomainError;
using core::ErrorCode;
using core::Head;
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

std::int64_t LockKey(const std::string& kind, const std::string& name) {
  return static_cast<std::int64_t>(pg::FlowKey("taskflow.limit." + kind, name));
}

// "FROM taskflow.jobs WHERE ...": the jobs in `state` of the queues given as $1 (text[]).
std::string JobsOfQueues(JobState state) {
  return "FROM taskflow.jobs WHERE state = " + api::StateSql(state) + " AND queue = ANY($1)";
}

std::uint64_t PromoteDue(Datum queues) {
  // Usually nothing is due: a read-only probe of jobs_scheduled_idx is far cheaper than
  // starting the promoting statement (two data-modifying CTEs).
  static pg::Statement any_due(
      "SELECT EXISTS (SELECT " + JobsOfQueues(JobState::Scheduled) + " AND next_run_at <= now())",
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
// transaction's that the count saw). Dropped when taskflow.tenants changes and after kCountMaxAgeUs
// (a backstop for RUNNING jobs that did not come through acquire, such as a restore).
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

// The count as the bound's input: a count from an earlier transaction of this backend saw none
// of this transaction's reservations.
core::SlotCount SlotCountOf(const CountEntry& e) {
  return {e.counted, e.committed_at, e.finished_at, e.lxid == MyProc->lxid ? e.own_at : 0};
}

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
      "   WHERE j.queue = $1 AND j.state = " +
          api::StateSql(JobState::Pending) +
          " AND ($2::text[] IS NULL OR j.job_type = ANY($2))"
          "   ORDER BY j.tenant_id, j.priority DESC, j.next_run_at, j.id LIMIT 1)"
          "  UNION ALL"
          "  SELECT n.* FROM t, LATERAL ("
          "   SELECT j.tenant_id, j.priority, j.next_run_at, j.id FROM taskflow.jobs j"
          "   WHERE j.queue = $1 AND j.state = " +
          api::StateSql(JobState::Pending) +
          " AND j.tenant_id > t.tenant_id"
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
      "SELECT queue, count(*)::int " + JobsOfQueues(JobState::Running) + " GROUP BY queue",
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
  std::vector<double> tokens;
  for (const Bucket& b : buckets) {
    scopes.push_back(b.scope);
    names.push_back(b.name);
    tokens.push_back(std::max(0.0, b.available - b.taken));
  }
  Datum token_array = api::Float8ArrayDatum(tokens);
  pg::Params p;
  p.Add(api::TextArrayDatum(scopes)).Add(api::TextArrayDatum(names)).Add(token_array);
  p.Run(stmt);
}

// LockCandidates' statements. $1 the queues, $2 the tenants, $3 how many jobs of each tenant
// ($6: whether the tenant is limited, then its RUNNING jobs are counted), $4 the lowest job
// priority, $5 the job types (NULL: any).
const std::vector<Oid> kCandidateTypes = {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
                                          INT4OID,      TEXTARRAYOID, BOOLARRAYOID};

// Per tenant a (a.tenant, a.k, a.lim): the jobs `jobs` (a subquery of tenant a's jobs) as c,
// with the tenant's RUNNING count when it is limited.
std::string CandidatesSql(const std::string& jobs) {
  return "SELECT c.id, c.queue, c.tenant_id, r.running "
         "FROM unnest($2::text[], $3::int[], $6::bool[]) AS a(tenant, k, lim), "
         "LATERAL (SELECT CASE WHEN a.lim THEN (SELECT count(*)::int FROM taskflow.jobs r "
         "  WHERE r.tenant_id = a.tenant AND r.state = " +
         api::StateSql(JobState::Running) + ") END AS running OFFSET 0) r, LATERAL (" + jobs +
         ") c";
}

// Tenant a's ready jobs (`columns`) of the queue `queue`, best first, at most a.k, locked.
std::string ReadyJobsSql(const std::string& columns, const std::string& queue) {
  return "SELECT " + columns + " FROM taskflow.jobs j WHERE j.queue = " + queue +
         " AND j.tenant_id = a.tenant AND j.state = " + api::StateSql(JobState::Pending) +
         " AND j.priority >= $4 AND ($5::text[] IS NULL OR j.job_type = ANY($5))"
         " ORDER BY j.priority DESC, j.next_run_at, j.id LIMIT a.k FOR UPDATE SKIP LOCKED";
}

// Locks up to `count` ready jobs per tenant at job priority >= min_priority, best first.
std::vector<Candidate> LockCandidates(Datum queues, int queue_count,
                                      const std::vector<std::string>& tenants,
                                      const std::vector<std::int32_t>& counts,
                                      const std::vector<bool>& limited, int min_priority,
                                      Datum job_types, bool has_types) {
  // Several queues of equal priority: the best k of each queue, then the best k of those.
  static pg::Statement many(
      CandidatesSql(
          "SELECT x.* FROM unnest($1::text[]) AS qn(name), LATERAL (" +
          ReadyJobsSql("j.id, j.queue, j.tenant_id, j.priority, j.next_run_at", "qn.name") +
          ") x ORDER BY x.priority DESC, x.next_run_at, x.id LIMIT a.k"),
      kCandidateTypes, kGeneric);
  // One queue (the usual case): one index range per tenant, no re-sorting.
  static pg::Statement one(
      CandidatesSql(ReadyJobsSql("j.id, j.queue, j.tenant_id", "($1::text[])[1]")), kCandidateTypes,
      kGeneric);
  Datum lim_array = api::BoolArrayDatum(limited);
  pg::Params p;
  p.Add(queues).Add(api::TextArrayDatum(tenants)).Add(api::Int32ArrayDatum(counts));
  p.AddInt32(min_priority).Add(job_types, !has_types).Add(lim_array);
  // Not read-only: the count must take its snapshot after pg::ReadSlots.
  std::uint64_t n = p.Run(queue_count == 1 ? one : many);
  std::vector<Candidate> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    out.push_back({row.Int64(1).value_or(0), row.Text(2).value_or(""), row.Text(3).value_or(""),
                   row.Int32(4)});
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
         "  SELECT id, " +
         api::StateSql(JobState::Pending) +
         ", state, $2, 'acquired' FROM upd) "
         "SELECT upd.id, upd.attempts, upd.lease_token, upd.job_type, upd.payload, upd.queue,"
         "  upd.tenant_id, upd.correlation_id, upd.lease_expires_at, upd.timeout, upd.traceparent," +
         std::string(
             v2 ? "  CASE WHEN upd.dependency_count > 0 THEN (SELECT jsonb_agg(jsonb_build_object("
                  // only a job with dependencies pays for reading them (docs/workflows.md): a
                  // scalar subquery behind the CASE runs for those rows only (a LATERAL join ran
                  // an aggregate for every row: this statement took about 10% longer in a plain
                  // drain). Inline (the same query as taskflow._dependency_results), planned once
                  // with this statement. The parent and its node are looked up per edge (LIMIT 1:
                  // both are unique, and it keeps the subquery from being pulled up into a join the
                  // planner may order otherwise). This generic plan is made once per backend;
                  // with plain joins some backends' plans read 140,000 to 310,000 buffers per call
                  // instead of 2,800 (about 5,000 jobs rows fetched per index scan): the
                  // drain-deps stalls in docs/benchmarks.md.
                  // The results are bounded in all by taskflow.max_dependency_results_bytes,
                  // as in _dependency_results (sql/src/032_workflows.sql).
                  "      'job_id', e.depends_on, 'key', e.node_key, 'job_type', e.job_type,"
                  "      'state', e.state, 'on_failure', e.on_failure,"
                  "      'result', CASE WHEN e.passed THEN e.result END,"
                  "      'error_type', e.last_error_type,"
                  "      'error_message', CASE WHEN e.passed THEN e.last_error_message END,"
                  "      'finished_at', e.finished_at)"
                  "      || CASE WHEN e.passed THEN '{}' ELSE '{\"omitted\": true}' END::jsonb"
                  "      ORDER BY e.depends_on)"
                  "    FROM (SELECT d.depends_on, n.node_key, p.job_type,"
                  "        COALESCE(p.state, d.parent_state) AS state, d.on_failure, p.result,"
                  "        p.last_error_type, p.last_error_message, p.finished_at,"
                  "        sum(COALESCE(octet_length(p.result::text), 0)"
                  "          + COALESCE(octet_length(p.last_error_message), 0))"
                  "          OVER (ORDER BY d.depends_on) <= $5 AS passed"
                  "      FROM taskflow.job_dependencies d"
                  "      LEFT JOIN LATERAL (SELECT p.job_type, p.state, p.result, p.last_error_type,"
                  "          p.last_error_message, p.finished_at FROM taskflow.jobs p"
                  "        WHERE p.id = d.depends_on LIMIT 1) p ON true"
                  "      LEFT JOIN LATERAL (SELECT n.node_key FROM taskflow.workflow_nodes n"
                  "        WHERE n.job_id = d.depends_on LIMIT 1) n ON true"
                  "      WHERE d.job_id = upd.id) e) END AS dependencies FROM upd"
                : "  NULL::jsonb AS dependencies FROM upd") +
         "  ORDER BY upd.priority DESC, upd.next_run_at, upd.id";
}

std::uint64_t StartAttempts(const std::vector<std::int64_t>& ids, Datum worker_id,
                            const std::optional<std::int64_t>& lease) {
  // $5 (0.2.0 only): taskflow.max_dependency_results_bytes
  static pg::Statement schema_0_2(
      StartAttemptsSql(true), {INT8ARRAYOID, TEXTOID, INTERVALOID, INTERVALOID, INT8OID}, kGeneric);
  static pg::Statement schema_0_1(StartAttemptsSql(false),
                                  {INT8ARRAYOID, TEXTOID, INTERVALOID, INTERVALOID}, kGeneric);
  pg::Statement& stmt = api::SchemaIs0_2() ? schema_0_2 : schema_0_1;
  std::int64_t default_lease = static_cast<std::int64_t>(taskflow_default_lease_s) * 1000000;
  pg::Params p;
  p.Add(api::Int64ArrayDatum(ids)).Add(worker_id).AddOptInterval(lease).AddInterval(default_lease);
  if (&stmt == &schema_0_2) p.AddInt64(taskflow_max_dependency_results_bytes);
  return p.Run(stmt);
}

// --- The stages of one call ------------------------------------------------------------------

// The arguments of one acquire call that every stage needs.
struct Call {
  Datum worker_id = 0;
  std::optional<std::int64_t> lease;
  Datum job_types = 0;
  bool has_types = false;
  pg::SetResult* out = nullptr;
};

// Requested queues of equal queue priority.
struct Group {
  std::vector<QueueRow> queues;
  std::vector<std::string> names;
  Datum names_array = 0;
  std::string key;  // the smallest name: the group's key in the pass table
};
using Groups = std::map<int, std::vector<QueueRow>, std::greater<int>>;

// The requested queues, grouped by queue priority (highest first). Unknown queue: error (a typo
// would otherwise idle a worker silently); paused queues are skipped.
Groups ReadQueueGroups(Datum queues) {
  static pg::Statement queue_rows(
      "SELECT r.name, q.name IS NOT NULL, q.priority, q.paused, q.concurrency_limit, "
      "  EXISTS (SELECT FROM taskflow.rate_limits l WHERE l.scope = 'queue' AND l.name = r.name) "
      "FROM unnest($1::text[]) WITH ORDINALITY AS r(name, n) "
      "LEFT JOIN taskflow.queues q ON q.name = r.name ORDER BY r.n",
      {TEXTARRAYOID}, kGeneric);
  pg::Params qp;
  qp.Add(queues);
  std::uint64_t nq = qp.Run(queue_rows, true);
  Groups groups;
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
    if (std::none_of(group.begin(), group.end(),
                     [&](const QueueRow& g) { return g.name == q.name; })) {
      group.push_back(q);
    }
  }
  return groups;
}

Group MakeGroup(const std::vector<QueueRow>& queues) {
  Group g;
  g.queues = queues;
  for (const QueueRow& q : queues) g.names.push_back(q.name);
  g.names_array = api::TextArrayDatum(g.names);
  g.key = *std::min_element(g.names.begin(), g.names.end());
  return g;
}

// The tenants with ready jobs in a group: the last skip scan of this backend for the same queues
// and job types while nothing was made PENDING since (and not too long ago), else a new one.
class GroupHeads {
 public:
  GroupHeads(const Group& group, const Call& call) : group_(group), call_(call) {
    for (const auto& n : group.names) cache_key_ += n + '\x1f';
    cache_key_ += call.has_types ? JobTypesKey(call.job_types) : std::string("*");
    const std::int64_t now = pg::PgCall([] { return GetCurrentTimestamp(); });
    if (heads_cache.key == cache_key_ && heads_cache.generation == pg::ReadyGeneration() &&
        now - heads_cache.taken_at >= 0 && now - heads_cache.taken_at < kHeadsCacheMaxAgeUs) {
      heads = heads_cache.heads;
    } else {
      Scan();
    }
  }
  void Scan() {
    const std::uint64_t generation = pg::ReadyGeneration();  // before the scan's snapshot
    heads.clear();
    for (const auto& n : group_.names) FindHeads(n, call_.job_types, call_.has_types, &heads);
    heads_cache = {cache_key_, generation, pg::PgCall([] { return GetCurrentTimestamp(); }), heads};
    fresh = true;
    stale = false;
  }
  // The tenant has no ready jobs left at its priority: dropped for this call; the next call
  // scans again.
  void Drop(const std::string& tenant) {
    heads.erase(tenant);
    heads_cache.generation = 0;
    stale = true;
  }

  std::map<std::string, Head> heads;
  bool fresh = false;  // `heads` is this call's own scan
  bool stale =
      false;  // tenants were dropped from `heads` since (they may have lower-priority jobs)

 private:
  const Group& group_;
  const Call& call_;
  std::string cache_key_;
};

// What one round found, decided and did (the stages below fill it in order).
struct Round {
  int top = 0;                           // the contenders' head job priority
  std::vector<std::string> tenants;      // the contenders, best head first
  std::map<std::string, int> running_q;  // RUNNING jobs of the limited queues
  // Limited tenants (max_running) and their slot table stripes and views.
  std::vector<std::string> limited;
  std::vector<std::uint32_t> stripes;
  std::vector<pg::SlotView> views;
  std::int64_t now = 0;
  std::uint64_t limits_generation = 0;
  std::map<std::string, int> tenant_cap;
  std::set<std::string> to_count;  // limited tenants counted with the lock
  std::vector<Bucket> buckets;
  std::map<std::string, int> queue_cap;  // slots each queue may still start
  int group_cap = 0;
  std::vector<std::uint64_t> keys;  // pass table keys of the contenders
  std::vector<core::Flow> flows;
  int allocated = 0;
  std::map<std::string, int> allocated_to;  // slots each tenant was given before trimming
  std::vector<Candidate> candidates;
  std::map<std::string, int> locked;
  std::map<std::string, int> fresh_counts;
  std::map<std::string, std::uint64_t> finished_at;
  bool trimmed = false;
  std::map<std::string, std::pair<std::uint32_t, int>> reserved;  // tenant -> stripe, slots
  std::vector<std::int64_t> chosen;
  std::map<std::string, int> used;
};

// Weight, max_running and rate limit of the contenders not seen yet in this call.
void LoadTenantSettings(const std::vector<std::string>& tenants,
                        std::map<std::string, TenantRow>* settings) {
  std::vector<std::string> unknown;
  for (const auto& t : tenants) {
    if (settings->count(t) == 0) unknown.push_back(t);
  }
  if (!unknown.empty()) settings->merge(TenantSettings(unknown));
}

// Queue concurrency_limit, for all workers together: RUNNING jobs counted under an advisory lock
// per limited queue, waited for.
void LockQueueLimits(const Group& group, Round* r) {
  std::vector<std::int64_t> lock_keys;
  std::vector<std::string> limited_queues;
  for (const QueueRow& q : group.queues) {
    if (q.concurrency_limit) {
      lock_keys.push_back(LockKey("queue", q.name));
      limited_queues.push_back(q.name);
    }
  }
  AdvisoryLocks(lock_keys);
  if (!limited_queues.empty()) CountRunningQueues(limited_queues, &r->running_q);
}

// This backend's count of a limited tenant as a bound now, when still valid (see CountEntry).
std::optional<std::int64_t> CachedBound(const std::string& tenant, const pg::SlotView& view,
                                        const Round& r) {
  auto e = tenant_counts.find(tenant);
  if (e == tenant_counts.end() || e->second.limits_generation != r.limits_generation)
    return std::nullopt;
  if (r.now - e->second.taken_at < 0 || r.now - e->second.taken_at >= kCountMaxAgeUs)
    return std::nullopt;
  return core::RunningBound(SlotCountOf(e->second), {view.committed, view.finished, view.reserved});
}

// Tenant max_running: slot reservations in shared memory (pg/shared_state.hpp), so acquirers of
// the same tenants neither wait for each other's commits nor count RUNNING jobs on every call: a
// tenant is counted again only when this backend's count of it is missing, a second old or from
// before taskflow.tenants changed (see CountEntry).
void EstimateTenantCaps(std::map<std::string, TenantRow>& settings, Round* r) {
  for (const auto& t : r->tenants) {
    if (settings[t].max_running) r->limited.push_back(t);
  }
  if (!r->limited.empty() && !pg::SlotsAvailable()) {
    throw DomainError(
        ErrorCode::ObjectNotInPrerequisiteState,
        "tenant \"" + r->limited.front() +
            "\" has a max_running limit, which needs taskflow in shared_preload_libraries",
        "Add taskflow to shared_preload_libraries in postgresql.conf and restart the server.");
  }
  if (tenant_counts.size() >= kMaxTenantCounts) tenant_counts.clear();  // between rounds only
  for (const auto& t : r->limited) r->stripes.push_back(pg::SlotStripe(t));
  r->views = pg::ReadSlots(r->stripes);
  r->now = pg::PgCall([] { return GetCurrentTimestamp(); });
  r->limits_generation = pg::LimitsGeneration();
  for (std::size_t i = 0; i < r->limited.size(); ++i) {
    const std::string& t = r->limited[i];
    const pg::SlotView& v = r->views[i];
    const core::TenantCap cap = core::PlanTenantCap(*settings[t].max_running, CachedBound(t, v, *r),
                                                    v.reserved - v.own, v.own);
    r->tenant_cap[t] = cap.cap;
    if (cap.recount) r->to_count.insert(t);
  }
}

// The tokens of the rate limit of (scope, name) among `buckets`, if it has one.
std::optional<double> Tokens(const std::vector<Bucket>& buckets, const char* scope,
                             const std::string& name) {
  std::optional<double> out;
  for (const Bucket& b : buckets) {
    if (b.scope == scope && b.name == name) out = std::min(out.value_or(b.available), b.available);
  }
  return out;
}

// Rate limits of the group's queues and the contenders (row-locked, when there are any), and the
// slots each queue may still start.
void LockRateLimits(const Group& group, std::map<std::string, TenantRow>& settings, int remaining,
                    Round* r) {
  bool any_rate = false;
  for (const QueueRow& q : group.queues) any_rate = any_rate || q.rate_limited;
  for (const auto& t : r->tenants) any_rate = any_rate || settings[t].rate_limited;
  if (any_rate) r->buckets = LockBuckets(group.names, r->tenants);
  std::vector<int> caps;
  for (const QueueRow& q : group.queues) {
    r->queue_cap[q.name] = core::QueueCap(q.concurrency_limit, r->running_q[q.name],
                                          Tokens(r->buckets, "queue", q.name));
  }
  for (const auto& [n, c] : r->queue_cap) caps.push_back(c);
  r->group_cap = core::GroupCap(remaining, caps);
}

// Weighted round robin among the contenders (passes kept in shared memory).
void ShareSlots(const Group& group, std::map<std::string, TenantRow>& settings, Round* r) {
  for (const auto& t : r->tenants) r->keys.push_back(pg::FlowKey(group.key, t));
  const std::uint64_t vkey = pg::FlowKey(group.key, std::string("\x01vtime"));
  for (const auto& t : r->tenants) {
    auto tc = r->tenant_cap.find(t);
    core::Flow f;
    f.tenant = t;
    f.weight = settings[t].weight;
    f.cap = core::FlowCap(r->group_cap,
                          tc == r->tenant_cap.end() ? std::nullopt : std::optional<int>(tc->second),
                          Tokens(r->buckets, "tenant", t));
    r->flows.push_back(f);
  }
  // A big batch goes to at most kTenantsPerCall tenants (a few slots each): each tenant costs an
  // index descent in LockCandidates, and the passes keep the shares over calls.
  const int quantum = core::SlotQuantum(r->group_cap);
  pg::UpdatePasses(r->keys, vkey, [&](std::vector<double>& passes, double vtime) {
    for (std::size_t i = 0; i < r->flows.size(); ++i) {
      r->flows[i].pass = core::JoinPass(passes[i], vtime, r->flows[i].weight);
    }
    r->allocated = core::AllocateSlots(r->flows, r->group_cap, quantum);
    for (std::size_t i = 0; i < r->flows.size(); ++i) passes[i] = r->flows[i].pass;
    return core::VirtualTimeAfter(r->flows, vtime);
  });
  for (const auto& f : r->flows) {
    if (f.given > 0) r->allocated_to[f.tenant] = f.given;
  }
}

// Locks the jobs of the tenants given slots and, in the same statement (so after ReadSlots),
// counts the RUNNING jobs of the limited tenants that need it; then reads what had finished (or
// was committing) right after the count.
void LockChosenJobs(const Group& group, const Call& call, Round* r) {
  std::vector<std::string> tenants;
  std::vector<std::int32_t> counts;
  std::vector<bool> count;
  for (const auto& f : r->flows) {
    if (f.given > 0) {
      tenants.push_back(f.tenant);
      counts.push_back(f.given);
      count.push_back(r->to_count.count(f.tenant) != 0);
    }
  }
  if (!tenants.empty()) {
    r->candidates = LockCandidates(group.names_array, static_cast<int>(group.names.size()), tenants,
                                   counts, count, r->top, call.job_types, call.has_types);
  }
  for (const Candidate& c : r->candidates) {
    r->locked[c.tenant]++;
    if (c.running) r->fresh_counts[c.tenant] = *c.running;
  }
  std::vector<std::string> counted;
  std::vector<std::uint32_t> counted_stripes;
  for (const auto& [t, n] : r->fresh_counts) {
    counted.push_back(t);
    counted_stripes.push_back(pg::SlotStripe(t));
  }
  std::vector<std::uint64_t> f = pg::ReadFinished(counted_stripes);
  for (std::size_t i = 0; i < counted.size(); ++i) r->finished_at[counted[i]] = f[i];
}

// Limited tenants: trim to the room their bound leaves and reserve that. Extra locked jobs stay
// PENDING (the tenant is at its limit: nobody could start them now anyway). Tenants found at
// their limit go into `full`.
void ReserveTenantSlots(std::map<std::string, TenantRow>& settings, std::set<std::string>* full,
                        Round* r) {
  const LocalTransactionId lxid = MyProc->lxid;
  std::map<std::string, std::size_t> flow_index;
  for (std::size_t k = 0; k < r->flows.size(); ++k) flow_index[r->flows[k].tenant] = k;
  std::vector<pg::SlotRequest> requests;
  std::vector<std::size_t> flow_of;
  for (std::size_t i = 0; i < r->limited.size(); ++i) {
    const std::string& t = r->limited[i];
    core::Flow& f = r->flows[flow_index.at(t)];
    if (f.given <= 0) continue;
    const int limit = *settings[t].max_running;
    if (r->locked[t] > 0 && r->to_count.count(t) != 0) {
      tenant_counts[t] = {r->fresh_counts[t],
                          r->views[i].committed,
                          r->finished_at[t],
                          r->views[i].own,
                          lxid,
                          r->limits_generation,
                          r->now};
    }
    int room = 0;
    if (r->locked[t] > 0) {
      const pg::SlotView& v = r->views[i];
      room = core::RoomUnder(limit, core::RunningBound(SlotCountOf(tenant_counts.at(t)),
                                                       {v.committed, v.finished, v.reserved}));
    }
    const core::Trim trim =
        core::TrimToRoom(f.given, r->locked[t], room, r->to_count.count(t) != 0);
    if (trim.full) full->insert(t);
    r->trimmed = r->trimmed || trim.trimmed;
    if (f.given > trim.keep) core::ReturnSlots(f, f.given - trim.keep);
    if (f.given > 0) {
      const core::SlotCount c = SlotCountOf(tenant_counts.at(t));
      requests.push_back(
          {r->stripes[i], limit, c.counted, c.committed_at, c.finished_at, c.own_at, f.given});
      flow_of.push_back(flow_index.at(t));
    }
  }
  if (requests.empty()) return;
  std::vector<int> granted = pg::ReserveSlots(requests);
  for (std::size_t q = 0; q < requests.size(); ++q) {
    core::Flow& f = r->flows[flow_of[q]];
    if (granted[q] < f.given) {
      core::ReturnSlots(f, f.given - granted[q]);
      r->trimmed = true;
    }
    if (granted[q] > 0) r->reserved[f.tenant] = {requests[q].stripe, granted[q]};
  }
}

// Keeps each tenant's share and each queue's cap (spending the rate limits' tokens); the rest of
// the locked jobs stays PENDING.
void KeepWithinCaps(Round* r) {
  std::map<std::string, int> share;
  for (const auto& f : r->flows) share[f.tenant] = f.given;
  for (std::size_t i : core::KeepWithinCaps(r->candidates, share, r->queue_cap)) {
    const Candidate& c = r->candidates[i];
    r->used[c.tenant]++;
    for (Bucket& b : r->buckets) {
      if ((b.scope == "queue" && b.name == c.queue) || (b.scope == "tenant" && b.name == c.tenant))
        b.taken++;
    }
    r->chosen.push_back(c.id);
  }
}

// Gives back what was allocated but not used (reservations, passes) and spends the rate
// limits' tokens. Returns whether a tenant ran out of ready jobs (dropped from `heads`).
bool SettleRound(GroupHeads* heads, Round* r) {
  bool exhausted = false;
  std::vector<double> deltas(r->flows.size(), 0.0);  // slots given out but not used
  for (std::size_t i = 0; i < r->flows.size(); ++i) {
    core::Flow& f = r->flows[i];
    const int allocated = r->allocated_to[f.tenant];
    const int used = r->used[f.tenant];
    // Fewer ready jobs (not locked by others) than given: none left at this priority.
    if (core::RanOut(allocated, r->locked[f.tenant])) {
      heads->Drop(f.tenant);
      exhausted = true;
    }
    auto res = r->reserved.find(f.tenant);
    if (res != r->reserved.end()) pg::UnreserveSlots(res->second.first, res->second.second - used);
    deltas[i] = core::UnusedPassDelta(allocated, used, f.weight);
    core::ReturnSlots(f, f.given - used);
  }
  pg::AddToPasses(r->keys, deltas);
  SpendBuckets(r->buckets);
  return exhausted;
}

// Starts the chosen jobs and hands out their rows. Returns how many were started.
int StartAndEmit(const std::vector<std::int64_t>& chosen, const Call& call) {
  std::uint64_t got = chosen.empty() ? 0 : StartAttempts(chosen, call.worker_id, call.lease);
  for (std::uint64_t i = 0; i < got; ++i) {
    Datum values[kAcquireColumns];
    bool nulls[kAcquireColumns];
    HeapTuple tuple = SPI_tuptable->vals[i];
    TupleDesc desc = SPI_tuptable->tupdesc;
    pg::PgCall([&] { heap_deform_tuple(tuple, desc, values, nulls); });
    call.out->PutValues(values, nulls);
  }
  return static_cast<int>(got);
}

// One round: limits, shares, locks, trimming, starts.
core::RoundOutcome RunRound(const Group& group, const Call& call, int remaining,
                            const std::vector<Head>& contenders,
                            std::map<std::string, TenantRow>& settings, std::set<std::string>* full,
                            GroupHeads* heads) {
  Round r;
  r.top = contenders.front().priority;
  for (const Head& h : contenders) r.tenants.push_back(h.tenant);
  LoadTenantSettings(r.tenants, &settings);
  LockQueueLimits(group, &r);
  EstimateTenantCaps(settings, &r);
  LockRateLimits(group, settings, remaining, &r);
  core::RoundOutcome outcome;
  if (r.group_cap <= 0) {
    SpendBuckets(r.buckets);
    return outcome;  // nothing to hand out: no other round
  }
  ShareSlots(group, settings, &r);
  LockChosenJobs(group, call, &r);
  ReserveTenantSlots(settings, full, &r);
  KeepWithinCaps(&r);
  outcome.exhausted = SettleRound(heads, &r);
  outcome.trimmed = r.trimmed;
  outcome.started = StartAndEmit(r.chosen, call);
  outcome.allocated = r.allocated;
  outcome.group_cap = r.group_cap;
  return outcome;
}

// The jobs of one group of queues, in rounds. Returns how many were started.
int AcquireFromGroup(const Group& group, const Call& call, int remaining) {
  if (PromoteDue(group.names_array) > 0) pg::ReadyChanged();
  GroupHeads heads(group, call);
  std::map<std::string, TenantRow> settings;
  std::set<std::string> full;  // limited tenants found at their max_running in this call
  int started = 0;
  for (int round = 0; round < core::kMaxAcquireRounds && remaining - started > 0; ++round) {
    std::vector<Head> contenders = core::PickContenders(heads.heads, full);
    if (contenders.empty()) {
      if (!core::RescanForContenders(heads.heads.empty(), heads.fresh, heads.stale)) break;
      heads.Scan();
      continue;
    }
    core::RoundOutcome o =
        RunRound(group, call, remaining - started, contenders, settings, &full, &heads);
    started += o.started;
    if (!core::AnotherRound(o)) break;
  }
  return started;
}

}  // namespace

// taskflow.acquire(worker_id, queues, max_jobs, lease, job_types) RETURNS TABLE(...)
TF_FUNCTION(taskflow_acquire) {
  pg::RequireArg(fcinfo, 0, "worker_id");
  pg::RequireArg(fcinfo, 1, "queues");
  Call call;
  call.worker_id = PG_GETARG_DATUM(0);
  const int max_jobs = pg::ArgOptInt32(fcinfo, 2).value_or(1);
  call.lease = pg::ArgOptIntervalMicros(fcinfo, 3);
  core::ValidateMaxJobs(max_jobs);
  if (call.lease) core::ValidateDuration(*call.lease, "lease");
  call.has_types = !pg::ArgIsNull(fcinfo, 4);
  call.job_types = call.has_types ? PG_GETARG_DATUM(4) : Datum(0);

  pg::SetResult out(fcinfo);
  call.out = &out;
  pg::SpiConnection spi;
  api::RequireUnconfined("acquire");  // a confined session never takes another tenant's job

  int remaining = max_jobs;
  for (const auto& [queue_priority, queues] : ReadQueueGroups(PG_GETARG_DATUM(1))) {
    if (remaining <= 0) break;
    remaining -= AcquireFromGroup(MakeGroup(queues), call, remaining);
  }
  return Datum(0);
}
