// Automation rules: taskflow.fire_rule, taskflow.handle_webhook, taskflow._parse_rule, and the
// event rules fired from api::AfterFinished. Rule management (create_rule, alter_rule, ...) is
// plain SQL in sql/src/060_rules.sql; the checks it needs from the core come from _parse_rule.
//
// A firing: the core builds each context as JSON (core::ContextJson), PostgreSQL's jsonpath
// functions evaluate the condition and the placeholders on it (called directly, no executor),
// the core fills the templates, and the jobs go through schedule()'s path (api::ScheduleJob).
// Each firing costs one audit INSERT on top of its jobs.
#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/errors.hpp"
#include "core/rules.hpp"
#include "core/validation.hpp"
#include "api/common.hpp"
#include "api/jobs_insert.hpp"
#include "api/rules.hpp"
#include "api/dependencies.hpp"
#include "pg/settings.hpp"

namespace {

using namespace taskflow;
using core::DomainError;
using core::ErrorCode;

// Rule statements run with parameters that never change their best plan: plan them once.
constexpr auto kGeneric = pg::Statement::Plans::Generic;

// ---- datum helpers ----------------------------------------------------------------------------

std::string JsonbText(Datum value) {
  char* s = pg::PgCall([&] {
    Jsonb* jb = DatumGetJsonbP(value);
    return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
  });
  return std::string(s);
}

Datum JsonbIn(const std::string& text) {
  const char* t = text.c_str();
  return pg::PgCall([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(t)); });
}

Datum JsonpathIn(const std::string& text) {
  const char* t = text.c_str();
  return pg::PgCall([&] { return DirectFunctionCall1(jsonpath_in, CStringGetDatum(t)); });
}

// fn(target, path, vars, silent => true) for the jsonb_path_* functions; *isnull as fn left
// it. Plain PostgreSQL calls: only inside pg::PgCall.
Datum CallPathFunction(PGFunction fn, Datum target, Datum path, Datum vars, bool* isnull) {
  LOCAL_FCINFO(call, 4);
  InitFunctionCallInfoData(*call, nullptr, 4, InvalidOid, nullptr, nullptr);
  call->args[0] = {target, false};
  call->args[1] = {path, false};
  call->args[2] = {vars, false};
  call->args[3] = {BoolGetDatum(true), false};
  Datum d = fn(call);
  *isnull = call->isnull;
  return d;
}

// jsonb_path_match(target, path, vars, silent => true): true, false, or nullopt when the path
// does not yield a single boolean.
std::optional<bool> PathMatch(Datum target, Datum path, Datum vars) {
  int result = pg::PgCall([&] {
    bool isnull = false;
    Datum d = CallPathFunction(jsonb_path_match, target, path, vars, &isnull);
    return isnull ? -1 : (DatumGetBool(d) ? 1 : 0);
  });
  if (result < 0) return std::nullopt;
  return result == 1;
}

// jsonb_path_query_first(target, path, vars, silent => true) as JSON text; nullopt when the
// path selects nothing.
std::optional<std::string> PathFirst(Datum target, Datum path, Datum vars) {
  char* text = pg::PgCall([&]() -> char* {
    bool isnull = false;
    Datum d = CallPathFunction(jsonb_path_query_first, target, path, vars, &isnull);
    if (isnull) return nullptr;
    Jsonb* jb = DatumGetJsonbP(d);
    return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
  });
  if (text == nullptr) return std::nullopt;
  return std::string(text);
}

std::vector<std::int64_t> Int64ArrayElements(Datum array) {
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  pg::PgCall([&] {
    deconstruct_array(DatumGetArrayTypeP(array), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
                      &elems, &nulls, &n);
  });
  std::vector<std::int64_t> out;
  for (int i = 0; i < n; ++i) {
    if (!nulls[i]) out.push_back(DatumGetInt64(elems[i]));
  }
  return out;
}

Datum TextArray(const std::vector<std::string>& values) {
  std::vector<Datum> datums;
  for (const auto& v : values) datums.push_back(pg::TextDatum(v));
  Datum* data = datums.data();
  int n = static_cast<int>(datums.size());
  return pg::PgCall(
      [&] { return PointerGetDatum(construct_array(data, n, TEXTOID, -1, false, TYPALIGN_INT)); });
}

bool MustPropagate(int sqlerrcode) {
  // Cancellation, shutdown and resource exhaustion end the whole statement, not one firing.
  int sqlclass = ERRCODE_TO_CATEGORY(sqlerrcode);
  return sqlclass == ERRCODE_TO_CATEGORY(ERRCODE_QUERY_CANCELED) ||
         sqlclass == ERRCODE_TO_CATEGORY(ERRCODE_OUT_OF_MEMORY) ||
         sqlclass == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES) ||
         sqlclass == ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION) ||
         sqlclass == ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR) ||
         // corruption ends the statement; a plain internal error (XX000, e.g. an elog() in
         // jsonpath code a rule can reach) is one firing's failure, so no tenant can use it
         sqlerrcode == ERRCODE_DATA_CORRUPTED || sqlerrcode == ERRCODE_INDEX_CORRUPTED;
}

// Why a firing created no job: the message and the SQLSTATE, as recorded in rule_firings.
struct FiringError {
  std::string message;
  std::string sqlstate;
};

