#include "commands.hpp"

#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <iostream>
#include <sstream>

#include "format.hpp"

namespace taskflow::cli {

using nlohmann::json;

namespace {

Param Opt(const std::string& s) { return s.empty() ? Param{} : Param{s}; }

// A PostgreSQL array literal of text values ({"a","b"}), quoted and escaped.
std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ",";
    out += "\"";
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\"";
  }
  return out + "}";
}

std::string ArrayLiteral(const std::vector<long long>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i)
    out += (i > 0 ? "," : "") + std::to_string(values[i]);
  return out + "}";
}

double Num(const json& object, const std::string& key, double fallback = 0) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

void PrintJson(Context& ctx, const json& value) { *ctx.out << value.dump(2) << "\n"; }

// A listing: with --json, `doc` as it is; else a table of `columns` with a row of `cells(row)`
// for each of `rows`. Returns whether it printed the table (notes may follow under it).
bool PrintListing(Context& ctx, const json& doc, const json& rows,
                  std::vector<Table::Column> columns,
                  const std::function<std::vector<std::string>(const json&)>& cells) {
  if (ctx.json) {
    PrintJson(ctx, doc);
    return false;
  }
  Table table(std::move(columns));
  for (const auto& row : rows) table.AddRow(cells(row));
  table.Render(*ctx.out);
  return true;
}

// The timestamp `key` of `object` as a cell (ShortTimestamp); "-" when it is not a string.
std::string TimeCell(const json& object, const char* key) {
  return object.value(key, json()).is_string() ? ShortTimestamp(object[key].get<std::string>())
                                               : "-";
}

// ---------------------------------------------------------------------------------------------
// status and top
// ---------------------------------------------------------------------------------------------

// dashboard_queues(): every queue's settings and the per-queue figures of queue_stats.
json QueueFigures(Context& ctx) {
  json doc = ctx.db().Json("SELECT taskflow.dashboard_queues()");
  json queues = json::array();
  for (const auto& q : doc.value("queues", json::array())) {
    const double waiting = Num(q, "pending") + Num(q, "scheduled");
    json ratio = q.value("failure_rate_5m", json());
    queues.push_back({
        {"queue", q.value("name", "")},
        {"paused", q.value("paused", false)},
        {"priority", q.value("priority", json())},
        {"concurrency_limit", q.value("concurrency_limit", json())},
        {"pending", q.value("pending", 0)},
        {"scheduled", q.value("scheduled", 0)},
        {"running", q.value("running", 0)},
        {"succeeded", q.value("succeeded", 0)},
        {"failed", q.value("failed", 0)},
        {"dead", q.value("dead", 0)},
        {"cancelled", q.value("cancelled", 0)},
        // the oldest job that is due and waits for a worker (PENDING, or SCHEDULED and due)
        {"oldest_waiting_seconds",
         waiting > 0 ? q.value("oldest_ready_age_seconds", json()) : json()},
        {"failure_rate_5m", ratio},
        {"completed_per_minute_5m", q.value("completed_per_minute_5m", json())},
    });
  }
  return queues;
}

void RenderStatus(std::ostream& out, const json& queues) {
  Table table({{"QUEUE"},
               {"PAUSED"},
               {"PENDING", true},
               {"SCHEDULED", true},
               {"RUNNING", true},
               {"SUCCEEDED", true},
               {"FAILED", true},
               {"DEAD", true},
               {"CANCELLED", true},
               {"OLDEST WAITING", true},
               {"FAILURES 5M", true},
               {"DONE/MIN 5M", true}});
  for (const auto& q : queues) {
    const json& age = q["oldest_waiting_seconds"];
    const json& rate = q["failure_rate_5m"];
    const json& done = q["completed_per_minute_5m"];
    char per_minute[32] = "-";
    if (done.is_number()) std::snprintf(per_minute, sizeof per_minute, "%.1f", done.get<double>());
    table.AddRow({Cell(q, "queue"), q.value("paused", false) ? "paused" : "-", Cell(q, "pending"),
                  Cell(q, "scheduled"), Cell(q, "running"), Cell(q, "succeeded"), Cell(q, "failed"),
                  Cell(q, "dead"), Cell(q, "cancelled"),
                  age.is_number() ? FormatAge(age.get<double>()) : "-",
                  rate.is_number() ? FormatPercent(rate.get<double>()) : "-", per_minute});
  }
  table.Render(out);
}

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }

