#include "sql_api.hpp"

#include <string_view>

#include <taskflow/json_limits.hpp>

#include "duration.hpp"
#include "pg_array.hpp"

namespace taskflow {
namespace {

// The columns of taskflow.acquire() the worker reads, in the order JobFromAcquireRow() parses
// them (one place for both: a new column goes here and there). Timestamps and intervals come
// back as milliseconds so no text parsing is needed.
constexpr const char* kAcquireColumns =
    "job_id, attempt, lease_token::text, job_type, payload::text, queue, tenant_id, correlation_id, "
    "(extract(epoch FROM timeout) * 1000)::bigint";
// Read only where acquire() returns them (0.2.0 and later): the job's W3C trace context and
// the outcomes of the jobs it depends on (workflows).
constexpr const char* kAcquireTraceColumn = ", traceparent, dependencies::text";

constexpr const char* kAcquireFrom = R"SQL(
  FROM taskflow.acquire(worker_id => $1, queues => $2::text[], max_jobs => $3::int,
                        lease => $4::interval, job_types => $5::text[]))SQL";

std::string AcquireStatement(bool with_trace) {
  return std::string("SELECT ") + kAcquireColumns + (with_trace ? kAcquireTraceColumn : "") +
         kAcquireFrom;
}

// One acquire() row (the columns above) as a Job.
Job JobFromAcquireRow(const pqxx::row& row) {
  Job job;
  job.id = row[0].as<std::int64_t>();
  job.attempt = row[1].as<int>();
  job.lease_token = row[2].as<std::string>();
  job.type = row[3].as<std::string>();
  // A payload is any jsonb a tenant scheduled: bounded before nlohmann's recursive parts see it.
  if (row[4].is_null()) {
    job.payload = nlohmann::json::object();
  } else if (JsonDeeperThan(std::string_view(row[4].c_str(), row[4].size()), kMaxJsonDepth)) {
    job.payload_error = "the payload nests arrays and objects deeper than " +
                        std::to_string(kMaxJsonDepth) +
                        " levels, which this worker does not hand to handlers";
  } else {
    job.payload = nlohmann::json::parse(row[4].c_str());
  }
  job.queue = row[5].as<std::string>();
  job.tenant_id = row[6].is_null() ? "" : row[6].as<std::string>();
  job.correlation_id = row[7].is_null() ? "" : row[7].as<std::string>();
  if (!row[8].is_null()) job.timeout = Milliseconds(row[8].as<long long>());
  if (row.size() > 9 && !row[9].is_null()) job.traceparent = row[9].as<std::string>();
  // The dependencies' results come from other jobs of the tenant: bounded like the payload.
  if (row.size() > 10 && !row[10].is_null() && job.payload_error.empty()) {
    if (JsonDeeperThan(std::string_view(row[10].c_str(), row[10].size()), kMaxJsonDepth)) {
      job.payload_error = "the results of the job's dependencies nest deeper than " +
                          std::to_string(kMaxJsonDepth) +
                          " levels, which this worker does not hand to handlers";
    } else {
      job.dependencies = nlohmann::json::parse(row[10].c_str());
    }
  }
  return job;
}

// Whether acquire() returns a traceparent column (asked once per connection).
constexpr const char* kAcquireHasTrace = R"SQL(
SELECT coalesce((SELECT 'traceparent' = ANY(proargnames) FROM pg_catalog.pg_proc
                  WHERE oid = to_regprocedure('taskflow.acquire(text,text[],integer,interval,text[])')), false))SQL";

constexpr const char* kHeartbeat = R"SQL(
SELECT job_id, status FROM taskflow.heartbeat_many($1::bigint[], $2::uuid[], $3::interval))SQL";

constexpr const char* kCompleteMany = R"SQL(
SELECT taskflow.complete_many($1::bigint[], $2::uuid[], $3::jsonb[]))SQL";

constexpr const char* kComplete = R"SQL(
SELECT taskflow.complete($1::bigint, $2::uuid, $3::jsonb)::text)SQL";

constexpr const char* kFail = R"SQL(
SELECT taskflow.fail($1::bigint, $2::uuid, $3::text, $4::text, $5::boolean)::text)SQL";

constexpr const char* kRelease = R"SQL(
SELECT taskflow.release($1::bigint, $2::uuid)::text)SQL";

constexpr const char* kSnooze = R"SQL(
SELECT taskflow.snooze($1::bigint, $2::uuid, $3::interval)::text)SQL";

