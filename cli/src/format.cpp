#include "format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace taskflow::cli {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Table
// ---------------------------------------------------------------------------------------------

namespace {

// Display width of UTF-8 text: code points, not bytes (no wide-character handling).
std::size_t Width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The first `width` code points of s.
std::string Prefix(const std::string& s, std::size_t width) {
  std::size_t n = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == width) break;
      ++n;
    }
  }
  return s.substr(0, i);
}

// One line of a cell: control characters (newlines, tabs, escape sequences from a hostile
// payload or error message) become spaces so they cannot break the table or the terminal.
std::string OneLine(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::string Fit(const std::string& s, std::size_t max_width) {
  std::string line = OneLine(s);
  if (max_width == 0 || Width(line) <= max_width) return line;
  if (max_width <= 3) return Prefix(line, max_width);
  return Prefix(line, max_width - 3) + "...";
}

std::string Pad(const std::string& s, std::size_t width, bool right) {
  std::size_t w = Width(s);
  if (w >= width) return s;
  std::string fill(width - w, ' ');
  return right ? fill + s : s + fill;
}

std::string TrimRight(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

}  // namespace

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (std::size_t i = 0; i < cells.size(); ++i) cells[i] = Fit(cells[i], columns_[i].max_width);
  rows_.push_back(std::move(cells));
}

void Table::Render(std::ostream& out) const {
  std::vector<std::size_t> widths(columns_.size());
  for (std::size_t i = 0; i < columns_.size(); ++i) widths[i] = Width(columns_[i].header);
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], Width(row[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) text += "  ";
      text += Pad(cells[i], widths[i], columns_[i].right);
    }
    out << TrimRight(text) << "\n";
  };
  std::vector<std::string> headers;
  for (const auto& c : columns_) headers.push_back(c.header);
  line(headers);
  for (const auto& row : rows_) line(row);
}

// ---------------------------------------------------------------------------------------------
// Cells and figures
// ---------------------------------------------------------------------------------------------

std::string Cell(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number_integer()) return value.dump();
  if (value.is_number()) {
    double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      return std::to_string(static_cast<long long>(d));
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", d);
    return buf;
  }
  return value.dump();
}

std::string Cell(const json& object, const std::string& key) {
  if (!object.is_object()) return "-";
  auto it = object.find(key);
  return it == object.end() ? "-" : Cell(*it);
}

std::string FormatAge(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  char buf[64];
  const double s = std::floor(seconds);
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%.0fm%02.0fs", std::floor(s / 60), std::fmod(s, 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%.0fh%02.0fm", std::floor(s / 3600),
                  std::floor(std::fmod(s, 3600) / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%.0fd%02.0fh", std::floor(s / 86400),
                  std::floor(std::fmod(s, 86400) / 3600));
  }
  return buf;
}

std::string FormatMillis(double ms) {
  if (!std::isfinite(ms) || ms < 0) ms = 0;
  char buf[64];
  if (ms < 10) {
    std::snprintf(buf, sizeof buf, "%.2f ms", ms);
  } else if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  } else if (ms < 60000) {
    std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000);
  } else {
    return FormatAge(ms / 1000);
  }
  return buf;
}

std::string FormatPercent(double ratio) {
  if (!std::isfinite(ratio)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f%%", ratio * 100);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

std::optional<double> ParseTimestamp(const std::string& text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, used = 0;
  if (std::sscanf(text.c_str(), "%d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &year, &month, &day, &hour,
                  &minute, &second, &used) != 6) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::size_t i = static_cast<std::size_t>(used);
  double fraction = 0;
  if (i < text.size() && text[i] == '.') {
    double scale = 0.1;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, scale /= 10)
      fraction += (text[i] - '0') * scale;
  }
  int offset = 0;  // seconds east of UTC
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    const int sign = text[i] == '-' ? -1 : 1;
    int oh = 0, om = 0, os = 0;
    int n = std::sscanf(text.c_str() + i + 1, "%2d:%2d:%2d", &oh, &om, &os);
    if (n < 1) return std::nullopt;
    offset = sign * (oh * 3600 + om * 60 + os);
  } else if (i < text.size() && text[i] == 'Z') {
    offset = 0;
  } else if (i != text.size()) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t t = timegm(&tm);
  return static_cast<double>(t) - offset + fraction;
}