// Puts a terminal on stdin into non-canonical mode (a key is read at once, without echo) and
// restores it on destruction.
class RawTerminal {
 public:
  RawTerminal() {
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// Waits up to `seconds`; true when the user asked to quit (q, Ctrl-C, SIGTERM). Reads stdin
// while it is open; at its end (a pipe, /dev/null) only signals end the wait early.
bool WaitOrQuit(double seconds, bool& stdin_open) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_stop.load()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    const int timeout = static_cast<int>(std::min<long long>(left.count(), 200));
    const int n = stdin_open ? poll(&fd, 1, timeout) : poll(nullptr, 0, timeout);
    if (n > 0 && stdin_open && (fd.revents & (POLLIN | POLLHUP))) {
      char buf[64];
      const ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
      if (got <= 0) {
        stdin_open = false;
      } else {
        for (ssize_t i = 0; i < got; ++i) {
          if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3 /* Ctrl-C in raw mode */) return true;
        }
      }
    } else if (n > 0 && (fd.revents & (POLLERR | POLLNVAL))) {
      stdin_open = false;
    }
  }
  return true;
}

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Bulk answers
// ---------------------------------------------------------------------------------------------

// Prints bulk_jobs' answer; exit 0 when every matched job changed, 3 when some were refused.
int ReportBulk(Context& ctx, const std::string& verb, const json& answer) {
  const long long matched = static_cast<long long>(Num(answer, "matched"));
  const long long changed = static_cast<long long>(Num(answer, "changed"));
  const long long skipped = static_cast<long long>(Num(answer, "skipped_count"));
  if (ctx.json) {
    PrintJson(ctx, answer);
  } else {
    *ctx.out << verb << " " << changed << " of " << matched << " jobs";
    const long long asked = static_cast<long long>(Num(answer, "cancel_requested"));
    if (asked > 0) *ctx.out << " (" << asked << " RUNNING: their workers were asked to stop)";
    *ctx.out << "\n";
    if (skipped > 0) {
      *ctx.out << skipped << " skipped:\n";
      Table table({{"ID", true}, {"STATE"}, {"REASON", false, 100}});
      for (const auto& s : answer.value("skipped", json::array())) {
        table.AddRow({Cell(s, "id"), Cell(s, "state"), Cell(s, "reason")});
      }
      table.Render(*ctx.out);
      if (skipped > static_cast<long long>(table.Rows())) {
        *ctx.out << "(first " << table.Rows() << " shown)\n";
      }
    }
  }
  return skipped > 0 ? kRefused : kOk;
}

std::string Describe(const JobFilter& f) {
  std::string text;
  auto add = [&](const std::string& name, const std::string& value) {
    if (!value.empty()) text += (text.empty() ? "" : ", ") + name + " " + value;
  };
  std::string states;
  for (const auto& s : f.states) states += (states.empty() ? "" : ",") + s;
  add("state", states);
  add("queue", f.queue);
  add("tenant", f.tenant);
  add("type", f.job_type);
  add("correlation id", f.correlation_id);
  add("from", f.from);
  add("to", f.to);
  add("payload", f.payload);
  add("error type", f.error_type);
  return text;
}

}  // namespace

bool JobFilter::Empty() const {
  return states.empty() && queue.empty() && tenant.empty() && job_type.empty() &&
         correlation_id.empty() && from.empty() && to.empty() && payload.empty() &&
         error_type.empty();
}

json JobFilter::ToJson() const {
  json f = json::object();
  if (!states.empty()) f["state"] = states;
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) f[key] = value;
  };
  put("queue", queue);
  put("tenant", tenant);
  put("job_type", job_type);
  put("correlation_id", correlation_id);
  put("from", from);
  put("to", to);
  put("payload", payload);
  put("error_type", error_type);
  return f;
}