// Runs `work` in an internal subtransaction, as a PL/pgSQL EXCEPTION block does. On success the
// subtransaction is released (its changes become the caller's); on ANY error (a PostgreSQL
// ERROR caught by PgCall, a DomainError, any other C++ exception) it is rolled back, which also
// undoes what SPI did inside it (AtEOSubXact_SPI resets the executor state and frees the
// tuple tables made inside; the caller's SPI connection, made outside, stays), and the error is
// returned. Errors that must end the statement (cancel, shutdown, out of memory, disk full,
// data corruption) are re-thrown after the rollback. `work` allocates in the caller's memory
// context (as PL/pgSQL does): what it builds there survives a rollback; the subtransaction's
// own contexts and resource owner are gone afterwards, and the caller's are current again.
template <typename Work>
std::optional<FiringError> InSubTransaction(Work&& work) {
  MemoryContext context = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  pg::PgCall([] { BeginInternalSubTransaction(nullptr); });
  MemoryContextSwitchTo(context);
  std::optional<FiringError> error;
  ErrorData* propagate = nullptr;
  ErrorData* caught = nullptr;
  bool out_of_memory = false;
  try {
    work();
  } catch (const pg::PgError& e) {
    ErrorData* d = e.data();
    error = FiringError{e.what(), unpack_sql_state(d->sqlerrcode)};
    if (MustPropagate(d->sqlerrcode))
      propagate = d;
    else
      caught = d;
  } catch (const DomainError& e) {
    error = FiringError{e.what(), core::SqlState(e.code())};
  } catch (const std::bad_alloc&) {
    out_of_memory = true;
    error = FiringError{"out of memory", "53200"};
  } catch (const std::exception& e) {
    error = FiringError{std::string("taskflow internal error: ") + e.what(), "XX000"};
  } catch (...) {
    error = FiringError{"taskflow internal error: unknown C++ exception", "XX000"};
  }
  // Outside the catch blocks: the exception objects are gone before PostgreSQL runs again.
  if (!error) {
    pg::PgCall([] { ReleaseCurrentSubTransaction(); });
  } else {
    pg::PgCall([] { RollbackAndReleaseCurrentSubTransaction(); });
  }
  MemoryContextSwitchTo(context);
  CurrentResourceOwner = owner;
  if (propagate != nullptr) throw pg::PgError(propagate);
  if (out_of_memory) throw std::bad_alloc();
  if (caught != nullptr)
    FreeErrorData(caught);  // copied into `error`; kept in TopTransactionContext
  return error;
}

// A memory context for one firing, reset after it: a call that fires for many tenants or
// many jobs holds one firing's contexts and values at a time, not all of them.
class FiringMemory {
 public:
  FiringMemory() {
    MemoryContext parent = CurrentMemoryContext;
    cxt_ = pg::PgCall([&] {
      return AllocSetContextCreate(parent, "taskflow rule firing", ALLOCSET_DEFAULT_SIZES);
    });
  }
  ~FiringMemory() {
    MemoryContextSwitchTo(MemoryContextGetParent(cxt_));
    MemoryContextDelete(cxt_);
  }
  FiringMemory(const FiringMemory&) = delete;
  FiringMemory& operator=(const FiringMemory&) = delete;
  // Switches into the context for one firing; the next Begin frees what the last one built.
  void Begin() {
    MemoryContextSwitchTo(MemoryContextGetParent(cxt_));
    MemoryContextReset(cxt_);
    MemoryContextSwitchTo(cxt_);
  }

 private:
  MemoryContext cxt_;
};

// The bytes one FireRule call may still build (taskflow.max_rule_render_bytes): contexts,
// placeholder values, filled payloads, over all its tenants.
class RenderBudget {
 public:
  RenderBudget() : left_(static_cast<std::size_t>(std::max(taskflow_max_rule_render_bytes, 0))) {}
  // Takes `bytes` from the budget, or refuses (54000) without taking anything.
  void Take(std::size_t bytes, const char* what) {
    if (bytes > left_) {
      throw DomainError(ErrorCode::ProgramLimitExceeded,
                        std::string("firing refused: ") + what + " would take this call past " +
                            std::to_string(taskflow_max_rule_render_bytes) +
                            " bytes (taskflow.max_rule_render_bytes)",
                        "A firing may build at most this much for all its tenants together.");
    }
    left_ -= bytes;
  }
  std::size_t* left() { return &left_; }

 private:
  std::size_t left_;
};

// ---- firing -----------------------------------------------------------------------------------

struct Target {
  std::string tenant_id;
  std::string attributes_json;
};

// The tenants a firing is evaluated for: every registered tenant ("for_each": "tenant"), or
// the rule's own, with its registered attributes ({} when it is not registered). A rule with
// for_each is an admin's: create_rule and alter_rule refuse it to a role confined to a tenant.
std::vector<Target> Targets(const api::Rule& rule) {
  std::vector<Target> out;
  if (rule.for_each_tenant) {
    static pg::Statement all("SELECT id, attributes::text FROM taskflow.tenants ORDER BY id", {},
                             kGeneric);
    std::uint64_t n = all.Run(nullptr, nullptr);
    SPITupleTable* table = SPI_tuptable;
    for (std::uint64_t i = 0; i < n; ++i) {
      SPI_tuptable = table;
      SPI_processed = n;
      pg::ResultRow row(i);
      out.push_back({row.Text(1).value_or(""), row.Text(2).value_or("{}")});
    }
    return out;
  }
  if (rule.tenant_attributes) return {{rule.tenant_id, *rule.tenant_attributes}};
  static pg::Statement one("SELECT attributes::text FROM taskflow.tenants WHERE id = $1", {TEXTOID},
                           kGeneric);
  pg::Params p;
  p.AddText(rule.tenant_id);
  std::string attributes = "{}";
  if (p.Run(one, false, 1) == 1) attributes = pg::ResultRow(0).Text(1).value_or("{}");
  return {{rule.tenant_id, attributes}};
}

