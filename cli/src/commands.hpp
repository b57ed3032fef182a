// The commands of the taskflow tool. Each calls the taskflow SQL API only (functions, never the
// tables), prints a table for people or JSON with --json, and returns an exit code or throws
// CliError. docs/cli.md describes each.
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "db.hpp"

namespace taskflow::cli {

struct Context {
  std::function<Db&()> db;  // connects on first use (so --help never connects)
  bool json = false;
  std::ostream* out = nullptr;
};

// The filter of list_jobs.
struct ListFilter {
  std::string tenant, queue, state, job_type;
  std::optional<long long> after_id;
  int limit = 100;
};

// The filter of count_jobs / bulk_jobs (the dashboard's filter).
struct JobFilter {
  std::vector<std::string> states;
  std::string queue, tenant, job_type, correlation_id, from, to, payload, error_type;
  bool Empty() const;
  nlohmann::json ToJson() const;  // bulk_jobs' filter object
};

struct QueueSettings {
  std::optional<int> priority, concurrency_limit;
  std::string retry_policy, lease;
};

int Status(Context& ctx);
int Top(Context& ctx, double interval_seconds, int count);
int JobsList(Context& ctx, const ListFilter& filter);
int JobsShow(Context& ctx, long long id);
// action: "retry" or "cancel"
int JobsAct(Context& ctx, const std::string& action, const std::vector<long long>& ids,
            const JobFilter& filter, bool yes, const std::string& reason);
int DeadLetters(Context& ctx, int max_jobs);
// action: "redrive" or "purge"
int DeadLettersAct(Context& ctx, const std::string& action, const std::string& job_type,
                   const std::string& error_type, int max_jobs, bool yes);
int QueuesList(Context& ctx);
int QueuesPause(Context& ctx, const std::string& name, bool pause);
int QueuesCreate(Context& ctx, const std::string& name, const QueueSettings& settings, bool create);
int RulesList(Context& ctx, const std::string& tenant, const std::string& trigger_type,
              std::optional<bool> enabled);
int RulesEnable(Context& ctx, long long id, bool enable);
int RulesFire(Context& ctx, long long id, const std::string& context);
int Tenants(Context& ctx, const std::string& after, int limit);

}  // namespace taskflow::cli