int Status(Context& ctx) {
  const json queues = QueueFigures(ctx);
  if (ctx.json) {
    PrintJson(ctx, {{"queues", queues}});
  } else {
    RenderStatus(*ctx.out, queues);
  }
  return kOk;
}

int Top(Context& ctx, double interval_seconds, int count) {
  g_stop.store(false);
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const bool tty = isatty(STDOUT_FILENO) && !ctx.json;
  RawTerminal raw;
  bool stdin_open = true;
  for (int frame = 1;; ++frame) {
    const json queues = QueueFigures(ctx);
    if (ctx.json) {
      // one JSON document per line and frame
      *ctx.out << json{{"at", NowUtc()}, {"queues", queues}}.dump() << std::endl;
    } else {
      std::ostringstream text;
      if (tty) text << "\033[H\033[2J";
      char every[32];
      std::snprintf(every, sizeof every, "%g", interval_seconds);
      text << "taskflow top  " << NowUtc() << "  every " << every << "s"
           << (tty ? "  (q to quit)" : "") << "\n\n";
      RenderStatus(text, queues);
      if (!tty) text << "\n";
      *ctx.out << text.str() << std::flush;
    }
    if (count > 0 && frame >= count) break;
    if (WaitOrQuit(interval_seconds, stdin_open)) break;
  }
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  return kOk;
}

// ---------------------------------------------------------------------------------------------
// jobs
// ---------------------------------------------------------------------------------------------

int JobsList(Context& ctx, const ListFilter& f) {
  const json rows = ctx.db().Json(
      "SELECT COALESCE(jsonb_agg(to_jsonb(j) ORDER BY j.id), '[]') "
      "FROM taskflow.list_jobs(tenant_id => $1, queue => $2, state => $3::taskflow.job_state, "
      "job_type => $4, after_id => $5::bigint, max_rows => $6::integer) j",
      {Opt(f.tenant), Opt(f.queue), Opt(f.state), Opt(f.job_type),
       f.after_id ? Param{std::to_string(*f.after_id)} : Param{}, std::to_string(f.limit)});
  const auto cells = [](const json& j) -> std::vector<std::string> {
    std::string error = j.value("last_error_type", json()).is_string()
                            ? j["last_error_type"].get<std::string>()
                            : "";
    if (j.value("last_error_message", json()).is_string())
      error += ": " + j["last_error_message"].get<std::string>();
    return {Cell(j, "id"),
            Cell(j, "queue"),
            Cell(j, "job_type"),
            Cell(j, "tenant_id"),
            Cell(j, "state"),
            Cell(j, "priority"),
            Cell(j, "attempts") + "/" + Cell(j, "max_attempts"),
            TimeCell(j, "next_run_at"),
            TimeCell(j, "created_at"),
            error.empty() ? "-" : error};
  };
  const bool table = PrintListing(ctx, rows, rows,
                                  {{"ID", true},
                                   {"QUEUE"},
                                   {"TYPE", false, 40},
                                   {"TENANT"},
                                   {"STATE"},
                                   {"PRIO", true},
                                   {"ATTEMPT", true},
                                   {"NEXT RUN"},
                                   {"CREATED"},
                                   {"LAST ERROR", false, 60}},
                                  cells);
  if (table && static_cast<int>(rows.size()) == f.limit && !rows.empty()) {
    *ctx.out << "(" << rows.size() << " jobs; the next page: --after " << Cell(rows.back(), "id")
             << ")\n";
  }
  return kOk;
}

int JobsShow(Context& ctx, long long id) {
  const json detail = ctx.db().Json("SELECT taskflow.job_detail($1::bigint)", {std::to_string(id)});
  if (detail.is_null()) throw CliError(kNotFound, "job " + std::to_string(id) + " does not exist");
  if (ctx.json) {
    PrintJson(ctx, detail);
  } else {
    for (const auto& line : JobDetailLines(detail)) *ctx.out << line << "\n";
  }
  return kOk;
}

