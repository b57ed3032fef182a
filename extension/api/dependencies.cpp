// Workflows: waiting for dependencies, release, failure propagation, re-arming, and
// schedule_workflow. See dependencies.hpp and docs/workflows.md.
#include <string>
#include <utility>

// core first: its headers refuse to be parsed after postgres.h (cpp_only.hpp).
#include "core/errors.hpp"
#include "core/validation.hpp"
#include "core/workflow.hpp"
#include "api/common.hpp"
#include "api/dependencies.hpp"
#include "api/jobs_insert.hpp"
#include "api/tenancy.hpp"
#include "pg/settings.hpp"

namespace taskflow::api {

using core::DomainError;
using core::ErrorCode;
using core::JobEvent;
using core::JobState;
using core::OnDependencyFailure;

namespace {

// SQL condition "this final state cancels a dependent on an edge with policy p", from the core
// rule (DependencyCancels), evaluated for every final state.
std::string CancelsSql(const std::string& state_expr, const std::string& policy_expr) {
  std::string out = "(";
  bool first = true;
  for (JobState s : core::kAllJobStates) {
    for (OnDependencyFailure p : {OnDependencyFailure::Cancel, OnDependencyFailure::Run}) {
      if (!core::DependencyCancels(s, p)) continue;
      if (!first) out += " OR ";
      first = false;
      out += "(" + state_expr + " = " + StateSql(s) + " AND " + policy_expr + " = '" +
             std::string(core::ToString(p)) + "')";
    }
  }
  return first ? "false" : out + ")";
}

std::vector<std::int64_t> ReadIds(std::uint64_t n, int column) {
  std::vector<std::int64_t> ids;
  ids.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) ids.push_back(pg::ResultRow(i).Int64(column).value_or(0));
  return ids;
}

}  // namespace

DependencyCheck CheckDependencies(Datum ids, const std::string& tenant,
                                  OnDependencyFailure policy) {
  // Shape first, without locking anything: size bound and NULL elements.
  static pg::Statement shape(
      "SELECT count(*)::bigint, count(x)::bigint FROM unnest($1::bigint[]) x", {INT8ARRAYOID});
  {
    pg::Params p;
    p.Add(ids);
    p.Run(shape, true);
    pg::ResultRow row(0);
    std::int64_t total = row.Int64(1).value_or(0), non_null = row.Int64(2).value_or(0);
    if (total != non_null) {
      throw DomainError(ErrorCode::InvalidParameterValue, "depends_on must not contain NULL");
    }
    if (total > taskflow_max_workflow_nodes) {
      throw DomainError(ErrorCode::InvalidParameterValue,
                        "depends_on has " + std::to_string(total) + " jobs, the limit is " +
                            std::to_string(taskflow_max_workflow_nodes),
                        "taskflow.max_workflow_nodes sets the limit.");
    }
  }
  // Lock the dependencies the caller may see, in ascending id order (every caller locks in this
  // order, so two of them cannot deadlock). The tenant is part of the condition, so another
  // tenant's row is never locked or waited for (a lock wait would reveal that it exists).
  static pg::Statement lock(
      "SELECT j.id, CASE WHEN j.state IN " + StateListSql(core::FinalStates()) +
          " THEN j.state::text END "
          "FROM taskflow.jobs j WHERE j.id IN (SELECT DISTINCT x FROM unnest($1::bigint[]) x) "
          "  AND j.tenant_id = $2 AND ($3::text IS NULL OR j.tenant_id = $3) "
          "ORDER BY j.id FOR SHARE OF j",
      {INT8ARRAYOID, TEXTOID, TEXTOID});
  pg::Params p;
  p.Add(ids).AddText(tenant).AddOptText(CallerTenant());
  std::uint64_t n = p.Run(lock);
  DependencyCheck check;
  std::vector<std::string> waiting_for;
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    check.ids.push_back(row.Int64(1).value_or(0));
    check.final_states.push_back(row.Text(2).value_or(""));
    if (check.final_states.back().empty()) {
      ++check.unresolved;
      waiting_for.push_back("job " + std::to_string(check.ids.back()));
    }
  }
  // Anything asked for and not found: missing, or in another tenant (same answer).
  static pg::Statement missing(
      "SELECT x FROM unnest($1::bigint[]) x WHERE x <> ALL($2::bigint[]) ORDER BY x LIMIT 1",
      {INT8ARRAYOID, INT8ARRAYOID});
  {
    pg::Params q;
    q.Add(ids).Add(Int64ArrayDatum(check.ids));
    if (q.Run(missing, true, 1) == 1) {
      throw DomainError(ErrorCode::InvalidParameterValue,
                        "dependency " + std::to_string(pg::ResultRow(0).Int64(1).value_or(0)) +
                            " does not exist in tenant \"" + tenant + "\"",
                        "A job can only depend on jobs of its own tenant.");
    }
  }
  for (std::size_t i = 0; i < check.ids.size(); ++i) {
    auto s = core::ParseJobState(check.final_states[i]);
    if (s && core::DependencyCancels(*s, policy)) {
      throw DomainError(ErrorCode::ObjectNotInPrerequisiteState,
                        "cannot depend on job " + std::to_string(check.ids[i]) + ": it is " +
                            check.final_states[i],
                        "Retry it first, or pass on_dependency_failure => 'run'.");
    }
  }
  if (check.unresolved > 0) check.wait_reason = core::WaitReason(waiting_for);
  return check;
}

