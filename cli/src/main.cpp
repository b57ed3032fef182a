// taskflow: the administration command line of TaskFlow. It connects like psql (--db URL or the
// libpq environment) and calls the taskflow SQL API only. See docs/cli.md.
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include <taskflow/version.hpp>

#include "commands.hpp"

namespace {

using namespace taskflow::cli;

constexpr const char* kFooter = R"(
Connection: --db URL or conninfo, else TASKFLOW_DATABASE_URL, else the libpq environment
(PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSERVICE, ~/.pgpass), as psql.

Exit codes: 0 ok; 1 usage error, invalid value, or a bulk action that needs --yes;
2 not found; 3 refused by the state machine or a conflict (or some jobs of a bulk action
were skipped); 4 cannot connect, or no taskflow extension; 5 permission denied; 6 other error.)";

const std::vector<std::string> kStates{"PENDING", "SCHEDULED", "RUNNING",  "SUCCEEDED",
                                       "FAILED",  "DEAD",      "CANCELLED"};

void AddFilterOptions(CLI::App* cmd, JobFilter& f) {
  cmd->add_option("--state", f.states, "Job state; repeatable or comma-separated")
      ->delimiter(',')
      ->transform(CLI::IsMember(kStates, CLI::ignore_case));
  cmd->add_option("--queue", f.queue, "Queue name");
  cmd->add_option("--tenant", f.tenant, "Tenant id");
  cmd->add_option("--type", f.job_type, "Job type");
  cmd->add_option("--correlation-id", f.correlation_id, "Correlation id");
  cmd->add_option("--from", f.from, "Created at or after this time (e.g. '2026-12-01 00:00+00')");
  cmd->add_option("--to", f.to, "Created before this time");
  cmd->add_option("--payload", f.payload,
                  "A jsonpath predicate on the payload, e.g. '$.customer == \"acme\"'");
  cmd->add_option("--error-type", f.error_type, "The last error's type");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "taskflow: administers TaskFlow job queues in PostgreSQL through the taskflow SQL API."};
  app.footer(kFooter);
  app.set_version_flag("--version", "taskflow " TASKFLOW_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // --db and --json are accepted after the subcommand too

  std::string db_url;
  bool json_output = false;
  app.add_option("-d,--db", db_url, "PostgreSQL URL or conninfo (default: the libpq environment)")
      ->envname("TASKFLOW_DATABASE_URL");
  app.add_flag("--json", json_output, "Print JSON for scripts instead of tables");

  std::function<int(Context&)> run;

  // status
  app.add_subcommand("status", "Queues: jobs by state, oldest waiting job, failure rate, paused")
      ->callback([&] { run = [](Context& c) { return Status(c); }; });

  // top
  double interval = 2;
  int count = 0;
  auto* top = app.add_subcommand(
      "top",
      "status, refreshed every --interval seconds; q or Ctrl-C quits. Without a terminal it prints one "
      "frame after another (with --json: one JSON document per line)");
  top->add_option("-n,--interval", interval, "Seconds between frames")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  top->add_option("--count", count, "Stop after this many frames (0: until q or Ctrl-C)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  top->callback([&] { run = [&](Context& c) { return Top(c, interval, count); }; });

  // jobs
  auto* jobs = app.add_subcommand("jobs", "List, show, retry and cancel jobs");
  jobs->require_subcommand(1);
  ListFilter list;
  auto* jobs_list =
      jobs->add_subcommand("list", "Jobs matching every filter given, by id (taskflow.list_jobs)");
  jobs_list->add_option("--state", list.state, "Job state")
      ->transform(CLI::IsMember(kStates, CLI::ignore_case));
  jobs_list->add_option("--queue", list.queue, "Queue name");
  jobs_list->add_option("--tenant", list.tenant, "Tenant id");
  jobs_list->add_option("--type", list.job_type, "Job type");
  jobs_list->add_option("--after", list.after_id, "Only ids greater than this (the next page)");
  jobs_list->add_option("--limit", list.limit, "Most jobs listed (1 to 10000)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  jobs_list->callback([&] { run = [&](Context& c) { return JobsList(c, list); }; });

  long long show_id = 0;
  auto* jobs_show =
      jobs->add_subcommand("show", "A job and its history as a timeline (taskflow.job_detail)");
  jobs_show->add_option("id", show_id, "Job id")->required();
  jobs_show->callback([&] { run = [&](Context& c) { return JobsShow(c, show_id); }; });

  std::vector<long long> act_ids;
  JobFilter act_filter;
  bool yes = false;
  std::string reason;
  for (const std::string action : {"retry", "cancel"}) {
    auto* cmd = jobs->add_subcommand(
        action,
        action == "retry"
            ? "Retry FAILED, DEAD or CANCELLED jobs: by id, or every job matching a filter (with --yes)"
            : "Cancel PENDING, SCHEDULED or RUNNING jobs: by id, or every job matching a filter (with --yes)");
    cmd->add_option("ids", act_ids, "Job ids");
    AddFilterOptions(cmd, act_filter);
    cmd->add_flag("-y,--yes", yes,
                  "Act on the jobs the filter matches (without it: only count them)");
    if (action == "cancel") cmd->add_option("--reason", reason, "Recorded with the cancellation");
    cmd->callback([&, action] {
      run = [&, action](Context& c) {
        return JobsAct(c, action, act_ids, act_filter, yes, reason);
      };
    });
  }

  // dead-letters
  int dl_max = 10000;
  std::string dl_type, dl_error;
  auto* dl = app.add_subcommand(
      "dead-letters", "DEAD jobs grouped by job type and error type; redrive or purge a group");
  dl->require_subcommand(0, 1);
  dl->add_option("--max-jobs", dl_max, "Count the newest this many dead jobs")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  dl->callback([&] {
    if (!run) run = [&](Context& c) { return DeadLetters(c, dl_max); };
  });
  for (const std::string action : {"redrive", "purge"}) {
    auto* cmd = dl->add_subcommand(
        action, action == "redrive"
                    ? "Retry the DEAD jobs of one group (with --yes)"
                    : "Delete the DEAD jobs of one group with their history (with --yes)");
    cmd->add_option("--type", dl_type, "The group's job type")->required();
    cmd->add_option("--error-type", dl_error, "The group's error type")->required();
    cmd->add_option("--limit", dl_max, "Most jobs acted on, newest first (1 to 10000)")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    cmd->add_flag("-y,--yes", yes, "Act (without it: only count them)");
    cmd->callback([&, action] {
      run = [&, action](Context& c) {
        return DeadLettersAct(c, action, dl_type, dl_error, dl_max, yes);
      };
    });
  }

  // queues
  auto* queues = app.add_subcommand("queues", "List, pause, resume, create and alter queues");
  queues->require_subcommand(1);
  queues->add_subcommand("list", "Every queue's settings")->callback([&] {
    run = [](Context& c) { return QueuesList(c); };
  });
  std::string queue_name;
  for (const std::string action : {"pause", "resume"}) {
    auto* cmd = queues->add_subcommand(
        action, action == "pause" ? "Workers stop taking jobs from the queue (scheduling goes on)"
                                  : "Workers take jobs from the queue again");
    cmd->add_option("name", queue_name, "Queue name")->required();
    cmd->callback([&, action] {
      run = [&, action](Context& c) { return QueuesPause(c, queue_name, action == "pause"); };
    });
  }
  QueueSettings settings;
  for (const std::string action : {"create", "alter"}) {
    auto* cmd = queues->add_subcommand(
        action, action == "create" ? "Create a queue" : "Change a queue (only the options given)");
    cmd->add_option("name", queue_name, "Queue name")->required();
    cmd->add_option("--priority", settings.priority, "Queues of higher priority are served first");
    cmd->add_option("--concurrency-limit", settings.concurrency_limit,
                    "Most RUNNING jobs of the queue at once");
    cmd->add_option(
        "--retry-policy", settings.retry_policy,
        "JSON, e.g. '{\"max_attempts\": 8, \"strategy\": \"exponential\", \"base_delay\": \"5 seconds\"}'");
    cmd->add_option("--lease", settings.lease,
                    "Lease per acquisition, an interval (e.g. '2 minutes')");
    cmd->callback([&, action] {
      run = [&, action](Context& c) {
        return QueuesCreate(c, queue_name, settings, action == "create");
      };
    });
  }

  // rules
  auto* rules = app.add_subcommand("rules", "List, enable, disable and fire automation rules");
  rules->require_subcommand(1);
  std::string rule_tenant, rule_trigger, fire_context;
  bool only_enabled = false, only_disabled = false;
  auto* rules_list =
      rules->add_subcommand("list", "Rules, optionally filtered (taskflow.list_rules)");
  rules_list->add_option("--tenant", rule_tenant, "Tenant id");
  rules_list->add_option("--trigger-type", rule_trigger, "cron, webhook or event");
  auto* enabled_flag = rules_list->add_flag("--enabled", only_enabled, "Only enabled rules");
  rules_list->add_flag("--disabled", only_disabled, "Only disabled rules")->excludes(enabled_flag);
  rules_list->callback([&] {
    run = [&](Context& c) {
      std::optional<bool> enabled;
      if (only_enabled) enabled = true;
      if (only_disabled) enabled = false;
      return RulesList(c, rule_tenant, rule_trigger, enabled);
    };
  });
  long long rule_id = 0;
  for (const std::string action : {"enable", "disable", "fire"}) {
    auto* cmd = rules->add_subcommand(
        action, action == "enable"    ? "Enable a rule (and its pg_cron job)"
                : action == "disable" ? "Disable a rule (and remove its pg_cron job)"
                                      : "Fire a rule now; prints the jobs it created");
    cmd->add_option("id", rule_id, "Rule id")->required();
    if (action == "fire")
      cmd->add_option("--context", fire_context, "JSON: the event the rule sees (default {})");
    cmd->callback([&, action] {
      run = [&, action](Context& c) {
        return action == "fire" ? RulesFire(c, rule_id, fire_context)
                                : RulesEnable(c, rule_id, action == "enable");
      };
    });
  }

  // tenants
  std::string tenants_after;
  int tenants_limit = 100;
  auto* tenants = app.add_subcommand(
      "tenants", "Tenants: running jobs, limits, weights, jobs started in the last hour");
  tenants->add_option("--after", tenants_after, "Only tenants after this id (the next page)");
  tenants->add_option("--limit", tenants_limit, "Most tenants listed (1 to 1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  tenants->callback(
      [&] { run = [&](Context& c) { return Tenants(c, tenants_after, tenants_limit); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  if (!run) {
    std::cerr << app.help();
    return kUsage;
  }

  std::unique_ptr<Db> db;
  Context ctx;
  ctx.json = json_output;
  ctx.out = &std::cout;
  ctx.db = [&]() -> Db& {
    if (!db) db = std::make_unique<Db>(db_url);
    return *db;
  };
  try {
    return run(ctx);
  } catch (const CliError& e) {
    std::cout.flush();
    std::cerr << "taskflow: " << e.what() << "\n";
    return e.code();
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "taskflow: " << e.what() << "\n";
    return kError;
  }
}