std::string ShortTimestamp(const std::string& text) {
  const auto epoch = ParseTimestamp(text);
  if (!epoch) return text;
  const double whole = std::floor(*epoch);
  time_t t = static_cast<time_t>(whole);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return text;
  int ms = static_cast<int>(std::lround((*epoch - whole) * 1000));
  if (ms > 999) ms = 999;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

std::string CleanErrorMessage(const std::string& message) {
  std::istringstream in(message);
  std::string line, out;
  bool skipping = false, after_position = false;
  while (std::getline(in, line)) {
    // "LINE 1: SELECT ..." and its caret line: the position in the tool's own statement
    if (line.rfind("LINE ", 0) == 0 && line.find(':') != std::string::npos) {
      after_position = true;
      continue;
    }
    if (after_position && line.find_first_not_of(" ^") == std::string::npos) {
      after_position = false;
      continue;
    }
    after_position = false;
    const bool field = line.rfind("DETAIL:", 0) == 0 || line.rfind("HINT:", 0) == 0 ||
                       line.rfind("CONTEXT:", 0) == 0 || line.rfind("QUERY:", 0) == 0 ||
                       line.rfind("LOCATION:", 0) == 0 || line.rfind("ERROR:", 0) == 0 ||
                       line.rfind("FATAL:", 0) == 0;
    if (field) {
      skipping = line.rfind("CONTEXT:", 0) == 0 || line.rfind("QUERY:", 0) == 0 ||
                 line.rfind("LOCATION:", 0) == 0;
    }
    if (skipping) continue;
    if (line.rfind("ERROR:", 0) == 0 || line.rfind("FATAL:", 0) == 0) {
      line = line.substr(line.find(':') + 1);
      line.erase(0, line.find_first_not_of(' '));
    }
    if (!out.empty()) out += "\n";
    out += line;
  }
  return TrimRight(out);
}

// ---------------------------------------------------------------------------------------------
// A job and its timeline
// ---------------------------------------------------------------------------------------------

namespace {

std::string Str(const json& object, const std::string& key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string When(const json& object, const std::string& key) {
  const std::string s = Str(object, key);
  return s.empty() ? "-" : ShortTimestamp(s);
}

std::string AttemptLine(const json& a) {
  std::string line = "attempt " + Cell(a, "attempt");
  const std::string worker = Str(a, "worker_id");
  if (!worker.empty()) line += " on " + worker;
  const std::string outcome = Str(a, "outcome");
  line += ": " + (outcome.empty() ? std::string("?") : outcome);
  if (a.contains("duration_ms") && a["duration_ms"].is_number()) {
    line +=
        (outcome == "running" ? " for " : " after ") + FormatMillis(a["duration_ms"].get<double>());
  }
  if (a.contains("error") && a["error"].is_object()) {
    line += ", " + Str(a["error"], "type");
    const std::string message = Str(a["error"], "message");
    if (!message.empty()) line += ": " + Fit(message, 200);
  }
  if (a.contains("backoff") && a["backoff"].is_object()) {
    const json& b = a["backoff"];
    if (b.contains("delay_ms") && b["delay_ms"].is_number()) {
      line += "; retry in " + FormatMillis(b["delay_ms"].get<double>());
    }
    const std::string next = Str(b, "next_run_at");
    if (!next.empty()) line += " (at " + ShortTimestamp(next) + ")";
  }
  return OneLine(line);
}

}  // namespace

std::vector<std::string> JobDetailLines(const json& detail) {
  std::vector<std::string> lines;
  const json job = detail.value("job", json::object());
  lines.push_back("Job " + Cell(job, "id") + ": " + OneLine(Str(job, "job_type")));
  auto field = [&](const std::string& name, const std::string& value) {
    std::string padded = name;
    padded.resize(13, ' ');
    lines.push_back("  " + padded + OneLine(value));
  };
  field("state", Str(job, "state") + " (attempt " + Cell(job, "attempts") + " of " +
                     Cell(job, "max_attempts") + ")" +
                     (job.value("cancel_requested", false) ? ", cancel requested" : ""));
  field("queue", Str(job, "queue"));
  field("tenant", Str(job, "tenant_id"));
  field("priority", Cell(job, "priority"));
  field("created", When(job, "created_at"));
  field("next run", When(job, "next_run_at"));
  if (!Str(job, "started_at").empty()) field("started", When(job, "started_at"));
  if (!Str(job, "finished_at").empty()) field("finished", When(job, "finished_at"));
  if (!Str(job, "correlation_id").empty()) field("correlation", Str(job, "correlation_id"));
  if (!Str(job, "parent_job_id").empty()) field("parent", "job " + Str(job, "parent_job_id"));
  if (!Str(job, "unique_key").empty()) field("unique key", Str(job, "unique_key"));
  if (!Str(job, "last_error_type").empty()) {
    field("last error",
          Str(job, "last_error_type") + ": " + Fit(Str(job, "last_error_message"), 200));
  }
  if (!Str(job, "cancel_reason").empty()) field("cancel reason", Str(job, "cancel_reason"));
  field("payload", Fit(job.value("payload", json::object()).dump(), 200));
  if (job.contains("result") && !job["result"].is_null())
    field("result", Fit(job["result"].dump(), 200));
  const json origin = detail.value("origin", json::object());
  if (origin.is_object()) {
    const std::string kind = Str(origin, "kind");
    std::string text = kind;
    if (kind == "rule" || kind == "webhook") {
      text += " " + Str(origin, "rule_id");
      if (!Str(origin, "rule_name").empty()) text += " \"" + Str(origin, "rule_name") + "\"";
      text += " (firing " + Str(origin, "firing_id") + ")";
    } else if (kind == "parent") {
      text += " job " + Str(origin, "parent_job_id");
    }
    if (!Str(origin, "actor").empty()) text += ", by " + Str(origin, "actor");
    field("origin", text);
  }
  if (detail.contains("lease") && detail["lease"].is_object()) {
    const json& lease = detail["lease"];
    field("lease", Str(lease, "worker_id") + ", expires " + When(lease, "expires_at") + ", " +
                       Cell(lease, "heartbeats") + " heartbeats");
  }
  const json children = detail.value("children", json::array());
  if (children.is_array() && !children.empty()) {
    std::string ids;
    for (const auto& c : children) ids += (ids.empty() ? "" : ", ") + Cell(c, "id");
    field("children", ids);
  }

  // The timeline: transitions, each transition out of RUNNING followed by the attempt it ended.
  const json events = detail.value("events", json::array());
  json ended = json::array(), running = json();
  for (const auto& a : detail.value("attempts", json::array())) {
    if (Str(a, "outcome") == "running")
      running = a;
    else
      ended.push_back(a);
  }
  long exits = 0;
  for (const auto& e : events) exits += Str(e, "from_state") == "RUNNING";
  // Both lists keep the latest 500: pair them from the end.
  const long skew = exits - static_cast<long>(ended.size());

  lines.push_back("");
  lines.push_back("Timeline");
  if (detail.value("events_truncated", false)) lines.push_back("  (earlier transitions not shown)");
  struct Row {
    std::string time, delta, transition, actor, reason, attempt;
  };
  std::vector<Row> rows;
  std::optional<double> previous;
  long exit_index = 0;
  for (const auto& e : events) {
    Row row;
    const std::string at = Str(e, "at");
    const auto t = ParseTimestamp(at);
    if (t && previous) row.delta = "+" + FormatMillis((*t - *previous) * 1000);
    if (t) previous = t;
    row.time = at.empty() ? "-" : ShortTimestamp(at);
    const std::string from = Str(e, "from_state");
    row.transition = (from.empty() ? std::string("") : from + " ") + "-> " + Str(e, "to_state");
    row.actor = OneLine(Str(e, "actor"));
    row.reason = OneLine(Str(e, "reason"));
    if (from == "RUNNING") {
      const long k = exit_index++ - skew;
      if (k >= 0 && k < static_cast<long>(ended.size()))
        row.attempt = AttemptLine(ended[static_cast<std::size_t>(k)]);
    }
    rows.push_back(std::move(row));
  }
  std::size_t w_time = 0, w_delta = 0, w_transition = 0, w_actor = 0;
  for (const auto& r : rows) {
    w_time = std::max(w_time, Width(r.time));
    w_delta = std::max(w_delta, Width(r.delta));
    w_transition = std::max(w_transition, Width(r.transition));
    w_actor = std::max(w_actor, Width(r.actor));
  }
  for (const auto& r : rows) {
    lines.push_back(TrimRight("  " + Pad(r.time, w_time, false) + "  " +
                              Pad(r.delta, w_delta, true) + "  " +
                              Pad(r.transition, w_transition, false) + "  " +
                              Pad(r.actor, w_actor, false) + "  " + r.reason));
    if (!r.attempt.empty()) lines.push_back("      " + r.attempt);
  }
  if (!running.is_null()) lines.push_back("      " + AttemptLine(running));
  if (rows.empty()) lines.push_back("  (no transitions recorded)");
  return lines;
}

}  // namespace taskflow::cli