void InsertDependencies(std::int64_t job_id, const std::string& tenant,
                        const DependencyCheck& check, OnDependencyFailure policy) {
  if (check.ids.empty()) return;
  static pg::Statement insert(
      "INSERT INTO taskflow.job_dependencies (job_id, depends_on, tenant_id, on_failure, "
      "  parent_state, resolved_at) "
      "SELECT $1, d.id, $3, $4, NULLIF(d.state, '')::taskflow.job_state, "
      "  CASE WHEN d.state <> '' THEN now() END "
      "FROM unnest($2::bigint[], $5::text[]) AS d(id, state)",
      {INT8OID, INT8ARRAYOID, TEXTOID, TEXTOID, TEXTARRAYOID});
  pg::Params p;
  p.AddInt64(job_id).Add(Int64ArrayDatum(check.ids)).AddText(tenant);
  p.AddText(core::ToString(policy)).Add(TextArrayDatum(check.final_states));
  p.Run(insert);
}

namespace {

// The SQL of one resolution round of ResolveDependencies ($1: the finished jobs).
std::string ResolveRoundSql() {
  // One round: the unresolved edges from `frontier` whose job has finished are resolved; each
  // dependent's counter drops by its resolved edges in one UPDATE of its row (locked first, in
  // ascending id order). A waiting dependent is cancelled when a resolved edge cancels it, else
  // released when its counter reaches 0. The states written come from the core table.
  const std::string cancelled = TargetStateSql(JobState::Scheduled, JobEvent::Cancel);
  const std::string released = TargetStateSql(JobState::Scheduled, JobEvent::Unblock);
  return "WITH e AS MATERIALIZED (SELECT d.job_id, d.depends_on, d.on_failure, p.state AS pstate "
         "  FROM taskflow.job_dependencies d JOIN taskflow.jobs p ON p.id = d.depends_on "
         "  WHERE d.depends_on = ANY($1) AND d.parent_state IS NULL AND p.state IN " +
         StateListSql(core::FinalStates()) +
         "), "
         "c AS MATERIALIZED (SELECT job_id, count(*)::int AS n, "
         "  (array_agg('dependency ' || depends_on || ' ended ' || pstate ORDER BY depends_on) "
         "     FILTER (WHERE " +
         CancelsSql("pstate", "on_failure") +
         "))[1] AS culprit, "
         "  (array_agg('job ' || depends_on || ' (' || pstate || ')' ORDER BY depends_on DESC))[1] AS last "
         "  FROM e GROUP BY job_id), "
         // The dependents, locked in id order, with their round's figures: every later step
         // reads this one CTE (joining two CTEs rescans one per row: quadratic in the batch).
         "lk AS MATERIALIZED (SELECT j.id, j.state AS old_state, "
         "    (j.state IN " +
         SourceStatesSql(JobEvent::Unblock) +
         " AND j.dependencies_pending > 0) AS waiting, "
         "    c.n, c.culprit, c.last "
         "  FROM c JOIN taskflow.jobs j ON j.id = c.job_id ORDER BY j.id FOR UPDATE OF j), "
         "upd AS (UPDATE taskflow.jobs j SET dependencies_pending = j.dependencies_pending - lk.n, "
         "    state = CASE WHEN NOT lk.waiting THEN j.state "
         "                 WHEN lk.culprit IS NOT NULL THEN " +
         cancelled +
         "::taskflow.job_state "
         "                 WHEN j.dependencies_pending - lk.n > 0 THEN j.state "
         "                 WHEN COALESCE(j.wait_run_at, now()) <= now() THEN " +
         released +
         "::taskflow.job_state "
         "                 ELSE j.state END, "
         "    next_run_at = CASE WHEN lk.waiting AND lk.culprit IS NULL AND j.dependencies_pending - lk.n = 0 "
         "                       THEN GREATEST(COALESCE(j.wait_run_at, now()), now()) ELSE j.next_run_at END, "
         "    finished_at = CASE WHEN lk.waiting AND lk.culprit IS NOT NULL THEN now() ELSE j.finished_at END, "
         "    cancel_reason = CASE WHEN lk.waiting AND lk.culprit IS NOT NULL THEN lk.culprit "
         "                         ELSE j.cancel_reason END "
         "  FROM lk WHERE j.id = lk.id "
         "  RETURNING j.id, lk.old_state, lk.waiting, j.state, j.queue, j.next_run_at, "
         "    j.dependencies_pending, lk.culprit, lk.last), "
         // An edge cancelled its dependent when the dependent was waiting, this round cancels it
         // (a culprit) and the edge's own outcome cancels: the dependents cancelled, as an array
         // built once (an InitPlan), not a join.
         "de AS (UPDATE taskflow.job_dependencies d SET parent_state = e.pstate, resolved_at = now(), "
         "    cancelled_child = (d.job_id = ANY(COALESCE((SELECT array_agg(x.id) FROM lk x "
         "        WHERE x.waiting AND x.culprit IS NOT NULL), '{}'::bigint[])) AND " +
         CancelsSql("e.pstate", "e.on_failure") +
         ") "
         "  FROM e WHERE d.job_id = e.job_id AND d.depends_on = e.depends_on), "
         "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
         "  SELECT id, old_state, state, 'workflow', "
         "    CASE WHEN culprit IS NOT NULL THEN 'cancelled: ' || culprit "
         "         WHEN state = old_state THEN 'dependencies met, released by ' || last || "
         "           '; waiting for run_at' "
         "         ELSE 'dependencies met, released by ' || last END "
         "  FROM upd WHERE waiting AND (culprit IS NOT NULL OR dependencies_pending = 0)) "
         "SELECT id, state::text, queue FROM upd WHERE waiting AND state <> old_state";
}

}  // namespace