int JobsAct(Context& ctx, const std::string& action, const std::vector<long long>& ids,
            const JobFilter& filter, bool yes, const std::string& reason) {
  const std::string done = action == "retry" ? "retried" : "cancelled";
  if (!ids.empty() && !filter.Empty()) throw CliError(kUsage, "give job ids or a filter, not both");
  if (ids.empty() && filter.Empty()) {
    throw CliError(
        kUsage,
        "give one or more job ids, or a filter (--state, --queue, --type, ...; see --help)");
  }
  if (ids.size() == 1) {
    // The per-job verb: its own errors (no such job, a state it does not apply to) and exit codes.
    const std::string sql = action == "retry" ? "SELECT to_jsonb(taskflow.retry($1::bigint))"
                                              : "SELECT to_jsonb(taskflow.cancel($1::bigint, $2))";
    std::vector<Param> params{std::to_string(ids[0])};
    if (action == "cancel") params.push_back(Opt(reason));
    const json state = ctx.db().Json(sql, params);
    if (ctx.json) {
      PrintJson(ctx, {{"id", ids[0]}, {"state", state}});
    } else if (action == "cancel" && state == "RUNNING") {
      *ctx.out << "job " << ids[0]
               << " is RUNNING: its worker was asked to stop (it ends CANCELLED)\n";
    } else {
      *ctx.out << "job " << ids[0] << " " << done << ": " << Cell(state) << "\n";
    }
    return kOk;
  }
  if (!ids.empty()) {
    const json answer =
        ctx.db().Json("SELECT taskflow.bulk_jobs($1, ids => $2::bigint[], reason => $3)",
                      {action, ArrayLiteral(ids), Opt(reason)});
    return ReportBulk(ctx, done, answer);
  }
  // By filter: count first; act only with --yes, on at most the jobs counted.
  const json count = ctx.db().Json(
      "SELECT to_jsonb(c) FROM taskflow.count_jobs(state => $1::taskflow.job_state[], queue => $2, "
      "tenant_id => $3, job_type => $4, correlation_id => $5, created_from => $6::timestamptz, "
      "created_to => $7::timestamptz, payload => $8, error_type => $9) c",
      {filter.states.empty() ? Param{} : Param{ArrayLiteral(filter.states)}, Opt(filter.queue),
       Opt(filter.tenant), Opt(filter.job_type), Opt(filter.correlation_id), Opt(filter.from),
       Opt(filter.to), Opt(filter.payload), Opt(filter.error_type)});
  const long long matched = static_cast<long long>(Num(count, "count"));
  const bool capped = count.value("capped", false);
  if (matched == 0) {
    if (ctx.json) {
      PrintJson(ctx,
                {{"matched", 0}, {"changed", 0}, {"skipped_count", 0}, {"skipped", json::array()}});
    } else {
      *ctx.out << "no jobs match (" << Describe(filter) << ")\n";
    }
    return kOk;
  }
  if (capped) {
    throw CliError(kUsage,
                   "more than " + std::to_string(matched) + " jobs match (" + Describe(filter) +
                       "); one call acts on at most that many: narrow the filter (--from/--to)");
  }
  if (!yes) {
    if (ctx.json) {
      PrintJson(ctx, {{"matched", matched}, {"confirmed", false}});
    } else {
      *ctx.out << matched << " jobs match (" << Describe(filter) << "); nothing was " << done
               << ". Run again with --yes to " << action << " them.\n";
    }
    return kUsage;
  }
  const json answer = ctx.db().Json(
      "SELECT taskflow.bulk_jobs($1, filter => $2::jsonb, expected_count => $3::bigint, reason => $4)",
      {action, filter.ToJson().dump(), std::to_string(matched), Opt(reason)});
  return ReportBulk(ctx, done, answer);
}

// ---------------------------------------------------------------------------------------------
// dead letters
// ---------------------------------------------------------------------------------------------

