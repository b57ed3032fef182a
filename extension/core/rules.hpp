// Automation rules: the pure parts. Triggers and action templates are validated here, action
// templates are filled here ("{{ <jsonpath> }}" placeholders), and webhook keys and signatures
// are encoded and compared here. Evaluating jsonpath against a context is PostgreSQL's job: the
// boundary layer asks the core which paths a rule needs and hands back their values as JSON text.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// ---- triggers ---------------------------------------------------------------------------------

enum class TriggerType { Cron, Webhook, Event };
const char* ToString(TriggerType type) noexcept;

// A validated trigger object, e.g. {"type": "cron", "schedule": "0 7 * * *", "for_each": "tenant"}.
struct Trigger {
  TriggerType type = TriggerType::Cron;
  bool for_each_tenant = false;         // cron and webhook: fire once per registered tenant
  std::string schedule;                 // cron
  std::optional<std::string> key;       // webhook: given key (absent: generate one)
  std::optional<std::string> secret;    // webhook: given secret
  bool secret_given = false;            // webhook: "secret" present (null: no signature)
  std::string on;                       // event: job_succeeded, job_failed, job_dead, job_cancelled
  std::optional<std::string> job_type;  // event: narrows to this job type
  std::optional<std::string> queue;     // event: narrows to this queue
};

// Parses the JSON text of a trigger object; throws DomainError (22023) naming the bad key.
Trigger ParseTrigger(std::string_view json);

// A pg_cron schedule: five fields (minute hour day-of-month month day-of-week) of '*', numbers
// and (month, day of week) three-letter names, with ranges, lists and steps; or one of @yearly
// @annually @monthly @weekly @daily @hourly. Throws DomainError (22023) naming the bad field.
void ValidateCronSchedule(std::string_view schedule);

// The event name of a terminal job state ("SUCCEEDED" -> "job_succeeded").
std::string EventNameOf(std::string_view terminal_state);

// ---- webhooks ---------------------------------------------------------------------------------

inline constexpr std::size_t kMinWebhookKeyChars = 22;  // 22 base64url chars = 132 bits
inline constexpr std::size_t kMaxWebhookKeyChars = 200;
inline constexpr std::size_t kMinWebhookSecretChars = 16;
inline constexpr std::size_t kMaxWebhookSecretChars = 200;
inline constexpr std::size_t kGeneratedKeyBytes = 24;     // 192 random bits
inline constexpr std::size_t kGeneratedSecretBytes = 32;  // 256 random bits

// URL-safe base64 (RFC 4648 section 5) without padding.
std::string Base64UrlEncode(const std::uint8_t* data, std::size_t size);
// Throws DomainError (22023) unless the key is 22..200 characters of [A-Za-z0-9_-].
void ValidateWebhookKey(std::string_view key);
// Throws DomainError (22023) unless the secret is 16..200 characters without control characters.
void ValidateWebhookSecret(std::string_view secret);
// The digest of a "sha256=<64 hex digits>" signature (either case), or nullopt if malformed.
std::optional<std::vector<std::uint8_t>> ParseSha256Signature(std::string_view signature);
// Compares in time that depends only on the lengths, never on where the bytes differ.
bool ConstantTimeEquals(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b);
std::string ToHex(const std::uint8_t* data, std::size_t size);

// True when `text` is one well-formed JSON value (webhook bodies are checked before parsing).
bool IsJson(std::string_view text);

// ---- names ------------------------------------------------------------------------------------

inline constexpr std::size_t kMaxRuleNameChars = 200;
// Non-empty, at most 200 characters, no control characters.
void ValidateRuleName(std::string_view name);

// ---- contexts ---------------------------------------------------------------------------------

// The context's "now": `ts` as PostgreSQL writes a timestamptz in JSON at UTC
// ("2026-11-26T07:00:00.5+00:00"); hour, minute, day of week (0 = Sunday) and date in UTC.
struct NowFields {
  std::string ts;
  int hour = 0;
  int minute = 0;
  int dow = 0;
  std::string date;  // YYYY-MM-DD
};
// `unix_micros`: microseconds since 1970-01-01 00:00 UTC (not before it).
NowFields NowOf(std::int64_t unix_micros);

// A string as JSON text, quoted and escaped (invalid UTF-8 is replaced, never thrown on).
std::string JsonString(std::string_view s);