void ResolveDependencies(const std::vector<std::int64_t>& jobs,
                         void (*fire)(JobState, const std::vector<std::int64_t>&)) {
  if (!SchemaIs0_2()) return;  // a 0.1.0 schema not updated yet has no dependencies
  // The finished jobs other jobs wait for. A plain read of one index: the round statement
  // opens every index of its three tables even when it changes nothing, which cost a drain
  // without workflows about 5% (docs/benchmarks.md). Not read-only: its snapshot is taken
  // after the finishing UPDATE, so it sees an edge whose transaction that UPDATE waited for.
  static pg::Statement waited_for(
      "SELECT DISTINCT depends_on FROM taskflow.job_dependencies "
      "WHERE depends_on = ANY($1) AND parent_state IS NULL",
      {INT8ARRAYOID});
  static pg::Statement round(ResolveRoundSql(), {INT8ARRAYOID});
  std::vector<std::int64_t> frontier;
  {
    pg::Params p;
    p.Add(Int64ArrayDatum(jobs));
    frontier = ReadIds(p.Run(waited_for), 1);
  }
  while (!frontier.empty()) {
    pg::Params p;
    p.Add(Int64ArrayDatum(frontier));
    std::uint64_t n = p.Run(round);
    std::vector<std::int64_t> now_cancelled;
    std::vector<std::string> ready_queues;
    for (std::uint64_t i = 0; i < n; ++i) {
      pg::ResultRow row(i);
      auto state = core::ParseJobState(row.Text(2).value_or(""));
      if (state == JobState::Cancelled) {
        now_cancelled.push_back(row.Int64(1).value_or(0));
      } else if (state == JobState::Pending) {
        ready_queues.push_back(row.Text(3).value_or("default"));
      }
    }
    for (const std::string& q : ready_queues) NotifyQueue(q);  // at most once per queue
    if (!now_cancelled.empty() && fire != nullptr) fire(JobState::Cancelled, now_cancelled);
    frontier = std::move(now_cancelled);
  }
}

