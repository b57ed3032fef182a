// taskflow.acquire: hands ready jobs to a worker.
//
// Per group of requested queues with equal queue priority (highest first), each round:
//  1. promotes the group's due SCHEDULED jobs to PENDING (so acquire sees them at once);
//  2. finds the tenants with ready jobs by a skip scan of jobs_ready_idx (queue, tenant, ...):
//     its cost grows with the tenants that HAVE ready jobs, not with the registered ones;
//  3. applies the limits for all workers together: queue concurrency_limit and tenant
//     max_running (RUNNING jobs counted under transaction advisory locks, so concurrent
//     acquirers cannot both take the last slot), and rate limits (token buckets, row-locked);
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
#include "api/common.hpp"
#include "pg/settings.hpp"
#include "pg/shared_state.hpp"

using namespace taskflow;
using core::DomainError;
using core::ErrorCode;
using core::JobEvent;
using core::JobState;

namespace {

constexpr int kAcquireColumns = 10;
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

void PromoteDue(Datum queues) {
  // Usually nothing is due: a read-only probe of jobs_scheduled_idx is far cheaper than
  // starting the promoting statement (two data-modifying CTEs).
  static pg::Statement any_due(
      "SELECT EXISTS (SELECT FROM taskflow.jobs WHERE state = 'SCHEDULED' "
      "AND next_run_at <= now() AND queue = ANY($1))",
      {TEXTARRAYOID}, kGeneric);
  pg::Params probe;
  probe.Add(queues);
  probe.Run(any_due, true);
  if (!pg::ResultRow(0).Bool(1).value_or(false)) return;
  static pg::Statement stmt(
      "WITH due AS (SELECT id FROM taskflow.jobs WHERE state IN " +
          api::SourceStatesSql(JobEvent::Promote) +
          "  AND next_run_at <= now() AND queue = ANY($1) "
          "  ORDER BY next_run_at LIMIT 1000 FOR UPDATE SKIP LOCKED), "
          "upd AS (UPDATE taskflow.jobs j SET state = " +
          api::TargetStateSql(JobState::Scheduled, JobEvent::Promote) +
          "  FROM due WHERE j.id = due.id RETURNING j.id, j.state), "
          "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
          "  SELECT id, 'SCHEDULED', state, 'scheduler', 'due' FROM upd) "
          "SELECT count(*) FROM upd",
      {TEXTARRAYOID}, kGeneric);
  pg::Params p;
  p.Add(queues);
  p.Run(stmt);
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

// RUNNING jobs per queue and per tenant (of the ones asked), counted after the advisory locks.
void CountRunning(const std::vector<std::string>& queues, const std::vector<std::string>& tenants,
                  std::map<std::string, int>* per_queue, std::map<std::string, int>* per_tenant) {
  static pg::Statement stmt(
      "SELECT 'q', queue, count(*)::int FROM taskflow.jobs WHERE state = 'RUNNING' "
      "  AND queue = ANY($1) GROUP BY queue "
      "UNION ALL SELECT 't', tenant_id, count(*)::int FROM taskflow.jobs WHERE state = 'RUNNING' "
      "  AND tenant_id = ANY($2) GROUP BY tenant_id",
      {TEXTARRAYOID, TEXTARRAYOID}, kGeneric);
  pg::Params p;
  p.Add(api::TextArrayDatum(queues)).Add(api::TextArrayDatum(tenants));
  std::uint64_t n = p.Run(stmt);  // not read-only: a fresh snapshot after taking the locks
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    auto& m = row.Text(1).value_or("") == "q" ? *per_queue : *per_tenant;
    m[row.Text(2).value_or("")] = row.Int32(3).value_or(0);
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

// Tenant limits: take what is free and skip tenants another acquirer is serving right now
// (like SKIP LOCKED), so acquirers of many limited tenants do not queue behind each other.
std::set<std::int64_t> TryAdvisoryLocks(std::vector<std::int64_t> keys) {
  std::set<std::int64_t> got;
  if (keys.empty()) return got;
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  // A random order per call: try-locks cannot deadlock, and concurrent acquirers then end up
  // with different tenants instead of the first one taking them all.
  for (std::size_t i = keys.size(); i > 1; --i) {
    auto j = static_cast<std::size_t>(api::UnitRandom() * static_cast<double>(i));
    std::swap(keys[i - 1], keys[std::min(j, i - 1)]);
  }
  static pg::Statement stmt(
      "SELECT k FROM unnest($1::bigint[]) k WHERE pg_try_advisory_xact_lock(k)", {INT8ARRAYOID}, kGeneric);
  pg::Params p;
  p.Add(api::Int64ArrayDatum(keys));
  std::uint64_t n = p.Run(stmt);
  for (std::uint64_t i = 0; i < n; ++i) got.insert(pg::ResultRow(i).Int64(1).value_or(0));
  return got;
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
};

// Locks up to `count` ready jobs per tenant at job priority >= min_priority, best first.
std::vector<Candidate> LockCandidates(Datum queues, const std::vector<std::string>& tenants,
                                      const std::vector<std::int32_t>& counts, int min_priority,
                                      Datum job_types, bool has_types) {
  static pg::Statement stmt(
      "SELECT c.id, c.queue, c.tenant_id FROM unnest($2::text[], $3::int[]) AS a(tenant, k), "
      "LATERAL (SELECT x.* FROM unnest($1::text[]) AS qn(name), LATERAL ("
      "    SELECT j.id, j.queue, j.tenant_id, j.priority, j.next_run_at FROM taskflow.jobs j"
      "    WHERE j.queue = qn.name AND j.tenant_id = a.tenant AND j.state = 'PENDING'"
      "      AND j.priority >= $4 AND ($5::text[] IS NULL OR j.job_type = ANY($5))"
      "    ORDER BY j.priority DESC, j.next_run_at, j.id LIMIT a.k FOR UPDATE SKIP LOCKED) x"
      "  ORDER BY x.priority DESC, x.next_run_at, x.id LIMIT a.k) c",
      {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, INT4OID, TEXTARRAYOID}, kGeneric);
  pg::Params p;
  p.Add(queues).Add(api::TextArrayDatum(tenants)).Add(api::Int32ArrayDatum(counts));
  p.AddInt32(min_priority).Add(job_types, !has_types);
  std::uint64_t n = p.Run(stmt);
  std::vector<Candidate> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    out.push_back({row.Int64(1).value_or(0), row.Text(2).value_or(""), row.Text(3).value_or("")});
  }
  return out;
}

// Starts an attempt for each chosen job (Acquire transition from the core table) and returns
// the rows acquire() hands out, in acquisition order.
std::uint64_t StartAttempts(const std::vector<std::int64_t>& ids, Datum worker_id,
                            const std::optional<std::int64_t>& lease) {
  static pg::Statement stmt(
      "WITH upd AS ("
      "  UPDATE taskflow.jobs j SET state = " +
          api::TargetStateSql(JobState::Pending, JobEvent::Acquire) +
          "    , attempts = j.attempts + 1, lease_token = gen_random_uuid(),"
          "    lease_duration = COALESCE($3, q.lease, $4),"
          "    lease_expires_at = now() + COALESCE($3, q.lease, $4),"
          "    started_at = now(), worker_id = $2"
          "  FROM taskflow.queues q WHERE j.id = ANY($1) AND q.name = j.queue AND j.state IN " +
          api::SourceStatesSql(JobEvent::Acquire) +
          "  RETURNING j.id, j.attempts, j.lease_token, j.job_type, j.payload, j.queue, j.tenant_id,"
          "    j.correlation_id, j.lease_expires_at, j.timeout, j.state, j.priority, j.next_run_at), "
          "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason)"
          "  SELECT id, 'PENDING', state, $2, 'acquired' FROM upd) "
          "SELECT id, attempts, lease_token, job_type, payload, queue, tenant_id, correlation_id,"
          "  lease_expires_at, timeout FROM upd ORDER BY priority DESC, next_run_at, id",
      {INT8ARRAYOID, TEXTOID, INTERVALOID, INTERVALOID}, kGeneric);
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
  if (lease && *lease <= 0) {
    throw DomainError(ErrorCode::InvalidParameterValue, "lease must be greater than zero");
  }
  bool has_types = !pg::ArgIsNull(fcinfo, 4);
  Datum job_types = has_types ? PG_GETARG_DATUM(4) : Datum(0);

  pg::SetResult out(fcinfo);
  pg::SpiConnection spi;

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
    PromoteDue(names_array);
    std::string group_key = names.front();
    for (const auto& n : names) group_key = std::min(group_key, n);

    std::set<std::string> skip;  // limited tenants another acquirer is serving now
    for (int round = 0; round < 16 && remaining > 0; ++round) {
      std::map<std::string, Head> heads;
      for (const auto& n : names) FindHeads(n, job_types, has_types, &heads);
      if (heads.empty()) break;
      int top = INT_MIN;
      for (const auto& [t, h] : heads) top = std::max(top, h.priority);
      std::vector<Head> contenders;
      for (const auto& [t, h] : heads) {
        if (h.priority == top) contenders.push_back(h);
      }
      std::sort(contenders.begin(), contenders.end(),
                [](const Head& a, const Head& b) { return a.Before(b); });
      std::vector<std::string> tenants;
      for (const Head& h : contenders) tenants.push_back(h.tenant);

      // Limits, for all workers together.
      std::map<std::string, TenantRow> settings = TenantSettings(tenants);
      std::vector<std::int64_t> lock_keys;
      std::vector<std::string> limited_queues, limited_tenants;
      bool any_rate = false;
      for (const QueueRow& q : group) {
        if (q.concurrency_limit) {
          lock_keys.push_back(LockKey("queue", q.name));
          limited_queues.push_back(q.name);
        }
        any_rate = any_rate || q.rate_limited;
      }
      // Tenant limits, optimistically: count the limited contenders' RUNNING jobs without a
      // lock, share the slots, then lock only the tenants that got some (try-lock: a tenant
      // another acquirer is serving is skipped for the rest of this call) and re-count those
      // under their lock. Acquirers thus spread over the tenants instead of queueing.
      for (const auto& [t, s] : settings) {
        if (s.max_running && skip.count(t) == 0) limited_tenants.push_back(t);
      }
      AdvisoryLocks(lock_keys);  // queue limits: one lock per limited queue, waited for
      std::map<std::string, int> running_q, running_t;
      if (!limited_queues.empty() || !limited_tenants.empty()) {
        CountRunning(limited_queues, limited_tenants, &running_q, &running_t);
      }
      std::vector<Bucket> buckets;
      for (const auto& [t, s] : settings) any_rate = any_rate || s.rate_limited;
      if (any_rate) buckets = LockBuckets(names, tenants);
      std::map<std::string, int> queue_cap;  // slots each queue may still start
      int group_cap = remaining;
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
      group_cap = static_cast<int>(std::min<long>(group_cap, total_queue_cap));
      if (group_cap <= 0) break;

      // Weighted round robin among the contenders.
      std::vector<std::uint64_t> keys;
      for (const auto& t : tenants) keys.push_back(pg::FlowKey(group_key, t));
      std::uint64_t vkey = pg::FlowKey(group_key, std::string("\x01vtime"));
      std::vector<double> passes;
      double vtime = 0;
      pg::LoadPasses(keys, vkey, &passes, &vtime);
      std::vector<core::Flow> flows;
      for (std::size_t i = 0; i < tenants.size(); ++i) {
        core::Flow f;
        f.tenant = tenants[i];
        auto s = settings.find(tenants[i]);
        f.weight = s != settings.end() ? s->second.weight : 1.0;
        f.pass = core::JoinPass(passes[i], vtime, f.weight);
        int cap = skip.count(tenants[i]) != 0 ? 0 : group_cap;
        if (s != settings.end() && s->second.max_running) {
          cap = std::min(cap, std::max(0, *s->second.max_running - running_t[tenants[i]]));
        }
        for (const Bucket& b : buckets) {
          if (b.scope == "tenant" && b.name == tenants[i]) cap = std::min(cap, static_cast<int>(b.available));
        }
        f.cap = cap;
        flows.push_back(f);
      }
      if (core::AllocateSlots(flows, group_cap) == 0) break;

      // Lock the limited tenants that got slots and trim them to their exact free slots. Only
      // as many as the call can fill are tried (in random order): a batch of 100 with a limit
      // of 4 needs about 25 tenants, and locking all 100 would exclude every other acquirer.
      bool skipped = false;
      std::set<std::string> deferred;  // not tried this round: enough slots without them
      {
        std::vector<std::string> candidates;
        for (const auto& f : flows) {
          auto st = settings.find(f.tenant);
          if (f.given > 0 && st != settings.end() && st->second.max_running) {
            candidates.push_back(f.tenant);
          }
        }
        for (std::size_t i = candidates.size(); i > 1; --i) {
          auto j = static_cast<std::size_t>(api::UnitRandom() * static_cast<double>(i));
          std::swap(candidates[i - 1], candidates[std::min(j, i - 1)]);
        }
        int unlimited_given = 0;
        for (const auto& f : flows) {
          auto st = settings.find(f.tenant);
          if (st == settings.end() || !st->second.max_running) unlimited_given += f.given;
        }
        std::vector<std::int64_t> want;
        std::vector<std::string> want_tenants;
        long covered = unlimited_given;
        for (const auto& t : candidates) {
          if (covered >= group_cap) {
            deferred.insert(t);
            continue;
          }
          want.push_back(LockKey("tenant", t));
          want_tenants.push_back(t);
          covered += std::max(0, *settings[t].max_running - running_t[t]);
        }
        std::set<std::int64_t> held = TryAdvisoryLocks(want);
        std::vector<std::string> locked;
        for (const auto& t : want_tenants) {
          if (held.count(LockKey("tenant", t)) != 0) {
            locked.push_back(t);
          } else {
            skip.insert(t);
            skipped = true;
          }
        }
        std::map<std::string, int> exact_q, exact_t;
        if (!locked.empty()) CountRunning({}, locked, &exact_q, &exact_t);
        std::map<std::string, int> allowed;  // exact free slots of the limited tenants we hold
        for (auto& f : flows) {
          if (f.given <= 0) continue;
          auto st = settings.find(f.tenant);
          if (st == settings.end() || !st->second.max_running) continue;
          int a = (skip.count(f.tenant) != 0 || deferred.count(f.tenant) != 0)
                      ? 0
                      : std::max(0, *st->second.max_running - exact_t[f.tenant]);
          allowed[f.tenant] = a;
          if (f.given > a) core::ReturnSlots(f, f.given - a);
        }
        // Slots given back by busy tenants go, in the same round, to the tenants this call
        // holds (up to their exact free slots) and to unlimited ones: no extra round trip.
        int given_total = 0;
        for (const auto& f : flows) given_total += f.given;
        if ((skipped || !deferred.empty()) && given_total < group_cap) {
          std::vector<core::Flow> more;
          std::vector<std::size_t> index;
          for (std::size_t i = 0; i < flows.size(); ++i) {
            const core::Flow& f = flows[i];
            auto st = settings.find(f.tenant);
            bool limited = st != settings.end() && st->second.max_running.has_value();
            if (skip.count(f.tenant) != 0 || deferred.count(f.tenant) != 0) continue;
            if (limited && allowed.count(f.tenant) == 0) continue;  // not locked by us
            core::Flow extra = f;
            // f.cap already holds the rate-limit and group caps; a held limited tenant is
            // further bounded by its exact free slots.
            extra.cap = limited ? std::min(allowed[f.tenant], f.cap) - f.given : f.cap - f.given;
            if (extra.cap <= 0) continue;
            more.push_back(extra);
            index.push_back(i);
          }
          core::AllocateSlots(more, group_cap - given_total);
          for (std::size_t k = 0; k < more.size(); ++k) {
            flows[index[k]].given += more[k].given;
            flows[index[k]].pass = more[k].pass;
          }
        }
      }

      std::vector<std::string> alloc_tenants;
      std::vector<std::int32_t> alloc_counts;
      for (const auto& f : flows) {
        if (f.given > 0) {
          alloc_tenants.push_back(f.tenant);
          alloc_counts.push_back(f.given);
        }
      }
      std::vector<Candidate> cands =
          LockCandidates(names_array, alloc_tenants, alloc_counts, top, job_types, has_types);

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
      double new_vtime = vtime;
      for (std::size_t i = 0; i < flows.size(); ++i) {
        core::ReturnSlots(flows[i], flows[i].given - used[flows[i].tenant]);
        passes[i] = flows[i].pass;
        if (flows[i].given > 0) new_vtime = std::max(new_vtime, flows[i].pass - 1.0 / std::max(flows[i].weight, 1.0));
      }
      pg::StorePasses(keys, passes, vkey, new_vtime);
      SpendBuckets(buckets);
      if (chosen.empty()) {
        if (skipped) continue;  // other tenants may still have free slots
        break;
      }

      std::uint64_t got = StartAttempts(chosen, worker_id, lease);
      for (std::uint64_t i = 0; i < got; ++i) {
        Datum values[kAcquireColumns];
        bool nulls[kAcquireColumns];
        HeapTuple tuple = SPI_tuptable->vals[i];
        TupleDesc desc = SPI_tuptable->tupdesc;
        pg::PgCall([&] { heap_deform_tuple(tuple, desc, values, nulls); });
        out.PutValues(values, nulls);
      }
      remaining -= static_cast<int>(got);
    }
  }
  return Datum(0);
}