// What one firing (one context) came to.
struct Outcome {
  std::string tenant_id;
  Datum context = 0;  // jsonb, in the firing's memory; 0 when it was not built
  bool matched = false;
  std::vector<std::int64_t> jobs;
  std::optional<FiringError> error;
};

// The filled template as schedule()'s parameters; the job goes through schedule()'s own path.
std::int64_t Enqueue(const core::FilledAction& a, const std::string& tenant_id,
                     const api::Firing& f, const std::string& actor) {
  api::JobSpec spec;
  spec.job_type = a.job_type;
  spec.payload = JsonbIn(a.payload_json);
  spec.queue = a.queue;
  spec.tenant_id = tenant_id;
  if (a.delay) {
    const char* delay = a.delay->c_str();
    spec.run_at = pg::PgCall([&] {
      Datum iv = DirectFunctionCall3(interval_in, CStringGetDatum(delay),
                                     ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
      return static_cast<std::int64_t>(DatumGetTimestampTz(
          DirectFunctionCall2(timestamptz_pl_interval,
                              TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), iv)));
    });
  }
  spec.priority = a.priority;
  spec.max_attempts = a.max_attempts;
  spec.unique_key = a.unique_key;
  spec.correlation_id = f.correlation_id;
  spec.parent_job_id = f.source_job_id;  // an event's follow-ups inherit its job's traceparent
  spec.traceparent = f.traceparent;
  return api::ScheduleJob(spec, actor);
}

// A workflow action: the filled spec through schedule_workflow's own path, in the firing's
// tenant; its nodes inherit the firing's correlation id and trace context, and (event rules) the
// source job as parent, so the chain depth limit stops a rule that keeps restarting itself.
// Returns the workflow's job ids (recorded on the firing).
std::vector<std::int64_t> StartWorkflow(const std::string& spec_json, const std::string& tenant_id,
                                        const api::Firing& f, const std::string& actor) {
  api::WorkflowDefaults defaults;
  defaults.correlation_id = f.correlation_id;
  defaults.traceparent = f.traceparent;
  defaults.parent_job_id = f.source_job_id;
  return api::ScheduleWorkflow(JsonbIn(spec_json), actor, tenant_id, defaults).job_ids;
}

// One firing for one tenant, all of it inside one subtransaction: the context is built, the
// condition and the placeholders are evaluated (PostgreSQL's jsonpath may raise: a missing
// variable, a bad datetime template, ...), the templates are filled and the jobs enqueued
// (schedule()'s checks may raise: a dropped queue, a payload too large, a tenant limit). Any
// error rolls back this firing's jobs and is returned in the outcome; the caller records it.
Outcome FireOne(const api::Rule& rule, const api::Firing& firing, const Target& t,
                const core::NowFields& now, const core::RuleActions* actions,
                const std::optional<FiringError>& refusal, const std::string& job_actor,
                RenderBudget& budget) {
  Outcome o;
  o.tenant_id = t.tenant_id;
  std::size_t limit = static_cast<std::size_t>(std::max(taskflow_max_payload_bytes, 0));
  o.error = InSubTransaction([&] {
    budget.Take(firing.event_json.size() + t.attributes_json.size() + rule.name.size() + 256,
                "the context");
    o.context = JsonbIn(core::ContextJson(firing.event_json, t.tenant_id, t.attributes_json,
                                          rule.id, rule.name, now));
    Datum vars = JsonbIn("{}");
    o.matched =
        !rule.condition || PathMatch(o.context, JsonpathIn(*rule.condition), vars).value_or(false);
    if (!o.matched || refusal || actions == nullptr) return;
    std::vector<std::optional<std::string>> values;
    for (const auto& path : actions->paths()) {
      std::optional<std::string> v = PathFirst(o.context, JsonpathIn(path), vars);
      if (v) {
        if (v->size() > limit) {
          throw DomainError(ErrorCode::ProgramLimitExceeded,
                            "{{ " + path + " }} selects " + std::to_string(v->size()) +
                                " bytes, more than a payload may hold (taskflow.max_payload_bytes "
                                "= " +
                                std::to_string(limit) + ")");
        }
        budget.Take(v->size(), "the placeholder values");
      }
      values.push_back(std::move(v));
    }
    // All templates are filled before anything is enqueued; rendering stops at the limits.
    std::vector<core::FilledAction> filled = actions->Fill(values, limit, budget.left());
    for (const auto& a : filled) {
      if (a.workflow_json) {
        std::vector<std::int64_t> ids =
            StartWorkflow(*a.workflow_json, t.tenant_id, firing, job_actor);
        o.jobs.insert(o.jobs.end(), ids.begin(), ids.end());
      } else {
        o.jobs.push_back(Enqueue(a, t.tenant_id, firing, job_actor));
      }
    }
  });
  if (o.error) o.jobs.clear();
  if (!o.error && o.matched && refusal) o.error = refusal;  // it stopped a firing that held
  return o;
}