int DeadLetters(Context& ctx, int max_jobs) {
  const json doc =
      ctx.db().Json("SELECT taskflow.dead_letter_groups($1::integer)", {std::to_string(max_jobs)});
  const auto cells = [](const json& g) -> std::vector<std::string> {
    return {Cell(g, "job_type"),    Cell(g, "error_type"),    Cell(g, "count"),
            TimeCell(g, "last_at"), Cell(g, "sample_job_id"), Cell(g, "sample_error")};
  };
  const bool table = PrintListing(ctx, doc, doc.value("groups", json::array()),
                                  {{"TYPE", false, 40},
                                   {"ERROR TYPE", false, 40},
                                   {"COUNT", true},
                                   {"LAST", false},
                                   {"SAMPLE JOB", true},
                                   {"SAMPLE ERROR", false, 60}},
                                  cells);
  if (table && doc.value("capped", false)) {
    *ctx.out << "(counted the newest " << max_jobs << " dead jobs only; --max-jobs counts more)\n";
  }
  return kOk;
}

int DeadLettersAct(Context& ctx, const std::string& action, const std::string& job_type,
                   const std::string& error_type, int max_jobs, bool yes) {
  const std::string done = action == "redrive" ? "re-drove" : "purged";
  if (!yes) {
    const json doc = ctx.db().Json("SELECT taskflow.dead_letter_groups()");
    long long n = -1;
    for (const auto& g : doc.value("groups", json::array())) {
      if (g.value("job_type", json()) == job_type && g.value("error_type", json()) == error_type) {
        n = static_cast<long long>(Num(g, "count"));
      }
    }
    if (n < 0) {
      throw CliError(kNotFound, "no dead jobs of type \"" + job_type + "\" with error type \"" +
                                    error_type + "\"");
    }
    const long long acting = std::min<long long>(n, max_jobs);
    if (ctx.json) {
      PrintJson(ctx, {{"matched", acting}, {"confirmed", false}});
    } else {
      *ctx.out << acting << " dead jobs of type " << job_type << " with error type " << error_type
               << "; nothing was " << done << ". Run again with --yes to " << action << " them.\n";
    }
    return kUsage;
  }
  const std::string fn = action == "redrive" ? "dead_letter_redrive" : "dead_letter_purge";
  const json answer = ctx.db().Json("SELECT taskflow." + fn + "($1, $2, $3::integer)",
                                    {job_type, error_type, std::to_string(max_jobs)});
  if (Num(answer, "matched") == 0) {
    throw CliError(kNotFound, "no dead jobs of type \"" + job_type + "\" with error type \"" +
                                  error_type + "\"");
  }
  return ReportBulk(ctx, done, answer);
}

// ---------------------------------------------------------------------------------------------
// queues
// ---------------------------------------------------------------------------------------------

namespace {

// A queue's settings out of dashboard_queues()' entry (which also holds its figures).
json SettingsOf(const json& q) {
  json s = json::object();
  for (const char* key :
       {"name", "priority", "paused", "concurrency_limit", "lease_ms", "effective_lease_ms",
        "retry_policy", "retry_policy_is_default", "rate_limit", "created_at", "updated_at"}) {
    s[key] = q.value(key, json());
  }
  return s;
}

json QueueSettingsOf(Context& ctx, const std::string& name) {
  const json doc = ctx.db().Json("SELECT taskflow.dashboard_queues()");
  for (const auto& q : doc.value("queues", json::array())) {
    if (q.value("name", "") == name) return SettingsOf(q);
  }
  throw CliError(kNotFound, "queue \"" + name + "\" does not exist");
}

std::string RetryText(const json& p) {
  if (!p.is_object()) return "-";
  return Cell(p, "strategy") + " x" + Cell(p, "max_attempts") + " " +
         FormatMillis(Num(p, "base_delay_ms")) + ".." + FormatMillis(Num(p, "max_delay_ms")) +
         " jitter " + Cell(p, "jitter");
}

std::string RateText(const json& r) {
  if (!r.is_object()) return "-";
  return Cell(r, "max_starts") + " per " + FormatMillis(Num(r, "per_ms"));
}

}  // namespace

