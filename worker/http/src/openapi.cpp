#include "openapi.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <taskflow/version.hpp>

#include "core/schedule_fields.hpp"

namespace taskflow::http {
namespace {

using Json = nlohmann::ordered_json;

// What the HTTP API adds to a field of core::kScheduleFields in POST /jobs's schema: JSON
// Schema keywords (format, bounds, enum, a $ref instead of the type), and a description that
// replaces the generated "Default: ..." note. Every key must be a field of the table.
constexpr const char* kNewJobRefinements = R"JSON({
  "payload": {"$ref": "#/components/schemas/Payload"},
  "tenant_id": {"description": "Default: the key's tenant (client keys) or 'default'."},
  "run_at": {"format": "date-time"},
  "priority": {"minimum": -32768, "maximum": 32767},
  "max_attempts": {"minimum": 1},
  "correlation_id": {"description": "Used when there is no X-Correlation-ID header."},
  "parent_job_id": {"format": "int64"},
  "timeout": {"description": "A PostgreSQL interval, e.g. '30 seconds'."},
  "traceparent": {"$ref": "#/components/schemas/Traceparent", "description": "Used when there is no traceparent header."},
  "depends_on": {"items": {"type": "integer", "format": "int64"}, "description": "See docs/workflows.md."},
  "on_dependency_failure": {"enum": ["cancel", "run"]}
})JSON";

// The status of each shared error response (components.responses). An operation lists the
// ones it can answer with (Operation::Problems); each becomes
// "status": {"$ref": "#/components/responses/name"} in its responses, in the listed order.
struct ProblemResponse {
  const char* name;
  const char* status;
};
constexpr ProblemResponse kProblemResponses[] = {
    {"BadRequest", "400"},      {"Unauthorized", "401"}, {"Forbidden", "403"},
    {"NotFound", "404"},        {"Conflict", "409"},     {"LeaseLost", "409"},
    {"PayloadTooLarge", "413"}, {"Invalid", "422"},      {"NotAvailable", "501"},
    {"Unavailable", "503"}};

// The document's head, before its paths (Paths(), built from the operations below).
constexpr const char* kHead = R"OPENAPI(
{
  "openapi": "3.1.0",
  "info": {
    "title": "TaskFlow HTTP API",
    "version": ")OPENAPI" TASKFLOW_VERSION R"OPENAPI(",
    "description": "JSON over HTTP for the TaskFlow PostgreSQL extension. Each endpoint is one call into the extension's SQL API, run under the database role of the caller's API key, so the extension decides what is valid and what a tenant may see. Errors are application/problem+json. See docs/http.md."
  },
  "servers": [{"url": "http://localhost:8080"}],
  "security": [{"apiKey": []}]
}
)OPENAPI";