void Record(const api::Rule& rule, const api::Firing& f, const Outcome& o,
            const std::string& actor) {
  // The context summary: the tenant and the event. Small events are kept whole (built here, the
  // common case, one plain INSERT); large ones keep only their short scalar top-level fields, so
  // the audit stays small.
  static pg::Statement small(
      "INSERT INTO taskflow.rule_firings (rule_id, source, actor, tenant_id, context, matched, "
      "  job_ids, error, error_sqlstate, source_job_id, chain_depth) "
      "VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11)",
      {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, INT8ARRAYOID, TEXTOID, TEXTOID,
       INT8OID, INT4OID},
      kGeneric);
  static pg::Statement large(
      "INSERT INTO taskflow.rule_firings (rule_id, source, actor, tenant_id, context, matched, "
      "  job_ids, error, error_sqlstate, source_job_id, chain_depth) "
      "SELECT $1, $2, $3, $4, jsonb_build_object('tenant', $4::text, 'event', "
      "  CASE WHEN jsonb_typeof(ev) = 'object' THEN (SELECT COALESCE(jsonb_object_agg(k, v), '{}') "
      "         || '{\"truncated\": true}' FROM jsonb_each(ev) AS e(k, v) "
      "         WHERE jsonb_typeof(v) NOT IN ('object', 'array') AND octet_length(v::text) <= 200) "
      "       ELSE '{\"truncated\": true}' END), $6, $7, $8, $9, $10, $11 "
      "FROM (SELECT $5::jsonb -> 'event' AS ev) s",
      {INT8OID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, BOOLOID, INT8ARRAYOID, TEXTOID, TEXTOID,
       INT8OID, INT4OID},
      kGeneric);
  constexpr std::size_t kWholeEventBytes = 2048;
  bool whole = f.event_json.size() <= kWholeEventBytes;
  bool use_large = !whole && o.context != 0;
  pg::Params p;
  p.AddInt64(rule.id).AddText(f.source).AddText(actor).AddText(o.tenant_id);
  if (whole) {
    p.AddText("{\"tenant\": " + core::JsonString(o.tenant_id) + ", \"event\": " + f.event_json +
              "}");
  } else if (use_large) {
    p.Add(o.context);
  } else {  // a large event whose context was never built (refused before)
    p.AddText("{\"tenant\": " + core::JsonString(o.tenant_id) +
              ", \"event\": {\"truncated\": true}}");
  }
  p.AddBool(o.matched).Add(api::Int64ArrayDatum(o.jobs));
  if (o.error) {
    p.AddText(o.error->message).AddText(o.error->sqlstate);
  } else {
    p.AddNull().AddNull();
  }
  if (f.source_job_id)
    p.AddInt64(*f.source_job_id);
  else
    p.AddNull();
  if (f.chain_depth)
    p.AddInt32(*f.chain_depth);
  else
    p.AddNull();
  p.Run(use_large ? large : small);
}

// Parsed action templates by their JSON text: firing the same rule again skips the parse.
// Small and per backend; a changed rule has a different text and gets its own entry.
const core::RuleActions& CachedActions(const std::string& actions_json) {
  static std::map<std::string, core::RuleActions> cache;
  auto it = cache.find(actions_json);
  if (it != cache.end()) return it->second;
  core::RuleActions parsed = core::RuleActions::Parse(actions_json);  // throws before caching
  if (cache.size() >= 256) cache.clear();
  return cache.emplace(actions_json, std::move(parsed)).first->second;
}

}  // namespace