int QueuesList(Context& ctx) {
  const json doc = ctx.db().Json("SELECT taskflow.dashboard_queues()");
  json queues = json::array();
  for (const auto& q : doc.value("queues", json::array())) queues.push_back(SettingsOf(q));
  const auto cells = [](const json& q) -> std::vector<std::string> {
    return {Cell(q, "name"),
            Cell(q, "priority"),
            q.value("paused", false) ? "paused" : "-",
            Cell(q, "concurrency_limit"),
            FormatMillis(Num(q, "effective_lease_ms")) +
                (q.value("lease_ms", json()).is_null() ? " (default)" : ""),
            q.value("retry_policy_is_default", false) ? "default"
                                                      : RetryText(q.value("retry_policy", json())),
            RateText(q.value("rate_limit", json()))};
  };
  PrintListing(ctx, {{"queues", queues}}, queues,
               {{"QUEUE"},
                {"PRIO", true},
                {"PAUSED"},
                {"CONCURRENCY", true},
                {"LEASE", true},
                {"RETRY POLICY"},
                {"RATE LIMIT"}},
               cells);
  return kOk;
}

int QueuesPause(Context& ctx, const std::string& name, bool pause) {
  ctx.db().Json(pause ? "SELECT NULL FROM taskflow.pause_queue($1)"
                      : "SELECT NULL FROM taskflow.resume_queue($1)",
                {name});
  if (ctx.json) {
    PrintJson(ctx, QueueSettingsOf(ctx, name));
  } else {
    *ctx.out << "queue " << name
             << (pause ? " paused: workers take no jobs from it (scheduling goes on)\n"
                       : " resumed\n");
  }
  return kOk;
}

int QueuesCreate(Context& ctx, const std::string& name, const QueueSettings& s, bool create) {
  auto num = [](const std::optional<int>& v) { return v ? Param{std::to_string(*v)} : Param{}; };
  const std::string fn = create ? "create_queue" : "alter_queue";
  ctx.db().Json(
      "SELECT NULL FROM taskflow." + fn +
          "($1, priority => $2::integer, concurrency_limit => $3::integer, retry_policy => $4::jsonb, "
          "lease => $5::interval)",
      {name, num(s.priority), num(s.concurrency_limit), Opt(s.retry_policy), Opt(s.lease)});
  const json settings = QueueSettingsOf(ctx, name);
  if (ctx.json) {
    PrintJson(ctx, settings);
  } else {
    *ctx.out << "queue " << name << (create ? " created" : " altered") << ": priority "
             << Cell(settings, "priority") << ", concurrency limit "
             << Cell(settings, "concurrency_limit") << ", lease "
             << FormatMillis(Num(settings, "effective_lease_ms")) << ", retry "
             << RetryText(settings.value("retry_policy", json())) << "\n";
  }
  return kOk;
}

// ---------------------------------------------------------------------------------------------
// rules
// ---------------------------------------------------------------------------------------------

int RulesList(Context& ctx, const std::string& tenant, const std::string& trigger_type,
              std::optional<bool> enabled) {
  const json rows = ctx.db().Json(
      "SELECT COALESCE(jsonb_agg(to_jsonb(r)), '[]') FROM taskflow.list_rules(tenant_id => $1, "
      "trigger_type => $2, enabled => $3::boolean) r",
      {Opt(tenant), Opt(trigger_type), enabled ? Param{*enabled ? "true" : "false"} : Param{}});
  const auto cells = [](const json& r) -> std::vector<std::string> {
    return {Cell(r, "rule_id"),  Cell(r, "tenant_id"), Cell(r, "name"),
            Cell(r, "trigger"),  Cell(r, "enabled"),   TimeCell(r, "last_fired_at"),
            Cell(r, "condition")};
  };
  PrintListing(ctx, rows, rows,
               {{"ID", true},
                {"TENANT"},
                {"NAME", false, 40},
                {"TRIGGER", false, 50},
                {"ENABLED"},
                {"LAST FIRED"},
                {"CONDITION", false, 40}},
               cells);
  return kOk;
}