int UnresolvedDependencies(std::int64_t job_id) {
  if (!SchemaIs0_2()) return 0;
  static pg::Statement stmt(
      "SELECT count(*)::int FROM taskflow.job_dependencies WHERE job_id = $1 AND parent_state IS NULL",
      {INT8OID});
  pg::Params p;
  p.AddInt64(job_id);
  p.Run(stmt);
  return pg::ResultRow(0).Int32(1).value_or(0);
}

int RearmDependents(std::int64_t job_id) {
  if (!SchemaIs0_2()) return 0;
  // One round: the resolved edges from `frontier` whose dependent still waits (it will wait for
  // the retried job again) or was cancelled by that edge (it is re-armed, unless another
  // finished dependency still cancels it: then it stays CANCELLED, now because of that one).
  const std::string rearmed = TargetStateSql(JobState::Cancelled, JobEvent::Rearm);
  static pg::Statement round(
      "WITH e AS MATERIALIZED (SELECT d.job_id, d.depends_on FROM taskflow.job_dependencies d "
      "  JOIN taskflow.jobs c ON c.id = d.job_id "
      "  WHERE d.depends_on = ANY($1) AND d.parent_state IS NOT NULL "
      "    AND ((c.state = " +
          StateSql(JobState::Scheduled) +
          " AND c.dependencies_pending > 0) "
          "         OR (d.cancelled_child AND c.state = " +
          StateSql(JobState::Cancelled) +
          "))), "
          "lk AS MATERIALIZED (SELECT j.id, j.state AS old_state FROM taskflow.jobs j "
          "  WHERE j.id IN (SELECT job_id FROM e) ORDER BY j.id FOR UPDATE OF j), "
          "c AS MATERIALIZED (SELECT e.job_id, count(*)::int AS n, "
          "  (SELECT d2.depends_on FROM taskflow.job_dependencies d2 WHERE d2.job_id = e.job_id "
          "     AND " +
          CancelsSql("d2.parent_state", "d2.on_failure") +
          "     AND NOT EXISTS (SELECT FROM e e2 WHERE e2.job_id = d2.job_id AND e2.depends_on = d2.depends_on) "
          "   ORDER BY d2.depends_on LIMIT 1) AS blocker, "
          "  min(e.depends_on) AS retried FROM e GROUP BY e.job_id), "
          "re AS (UPDATE taskflow.job_dependencies d SET parent_state = NULL, resolved_at = NULL, "
          "  cancelled_child = false FROM e WHERE d.job_id = e.job_id AND d.depends_on = e.depends_on), "
          "upd AS (UPDATE taskflow.jobs j SET dependencies_pending = j.dependencies_pending + c.n, "
          "    state = CASE WHEN lk.old_state = " +
          StateSql(JobState::Cancelled) +
          " AND c.blocker IS NULL "
          "                 THEN " +
          rearmed +
          "::taskflow.job_state ELSE j.state END, "
          "    next_run_at = CASE WHEN lk.old_state = " +
          StateSql(JobState::Cancelled) +
          " AND c.blocker IS NULL "
          "                       THEN 'infinity' ELSE j.next_run_at END, "
          "    finished_at = CASE WHEN lk.old_state = " +
          StateSql(JobState::Cancelled) +
          " AND c.blocker IS NULL "
          "                       THEN NULL ELSE j.finished_at END, "
          "    budget_offset = CASE WHEN lk.old_state = " +
          StateSql(JobState::Cancelled) +
          " AND c.blocker IS NULL "
          "                         THEN j.attempts ELSE j.budget_offset END, "
          "    cancel_requested = false, "
          "    cancel_reason = CASE WHEN lk.old_state <> " +
          StateSql(JobState::Cancelled) +
          " THEN j.cancel_reason "
          "      WHEN c.blocker IS NULL THEN NULL "
          "      ELSE (SELECT 'dependency ' || d.depends_on || ' ended ' || d.parent_state "
          "            FROM taskflow.job_dependencies d WHERE d.job_id = j.id AND d.depends_on = c.blocker) END "
          "  FROM c JOIN lk ON lk.id = c.job_id WHERE j.id = c.job_id "
          "  RETURNING j.id, lk.old_state, j.state, c.blocker, c.retried), "
          "bl AS (UPDATE taskflow.job_dependencies d SET cancelled_child = true FROM upd "
          "  WHERE upd.blocker IS NOT NULL AND upd.old_state = " +
          StateSql(JobState::Cancelled) +
          " "
          "    AND d.job_id = upd.id AND d.depends_on = upd.blocker), "
          "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
          "  SELECT id, old_state, state, 'workflow', "
          "    're-armed: dependency ' || retried || ' was retried' FROM upd WHERE state <> old_state) "
          "SELECT id FROM upd WHERE state <> old_state ORDER BY id",
      {INT8ARRAYOID});
  int total = 0;
  std::vector<std::int64_t> frontier{job_id};
  while (!frontier.empty()) {
    pg::Params p;
    p.Add(Int64ArrayDatum(frontier));
    std::uint64_t n = p.Run(round);
    frontier = ReadIds(n, 1);
    total += static_cast<int>(frontier.size());
  }
  return total;
}