// A startup check with a clear message instead of "function does not exist" later.
constexpr const char* kCheckExtension = R"SQL(
SELECT to_regprocedure('taskflow.acquire(text,text[],integer,interval,text[])') IS NOT NULL)SQL";

// A server going away shows up as broken_connection or in_doubt_error, or as an sql_error of
// class 08 (connection exception) or 57P (operator intervention: shutdown). A deadlock or
// serialization failure did nothing and may simply be sent again (a Completer's complete_many
// and the Heartbeater's heartbeat_many lock the same running jobs).
StoreError::Kind KindOf(const std::string& sqlstate) {
  if (sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0)
    return StoreError::Kind::kConnectionLost;
  if (sqlstate == "40P01" || sqlstate == "40001") return StoreError::Kind::kTransient;
  return StoreError::Kind::kRejected;
}

// Runs `call`, turning libpqxx's errors into StoreError: the parts never see libpqxx.
template <typename F>
auto Translated(F&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const pqxx::broken_connection& e) {
    throw StoreError(StoreError::Kind::kConnectionLost, "", e.what());
  } catch (const pqxx::in_doubt_error& e) {
    throw StoreError(StoreError::Kind::kConnectionLost, "", e.what());
  } catch (const pqxx::sql_error& e) {
    throw StoreError(KindOf(e.sqlstate()), e.sqlstate(), e.what());
  }
}

std::optional<std::string> StateOrNull(const pqxx::result& rows) {
  if (rows.empty() || rows[0][0].is_null()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

}  // namespace

class SqlApi::Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, const std::string& channel, std::atomic<bool>& flag)
      : pqxx::notification_receiver(conn, channel), flag_(flag) {}
  void operator()(const std::string&, int) override { flag_.store(true); }

 private:
  std::atomic<bool>& flag_;
};

SqlApi::SqlApi(const std::string& database_url) {
  Translated([&] {
    conn_ = std::make_unique<pqxx::connection>(database_url);
    conn_->prepare("taskflow_acquire", AcquireStatement(false));
    conn_->prepare("taskflow_acquire_trace", AcquireStatement(true));
    conn_->prepare("taskflow_heartbeat", kHeartbeat);
    conn_->prepare("taskflow_complete_many", kCompleteMany);
    conn_->prepare("taskflow_complete", kComplete);
    conn_->prepare("taskflow_fail", kFail);
    conn_->prepare("taskflow_release", kRelease);
    conn_->prepare("taskflow_snooze", kSnooze);  // prepared on first use (libpqxx 6)
  });
}

SqlApi::~SqlApi() {
  receivers_.clear();  // before the connection they are registered with
}

void SqlApi::CheckExtension() {
  const bool installed = Translated([&] {
    pqxx::nontransaction tx(*conn_);
    return tx.exec1(kCheckExtension)[0].as<bool>();
  });
  if (!installed) {
    throw StartupError("the taskflow extension is not installed in database '" +
                       std::string(conn_->dbname()) + "' (CREATE EXTENSION taskflow)");
  }
}

// Each call is one statement in autocommit (nontransaction): one round trip, and
// a lost connection leaves exactly one statement in doubt.
std::vector<Job> SqlApi::Acquire(const std::string& worker_id,
                                 const std::vector<std::string>& queues, int max_jobs,
                                 Milliseconds lease,
                                 const std::optional<std::vector<std::string>>& job_types) {
  return Translated([&] {
    pqxx::nontransaction tx(*conn_);
    if (!acquire_has_trace_) acquire_has_trace_ = tx.exec1(kAcquireHasTrace)[0].as<bool>();
    const char* statement = *acquire_has_trace_ ? "taskflow_acquire_trace" : "taskflow_acquire";
    const std::string queue_array = ToPgArray(queues);
    const pqxx::result rows = job_types
                                  ? tx.exec_prepared(statement, worker_id, queue_array, max_jobs,
                                                     ToIntervalText(lease), ToPgArray(*job_types))
                                  : tx.exec_prepared(statement, worker_id, queue_array, max_jobs,
                                                     ToIntervalText(lease), nullptr);
    std::vector<Job> jobs;
    jobs.reserve(rows.size());
    for (const auto& row : rows) jobs.push_back(JobFromAcquireRow(row));
    return jobs;
  });
}