namespace taskflow::api {

std::vector<std::int64_t> FireRule(const Rule& rule, const Firing& firing) {
  std::optional<core::RuleActions> actions;
  std::optional<FiringError> refusal;
  if (firing.refusal) refusal = FiringError{*firing.refusal, "54000"};
  try {
    actions = CachedActions(rule.actions_json);
  } catch (const DomainError& e) {  // a stored rule that no longer parses
    if (!refusal) refusal = FiringError{e.what(), core::SqlState(e.code())};
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    if (!refusal)
      refusal = FiringError{std::string("taskflow internal error: ") + e.what(), "XX000"};
  }
  std::vector<Target> targets = Targets(rule);
  if (targets.empty()) return {};
  // The transaction's time, from PostgreSQL's epoch (2000-01-01) to Unix microseconds.
  std::int64_t unix_us =
      api::NowMicros() +
      (static_cast<std::int64_t>(POSTGRES_EPOCH_JDATE) - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
  core::NowFields now = core::NowOf(unix_us);

  std::string actor = CallerName();
  std::string job_actor = "rule:" + std::to_string(rule.id);
  std::vector<std::int64_t> all;
  RenderBudget budget;
  FiringMemory memory;
  for (const Target& t : targets) {
    memory.Begin();
    Outcome o =
        FireOne(rule, firing, t, now, actions ? &*actions : nullptr, refusal, job_actor, budget);
    Record(rule, firing, o, actor);
    all.insert(all.end(), o.jobs.begin(), o.jobs.end());
  }
  return all;
}

void FireEventRules(core::JobState to, const std::vector<std::int64_t>& jobs) {
  if (jobs.empty() || !core::IsTerminal(to)) return;
  std::string event = core::EventNameOf(core::ToString(to));
  // Most transitions meet no event rule: answer that from the small partial index first.
  static pg::Statement any(
      "SELECT 1 FROM taskflow.automation_rules WHERE enabled AND event_on = $1 LIMIT 1", {TEXTOID},
      kGeneric);
  pg::Params a;
  a.AddText(event);
  if (a.Run(any, true, 1) == 0) return;

  // Each (job, rule) pair that matches, with the event and the job's chain depth (carried on
  // the job: its parent's depth + 1, so deleting ancestors does not reset it).
  static pg::Statement matches(
      "SELECT r.id, r.tenant_id, r.name, r.condition, r.actions::text, "
      "  COALESCE(t.attributes, '{}')::text, j.id, j.correlation_id, "
      "  jsonb_build_object('type', $2::text, 'job', jsonb_build_object('id', j.id, "
      "    'job_type', j.job_type, 'queue', j.queue, 'tenant_id', j.tenant_id, 'state', j.state, "
      "    'payload', j.payload, 'result', j.result, 'attempts', j.attempts, "
      "    'last_error_type', j.last_error_type, 'last_error_message', j.last_error_message, "
      "    'correlation_id', j.correlation_id, 'parent_job_id', j.parent_job_id, "
      "    'unique_key', j.unique_key, 'finished_at', j.finished_at))::text, "
      "  j.chain_depth "
      "FROM taskflow.jobs j "
      "JOIN taskflow.automation_rules r ON r.enabled AND r.event_on = $2 "
      "  AND r.tenant_id = j.tenant_id "
      "  AND (r.event_job_type IS NULL OR r.event_job_type = j.job_type) "
      "  AND (r.event_queue IS NULL OR r.event_queue = j.queue) "
      "LEFT JOIN taskflow.tenants t ON t.id = r.tenant_id "
      "WHERE j.id = ANY($1) ORDER BY j.id, r.id",
      {INT8ARRAYOID, TEXTOID}, kGeneric);
  pg::Params p;
  p.Add(Int64ArrayDatum(jobs)).AddText(event);
  // Not read-only: the finishing statement changed these rows within this same call.
  std::uint64_t n = p.Run(matches);
  SPITupleTable* table = SPI_tuptable;
  std::vector<std::pair<Rule, Firing>> work;
  work.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    SPI_tuptable = table;
    SPI_processed = n;
    pg::ResultRow row(i);
    Rule rule;
    rule.id = row.Int64(1).value_or(0);
    rule.tenant_id = row.Text(2).value_or("default");
    rule.name = row.Text(3).value_or("");
    rule.condition = row.Text(4);
    rule.actions_json = row.Text(5).value_or("[]");
    rule.tenant_attributes = row.Text(6).value_or("{}");
    Firing f;
    f.source = "event";
    f.source_job_id = row.Int64(7);
    f.correlation_id = row.Text(8);
    f.event_json = row.Text(9).value_or("{}");
    std::int64_t depth64 = static_cast<std::int64_t>(row.Int32(10).value_or(0)) + 1;
    int depth = static_cast<int>(std::min<std::int64_t>(depth64, INT_MAX));
    f.chain_depth = depth;
    if (depth > taskflow_max_chain_depth) {
      f.refusal = "chain too deep: the follow-up jobs would be " + std::to_string(depth) +
                  " levels below the first job, taskflow.max_chain_depth is " +
                  std::to_string(taskflow_max_chain_depth);
    }
    work.emplace_back(std::move(rule), std::move(f));
  }
  for (const auto& [rule, firing] : work) FireRule(rule, firing);
}

}  // namespace taskflow::api