namespace {

[[noreturn]] void BadSpec(const std::string& message, const std::string& hint = {}) {
  throw DomainError(ErrorCode::InvalidParameterValue, message, hint);
}

// spec is an object, and not deeper than spec -> nodes -> node -> a payload of the JSON limit.
void CheckSpecShape(Datum spec) {
  if (!pg::InspectJsonb(spec).is_object) {
    BadSpec("spec must be a JSON object",
            "Example: '{\"nodes\": [{\"key\": \"a\", \"job_type\": \"x\"}, {\"key\": \"b\", "
            "\"job_type\": \"y\"}], \"edges\": [{\"from\": \"a\", \"to\": \"b\"}]}'");
  }
  // Depth before anything walks it: spec -> nodes -> node -> payload.
  long child = -1;
  if (pg::JsonbDepth(spec, core::kMaxJsonDepth + 3, &child) > core::kMaxJsonDepth + 3) {
    core::ValidateJsonDepth(core::kMaxJsonDepth + 1, "spec: a node's payload");
  }
}

struct SpecHeader {
  std::optional<std::string> name, tenant_requested;
  int node_count = 0, edge_count = 0;
};

// The top-level keys, their types and the sizes of nodes and edges, before any element is read.
SpecHeader ReadSpecHeader(Datum spec) {
  static pg::Statement top(
      "SELECT (SELECT string_agg(k, ', ') FROM jsonb_object_keys($1) k "
      "        WHERE k NOT IN ('name', 'tenant_id', 'nodes', 'edges')), "
      "  jsonb_typeof($1 -> 'nodes'), jsonb_typeof($1 -> 'edges'), "
      "  jsonb_typeof($1 -> 'name'), jsonb_typeof($1 -> 'tenant_id'), "
      "  CASE WHEN jsonb_typeof($1 -> 'nodes') = 'array' THEN jsonb_array_length($1 -> 'nodes') END, "
      "  CASE WHEN jsonb_typeof($1 -> 'edges') = 'array' THEN jsonb_array_length($1 -> 'edges') END, "
      "  $1 ->> 'name', $1 ->> 'tenant_id'",
      {JSONBOID});
  pg::Params p;
  p.Add(spec);
  p.Run(top, true);
  pg::ResultRow row(0);
  if (auto unknown = row.Text(1)) {
    BadSpec("spec: unknown key(s) " + *unknown, "The keys are name, tenant_id, nodes and edges.");
  }
  if (row.Text(2).value_or("") != "array") BadSpec("spec: nodes must be a JSON array");
  std::string et = row.Text(3).value_or("null");
  if (et != "array" && et != "null") BadSpec("spec: edges must be a JSON array");
  std::string nt = row.Text(4).value_or("null"), tt = row.Text(5).value_or("null");
  if (nt != "string" && nt != "null") BadSpec("spec: name must be a string");
  if (tt != "string" && tt != "null") BadSpec("spec: tenant_id must be a string");
  SpecHeader header;
  header.node_count = row.Int32(6).value_or(0);
  header.edge_count = row.Int32(7).value_or(0);
  header.name = row.Text(8);
  header.tenant_requested = row.Text(9);
  return header;
}

// An oversized graph is refused before its elements are read.
void CheckSpecSizes(const SpecHeader& header) {
  const std::string limits_hint =
      "taskflow.max_workflow_nodes and taskflow.max_workflow_edges set the limits.";
  if (header.node_count > taskflow_max_workflow_nodes) {
    BadSpec("workflow has " + std::to_string(header.node_count) + " nodes, the limit is " +
                std::to_string(taskflow_max_workflow_nodes),
            limits_hint);
  }
  if (header.edge_count > taskflow_max_workflow_edges) {
    BadSpec("workflow has " + std::to_string(header.edge_count) + " edges, the limit is " +
                std::to_string(taskflow_max_workflow_edges),
            limits_hint);
  }
  if (header.name && header.name->size() > 200) BadSpec("spec: name is longer than 200 bytes");
}

// Runs `stmt` (one row per element of the spec's array `array`, in order, the element's
// jsonb_typeof in column 2) and calls each(row, where) for every element, `where` naming it in
// messages ("nodes[3]: "), after refusing one that is not a JSON object.
template <typename Each>
void ForEachSpecObject(pg::Statement& stmt, Datum spec, const char* array, Each each) {
  pg::Params p;
  p.Add(spec);
  std::uint64_t n = p.Run(stmt, true);
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    const std::string where = std::string(array) + "[" + std::to_string(i) + "]: ";
    if (row.Text(2).value_or("") != "object") BadSpec(where + "must be a JSON object");
    each(row, where);
  }
}