namespace {

// The job_ids and lease_tokens arrays of heartbeat and complete_many, as PostgreSQL arrays.
struct LeaseArrays {
  std::string ids, tokens;
  explicit LeaseArrays(const std::vector<Lease>& leases) {
    std::vector<std::string> id_texts, token_texts;
    for (const auto& lease : leases) {
      id_texts.push_back(std::to_string(lease.job_id));
      token_texts.push_back(lease.lease_token);
    }
    ids = ToPgArray(id_texts);
    tokens = ToPgArray(token_texts);
  }
};

}  // namespace

std::vector<std::pair<std::int64_t, std::string>> SqlApi::Heartbeat(
    const std::vector<Lease>& leases, Milliseconds extend) {
  const LeaseArrays arrays(leases);
  return Translated([&] {
    pqxx::nontransaction tx(*conn_);
    const pqxx::result rows =
        tx.exec_prepared("taskflow_heartbeat", arrays.ids, arrays.tokens, ToIntervalText(extend));
    std::vector<std::pair<std::int64_t, std::string>> out;
    for (const auto& row : rows) {
      out.emplace_back(row[0].as<std::int64_t>(),
                       row[1].is_null() ? "lost" : row[1].as<std::string>());
    }
    return out;
  });
}

long SqlApi::CompleteMany(const std::vector<Lease>& leases,
                          const std::vector<std::optional<std::string>>& results) {
  const LeaseArrays arrays(leases);
  return Translated([&] {
    pqxx::nontransaction tx(*conn_);
    const pqxx::result rows =
        tx.exec_prepared("taskflow_complete_many", arrays.ids, arrays.tokens, ToPgArray(results));
    return rows.empty() || rows[0][0].is_null() ? 0L : rows[0][0].as<long>();
  });
}

std::optional<std::string> SqlApi::Complete(const Lease& lease,
                                            const std::optional<std::string>& result) {
  return Translated([&] {
    pqxx::nontransaction tx(*conn_);
    return StateOrNull(
        result ? tx.exec_prepared("taskflow_complete", lease.job_id, lease.lease_token, *result)
               : tx.exec_prepared("taskflow_complete", lease.job_id, lease.lease_token, nullptr));
  });
}

std::optional<std::string> SqlApi::Fail(const Lease& lease, const std::string& error_type,
                                        const std::string& error_message, bool retryable) {
  return Translated([&] {
    pqxx::nontransaction tx(*conn_);
    return StateOrNull(tx.exec_prepared("taskflow_fail", lease.job_id, lease.lease_token,
                                        error_type, error_message, retryable));
  });
}

std::optional<std::string> SqlApi::Release(const Lease& lease) {
  return Translated([&] {
    pqxx::nontransaction tx(*conn_);
    return StateOrNull(tx.exec_prepared("taskflow_release", lease.job_id, lease.lease_token));
  });
}

std::optional<std::string> SqlApi::Snooze(const Lease& lease, Milliseconds delay,
                                          const std::string& reason) {
  try {
    return Translated([&] {
      pqxx::nontransaction tx(*conn_);
      return StateOrNull(tx.exec_prepared("taskflow_snooze", lease.job_id, lease.lease_token,
                                          ToIntervalText(delay)));
    });
  } catch (const StoreError& e) {
    if (e.sqlstate() != "42883") throw;
  }
  // An extension without taskflow.snooze (before 0.2.0): a retryable failure instead.
  return Fail(lease, "snooze_unsupported",
              reason + " (this database's taskflow has no snooze(); failed as retryable instead)",
              true);
}

void SqlApi::SetSynchronousCommit(bool on) {
  Translated([&] {
    pqxx::nontransaction tx(*conn_);
    tx.exec(on ? "SET synchronous_commit TO on" : "SET synchronous_commit TO off");
  });
}

void SqlApi::Listen(const std::vector<std::string>& queues, std::atomic<bool>& flag) {
  Translated([&] {
    for (const auto& queue : queues) {
      receivers_.push_back(std::make_unique<Receiver>(*conn_, ChannelFor(queue), flag));
    }
  });
}

int SqlApi::ReadNotifications() {
  return Translated([&] { return conn_->get_notifs(); });
}

int SqlApi::Socket() const { return conn_->sock(); }

StoreFactory SqlApiFactory(std::string database_url) {
  return [url = std::move(database_url)]() -> std::unique_ptr<JobStore> {
    return std::make_unique<SqlApi>(url);
  };
}

}  // namespace taskflow