namespace {

// The columns of a rule that firing needs, and its tenant's registered attributes.
constexpr const char* kRuleColumns =
    "SELECT r.id, r.tenant_id, r.name, r.for_each_tenant, r.condition, r.actions::text, "
    "  r.enabled, r.webhook_secret, COALESCE(t.attributes, '{}')::text "
    "FROM taskflow.automation_rules r LEFT JOIN taskflow.tenants t ON t.id = r.tenant_id ";

// Reads row 0 of a kRuleColumns result.
api::Rule ReadRule(bool* enabled, std::optional<std::string>* secret) {
  pg::ResultRow row(0);
  api::Rule r;
  r.id = row.Int64(1).value_or(0);
  r.tenant_id = row.Text(2).value_or("default");
  r.name = row.Text(3).value_or("");
  r.for_each_tenant = row.Bool(4).value_or(false);
  r.condition = row.Text(5);
  r.actions_json = row.Text(6).value_or("[]");
  *enabled = row.Bool(7).value_or(false);
  *secret = row.Text(8);
  r.tenant_attributes = row.Text(9).value_or("{}");
  return r;
}

// ---- the webhook rule cache -----------------------------------------------------------------
// handle_webhook finds its rule by key on every call. The rules (and the tenants whose attributes
// come with them) are cached per backend and dropped whenever either table changes: a statement
// trigger on both (taskflow._rules_changed) sends a relcache invalidation for the table, which
// every backend receives at its next transaction start (and this backend at once, also when the
// change is rolled back), as pg_cron does for its job table.

struct CachedRule {
  api::Rule rule;
  bool enabled = false;
  std::optional<std::string> secret;
  std::uint64_t generation = 0;
};

std::uint64_t rules_generation = 1;  // bumped by every invalidation of the two tables
Oid rules_relid = InvalidOid;
Oid tenants_relid = InvalidOid;

void OnRelcacheInvalidation(Datum, Oid relid) {
  // No catalog access here: only compare and count.
  if (relid == InvalidOid || relid == rules_relid || relid == tenants_relid) {
    ++rules_generation;
    if (relid != InvalidOid) rules_relid = tenants_relid = InvalidOid;  // re-resolve (re-created?)
  }
}

std::unordered_map<std::string, CachedRule>& RuleCache() {
  static std::unordered_map<std::string, CachedRule> cache;
  static bool registered = false;
  if (!registered) {
    pg::PgCall([] { CacheRegisterRelcacheCallback(OnRelcacheInvalidation, Datum(0)); });
    registered = true;
  }
  if (rules_relid == InvalidOid) {
    pg::PgCall([] {
      Oid nsp = get_namespace_oid("taskflow", false);
      rules_relid = get_relname_relid("automation_rules", nsp);
      tenants_relid = get_relname_relid("tenants", nsp);
    });
    ++rules_generation;  // entries cached before the table oids were known are not trusted
  }
  return cache;
}

// Loads a rule for fire_rule; throws 42704 when missing and 55000 when disabled.
api::Rule LoadRule(std::int64_t id) {
  static pg::Statement stmt(std::string(kRuleColumns) + "WHERE r.id = $1", {INT8OID}, kGeneric);
  pg::Params p;
  p.AddInt64(id);
  if (p.Run(stmt, false, 1) == 0) {
    throw DomainError(ErrorCode::UndefinedObject, "rule " + std::to_string(id) + " does not exist");
  }
  bool enabled = false;
  std::optional<std::string> secret;
  api::Rule r = ReadRule(&enabled, &secret);
  if (!enabled) {
    throw DomainError(ErrorCode::ObjectNotInPrerequisiteState,
                      "rule " + std::to_string(id) + " is disabled",
                      "Enable it first: SELECT taskflow.enable_rule(" + std::to_string(id) + ");");
  }
  return r;
}

std::vector<std::uint8_t> HmacSha256(const std::string& secret, const std::string& body) {
  std::vector<std::uint8_t> digest(32);
  const std::uint8_t* key = reinterpret_cast<const std::uint8_t*>(secret.data());
  const std::uint8_t* data = reinterpret_cast<const std::uint8_t*>(body.data());
  std::size_t key_len = secret.size();
  std::size_t data_len = body.size();
  std::uint8_t* out = digest.data();
  bool ok = pg::PgCall([&] {
    pg_hmac_ctx* ctx = pg_hmac_create(PG_SHA256);
    if (ctx == nullptr) return false;
    bool done = pg_hmac_init(ctx, key, key_len) == 0 && pg_hmac_update(ctx, data, data_len) == 0 &&
                pg_hmac_final(ctx, out, 32) == 0;
    pg_hmac_free(ctx);
    return done;
  });
  if (!ok) throw DomainError(ErrorCode::Internal, "could not compute HMAC-SHA256");
  return digest;
}

std::string RandomToken(std::size_t bytes) {
  std::vector<std::uint8_t> buf(bytes);
  std::uint8_t* data = buf.data();
  if (!pg_strong_random(data, bytes)) {
    throw DomainError(ErrorCode::Internal, "could not generate random bytes");
  }
  return core::Base64UrlEncode(buf.data(), buf.size());
}

void PutResult(pg::SetResult& out, const std::vector<std::int64_t>& ids) {
  for (std::int64_t id : ids) {
    Datum v = Int64GetDatum(id);
    bool null = false;
    out.PutValues(&v, &null);
  }
}

}  // namespace

// taskflow.fire_rule(rule_id, context) RETURNS SETOF bigint
TF_FUNCTION(taskflow_fire_rule) {
  pg::RequireArg(fcinfo, 0, "rule_id");
  std::int64_t id = PG_GETARG_INT64(0);
  api::Firing firing;
  firing.source = "fire_rule";
  if (!pg::ArgIsNull(fcinfo, 1)) firing.event_json = JsonbText(PG_GETARG_DATUM(1));
  pg::SetResult out(fcinfo, INT8OID);
  std::vector<std::int64_t> ids;
  {
    pg::SpiConnection spi;
    ids = api::FireRule(LoadRule(id), firing);
  }
  PutResult(out, ids);
  return Datum(0);
}