// components: data, except schemas.NewJob (NewJobSchema()).
constexpr const char* kComponents = R"OPENAPI(
{
    "securitySchemes": {
      "apiKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer tfk_... (taskflow.create_api_key)."}
    },
    "parameters": {
      "Tenant": {"name": "tenant", "in": "query", "schema": {"type": "string"}},
      "Queue": {"name": "queue", "in": "query", "schema": {"type": "string"}},
      "JobType": {"name": "job_type", "in": "query", "schema": {"type": "string"}},
      "CorrelationIdQuery": {"name": "correlation_id", "in": "query", "schema": {"type": "string"}},
      "States": {"name": "state", "in": "query", "description": "One or more states, comma-separated (PENDING,DEAD).", "schema": {"type": "string"}},
      "ErrorType": {"name": "error_type", "in": "query", "description": "The last error's type.", "schema": {"type": "string"}},
      "CreatedFrom": {"name": "from", "in": "query", "description": "created_at >= from (RFC 3339).", "schema": {"type": "string", "format": "date-time"}},
      "CreatedTo": {"name": "to", "in": "query", "description": "created_at < to (RFC 3339).", "schema": {"type": "string", "format": "date-time"}},
      "PayloadFilter": {"name": "payload", "in": "query", "description": "A jsonpath predicate on the payload, e.g. $.customer == \"acme\" (at most 1000 characters, no variables; 422 otherwise).", "schema": {"type": "string"}},
      "Id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}},
      "JobId": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}},
      "CorrelationId": {"name": "X-Correlation-ID", "in": "header", "description": "Up to 200 printable ASCII characters.", "schema": {"type": "string", "maxLength": 200}},
      "Traceparent": {"name": "traceparent", "in": "header", "description": "W3C Trace Context, version 00; kept with the jobs the call creates. Malformed: 422.", "schema": {"$ref": "#/components/schemas/Traceparent"}}
    },
    "headers": {
      "CorrelationId": {"description": "The request's X-Correlation-ID, or the one generated for the job.", "schema": {"type": "string"}}
    },
    "requestBodies": {
      "Reason": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string"}}}}}},
      "DeadLetterGroup": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["job_type", "error_type"], "properties": {"job_type": {"type": "string"}, "error_type": {"type": "string"}}}}}}
    },
    "responses": {
      "LeaseLost": {"description": "The attempt is over: no running attempt of this job holds this lease token (the lease expired and the job was rescued or re-acquired, it was cancelled, or the attempt already ended). Stop working on the job; do not report again.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "JobStateAfter": {"description": "The job's state after the call.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StateChange"}}}},
      "BulkResult": {"description": "What happened.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BulkResult"}}}},
      "BadRequest": {"description": "Malformed: the body is not JSON, a field or parameter is unknown or has the wrong type.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "Unauthorized": {"description": "No API key, an invalid or revoked one (or, for webhooks, an unknown key or a bad signature: SQLSTATE 28000).", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "Forbidden": {"description": "Another tenant's resource, or a privilege the key's role lacks (SQLSTATE 42501); /admin/* without an admin key.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "NotFound": {"description": "No such job, or not visible to this key's tenant (SQLSTATE P0002).", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "Conflict": {"description": "A transition the state machine refuses (SQLSTATE 55000), or a name already taken (23505).", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "PayloadTooLarge": {"description": "The body is over the server's limit, or the payload is over taskflow.max_payload_bytes (SQLSTATE 54000).", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "Invalid": {"description": "Well-formed but refused by the extension: an unknown queue (42704), an invalid value (class 22).", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "NotAvailable": {"description": "The installed extension does not have the function behind this endpoint (SQLSTATE 42883 or 42P01).", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "Unavailable": {"description": "The database does not answer, a statement timed out, or every connection slot is taken; retry (Retry-After).", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    },
    "schemas": {
      "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
          "type": {"type": "string", "format": "uri-reference", "examples": ["/problems/not-found"]},
          "title": {"type": "string"},
          "status": {"type": "integer"},
          "detail": {"type": "string"},
          "sqlstate": {"type": "string", "description": "The SQLSTATE the extension raised, when it did."},
          "hint": {"type": "string"},
          "correlation_id": {"type": "string"}
        }
      },
      "JobState": {"type": "string", "enum": ["PENDING", "SCHEDULED", "RUNNING", "SUCCEEDED", "FAILED", "DEAD", "CANCELLED"]},
      "Traceparent": {"type": "string", "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$", "description": "A W3C traceparent header of version 00 (ids not all zeros).", "examples": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]},
      "DependencyResult": {"type": "object", "required": ["job_id", "state", "on_failure"], "description": "One dependency of a job and its outcome (taskflow.dependency_results).", "properties": {
        "job_id": {"type": "integer", "format": "int64"}, "key": {"type": ["string", "null"], "description": "Its workflow node key (null outside a workflow)."},
        "job_type": {"type": ["string", "null"]}, "state": {"$ref": "#/components/schemas/JobState"},
        "on_failure": {"type": "string", "enum": ["cancel", "run"]}, "result": {"description": "The dependency's result (any JSON value, or null)."},
        "error_type": {"type": ["string", "null"]}, "error_message": {"type": ["string", "null"]},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "omitted": {"type": "boolean", "description": "Present (true) when the results before it in id order reached taskflow.max_dependency_results_bytes: result and error_message are left out (read them with GET /jobs/{id})."}}},
      "Payload": {"type": "object", "additionalProperties": true, "description": "Any JSON object (at most taskflow.max_payload_bytes, 64 levels deep)."},
      "Interval": {"type": "string", "description": "A PostgreSQL interval as PostgreSQL prints it, e.g. '00:00:30' or '1 day 02:00:00'."},
      "NewJob": {"description": "Generated from core::kScheduleFields at startup (NewJobSchema in openapi.cpp)."},
      "NewWorkflow": {
        "type": "object",
        "required": ["nodes"],
        "additionalProperties": false,
        "description": "taskflow.schedule_workflow's spec: nodes named by local keys, edges by those keys. A cycle, an unknown key, a node in another tenant or a graph over taskflow.max_workflow_nodes / max_workflow_edges is refused (422) and nothing is written.",
        "properties": {
          "name": {"type": "string", "maxLength": 200},
          "tenant_id": {"type": "string", "description": "Default: the key's tenant (client keys) or 'default'. Every node is in this tenant."},
          "nodes": {"type": "array", "items": {"$ref": "#/components/schemas/WorkflowNode"}},
          "edges": {"type": "array", "items": {"type": "object", "required": ["from", "to"], "additionalProperties": false, "properties": {
            "from": {"type": "string", "description": "The dependency's key."},
            "to": {"type": "string", "description": "The dependent's key."},
            "on_failure": {"type": "string", "enum": ["cancel", "run"], "description": "Default: cancel."}}}}
        }
      },
      "WorkflowNode": {
        "type": "object",
        "required": ["key", "job_type"],
        "additionalProperties": false,
        "description": "One job of a workflow: a local key plus schedule_many's fields (no unique_key; dependencies are the workflow's edges).",
        "properties": {
          "key": {"type": "string", "description": "The node's name in edges and in the answer."},
          "job_type": {"type": "string"},
          "payload": {"$ref": "#/components/schemas/Payload"},
          "queue": {"type": "string", "description": "Default: 'default'."},
          "tenant_id": {"type": "string", "description": "The workflow's tenant, if given."},
          "run_at": {"type": "string", "format": "date-time", "description": "Not before this time, once its dependencies are met."},
          "priority": {"type": "integer", "minimum": -32768, "maximum": 32767},
          "max_attempts": {"type": "integer", "minimum": 1},
          "correlation_id": {"type": "string"},
          "parent_job_id": {"type": "integer", "format": "int64"},
          "timeout": {"type": "string", "description": "A PostgreSQL interval, e.g. '30 seconds'."},
          "traceparent": {"$ref": "#/components/schemas/Traceparent"}
        }
      },
      "WorkflowCreated": {
        "type": "object",
        "required": ["workflow_id", "jobs"],
        "properties": {"workflow_id": {"type": "integer", "format": "int64"},
                       "jobs": {"type": "object", "additionalProperties": {"type": "integer", "format": "int64"}, "description": "Job id by node key."}}
      },
      "WorkflowStatus": {
        "type": "object",
        "required": ["id", "name", "tenant_id", "created_at", "created_by", "node_count", "edge_count", "state", "counts", "started_at", "finished_at", "nodes", "edges"],
        "properties": {
          "id": {"type": "integer", "format": "int64"}, "name": {"type": ["string", "null"]},
          "tenant_id": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
          "created_by": {"type": ["string", "null"], "description": "The role that created it, or rule:<id>."},
          "node_count": {"type": "integer"}, "edge_count": {"type": "integer"},
          "state": {"$ref": "#/components/schemas/WorkflowState"},
          "counts": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Nodes per job state (REMOVED: cleaned away)."},
          "started_at": {"type": ["string", "null"], "format": "date-time"},
          "finished_at": {"type": ["string", "null"], "format": "date-time"},
          "nodes": {"type": "array", "items": {"type": "object", "required": ["key", "job_id", "job_type", "queue", "state", "attempts", "started_at", "finished_at", "dependencies_pending", "cancel_reason", "last_error_type", "last_error_message"], "properties": {
            "key": {"type": "string"}, "job_id": {"type": ["integer", "null"], "format": "int64", "description": "null once the Cleaner removed the job."},
            "job_type": {"type": ["string", "null"]}, "queue": {"type": ["string", "null"]},
            "state": {"anyOf": [{"$ref": "#/components/schemas/JobState"}, {"type": "null"}]},
            "attempts": {"type": ["integer", "null"]},
            "started_at": {"type": ["string", "null"], "format": "date-time"}, "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "dependencies_pending": {"type": ["integer", "null"]}, "cancel_reason": {"type": ["string", "null"]},
            "last_error_type": {"type": ["string", "null"]}, "last_error_message": {"type": ["string", "null"]}}}},
          "edges": {"type": "array", "items": {"type": "object", "required": ["from", "to", "on_failure", "parent_state"], "properties": {
            "from": {"type": "string"}, "to": {"type": "string"}, "on_failure": {"type": "string", "enum": ["cancel", "run"]},
            "parent_state": {"anyOf": [{"$ref": "#/components/schemas/JobState"}, {"type": "null"}], "description": "The dependency's final state once it finished."}}}}
        }
      },
      "WorkflowState": {"type": "string", "enum": ["running", "succeeded", "failed", "cancelled"]},
      "WorkflowList": {
        "type": "object",
        "required": ["workflows", "next_after"],
        "properties": {"workflows": {"type": "array", "items": {"type": "object", "required": ["id", "tenant", "name", "created_at", "node_count", "state", "counts", "started_at", "finished_at"], "properties": {
                         "id": {"type": "integer", "format": "int64"}, "tenant": {"type": "string"}, "name": {"type": ["string", "null"]},
                         "created_at": {"type": "string", "format": "date-time"}, "node_count": {"type": "integer"},
                         "state": {"$ref": "#/components/schemas/WorkflowState"},
                         "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                         "started_at": {"type": ["string", "null"], "format": "date-time", "description": "The first node's start."},
                         "finished_at": {"type": ["string", "null"], "format": "date-time", "description": "The last node's finish, once no node is unfinished."}}}},
                       "next_after": {"type": ["integer", "null"], "format": "int64"}}
      },
      "JobCreated": {
        "type": "object",
        "required": ["id", "correlation_id"],
        "properties": {"id": {"type": "integer", "format": "int64"}, "correlation_id": {"type": "string"}}
      },
      "JobSummary": {"type": "object", "properties": {"id": {"type": "integer"}, "queue": {"type": "string"}, "job_type": {"type": "string"}, "tenant_id": {"type": "string"}, "state": {"$ref": "#/components/schemas/JobState"}, "priority": {"type": "integer"}, "attempt": {"type": "integer"}, "max_attempts": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"}, "next_run_at": {"type": "string", "format": "date-time"}, "finished_at": {"type": ["string", "null"], "format": "date-time"}, "correlation_id": {"type": ["string", "null"]}, "parent_job_id": {"type": ["integer", "null"]}, "last_error": {"type": ["string", "null"], "description": "error_type: first line of the message, at most 200 characters"}}},
      "BulkResult": {"type": "object", "required": ["matched", "changed", "skipped"], "properties": {"matched": {"type": "integer"}, "changed": {"type": "integer"}, "skipped": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "state": {"type": ["string", "null"]}, "reason": {"type": "string"}}}}, "skipped_count": {"type": "integer"}, "cancel_requested": {"type": "integer"}}},
      "Job": {
        "type": "object",
        "description": "A job as taskflow.get_job and taskflow.list_jobs return it: every key is always present, null when unset.",
        "required": ["id", "job_type", "queue", "tenant_id", "state", "payload", "priority", "attempts", "max_attempts", "next_run_at", "created_at", "started_at", "finished_at", "last_error_type", "last_error_message", "result", "correlation_id", "parent_job_id", "unique_key", "cancel_requested", "cancel_reason", "timeout", "worker_id", "lease_expires_at", "traceparent"],
        "properties": {
          "id": {"type": "integer", "format": "int64"},
          "job_type": {"type": "string"},
          "queue": {"type": "string"},
          "tenant_id": {"type": "string"},
          "state": {"$ref": "#/components/schemas/JobState"},
          "payload": {"$ref": "#/components/schemas/Payload"},
          "priority": {"type": "integer"},
          "attempts": {"type": "integer"},
          "max_attempts": {"type": "integer"},
          "next_run_at": {"type": "string", "format": "date-time"},
          "created_at": {"type": "string", "format": "date-time"},
          "started_at": {"type": ["string", "null"], "format": "date-time"},
          "finished_at": {"type": ["string", "null"], "format": "date-time"},
          "last_error_type": {"type": ["string", "null"]},
          "last_error_message": {"type": ["string", "null"]},
          "result": {"description": "What the handler returned (any JSON value), null until it succeeded."},
          "correlation_id": {"type": ["string", "null"]},
          "parent_job_id": {"type": ["integer", "null"], "format": "int64"},
          "unique_key": {"type": ["string", "null"]},
          "cancel_requested": {"type": "boolean"},
          "cancel_reason": {"type": ["string", "null"]},
          "timeout": {"type": ["string", "null"], "description": "The job's own timeout, a PostgreSQL interval ('00:00:30')."},
          "worker_id": {"type": ["string", "null"], "description": "The worker holding (or that last held) the lease."},
          "lease_expires_at": {"type": ["string", "null"], "format": "date-time"},
          "traceparent": {"anyOf": [{"$ref": "#/components/schemas/Traceparent"}, {"type": "null"}]}
        }
      },
      "JobDetail": {
        "description": "A job as taskflow.get_job returns it (GET /jobs/{id}): a Job plus its dependencies and workflow (docs/workflows.md).",
        "allOf": [{"$ref": "#/components/schemas/Job"}, {
          "type": "object",
          "required": ["dependency_count", "dependencies_pending", "workflow_id"],
          "properties": {
            "dependency_count": {"type": "integer", "description": "How many jobs it depends on (depends_on, workflow edges)."},
            "dependencies_pending": {"type": "integer", "description": "Of those, how many have not finished: while > 0 the job waits SCHEDULED."},
            "workflow_id": {"type": ["integer", "null"], "format": "int64", "description": "The workflow it is a node of, if any."}
          }}]
      },
      "JobList": {
        "type": "object",
        "required": ["jobs", "next_after"],
        "properties": {
          "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
          "next_after": {"type": ["integer", "null"], "description": "Pass as ?after= for the next page; null on the last page."}
        }
      },
      "JobHistory": {
        "type": "object",
        "required": ["traceparent", "attempts", "events"],
        "properties": {
          "traceparent": {"anyOf": [{"$ref": "#/components/schemas/Traceparent"}, {"type": "null"}]},
          "attempts": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}},
          "events": {"type": "array", "items": {"$ref": "#/components/schemas/JobEvent"}}
        }
      },
      "Attempt": {
        "type": "object",
        "description": "One attempt: finished ones from taskflow.job_attempts, the running one (outcome running) from the job row.",
        "required": ["attempt", "worker_id", "started_at", "finished_at", "outcome", "error_type", "error_message", "backoff_delay"],
        "properties": {
          "attempt": {"type": "integer"},
          "worker_id": {"type": ["string", "null"]},
          "started_at": {"type": "string", "format": "date-time"},
          "finished_at": {"type": ["string", "null"], "format": "date-time"},
          "outcome": {"type": "string", "enum": ["running", "succeeded", "failed", "released", "lease_expired", "cancelled"]},
          "error_type": {"type": ["string", "null"]},
          "error_message": {"type": ["string", "null"]},
          "backoff_delay": {"type": ["string", "null"], "description": "The retry delay this failure got, a PostgreSQL interval."},
          "lease_expires_at": {"type": ["string", "null"], "format": "date-time", "description": "Only on the running attempt."}
        }
      },
      "JobEvent": {
        "type": "object",
        "required": ["from_state", "to_state", "at", "actor", "reason"],
        "properties": {
          "from_state": {"anyOf": [{"$ref": "#/components/schemas/JobState"}, {"type": "null"}]},
          "to_state": {"$ref": "#/components/schemas/JobState"},
          "at": {"type": "string", "format": "date-time"},
          "actor": {"type": ["string", "null"]},
          "reason": {"type": ["string", "null"]}
        }
      },
      "QueueStats": {
        "type": "object",
        "description": "One row of taskflow.queue_stats: a queue (tenant_id null) or one tenant in a queue. Counts are jobs; rates are fractions 0..1; ages and percentiles are seconds, null when there was nothing to measure.",
        "required": ["queue", "tenant_id", "pending", "scheduled", "running", "succeeded", "failed", "dead", "cancelled", "oldest_ready_age_seconds", "completed_per_minute_1m", "completed_per_minute_5m", "completed_per_minute_15m", "success_rate_5m", "failure_rate_5m", "wait_p50_seconds", "wait_p95_seconds", "wait_p99_seconds", "run_p50_seconds", "run_p95_seconds", "run_p99_seconds", "finished_total", "succeeded_total", "failed_total", "dead_total", "cancelled_total", "retries_total", "retries_per_job"],
        "properties": {
          "queue": {"type": "string"},
          "tenant_id": {"type": ["string", "null"]},
          "pending": {"type": "integer"}, "scheduled": {"type": "integer"}, "running": {"type": "integer"},
          "succeeded": {"type": "integer"}, "failed": {"type": "integer"}, "dead": {"type": "integer"}, "cancelled": {"type": "integer"},
          "oldest_ready_age_seconds": {"type": ["number", "null"]},
          "completed_per_minute_1m": {"type": ["number", "null"]},
          "completed_per_minute_5m": {"type": ["number", "null"]},
          "completed_per_minute_15m": {"type": ["number", "null"]},
          "success_rate_5m": {"type": ["number", "null"]},
          "failure_rate_5m": {"type": ["number", "null"]},
          "wait_p50_seconds": {"type": ["number", "null"]}, "wait_p95_seconds": {"type": ["number", "null"]}, "wait_p99_seconds": {"type": ["number", "null"]},
          "run_p50_seconds": {"type": ["number", "null"]}, "run_p95_seconds": {"type": ["number", "null"]}, "run_p99_seconds": {"type": ["number", "null"]},
          "finished_total": {"type": "integer"}, "succeeded_total": {"type": "integer"}, "failed_total": {"type": "integer"},
          "dead_total": {"type": "integer"}, "cancelled_total": {"type": "integer"}, "retries_total": {"type": "integer"},
          "retries_per_job": {"type": ["number", "null"]}
        }
      },
      "StateChange": {
        "type": "object",
        "required": ["id", "state"],
        "properties": {"id": {"type": "integer", "format": "int64"}, "state": {"$ref": "#/components/schemas/JobState"}}
      },
      "NewRule": {
        "type": "object",
        "required": ["name", "trigger", "actions"],
        "additionalProperties": false,
        "properties": {
          "name": {"type": "string"},
          "trigger": {"type": "object", "additionalProperties": true, "description": "{\"type\": \"cron\", \"schedule\": ...}, {\"type\": \"webhook\"} or {\"type\": \"event\", \"on\": ...}"},
          "actions": {"type": "array", "items": {"type": "object", "additionalProperties": true}, "description": "Job templates ({job_type, queue, payload, ...}) or workflow actions ({\"workflow\": {name, nodes, edges}}); see docs/automation.md."},
          "condition": {"type": "string", "description": "A jsonpath predicate over the trigger context."},
          "tenant_id": {"type": "string"}
        }
      },
      "Rule": {
        "type": "object",
        "properties": {
          "rule_id": {"type": "integer", "format": "int64"},
          "tenant_id": {"type": "string"},
          "name": {"type": "string"},
          "trigger": {"type": "object", "additionalProperties": true},
          "condition": {"type": ["string", "null"]},
          "actions": {"type": "array", "items": {"type": "object", "additionalProperties": true}},
          "enabled": {"type": "boolean"},
          "created_at": {"type": "string", "format": "date-time"},
          "updated_at": {"type": "string", "format": "date-time"},
          "last_fired_at": {"type": ["string", "null"], "format": "date-time"}
        }
      }
    }
}
)OPENAPI";

const char* ProblemStatus(const std::string& name) {
  for (const ProblemResponse& p : kProblemResponses) {
    if (name == p.name) return p.status;
  }
  throw std::logic_error("openapi.cpp lists an unknown problem response " + name);
}

// --- the pieces operations are made of -----------------------------------------------------------

// A fragment written as JSON: the schemas and responses that only one operation has.
Json J(const char* text) { return Json::parse(text); }

Json Ref(const std::string& component) { return {{"$ref", "#/components/" + component}}; }
Json Schema(const std::string& name) { return Ref("schemas/" + name); }
Json Param(const std::string& name) { return Ref("parameters/" + name); }
Json Response(const std::string& name) { return Ref("responses/" + name); }
Json RequestBody(const std::string& name) { return Ref("requestBodies/" + name); }

Json String() { return {{"type", "string"}}; }
Json Int64() { return {{"type", "integer"}, {"format", "int64"}}; }
Json AnyObject() { return {{"type", "object"}, {"additionalProperties", true}}; }
// Seconds, or a PostgreSQL interval.
Json Duration() {
  return {{"oneOf",
           {{{"type", "number"}, {"description", "seconds"}},
            {{"type", "string"}, {"description", "a PostgreSQL interval, e.g. \"2 minutes\""}}}}};
}

Json JsonContent(Json schema) { return {{"application/json", {{"schema", std::move(schema)}}}}; }
Json Reply(const char* description, Json schema) {
  return {{"description", description}, {"content", JsonContent(std::move(schema))}};
}
// A 201 answer: the new resource's path in a Location header (beside `headers`), and `schema`.
Json Created(const char* description, const char* location, Json schema,
             const Json& headers = Json::object()) {
  Json all = {{"Location", {{"schema", String()}, {"description", location}}}};
  all.update(headers);
  return {{"description", description},
          {"headers", std::move(all)},
          {"content", JsonContent(std::move(schema))}};
}
Json Body(Json schema, bool required = true) {
  return {{"required", required}, {"content", JsonContent(std::move(schema))}};
}
// An object of exactly `properties`, `required` of them required.
Json Closed(const std::vector<std::string>& required, Json properties) {
  return {{"type", "object"},
          {"additionalProperties", false},
          {"required", required},
          {"properties", std::move(properties)}};
}

Json Query(const char* name, Json schema, const char* description = nullptr) {
  Json parameter = {{"name", name}, {"in", "query"}};
  if (description != nullptr) parameter["description"] = description;
  parameter["schema"] = std::move(schema);
  return parameter;
}
Json InPath(const char* name, Json schema) {
  return {{"name", name}, {"in", "path"}, {"required", true}, {"schema", std::move(schema)}};
}
Json QueueName() { return InPath("name", String()); }
// ?limit=: a page of at most `maximum` rows.
Json Limit(int maximum, std::optional<int> by_default = std::nullopt) {
  Json schema = {{"type", "integer"}, {"minimum", 1}, {"maximum", maximum}};
  if (by_default) schema["default"] = *by_default;
  return Query("limit", std::move(schema));
}
// The dashboard's pages by id: ?after=<next_after of the previous page>&limit=.
std::vector<Json> IdPage() {
  return {Query("after", Int64(), "next_after of the previous page."), Limit(1000)};
}
// The job filter of the dashboard's job search and count.
std::vector<Json> JobFilter() {
  std::vector<Json> filter;
  for (const char* name : {"States", "Queue", "Tenant", "JobType", "CorrelationIdQuery",
                           "ErrorType", "CreatedFrom", "CreatedTo", "PayloadFilter"}) {
    filter.push_back(Param(name));
  }
  return filter;
}

// One operation of paths, set up by chained calls in any order; ToJson() writes its members in
// the document's order (operationId, summary, description, security, parameters, requestBody,
// responses: the success one, then the problems), leaving out those never set.
class Operation {
 public:
  Operation(const char* method, std::string path, const char* id, const char* summary)
      : method_(method), path_(std::move(path)), id_(id), summary_(summary) {}

  Operation& Describe(const char* description) {
    description_ = description;
    return *this;
  }
  // No API key (security: []).
  Operation& Public() {
    public_ = true;
    return *this;
  }
  Operation& Params(const std::vector<Json>& parameters) {
    parameters_.insert(parameters_.end(), parameters.begin(), parameters.end());
    return *this;
  }
  Operation& Takes(Json body) {
    body_ = std::move(body);
    return *this;
  }
  // The success response.
  Operation& Answers(const char* status, Json response) {
    status_ = status;
    answer_ = std::move(response);
    return *this;
  }
  Operation& Ok(Json response) { return Answers("200", std::move(response)); }
  Operation& Ok(const char* description, Json schema) {
    return Ok(Reply(description, std::move(schema)));
  }
  // The shared error responses (kProblemResponses) it can answer with, in this order.
  Operation& Problems(std::vector<std::string> names) {
    problems_ = std::move(names);
    return *this;
  }

  const std::string& method() const { return method_; }
  const std::string& path() const { return path_; }

  Json ToJson() const {
    Json op = {{"operationId", id_}, {"summary", summary_}};
    if (description_ != nullptr) op["description"] = description_;
    if (public_) op["security"] = Json::array();
    if (!parameters_.empty()) op["parameters"] = parameters_;
    if (!body_.is_null()) op["requestBody"] = body_;
    Json responses = Json::object();
    responses[status_] = answer_;
    for (const std::string& name : problems_) responses[ProblemStatus(name)] = Response(name);
    op["responses"] = std::move(responses);
    return op;
  }

 private:
  std::string method_, path_;
  const char* id_;
  const char* summary_;
  const char* description_ = nullptr;
  bool public_ = false;
  std::vector<Json> parameters_;
  Json body_;
  std::string status_;
  Json answer_;
  std::vector<std::string> problems_;
};

// GET of the resource whose id is in the path (the parameter `id_param`): 400 for a malformed id,
// 404 for none (or another tenant's); the answer is schemas.`schema`.
Operation GetById(const char* path, const char* id_param, const char* id, const char* summary,
                  const char* answer, const char* schema) {
  return Operation("get", path, id, summary)
      .Params({Param(id_param)})
      .Ok(answer, Schema(schema))
      .Problems({"BadRequest", "Unauthorized", "NotFound", "Unavailable"});
}

// --- the operations, in the document's order -----------------------------------------------------

std::vector<Operation> JobOperations() {
  return {
      Operation("post", "/jobs", "createJob", "Schedule a job (taskflow.schedule)")
          .Describe(
              "The body holds taskflow.schedule's parameters. A client key schedules for its own "
              "tenant when tenant_id is absent; another tenant is refused (403). The "
              "X-Correlation-ID header becomes the job's correlation_id (generated when absent); "
              "the W3C traceparent header (or the body's traceparent) is kept with the job and "
              "handed to its handler. The answer carries the correlation_id the job has: with a "
              "unique_key that matches an existing job, that job's; for a sub-job without one, its "
              "parent's. JSON nested deeper than 64 levels and strings with NUL characters are "
              "refused (422).")
          .Params({Param("CorrelationId"), Param("Traceparent")})
          .Takes(Body(Schema("NewJob")))
          .Answers("201", Created("The job was scheduled (or, with a taken unique_key, the "
                                  "existing job's id).",
                                  "/jobs/{id}", Schema("JobCreated"),
                                  {{"X-Correlation-ID", Ref("headers/CorrelationId")}}))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "PayloadTooLarge", "Invalid",
                     "Unavailable"}),
      Operation("get", "/jobs", "listJobs",
                "List jobs (taskflow.list_jobs), ordered by id, keyset-paginated")
          .Params({Param("Tenant"), Param("Queue"), Query("state", Schema("JobState")),
                   Param("JobType"),
                   Query("after", Int64(),
                         "Only jobs with a larger id (next_after of the previous page)."),
                   Limit(10000, 100)})
          .Ok("A page of jobs.", Schema("JobList"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "Invalid", "Unavailable"}),
      GetById("/jobs/{id}", "JobId", "getJob", "One job (taskflow.get_job)",
              "The job, with its workflow fields.", "JobDetail"),
      GetById("/jobs/{id}/history", "JobId", "getJobHistory",
              "Attempts and state transitions of a job (taskflow.job_history)", "The history.",
              "JobHistory"),
      Operation("post", "/jobs/{id}/cancel", "cancelJob", "Cancel a job (taskflow.cancel)")
          .Describe("PENDING and SCHEDULED jobs become CANCELLED; a RUNNING job gets "
                    "cancel_requested; a finished job is refused (409).")
          .Params({Param("JobId")})
          .Takes(RequestBody("Reason"))
          .Ok("The state after the call.", Schema("StateChange"))
          .Problems({"BadRequest", "Unauthorized", "NotFound", "Conflict", "Unavailable"}),
      Operation("post", "/jobs/{id}/retry", "retryJob",
                "Re-drive a FAILED, DEAD or CANCELLED job (taskflow.retry)")
          .Params({Param("JobId")})
          .Takes(Body(J(R"({"type": "object", "additionalProperties": false})"), false))
          .Ok("The state after the call.", Schema("StateChange"))
          .Problems({"BadRequest", "Unauthorized", "NotFound", "Conflict", "Unavailable"}),
  };
}

std::vector<Operation> WorkflowOperations() {
  return {
      Operation("post", "/workflows", "createWorkflow",
                "Schedule a workflow: a graph of jobs in one atomic call "
                "(taskflow.schedule_workflow)")
          .Takes(Body(Schema("NewWorkflow")))
          .Answers("201", Created("The workflow and its jobs were created.", "/workflows/{id}",
                                  Schema("WorkflowCreated")))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "PayloadTooLarge", "Invalid",
                     "Unavailable"}),
      Operation("get", "/workflows", "listWorkflows",
                "List workflows with their state and node counts (taskflow.list_workflows), "
                "keyset-paginated")
          .Params({Param("Tenant"),
                   Query("after", Int64(),
                         "Only workflows with a larger id (next_after of the previous page)."),
                   Limit(1000, 100)})
          .Ok("A page of workflows.", Schema("WorkflowList"))
          .Problems({"BadRequest", "Unauthorized", "Invalid", "Unavailable"}),
      GetById("/workflows/{id}", "Id", "getWorkflow",
              "A workflow's state: each node's state, counts, started/finished "
              "(taskflow.workflow_status)",
              "The workflow.", "WorkflowStatus"),
      Operation("post", "/workflows/{id}/cancel", "cancelWorkflow",
                "Cancel every unfinished node of a workflow (taskflow.cancel_workflow)")
          .Params({Param("Id")})
          .Takes(RequestBody("Reason"))
          .Ok("How many nodes this call cancelled (or asked to stop, when RUNNING).",
              J(R"({"type": "object", "required": ["id", "cancelled"], "properties": {"id": {"type": "integer", "format": "int64"}, "cancelled": {"type": "integer"}}})"))
          .Problems({"BadRequest", "Unauthorized", "NotFound", "Unavailable"}),
  };
}

// Automation rules, webhooks and the admin views.
std::vector<Operation> RuleOperations() {
  return {
      Operation("post", "/automation-rules", "createRule",
                "Create an automation rule (taskflow.create_rule)")
          .Takes(Body(Schema("NewRule")))
          .Answers(
              "201",
              Reply(
                  "The rule was created.",
                  J(R"({"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "format": "int64"}}})")))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "Conflict", "Invalid",
                     "NotAvailable", "Unavailable"}),
      Operation("get", "/automation-rules", "listRules",
                "List automation rules (taskflow.list_rules)")
          .Params({Param("Tenant"),
                   Query("trigger_type",
                         J(R"({"type": "string", "enum": ["cron", "webhook", "event"]})")),
                   Query("enabled", {{"type", "boolean"}})})
          .Ok("The rules.",
              J(R"({"type": "object", "required": ["rules"], "properties": {"rules": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}}}})"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "NotAvailable", "Unavailable"}),
      Operation("post", "/events/webhook/{key}", "deliverWebhook",
                "Deliver a webhook to the rule with this key (taskflow.handle_webhook)")
          .Describe(
              "No API key: the rule's key is in the path and, when the rule has a secret, "
              "X-TaskFlow-Signature must be sha256=<hex HMAC-SHA256 of the raw body>. A repeated "
              "X-TaskFlow-Delivery creates no new jobs and returns the first delivery's job ids.")
          .Public()
          .Params(
              {InPath("key", String()),
               J(R"({"name": "X-TaskFlow-Signature", "in": "header", "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}})"),
               J(R"({"name": "X-TaskFlow-Delivery", "in": "header", "schema": {"type": "string"}})"),
               Param("Traceparent")})
          .Takes(J(
              R"({"required": true, "description": "Any JSON document; its raw bytes are what the signature covers.", "content": {"application/json": {"schema": {}}}})"))
          .Answers(
              "202",
              Reply(
                  "Accepted; the jobs the rule created.",
                  J(R"({"type": "object", "required": ["job_ids"], "properties": {"job_ids": {"type": "array", "items": {"type": "integer", "format": "int64"}}}})")))
          .Problems({"BadRequest", "Unauthorized", "PayloadTooLarge", "Invalid", "NotAvailable",
                     "Unavailable"}),
      Operation("get", "/admin/queues", "adminQueues",
                "Per queue and tenant statistics (taskflow.queue_stats); admin key")
          .Ok("One object per row of taskflow.queue_stats.",
              J(R"({"type": "object", "required": ["queues"], "properties": {"queues": {"type": "array", "items": {"$ref": "#/components/schemas/QueueStats"}}}})"))
          .Problems({"Unauthorized", "Forbidden", "NotAvailable", "Unavailable"}),
      Operation("get", "/admin/automations", "adminAutomations",
                "Rules with their last firings; admin key")
          .Params({Query("firings",
                         J(R"({"type": "integer", "minimum": 0, "maximum": 100, "default": 5})"),
                         "Last firings per rule.")})
          .Ok("The rules, each with last_firings (newest first, rows of taskflow.rule_firings).",
              J(R"({"type": "object", "required": ["automations"], "properties": {"automations": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Rule"}, {"type": "object", "properties": {"last_firings": {"type": "array", "items": {"type": "object", "additionalProperties": true}}}}]}}}})"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "Invalid", "NotAvailable",
                     "Unavailable"}),
  };
}

// One of the dashboard's queue, rule and tenant operations (dashboard_admin_handlers.inc): it
// answers an object of its SQL function's keys (`answer` names them), and can refuse with 401,
// 403, 503 and `problems`.
Operation DashboardAdmin(const char* method, const char* path, const char* id, const char* summary,
                         const char* answer, std::vector<std::string> problems) {
  problems.insert(problems.begin(), {"Unauthorized", "Forbidden", "Unavailable"});
  return Operation(method, path, id, summary).Ok(answer, AnyObject()).Problems(problems);
}

std::vector<Operation> DashboardAdminOperations() {
  return {
      DashboardAdmin("get", "/dashboard/api/queues", "dashboardQueues",
                     "Every queue with its settings (paused, concurrency_limit, lease_ms, "
                     "retry_policy, rate_limit, priority) and the taskflow.queue_stats figures "
                     "(taskflow.dashboard_queues); admin key",
                     "{queues: [...]}", {}),
      DashboardAdmin("patch", "/dashboard/api/queues/{name}", "dashboardAlterQueue",
                     "Change a queue's settings (taskflow.dashboard_alter_queue): any of "
                     "priority, concurrency_limit, lease_ms, retry_policy, rate_limit, paused; "
                     "null returns a setting to its default. The extension validates; its "
                     "message comes back as 422. Admin key",
                     "The queue's settings.", {"BadRequest", "NotFound", "Invalid"})
          .Params({QueueName()})
          .Takes(Body(AnyObject())),
      DashboardAdmin("post", "/dashboard/api/queues/{name}/pause", "dashboardPauseQueue",
                     "Pause a queue (taskflow.pause_queue): its jobs are no longer acquired; "
                     "admin key",
                     "{name, paused: true}", {"NotFound"})
          .Params({QueueName()}),
      DashboardAdmin("post", "/dashboard/api/queues/{name}/resume", "dashboardResumeQueue",
                     "Resume a paused queue (taskflow.resume_queue); admin key",
                     "{name, paused: false}", {"NotFound"})
          .Params({QueueName()}),
      DashboardAdmin("get", "/dashboard/api/rules", "dashboardRules",
                     "Rules (a client key: its tenant's) with trigger, condition, enabled, last "
                     "firing and firing counts (taskflow.dashboard_rules), a page by id",
                     "{rules: [...], next_after}", {"BadRequest", "Invalid"})
          .Params(IdPage()),
      DashboardAdmin("post", "/dashboard/api/rules/{id}/enable", "dashboardEnableRule",
                     "Enable a rule (taskflow.enable_rule); another tenant's rule is 404",
                     "{id, enabled: true}", {"BadRequest", "NotFound"})
          .Params({Param("Id")}),
      DashboardAdmin("post", "/dashboard/api/rules/{id}/disable", "dashboardDisableRule",
                     "Disable a rule (taskflow.disable_rule); another tenant's rule is 404",
                     "{id, enabled: false}", {"BadRequest", "NotFound"})
          .Params({Param("Id")}),
      DashboardAdmin("post", "/dashboard/api/rules/{id}/fire", "dashboardFireRule",
                     "Fire a rule now (taskflow.dashboard_fire_rule): the jobs created and the "
                     "firings recorded; a disabled rule is 409",
                     "{rule_id, job_ids, firings}", {"BadRequest", "NotFound", "Conflict"})
          .Params({Param("Id")}),
      DashboardAdmin("get", "/dashboard/api/rules/{id}/firings", "dashboardRuleFirings",
                     "A rule's firings, newest first (taskflow.dashboard_rule_firings): "
                     "outcome, matched, job_ids, error, error_sqlstate",
                     "{firings: [...], next_after}", {"BadRequest", "NotFound", "Invalid"})
          .Params({Param("Id")})
          .Params(IdPage()),
      DashboardAdmin("get", "/dashboard/api/webhook-deliveries", "dashboardWebhookDeliveries",
                     "Webhook deliveries that reached a rule, newest first "
                     "(taskflow.dashboard_webhook_deliveries)",
                     "{deliveries: [...], next_after}", {"BadRequest", "NotFound", "Invalid"})
          .Params({Query("rule_id", Int64())})
          .Params(IdPage()),
      DashboardAdmin("get", "/dashboard/api/tenants", "dashboardTenants",
                     "Tenants by id (a client key: itself) with max_running, weight, "
                     "rate_limit, running, started_1h and share_1h (taskflow.dashboard_tenants)",
                     "{tenants: [...], started_1h_total, window_start, next_after}",
                     {"BadRequest", "Invalid"})
          .Params({Query("after", String(), "next_after of the previous page (a tenant id)."),
                   Limit(1000)}),
  };
}

// The dashboard's session and overview.
std::vector<Operation> DashboardOperations() {
  return {
      Operation("get", "/dashboard/api/session", "dashboardSession",
                "What the API key is (taskflow.dashboard_session): the dashboard's sign-in check")
          .Ok("role admin (sees every tenant) or client (tenant_id), and the extension's version.",
              J(R"({"type": "object", "required": ["role", "tenant_id", "version"], "properties": {"role": {"type": "string", "enum": ["admin", "client"]}, "tenant_id": {"type": ["string", "null"]}, "version": {"type": "string"}}})"))
          .Problems({"BadRequest", "Unauthorized", "Unavailable"}),
      Operation("get", "/dashboard/api/overview", "dashboardOverview",
                "The dashboard's Overview (taskflow.dashboard_overview): queues by state with "
                "time series, workers, tenants")
          .Describe("A client key gets only its tenant's numbers: the queues it has jobs in, the "
                    "workers running its jobs, itself among the tenants. Series come from the "
                    "statistics roll-up: 1-minute buckets for 1h, 15-minute buckets for 24h. See "
                    "docs/dashboard.md.")
          .Params(
              {Query("range", J(R"({"type": "string", "enum": ["1h", "24h"], "default": "1h"})"))})
          .Ok("The overview.",
              J(R"({"type": "object", "required": ["generated_at", "queues", "workers", "tenants"], "properties": {
            "generated_at": {"type": "string", "format": "date-time"},
            "range": {"type": "string", "enum": ["1h", "24h"]},
            "bucket_seconds": {"type": "integer"},
            "rolled_up_to": {"type": "string"},
            "queues": {"type": "array", "items": {"type": "object", "properties": {
              "name": {"type": "string"}, "paused": {"type": "boolean"}, "concurrency_limit": {"type": ["integer", "null"]},
              "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
              "series": {"type": "array", "items": {"type": "object", "properties": {
                "t": {"type": "string", "format": "date-time"}, "completed": {"type": "integer"}, "failed": {"type": "integer"},
                "wait_p50_ms": {"type": ["number", "null"]}, "wait_p95_ms": {"type": ["number", "null"]},
                "run_p50_ms": {"type": ["number", "null"]}, "run_p95_ms": {"type": ["number", "null"]}}}}}}},
            "workers": {"type": "array", "items": {"type": "object", "properties": {
              "worker_id": {"type": "string"}, "last_seen_at": {"type": "string", "format": "date-time"},
              "running": {"type": "array", "items": {"type": "object", "additionalProperties": true}}}}},
            "tenants": {"type": "array", "items": {"type": "object", "properties": {
              "tenant_id": {"type": "string"}, "running": {"type": "integer"}, "max_running": {"type": ["integer", "null"]}, "weight": {"type": "number"}}}}}})"))
          .Problems({"BadRequest", "Unauthorized", "Unavailable"}),
  };
}

// The dashboard's jobs, job detail, bulk actions and dead letters.
std::vector<Operation> DashboardJobOperations() {
  return {
      Operation("get", "/dashboard/api/jobs", "dashboardSearchJobs",
                "Search jobs, newest first (taskflow.search_jobs), keyset-paginated")
          .Params(JobFilter())
          .Params(
              {Query("after", String(), "The next_after of the previous page."), Limit(1000, 50)})
          .Ok("A page of job summaries, id descending; next_after is null on the last page.",
              J(R"({"type": "object", "required": ["jobs", "next_after"], "properties": {"jobs": {"type": "array", "items": {"$ref": "#/components/schemas/JobSummary"}}, "next_after": {"type": ["string", "null"]}}})"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "Invalid", "NotAvailable",
                     "Unavailable"}),
      Operation("get", "/dashboard/api/jobs/count", "dashboardCountJobs",
                "Count the jobs matching a filter, capped at 10000 (taskflow.count_jobs)")
          .Params(JobFilter())
          .Ok("count is exact when capped is false.",
              J(R"({"type": "object", "required": ["count", "capped"], "properties": {"count": {"type": "integer"}, "capped": {"type": "boolean"}}})"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "Invalid", "NotAvailable",
                     "Unavailable"}),
      Operation("post", "/dashboard/api/jobs/bulk", "dashboardBulkJobs",
                "Retry, cancel or purge jobs by ids or by filter (taskflow.bulk_jobs, "
                "taskflow.purge_jobs)")
          .Describe(
              "Body: {\"action\": \"retry\"|\"cancel\"|\"purge\", \"ids\": [...]} or {\"action\", "
              "\"filter\": {state, queue, tenant, job_type, correlation_id, error_type, from, to, "
              "payload}, \"expected_count\": n}, optional \"reason\" (cancel). At most 10000 jobs "
              "per call. Each job goes through the per-job verb; a refusal is reported in skipped "
              "(the first 100), not fatal. A filter that now matches more jobs than "
              "expected_count is refused (409). purge needs an admin key's role (403 otherwise) "
              "and deletes only finished jobs.")
          .Takes(Body(
              J(R"({"type": "object", "additionalProperties": true, "required": ["action"]})")))
          .Ok(Response("BulkResult"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "Conflict", "Invalid",
                     "NotAvailable", "Unavailable"}),
      Operation("get", "/dashboard/api/jobs/{id}", "dashboardJobDetail",
                "A job with its attempts, timeline, lease, parent, children, correlation chain "
                "and origin (taskflow.job_detail)")
          .Params({Param("Id")})
          .Ok("The job's detail; see docs/functions.md, taskflow.job_detail.",
              J(R"({"type": "object", "additionalProperties": true, "required": ["job", "attempts", "events", "lease", "parent", "children", "correlation", "origin"]})"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "NotFound", "NotAvailable",
                     "Unavailable"}),
      Operation("get", "/dashboard/api/dead-letters", "dashboardDeadLetters",
                "DEAD jobs grouped by job type and error type (taskflow.dead_letter_groups)")
          .Ok("Groups, largest first; capped: more than 10000 DEAD jobs, the groups count the "
              "newest 10000.",
              J(R"({"type": "object", "required": ["groups", "capped"], "properties": {"capped": {"type": "boolean"}, "groups": {"type": "array", "items": {"type": "object", "properties": {"job_type": {"type": "string"}, "error_type": {"type": ["string", "null"]}, "count": {"type": "integer"}, "last_at": {"type": "string", "format": "date-time"}, "sample_job_id": {"type": "integer"}, "sample_error": {"type": ["string", "null"]}}}}}})"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "NotAvailable", "Unavailable"}),
      Operation("post", "/dashboard/api/dead-letters/redrive", "dashboardDeadLettersRedrive",
                "Retry up to 10000 DEAD jobs of one group (taskflow.dead_letter_redrive)")
          .Takes(RequestBody("DeadLetterGroup"))
          .Ok(Response("BulkResult"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "Invalid", "NotAvailable",
                     "Unavailable"}),
      Operation("post", "/dashboard/api/dead-letters/purge", "dashboardDeadLettersPurge",
                "Delete up to 10000 DEAD jobs of one group with their history "
                "(taskflow.dead_letter_purge); admin key")
          .Takes(RequestBody("DeadLetterGroup"))
          .Ok(Response("BulkResult"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "Invalid", "NotAvailable",
                     "Unavailable"}),
  };
}

// POST /jobs/{id}/<verb> of the worker protocol: the body is the attempt's lease token and
// `fields` (`required` of them required); the answer is the job's state but for heartbeat.
Operation LeaseCall(const std::string& verb, const char* id, const char* summary,
                    const char* description, std::vector<std::string> required, Json fields) {
  Json properties = {{"lease_token",
                      {{"type", "string"},
                       {"format", "uuid"},
                       {"description", "The token acquire returned for this attempt."}}}};
  properties.update(fields);
  required.insert(required.begin(), "lease_token");
  return Operation("post", "/jobs/{id}/" + verb, id, summary)
      .Describe(description)
      .Params({Param("JobId")})
      .Takes(Body(Closed(required, std::move(properties))))
      .Ok(Response("JobStateAfter"))
      .Problems({"BadRequest", "Unauthorized", "Forbidden", "LeaseLost", "Invalid", "Unavailable"});
}

// The worker protocol over HTTP: worker or admin keys.
std::vector<Operation> WorkerOperations() {
  return {
      Operation("post", "/jobs/acquire", "acquireJobs",
                "Acquire jobs: the worker protocol over HTTP (taskflow.acquire); worker or admin "
                "key")
          .Describe(
              "Starts an attempt of up to max_jobs ready jobs of the named queues, each with a "
              "lease token that the calls below present. An empty list when nothing is ready: "
              "poll again (with a backoff). A client key is refused (403).")
          .Takes(Body(Closed({"worker_id"}, J(R"({
          "worker_id": {"type": "string", "minLength": 1, "maxLength": 200, "description": "Your name for this worker, recorded on the attempts and events."},
          "queues": {"type": "array", "items": {"type": "string"}, "maxItems": 100, "default": ["default"]},
          "max_jobs": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
          "lease": {"oneOf": [{"type": "number", "description": "seconds"}, {"type": "string", "description": "a PostgreSQL interval, e.g. \"2 minutes\""}]},
          "job_types": {"type": "array", "items": {"type": "string"}, "maxItems": 1000, "description": "Only these job types; absent: any."}})"))))
          .Ok("The acquired jobs, in acquisition order.",
              J(R"({"type": "object", "required": ["jobs"], "properties": {"jobs": {"type": "array", "items": {"type": "object",
            "required": ["job_id", "attempt", "lease_token", "job_type", "payload", "queue", "tenant_id", "correlation_id", "traceparent", "dependencies", "lease_expires_at", "timeout_seconds"], "properties": {
            "job_id": {"type": "integer", "format": "int64"}, "attempt": {"type": "integer"}, "lease_token": {"type": "string", "format": "uuid"},
            "job_type": {"type": "string"}, "payload": {"$ref": "#/components/schemas/Payload"}, "queue": {"type": "string"}, "tenant_id": {"type": "string"},
            "correlation_id": {"type": ["string", "null"]},
            "traceparent": {"anyOf": [{"$ref": "#/components/schemas/Traceparent"}, {"type": "null"}], "description": "The W3C trace context the job was scheduled with: hand it to the handler (as TRACEPARENT or a traceparent header)."},
            "dependencies": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/DependencyResult"}, "description": "The jobs this one depended on (depends_on, workflow edges), with their results; null for a job without dependencies. See docs/workflows.md."},
            "lease_expires_at": {"type": "string", "format": "date-time"},
            "timeout_seconds": {"type": ["number", "null"], "description": "The job's own run time limit, if it has one."}}}}}})"))
          .Problems({"BadRequest", "Unauthorized", "Forbidden", "Invalid", "Unavailable"}),
      LeaseCall("heartbeat", "heartbeatJob",
                "Keep an attempt's lease alive (taskflow.heartbeat); worker or admin key",
                "Extends the lease to now + extend (absent: the attempt's lease length). status "
                "cancel_requested: someone cancelled the job; stop and report fail or release.",
                {}, {{"extend", Duration()}})
          .Ok("The lease was extended.",
              J(R"({"type": "object", "properties": {"id": {"type": "integer", "format": "int64"}, "status": {"type": "string", "enum": ["ok", "cancel_requested"]}}})")),
      LeaseCall("complete", "completeJob",
                "End an attempt successfully (taskflow.complete); worker or admin key",
                "The job becomes SUCCEEDED with result stored. A repeated call with the token of "
                "the attempt that succeeded answers SUCCEEDED again (safe to retry after a lost "
                "response).",
                {}, {{"result", {{"description", "Any JSON value, stored as the job's result."}}}}),
      LeaseCall(
          "fail", "failJob", "End an attempt with an error (taskflow.fail); worker or admin key",
          "The retry policy decides: SCHEDULED (a retry after the backoff), DEAD (attempts "
          "used up), FAILED (retryable false) or CANCELLED (a cancel was requested).",
          {"error_type"},
          J(R"({"error_type": {"type": "string", "minLength": 1}, "error_message": {"type": "string"}, "retryable": {"type": "boolean", "default": true}})")),
      LeaseCall("release", "releaseJob",
                "Hand a job back without using up an attempt (taskflow.release); worker or admin "
                "key",
                "PENDING again, due now (CANCELLED when a cancel was requested). For a worker that "
                "stops.",
                {}, Json::object()),
      LeaseCall("snooze", "snoozeJob",
                "Run the job again later without using up an attempt (taskflow.snooze); worker or "
                "admin key",
                "SCHEDULED at now + delay (0 to 100 years), the attempt recorded as snoozed and "
                "not counted against max_attempts (CANCELLED when a cancel was requested).",
                {"delay"}, {{"delay", Duration()}}),
  };
}

// The server's own endpoints: no API key.
std::vector<Operation> ServerOperations() {
  return {
      Operation("get", "/health", "health",
                "200 with the extension version when the database answers, the extension is "
                "installed and the server's role is a member of taskflow_http; 503 otherwise")
          .Public()
          .Ok("Healthy.",
              J(R"({"type": "object", "required": ["status", "version"], "properties": {"status": {"const": "ok"}, "version": {"type": "string"}}})"))
          .Problems({"Unavailable"}),
      Operation("get", "/metrics", "metrics",
                "Prometheus text: taskflow.metrics() and the server's own taskflow_http_* series")
          .Public()
          .Ok({{"description", "Prometheus text exposition format 0.0.4."},
               {"content", {{"text/plain", {{"schema", String()}}}}}}),
      Operation("get", "/openapi.json", "openapi", "This document")
          .Public()
          .Ok("OpenAPI 3.1.", AnyObject()),
  };
}

Json Paths() {
  Json paths = Json::object();
  for (auto operations :
       {JobOperations, WorkflowOperations, RuleOperations, DashboardAdminOperations,
        DashboardOperations, DashboardJobOperations, WorkerOperations, ServerOperations}) {
    for (const Operation& op : operations()) paths[op.path()][op.method()] = op.ToJson();
  }
  return paths;
}

}  // namespace

nlohmann::ordered_json NewJobSchema() {
  using ordered_json = nlohmann::ordered_json;
  const ordered_json refinements = ordered_json::parse(kNewJobRefinements);
  for (const auto& [name, refinement] : refinements.items()) {
    if (core::FindScheduleField(name) == nullptr) {
      throw std::logic_error("openapi.cpp refines " + name +
                             ", which is not a field of schedule()");
    }
  }
  ordered_json properties = ordered_json::object();
  ordered_json required = ordered_json::array();
  for (const core::ScheduleField& f : core::kScheduleFields) {
    const std::string name(f.name), sql_default(f.sql_default);
    const ordered_json refinement = refinements.value(name, ordered_json::object());
    ordered_json property = ordered_json::object();
    if (!refinement.contains("$ref"))
      property["type"] = std::string(core::JsonTypeName(f.json_type));
    std::string description(f.description);
    if (refinement.contains("description")) {
      description += " " + refinement["description"].get<std::string>();
    } else if (!sql_default.empty() && sql_default != "NULL") {
      description += " Default: " + sql_default + ".";
    }
    for (const auto& [key, value] : refinement.items()) {
      if (key != "description") property[key] = value;
    }
    property["description"] = description;
    properties[name] = property;
    if (sql_default.empty()) required.push_back(name);
  }
  return {{"type", "object"},
          {"required", required},
          {"additionalProperties", false},
          {"description", "taskflow.schedule's parameters (core/schedule_fields.hpp)."},
          {"properties", properties}};
}

const std::string& OpenApiDocument() {
  static const std::string document = [] {
    Json doc = Json::parse(kHead);
    doc["paths"] = Paths();
    doc["components"] = Json::parse(kComponents);
    doc["components"]["schemas"]["NewJob"] = NewJobSchema();
    return doc.dump(2);
  }();
  return document;
}

}  // namespace taskflow::http