// The nodes' keys, in order; every node is in the workflow's tenant and a new job.
std::vector<std::string> ReadNodeKeys(Datum spec, const std::string& tenant) {
  static pg::Statement nodes_stmt(
      "SELECT e.n::int, jsonb_typeof(e.j), jsonb_typeof(e.j -> 'key'), e.j ->> 'key', "
      "  e.j ? 'unique_key', jsonb_typeof(e.j -> 'tenant_id'), e.j ->> 'tenant_id' "
      "FROM jsonb_array_elements($1 -> 'nodes') WITH ORDINALITY AS e(j, n) ORDER BY e.n",
      {JSONBOID});
  std::vector<std::string> keys;
  ForEachSpecObject(
      nodes_stmt, spec, "nodes", [&](const pg::ResultRow& row, const std::string& where) {
        if (row.Text(3).value_or("") != "string") BadSpec(where + "key (a string) is required");
        if (row.Bool(5).value_or(false)) {
          BadSpec(where + "unique_key is not supported in a workflow node",
                  "Every node of a workflow is a new job.");
        }
        std::string tt = row.Text(6).value_or("null");
        if (tt != "null" && (tt != "string" || row.Text(7).value_or("") != tenant)) {
          BadSpec(where + "tenant_id differs from the workflow's tenant \"" + tenant + "\"",
                  "A workflow's jobs and their dependencies are all in one tenant.");
        }
        keys.push_back(row.Text(4).value_or(""));
      });
  return keys;
}