namespace {

// ---- the stages of handle_webhook -----------------------------------------------------------

// A webhook key's rule (from the cache, else read and cached), as fire_rule would load it.
struct WebhookRule {
  api::Rule rule;
  bool enabled = false;  // false also for an unknown key
  std::optional<std::string> secret;
};

WebhookRule FindWebhookRule(const std::string& key) {
  static pg::Statement lookup(std::string(kRuleColumns) + "WHERE r.webhook_key = $1", {TEXTOID},
                              kGeneric);
  auto& cache = RuleCache();
  WebhookRule out;
  auto hit = cache.find(key);
  if (hit != cache.end() && hit->second.generation == rules_generation) {
    out.rule = hit->second.rule;  // a copy: an invalidation may drop the entry while we fire
    out.enabled = hit->second.enabled;
    out.secret = hit->second.secret;
    return out;
  }
  std::uint64_t generation = rules_generation;  // an invalidation during the read wins
  pg::Params lp;
  lp.AddText(key);
  if (lp.Run(lookup, false, 1) == 1) {
    out.rule = ReadRule(&out.enabled, &out.secret);
    if (cache.size() >= 1024) cache.clear();
    cache[key] =
        CachedRule{out.rule, out.enabled, out.secret, generation};  // unknown keys: not cached
  }
  return out;
}

// Unknown and disabled keys get the same answer: a caller learns nothing about which. A rule
// with a secret needs signature = 'sha256=' || hex HMAC-SHA256 of the raw body.
void AuthenticateWebhook(const WebhookRule& r, const std::optional<std::string>& signature,
                         const std::string& body) {
  if (!r.enabled) {
    throw DomainError(ErrorCode::InvalidAuthorization, "webhook key not accepted",
                      "The key is unknown, or its rule is disabled.");
  }
  if (!r.secret) return;
  const char* hint =
      "Send signature => 'sha256=' || the hex HMAC-SHA256 of the raw body with the rule's "
      "secret.";
  auto given = signature ? core::ParseSha256Signature(*signature) : std::nullopt;
  if (!given) {
    throw DomainError(ErrorCode::InvalidAuthorization,
                      signature ? "webhook signature is malformed" : "webhook signature is missing",
                      hint);
  }
  if (!core::ConstantTimeEquals(*given, HmacSha256(*r.secret, body))) {
    throw DomainError(ErrorCode::InvalidAuthorization, "webhook signature does not match", hint);
  }
}

// Checked here so that the body is one JSON value before it is embedded in the context.
void CheckWebhookBody(const std::string& body) {
  api::CheckJsonTextDepth(body, "webhook body");
  if (!core::IsJson(body)) {
    throw DomainError(ErrorCode::InvalidParameterValue, "webhook body is not valid JSON");
  }
}

// Records the delivery id for the rule; false when it was recorded before (a repeat).
bool ClaimDelivery(std::int64_t rule_id, const std::string& delivery_id) {
  static pg::Statement claim(
      "INSERT INTO taskflow.webhook_deliveries (rule_id, delivery_id) VALUES ($1, $2) "
      "ON CONFLICT DO NOTHING",
      {INT8OID, TEXTOID}, kGeneric);
  pg::Params cp;
  cp.AddInt64(rule_id).AddText(delivery_id);
  return cp.Run(claim) != 0;
}

// A repeated delivery (a concurrent first one has committed by now): the first one's jobs.
std::vector<std::int64_t> FirstDeliveryJobs(std::int64_t rule_id, const std::string& delivery_id) {
  static pg::Statement first(
      "SELECT job_ids FROM taskflow.webhook_deliveries WHERE rule_id = $1 AND delivery_id = $2",
      {INT8OID, TEXTOID}, kGeneric);
  pg::Params fp;
  fp.AddInt64(rule_id).AddText(delivery_id);
  if (fp.Run(first, false, 1) == 1) {
    bool is_null = false;
    Datum jobs = pg::ResultRow(0).Raw(1, &is_null);
    if (!is_null) return Int64ArrayElements(jobs);
  }
  return {};
}

void RememberDeliveryJobs(std::int64_t rule_id, const std::string& delivery_id,
                          const std::vector<std::int64_t>& ids) {
  static pg::Statement remember(
      "UPDATE taskflow.webhook_deliveries SET job_ids = $3 "
      "WHERE rule_id = $1 AND delivery_id = $2",
      {INT8OID, TEXTOID, INT8ARRAYOID}, kGeneric);
  pg::Params rp;
  rp.AddInt64(rule_id).AddText(delivery_id).Add(api::Int64ArrayDatum(ids));
  rp.Run(remember);
}

// Fires the rule for one delivery, once per delivery id: a repeat gets the first one's jobs.
std::vector<std::int64_t> DeliverWebhook(const api::Rule& rule, const std::string& body,
                                         const std::optional<std::string>& delivery_id,
                                         const std::optional<std::string>& traceparent) {
  if (delivery_id && !ClaimDelivery(rule.id, *delivery_id))
    return FirstDeliveryJobs(rule.id, *delivery_id);
  api::Firing firing;
  firing.source = "webhook";
  firing.event_json = core::WebhookEventJson(body, delivery_id);
  firing.traceparent = traceparent;
  std::vector<std::int64_t> ids = api::FireRule(rule, firing);
  if (delivery_id) RememberDeliveryJobs(rule.id, *delivery_id, ids);
  return ids;
}

}  // namespace

// taskflow.handle_webhook(key, body, signature, delivery_id, traceparent) RETURNS SETOF bigint
TF_FUNCTION(taskflow_handle_webhook) {
  pg::RequireArg(fcinfo, 0, "key");
  pg::RequireArg(fcinfo, 1, "body");
  std::string key = pg::ArgText(fcinfo, 0);
  std::string body = pg::ArgText(fcinfo, 1);
  std::optional<std::string> signature = pg::ArgOptText(fcinfo, 2);
  std::optional<std::string> delivery_id = pg::ArgOptText(fcinfo, 3);
  if (delivery_id && (delivery_id->empty() || delivery_id->size() > 200)) {
    throw DomainError(ErrorCode::InvalidParameterValue,
                      "delivery_id must be 1 to 200 characters long");
  }
  std::optional<std::string> traceparent = pg::ArgOptText(fcinfo, 4);
  if (traceparent) core::ValidateTraceparent(*traceparent);
  pg::SetResult out(fcinfo, INT8OID);
  std::vector<std::int64_t> ids;
  {
    pg::SpiConnection spi;
    WebhookRule rule = FindWebhookRule(key);
    AuthenticateWebhook(rule, signature, body);
    CheckWebhookBody(body);
    ids = DeliverWebhook(rule.rule, body, delivery_id, traceparent);
  }
  PutResult(out, ids);
  return Datum(0);
}