int RulesEnable(Context& ctx, long long id, bool enable) {
  ctx.db().Json(enable ? "SELECT NULL FROM taskflow.enable_rule($1::bigint)"
                       : "SELECT NULL FROM taskflow.disable_rule($1::bigint)",
                {std::to_string(id)});
  if (ctx.json) {
    PrintJson(ctx, {{"rule_id", id}, {"enabled", enable}});
  } else {
    *ctx.out << "rule " << id << (enable ? " enabled\n" : " disabled\n");
  }
  return kOk;
}

int RulesFire(Context& ctx, long long id, const std::string& context) {
  const json jobs = ctx.db().Json(
      "SELECT COALESCE(jsonb_agg(j), '[]') FROM taskflow.fire_rule($1::bigint, COALESCE($2::jsonb, '{}')) j",
      {std::to_string(id), Opt(context)});
  // fire_rule records a failed firing (a template that does not render, a refused schedule) in
  // the rule's firings instead of raising: without jobs, the newest firing says why.
  json firing;
  if (jobs.empty()) {
    const json page = ctx.db().Json(
        "SELECT taskflow.dashboard_rule_firings($1::bigint, max_rows => 1)", {std::to_string(id)});
    const json firings = page.value("firings", json::array());
    if (!firings.empty()) firing = firings[0];
  }
  const bool failed = firing.is_object() && firing.value("outcome", "") == "error";
  if (ctx.json) {
    json answer{{"rule_id", id}, {"job_ids", jobs}};
    if (!firing.is_null()) answer["firing"] = firing;
    PrintJson(ctx, answer);
  } else if (!jobs.empty()) {
    std::string list;
    for (const auto& j : jobs) list += (list.empty() ? "" : ", ") + Cell(j);
    *ctx.out << "rule " << id << " fired: " << (jobs.size() == 1 ? "job " : "jobs ") << list
             << "\n";
  } else if (!failed) {
    *ctx.out << "rule " << id << " fired: no jobs (its condition did not hold)\n";
  }
  if (failed) {
    const std::string state = firing.value("error_sqlstate", json()).is_string()
                                  ? firing["error_sqlstate"].get<std::string>()
                                  : "";
    const ExitCode code = ExitCodeForSqlstate(state);
    throw CliError(
        code == kOk ? kError : code,
        "rule " + std::to_string(id) + " fired, and the firing failed: " + Cell(firing, "error"));
  }
  return kOk;
}

// ---------------------------------------------------------------------------------------------
// tenants
// ---------------------------------------------------------------------------------------------

int Tenants(Context& ctx, const std::string& after, int limit) {
  const json doc = ctx.db().Json("SELECT taskflow.dashboard_tenants($1, $2::integer)",
                                 {Opt(after), std::to_string(limit)});
  const bool table =
      PrintListing(ctx, doc, doc.value("tenants", json::array()),
                   {{"TENANT"},
                    {"RUNNING", true},
                    {"MAX RUNNING", true},
                    {"WEIGHT", true},
                    {"RATE LIMIT"},
                    {"STARTED 1H", true},
                    {"SHARE 1H", true}},
                   [](const json& t) -> std::vector<std::string> {
                     const json& share = t.value("share_1h", json());
                     return {Cell(t, "tenant_id"),
                             Cell(t, "running"),
                             Cell(t, "max_running"),
                             Cell(t, "weight"),
                             RateText(t.value("rate_limit", json())),
                             Cell(t, "started_1h"),
                             share.is_number() ? FormatPercent(share.get<double>()) : "-"};
                   });
  if (table && doc.value("next_after", json()).is_string()) {
    *ctx.out << "(the next page: --after " << doc["next_after"].get<std::string>() << ")\n";
  }
  return kOk;
}

}  // namespace taskflow::cli