// The edges, by node keys (BuildWorkflowGraph resolves and checks the keys).
std::vector<core::WorkflowEdgeSpec> ReadEdges(Datum spec) {
  static pg::Statement edges_stmt(
      "SELECT e.n::int, jsonb_typeof(e.j), jsonb_typeof(e.j -> 'from'), jsonb_typeof(e.j -> 'to'), "
      "  e.j ->> 'from', e.j ->> 'to', jsonb_typeof(e.j -> 'on_failure'), e.j ->> 'on_failure', "
      "  (SELECT string_agg(k, ', ') FROM jsonb_object_keys(CASE WHEN jsonb_typeof(e.j) = 'object' "
      "     THEN e.j ELSE '{}' END) k WHERE k NOT IN ('from', 'to', 'on_failure')) "
      "FROM jsonb_array_elements(COALESCE($1 -> 'edges', '[]')) WITH ORDINALITY AS e(j, n) ORDER BY e.n",
      {JSONBOID});
  std::vector<core::WorkflowEdgeSpec> edge_specs;
  ForEachSpecObject(
      edges_stmt, spec, "edges", [&](const pg::ResultRow& row, const std::string& where) {
        if (auto unknown = row.Text(9)) {
          BadSpec(where + "unknown key(s) " + *unknown, "The keys are from, to and on_failure.");
        }
        if (row.Text(3).value_or("") != "string" || row.Text(4).value_or("") != "string") {
          BadSpec(where + "from and to (node keys, strings) are required");
        }
        core::WorkflowEdgeSpec e;
        e.from = row.Text(5).value_or("");
        e.to = row.Text(6).value_or("");
        std::string ft = row.Text(7).value_or("null");
        if (ft != "null") {
          auto policy = ft == "string" ? core::ParseOnDependencyFailure(row.Text(8).value_or(""))
                                       : std::nullopt;
          if (!policy) BadSpec(where + "on_failure must be \"cancel\" or \"run\"");
          e.on_failure = *policy;
        }
        edge_specs.push_back(std::move(e));
      });
  return edge_specs;
}

// The nodes' jobs: schedule_many's validation and insert, each node in the workflow's tenant,
// waiting where it has dependencies. Their ids, in node order.
std::vector<std::int64_t> InsertNodeJobs(Datum spec, const std::string& tenant,
                                         const std::string& actor, const WorkflowDefaults& defaults,
                                         core::WorkflowGraph& graph) {
  // The defaults ($3..$5) come first, so a node's own value wins.
  static pg::Statement jobs_stmt(
      "SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('correlation_id', $3::text, "
      "    'traceparent', $4::text, 'parent_job_id', $5::bigint)) "
      "  || (e.j - 'key') || jsonb_build_object('tenant_id', $2::text) ORDER BY e.n) "
      "FROM jsonb_array_elements($1 -> 'nodes') WITH ORDINALITY AS e(j, n)",
      {JSONBOID, TEXTOID, TEXTOID, TEXTOID, INT8OID});
  pg::Params p;
  p.Add(spec).AddText(tenant).AddOptText(defaults.correlation_id).AddOptText(defaults.traceparent);
  if (defaults.parent_job_id)
    p.AddInt64(*defaults.parent_job_id);
  else
    p.AddNull();
  p.Run(jobs_stmt, true);
  bool is_null = true;
  Datum jobs = pg::CopyOutOfSpi(pg::ResultRow(0).Raw(1, &is_null), false, -1);
  try {
    return ScheduleJobs(jobs, actor, &graph.dependency_count, &graph.wait_reason);
  } catch (const DomainError& e) {
    std::string m = e.what();
    if (m.rfind("jobs[", 0) == 0) m = "nodes[" + m.substr(5);
    throw DomainError(e.code(), m, e.hint(), e.detail());
  }
}