// taskflow._rules_changed() RETURNS trigger: statement trigger on automation_rules and tenants;
// drops every backend's webhook rule cache (see RuleCache).
TF_FUNCTION(taskflow_rules_changed) {
  if (!CALLED_AS_TRIGGER(fcinfo)) {
    throw DomainError(ErrorCode::ObjectNotInPrerequisiteState,
                      "taskflow._rules_changed() may only be called as a trigger");
  }
  Relation rel = reinterpret_cast<TriggerData*>(fcinfo->context)->tg_relation;
  pg::PgCall([&] { CacheInvalidateRelcache(rel); });
  return PointerGetDatum(nullptr);
}

// taskflow._parse_rule(name, tenant_id, trigger, actions) RETURNS taskflow._rule_parse
TF_FUNCTION(taskflow_parse_rule) {
  pg::RequireArg(fcinfo, 0, "name");
  pg::RequireArg(fcinfo, 1, "tenant_id");
  pg::RequireArg(fcinfo, 2, "trigger");
  pg::RequireArg(fcinfo, 3, "actions");
  core::ValidateRuleName(pg::ArgText(fcinfo, 0));
  core::ValidateTenantId(pg::ArgText(fcinfo, 1));
  api::CheckJsonDepth(PG_GETARG_DATUM(2), "trigger"),
      api::CheckJsonDepth(PG_GETARG_DATUM(3), "actions");
  core::Trigger t = core::ParseTrigger(JsonbText(PG_GETARG_DATUM(2)));
  // A workflow action's graph within the limits in force now (a later, lower limit makes its
  // firings fail and record why).
  core::RuleActions actions =
      core::RuleActions::Parse(JsonbText(PG_GETARG_DATUM(3)),
                               static_cast<std::size_t>(std::max(taskflow_max_workflow_nodes, 0)),
                               static_cast<std::size_t>(std::max(taskflow_max_workflow_edges, 0)));

  std::optional<std::string> key, secret;
  std::optional<std::string> cron, event_on;
  if (t.type == core::TriggerType::Webhook) {
    key = t.key ? *t.key : RandomToken(core::kGeneratedKeyBytes);
    secret = t.secret_given ? t.secret : RandomToken(core::kGeneratedSecretBytes);
  } else if (t.type == core::TriggerType::Cron) {
    cron = t.schedule;
  } else {
    event_on = t.on;
  }

  std::array<Datum, 13> values{};
  std::array<bool, 13> nulls{};
  auto text = [&](int i, const std::optional<std::string>& v) {
    nulls[i] = !v.has_value();
    values[i] = v ? pg::TextDatum(*v) : Datum(0);
  };
  text(0, std::string(core::ToString(t.type)));
  values[1] = BoolGetDatum(t.for_each_tenant);
  text(2, cron);
  text(3, event_on);
  text(4, t.job_type);
  text(5, t.queue);
  values[6] = BoolGetDatum(t.key.has_value());
  text(7, key);
  values[8] = BoolGetDatum(t.secret_given);
  text(9, secret);
  values[10] = TextArray(actions.paths());
  values[11] = TextArray(actions.queues());
  values[12] = TextArray(actions.delays());

  Datum* v = values.data();
  bool* n = nulls.data();
  return pg::PgCall([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
      elog(ERROR, "taskflow._parse_rule must return a composite type");
    }
    desc = BlessTupleDesc(desc);
    return HeapTupleGetDatum(heap_form_tuple(desc, v, n));
  });
}

// taskflow._jsonpath_variables(path jsonpath) RETURNS text[]: the variables ($name) it names.
TF_FUNCTION(taskflow_jsonpath_variables) {
  pg::RequireArg(fcinfo, 0, "path");
  Datum path = PG_GETARG_DATUM(0);
  char* canonical =
      pg::PgCall([&] { return DatumGetCString(DirectFunctionCall1(jsonpath_out, path)); });
  return TextArray(core::JsonpathVariables(canonical));
}

// taskflow._on_drop_extension() RETURNS event_trigger (ddl_command_start, DROP EXTENSION): when
// the statement drops taskflow, removes the pg_cron jobs of its cron rules
// (taskflow._drop_cron_jobs), in the same transaction.
TF_FUNCTION(taskflow_on_drop_extension) {
  if (!CALLED_AS_EVENT_TRIGGER(fcinfo)) {
    throw DomainError(ErrorCode::ObjectNotInPrerequisiteState,
                      "taskflow._on_drop_extension() may only be called as an event trigger");
  }
  auto* data = reinterpret_cast<EventTriggerData*>(fcinfo->context);
  bool ours = false;
  if (data->parsetree != nullptr && IsA(data->parsetree, DropStmt)) {
    auto* stmt = reinterpret_cast<DropStmt*>(data->parsetree);
    if (stmt->removeType == OBJECT_EXTENSION) {
      ListCell* cell;
      foreach (cell, stmt->objects) {
        Node* name = static_cast<Node*>(lfirst(cell));
        if (name != nullptr && IsA(name, String) && strcmp(strVal(name), "taskflow") == 0)
          ours = true;
      }
    }
  }
  if (ours) {
    pg::SpiConnection spi;
    static pg::Statement drop("SELECT taskflow._drop_cron_jobs()", {});
    drop.Run(nullptr, nullptr);
  }
  PG_RETURN_VOID();
}
