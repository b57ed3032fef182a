// taskflow-bench: measures TaskFlow's enqueue and drain throughput on one server in one run and
// compares each figure with the same row work done by bare SQL (the ceiling). See
// docs/benchmarks.md for what each scenario does and its target.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <pqxx/pqxx>

#include "context.hpp"
#include "report.hpp"
#include "scenario.hpp"

namespace taskflow::bench {
namespace {

std::vector<std::string> SplitCommas(const std::vector<std::string>& parts) {
  std::vector<std::string> out;
  for (const std::string& part : parts) {
    std::stringstream ss(part);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (!item.empty()) out.push_back(item);
    }
  }
  return out;
}

// The run with the median rate (the lower middle one for an even count), with every run's
// rate as a note so the spread is visible.
Measurement Median(std::vector<Measurement> runs) {
  if (runs.size() == 1) return runs.front();
  std::string rates;
  for (const Measurement& m : runs) {
    rates += (rates.empty() ? "" : ", ") + std::to_string(std::llround(m.JobsPerSecond()));
  }
  std::sort(runs.begin(), runs.end(), [](const Measurement& a, const Measurement& b) {
    return a.JobsPerSecond() < b.JobsPerSecond();
  });
  Measurement median = runs[(runs.size() - 1) / 2];
  median.notes.emplace_back("jobs/s of each run", rates);
  return median;
}

ServerInfo DescribeServer(Context& ctx) {
  ServerInfo info;
  info.emplace_back("version", ctx.QueryText("SHOW server_version"));
  for (const char* setting : {"fsync", "synchronous_commit", "shared_buffers", "max_connections"}) {
    info.emplace_back(setting, ctx.QueryText(std::string("SHOW ") + setting));
  }
  info.emplace_back(
      "taskflow", ctx.QueryText("SELECT extversion FROM pg_extension WHERE extname = 'taskflow'"));
  return info;
}

struct Options {
  std::string db;
  double scale = 1.0;
  std::vector<std::string> only_args;
  std::int64_t history = -1;
  std::string history_fill = "sql";
  bool list = false;
  bool keep = false;
  bool check = false;
  int repeat = 1;
};

void AddOptions(CLI::App& app, Options& o) {
  if (const char* env = std::getenv("TASKFLOW_DATABASE_URL")) o.db = env;
  app.add_option("--db", o.db,
                 "libpq connection string or URL (default: $TASKFLOW_DATABASE_URL, else the "
                 "PG* environment)");
  app.add_option("--scale", o.scale, "multiply every job count, e.g. 0.1 for a smoke run")
      ->check(CLI::PositiveNumber);
  app.add_option("--only", o.only_args, "run only these scenarios (comma-separated; see --list)");
  app.add_option("--history", o.history,
                 "finished jobs in the table for drain-history (default 1,000,000 x scale)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--history-fill", o.history_fill,
                 "how drain-history fills its history: sql (direct INSERT, needs table owner "
                 "rights) or api (schedule_many + acquire + complete_many)")
      ->check(CLI::IsMember({"sql", "api"}));
  app.add_option(
         "--repeat", o.repeat,
         "run the selection N times in rounds; report each scenario's run with the median rate")
      ->check(CLI::Range(1, 99));
  app.add_flag("--list", o.list, "list the scenarios and exit");
  app.add_flag("--keep", o.keep, "leave the bench rows and the bench_ceiling schema behind");
  app.add_flag("--check", o.check, "exit 2 when a target is missed");
}

void ListScenarios() {
  for (const Scenario& s : Registry()) {
    std::cout << s.name << ": " << s.description;
    if (!s.reference.empty())
      std::cout << " (target >= " << s.target << " x " << s.reference << ")";
    std::cout << '\n';
  }
}

// The scenarios --only names (all without it), in registry order; false for an unknown name.
bool SelectScenarios(const std::vector<std::string>& only_args,
                     std::vector<const Scenario*>& selected) {
  const std::vector<std::string> only = SplitCommas(only_args);
  std::set<std::string> wanted(only.begin(), only.end());
  for (const std::string& name : wanted) {
    if (!FindScenario(name)) {
      std::cerr << "unknown scenario '" << name << "' (see --list)\n";
      return false;
    }
  }
  for (const Scenario& s : Registry()) {
    if (wanted.empty() || wanted.count(s.name)) selected.push_back(&s);
  }
  return true;
}

// One scenario's run, appended to `runs`; its error (trailing newlines cut) when it fails.
void RunOnce(const Scenario& s, Context& ctx, std::vector<Measurement>& runs, std::string& error) {
  try {
    runs.push_back(s.run(ctx));
    const Measurement& m = runs.back();
    std::ostringstream msg;
    msg << s.name << ": " << m.jobs << " jobs in " << m.seconds
        << " s = " << static_cast<long long>(m.JobsPerSecond()) << " jobs/s";
    Context::Log(msg.str());
  } catch (const std::exception& e) {
    error = e.what();
    while (!error.empty() && error.back() == '\n') error.pop_back();
    Context::Log(s.name + " FAILED: " + error);
  }
}

// Rounds, not one scenario N times in a row: every round runs the whole selection, so a
// scenario and its reference see the same background load on the machine. Each scenario's
// outcome is its run with the median rate, or its first error.
std::vector<Outcome> RunRounds(const std::vector<const Scenario*>& selected, Context& ctx,
                               int repeat) {
  std::vector<std::vector<Measurement>> runs(selected.size());
  std::vector<std::string> errors(selected.size());
  for (int round = 1; round <= repeat; ++round) {
    for (size_t i = 0; i < selected.size(); ++i) {
      const Scenario& s = *selected[i];
      if (!errors[i].empty()) continue;  // failed in an earlier round
      Context::Log("round " + std::to_string(round) + "/" + std::to_string(repeat) + ": " + s.name +
                   ": " + s.description);
      RunOnce(s, ctx, runs[i], errors[i]);
    }
  }
  std::vector<Outcome> outcomes;
  for (size_t i = 0; i < selected.size(); ++i) {
    Outcome o;
    o.scenario = selected[i];
    o.ok = errors[i].empty();
    if (o.ok) {
      o.measurement = Median(std::move(runs[i]));
    } else {
      o.error = errors[i];
    }
    outcomes.push_back(std::move(o));
  }
  return outcomes;
}

// 1 when a scenario failed, 2 with --check when a target was missed, else 0.
int ExitCode(const std::vector<Outcome>& outcomes, bool check) {
  bool failed = false, missed = false;
  for (const Outcome& o : outcomes) {
    if (!o.ok) failed = true;
    const double ratio = RatioToReference(o, outcomes);
    if (o.scenario->target > 0 && ratio >= 0 && ratio < o.scenario->target) missed = true;
  }
  if (failed) return 1;
  if (check && missed) return 2;
  return 0;
}

int Run(int argc, char** argv) {
  CLI::App app{"taskflow-bench: TaskFlow throughput against bare-SQL ceilings"};
  Options opt;
  AddOptions(app, opt);
  CLI11_PARSE(app, argc, argv);

  if (opt.list) {
    ListScenarios();
    return 0;
  }
  std::vector<const Scenario*> selected;
  if (!SelectScenarios(opt.only_args, selected)) return 64;

  Sizes sizes = Sizes{}.Scaled(opt.scale);
  if (opt.history >= 0) sizes.history_jobs = opt.history;
  Context ctx(opt.db, sizes, opt.history_fill == "api" ? HistoryFill::Api : HistoryFill::Sql);
  const ServerInfo server = DescribeServer(ctx);
  const std::vector<Outcome> outcomes = RunRounds(selected, ctx, opt.repeat);
  if (!opt.keep) {
    try {
      ctx.Cleanup();
    } catch (const std::exception& e) {
      Context::Log(std::string("cleanup failed: ") + e.what());
    }
  }

  std::cout << '\n';
  PrintTable(std::cout, server, opt.scale, opt.repeat, outcomes);
  std::cout << '\n' << ToJson(server, opt.scale, opt.repeat, outcomes).dump() << std::endl;
  return ExitCode(outcomes, opt.check);
}

}  // namespace
}  // namespace taskflow::bench

int main(int argc, char** argv) {
  try {
    return taskflow::bench::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "taskflow-bench: " << e.what() << '\n';
    return 1;
  }
}