// The trigger context as JSON text:
//   {"event": <event>, "tenant": {"id": ..., "attributes": <attributes>},
//    "rule": {"id": ..., "name": ...}, "now": {"ts", "hour", "minute", "dow", "date"}}
// `event_json` and `attributes_json` must each be one valid JSON value (they are copied as is).
std::string ContextJson(std::string_view event_json, std::string_view tenant_id,
                        std::string_view attributes_json, std::int64_t rule_id,
                        std::string_view rule_name, const NowFields& now);

// The event of a webhook call: {"type": "webhook", "delivery_id": ..., "body": <body>}. `body`
// must be one valid JSON value (IsJson).
std::string WebhookEventJson(std::string_view body, const std::optional<std::string>& delivery_id);

// ---- action templates -------------------------------------------------------------------------

// The names of the variables ($name, written $"name" by PostgreSQL) that a jsonpath refers to, in
// order of appearance, without duplicates. `canonical` is the jsonpath as PostgreSQL prints it
// (jsonpath_out: string literals double-quoted with backslash escapes, comments gone). Rules
// pass no variables to jsonpath, so a rule whose condition or placeholder names one is refused.
std::vector<std::string> JsonpathVariables(std::string_view canonical);

// A piece of a template string: literal text, or the jsonpath of a "{{ <jsonpath> }}" placeholder.
struct TemplateSegment {
  bool is_path = false;
  std::string text;
  bool operator==(const TemplateSegment& o) const { return is_path == o.is_path && text == o.text; }
};
// Splits a string into literal text and placeholders. A string without "{{" is one literal.
// Throws DomainError (22023) for a "{{" without "}}" or an empty path; `where` names the field.
std::vector<TemplateSegment> ParseStringTemplate(std::string_view s, const std::string& where);

// One job to enqueue, after filling: the parameters of taskflow.schedule.
struct FilledAction {
  std::string job_type;
  std::string queue;
  std::string payload_json;  // a JSON object, as text
  int priority = 0;
  std::optional<std::string> delay;  // an interval as text ("5 minutes", "30 seconds")
  std::optional<int> max_attempts;
  std::optional<std::string> unique_key;
  // A workflow action: taskflow.schedule_workflow's spec (JSON text, without tenant_id: the
  // workflow runs in the firing's tenant); the fields above are then unused.
  std::optional<std::string> workflow_json;
};

// The validated action templates of a rule: a JSON array of objects with the keys job_type
// (required), queue, payload, priority, delay, max_attempts, unique_key. In payload (at any
// depth) and unique_key, "{{ <jsonpath> }}" placeholders are filled from the trigger context.
// An element {"workflow": {"name", "nodes", "edges"}} starts a workflow instead (docs/
// automation.md): its nodes have the keys key, job_type (required), queue, payload, priority,
// max_attempts; its edges from, to, on_failure; placeholders in the node payloads and the name.
class RuleActions {
 public:
  // Throws DomainError (22023) naming the element and key, e.g. "actions[1].priority ...". A
  // workflow's graph is checked as schedule_workflow checks it (keys, edges, cycles), and its
  // sizes against the given limits (create_rule passes the settings; a stored rule parsed again
  // at fire time passes none, and schedule_workflow applies the settings of that moment).
  static RuleActions Parse(std::string_view actions_json, std::size_t max_workflow_nodes = SIZE_MAX,
                           std::size_t max_workflow_edges = SIZE_MAX);

  std::size_t size() const;
  // The distinct placeholder jsonpaths of all actions in a stable order (action by action;
  // payload keys sorted, then unique_key).
  const std::vector<std::string>& paths() const;
  // The distinct queues and delays named by the actions (checked against the database).
  std::vector<std::string> queues() const;
  std::vector<std::string> delays() const;

  // Fills every action. values[i] is the JSON text of paths()[i] evaluated against the context,
  // or nullopt when the path selects nothing. All or nothing: throws DomainError (22023) naming
  // the action and field when a placeholder cannot be filled:
  //  - its path selects nothing;
  //  - inside a longer string, its value is an object, an array or null;
  //  - in unique_key, the filled value is not a non-empty string, number or boolean.
  // A placeholder that is the whole string takes the value with its JSON type.
  //
  // `max_payload_bytes` bounds each filled payload's JSON text: rendering stops as soon as the
  // next piece would take it past the bound (DomainError 54000), so an oversized payload is
  // refused before it is built. `budget`, when given, is the bytes the caller still allows this
  // call to render; every piece written is taken from it (54000 when it runs out).
  std::vector<FilledAction> Fill(const std::vector<std::optional<std::string>>& values,
                                 std::size_t max_payload_bytes = SIZE_MAX,
                                 std::size_t* budget = nullptr) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace taskflow::core