// The workflow, its nodes and its edges; the answer {"workflow_id": id, "jobs": {key: id, ...}}.
Datum InsertWorkflow(const std::string& tenant, const std::optional<std::string>& name,
                     const std::string& actor, const std::vector<std::string>& keys,
                     const std::vector<std::int64_t>& ids, const core::WorkflowGraph& graph) {
  static pg::Statement insert(
      "WITH w AS (INSERT INTO taskflow.workflows (tenant_id, name, node_count, edge_count, created_by) "
      "  VALUES ($1, $2, $3, $4, $5) RETURNING id), "
      "n AS (INSERT INTO taskflow.workflow_nodes (workflow_id, node_key, job_id, tenant_id) "
      "  SELECT w.id, k, j, $1 FROM w, unnest($6::text[], $7::bigint[]) AS x(k, j)), "
      "d AS (INSERT INTO taskflow.job_dependencies (job_id, depends_on, tenant_id, on_failure) "
      "  SELECT c, p, $1, f FROM unnest($8::bigint[], $9::bigint[], $10::text[]) AS x(c, p, f)) "
      "SELECT jsonb_build_object('workflow_id', w.id, 'jobs', "
      "  (SELECT jsonb_object_agg(k, j) FROM unnest($6::text[], $7::bigint[]) AS x(k, j))) "
      "FROM w",
      {TEXTOID, TEXTOID, INT4OID, INT4OID, TEXTOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
       INT8ARRAYOID, TEXTARRAYOID});
  std::vector<std::int64_t> child, parent;
  std::vector<std::string> policy;
  child.reserve(graph.edges.size());
  parent.reserve(graph.edges.size());
  policy.reserve(graph.edges.size());
  for (const core::WorkflowEdge& e : graph.edges) {
    child.push_back(ids[e.to]);
    parent.push_back(ids[e.from]);
    policy.emplace_back(core::ToString(e.on_failure));
  }
  pg::Params p;
  p.AddText(tenant).AddOptText(name).AddInt32(static_cast<std::int32_t>(keys.size()));
  p.AddInt32(static_cast<std::int32_t>(graph.edges.size())).AddText(actor);
  p.Add(TextArrayDatum(keys)).Add(Int64ArrayDatum(ids)).Add(Int64ArrayDatum(child));
  p.Add(Int64ArrayDatum(parent)).Add(TextArrayDatum(policy));
  p.Run(insert);
  bool is_null = true;
  return pg::CopyOutOfSpi(pg::ResultRow(0).Raw(1, &is_null), false, -1);
}

}  // namespace

WorkflowCreated ScheduleWorkflow(Datum spec, const std::string& actor,
                                 const std::optional<std::string>& tenant_given,
                                 const WorkflowDefaults& defaults) {
  CheckSpecShape(spec);
  const SpecHeader header = ReadSpecHeader(spec);
  CheckSpecSizes(header);
  // The workflow's tenant: the caller's (a confined caller may only name its own), or the one
  // given (a rule's firing tenant: the spec may not name another).
  if (tenant_given && header.tenant_requested && *header.tenant_requested != *tenant_given) {
    BadSpec("spec: tenant_id differs from the workflow's tenant \"" + *tenant_given + "\"");
  }
  const std::string tenant = tenant_given ? *tenant_given : ResolveTenant(header.tenant_requested);
  const std::vector<std::string> keys = ReadNodeKeys(spec, tenant);
  core::WorkflowGraph graph = core::BuildWorkflowGraph(
      keys, ReadEdges(spec), static_cast<std::size_t>(taskflow_max_workflow_nodes),
      static_cast<std::size_t>(taskflow_max_workflow_edges));
  std::vector<std::int64_t> ids = InsertNodeJobs(spec, tenant, actor, defaults, graph);
  if (ids.size() != keys.size()) throw DomainError(ErrorCode::Internal, "workflow insert mismatch");
  WorkflowCreated created;
  created.answer = InsertWorkflow(tenant, header.name, actor, keys, ids, graph);
  created.job_ids = std::move(ids);
  return created;
}

}  // namespace taskflow::api
