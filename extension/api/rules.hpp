// Automation rules at the boundary: firing a rule (fire_rule, webhooks, job events), in the
// caller's transaction. SPI must be connected. The pure parts live in core/rules.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/job_state.hpp"
#include "pg/spi.hpp"

namespace taskflow::api {

struct Rule {
  std::int64_t id = 0;
  std::string tenant_id;
  std::string name;
  bool for_each_tenant = false;
  std::optional<std::string> condition;
  std::string actions_json;
  std::optional<std::string> tenant_attributes;  // JSON text, when already read with the rule
};

// What made a rule fire.
struct Firing {
  const char* source = "fire_rule";           // rule_firings.source: fire_rule, webhook, event
  std::string event_json = "{}";              // the context's "event", one JSON value
  std::optional<std::int64_t> source_job_id;  // event: the finished job (the follow-ups' parent)
  std::optional<std::string> correlation_id;  // event: inherited by the follow-ups
  std::optional<std::string> traceparent;     // webhook: the caller's trace, given to the jobs
  std::optional<int> chain_depth;             // event: ancestors of the follow-ups
  std::optional<std::string> refusal;         // recorded as the firing's error; no job created
};

// Fires `rule` once, or once per registered tenant: evaluates the condition against each
// context, fills the action templates and enqueues their jobs through schedule()'s path. Each
// firing is recorded in taskflow.rule_firings; a firing whose templates cannot be filled or
// whose jobs cannot be enqueued records the error and creates no job. Returns the job ids.
std::vector<std::int64_t> FireRule(const Rule& rule, const Firing& firing);

// Fires the enabled event rules matching jobs that just reached the terminal state `to`.
void FireEventRules(core::JobState to, const std::vector<std::int64_t>& jobs);

}  // namespace taskflow::api
