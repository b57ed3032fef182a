#include "report.hpp"

#include <cmath>
#include <cstdio>

namespace taskflow::bench {

namespace {

std::string Format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// 12345.6 -> "12,346"
std::string Thousands(double v) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(v)));
  std::string out;
  const int n = static_cast<int>(digits.size());
  for (int i = 0; i < n; ++i) {
    if (i && (n - i) % 3 == 0 && digits[static_cast<size_t>(i - 1)] != '-') out += ',';
    out += digits[static_cast<size_t>(i)];
  }
  return out;
}

std::string Pad(const std::string& s, size_t width, bool right) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

double RatioToReference(const Outcome& o, const std::vector<Outcome>& all) {
  if (!o.ok || o.scenario->reference.empty()) return -1.0;
  for (const Outcome& r : all) {
    if (r.scenario->name == o.scenario->reference && r.ok) {
      const double ref = r.measurement.JobsPerSecond();
      return ref > 0.0 ? o.measurement.JobsPerSecond() / ref : -1.0;
    }
  }
  return -1.0;
}

void PrintTable(std::ostream& out, const ServerInfo& server, double scale, int repeat,
                const std::vector<Outcome>& outcomes) {
  out << "server:";
  for (const auto& [k, v] : server) out << ' ' << k << '=' << v;
  out << "\nscale=" << scale << " repeat=" << repeat << "\n\n";

  const std::vector<std::string> header = {"scenario", "jobs",  "seconds", "jobs/s",
                                           "vs",       "ratio", "target",  ""};
  const std::vector<bool> right = {false, true, true, true, false, true, true, false};
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;
  for (const Outcome& o : outcomes) {
    const Scenario& s = *o.scenario;
    if (!o.ok) {
      rows.push_back({s.name, "-", "-", "-", s.reference.empty() ? "-" : s.reference, "-",
                      s.target > 0 ? Format(">= %.2f", s.target) : "-", "ERROR"});
      notes.push_back(s.name + ": " + o.error);
      continue;
    }
    const Measurement& m = o.measurement;
    const double ratio = RatioToReference(o, outcomes);
    std::string verdict;
    if (s.target > 0 && ratio >= 0) verdict = ratio >= s.target ? "met" : "MISSED";
    rows.push_back({s.name, Thousands(static_cast<double>(m.jobs)), Format("%.2f", m.seconds),
                    Thousands(m.JobsPerSecond()), s.reference.empty() ? "-" : s.reference,
                    ratio >= 0 ? Format("%.2f", ratio) : "-",
                    s.target > 0 ? Format(">= %.2f", s.target) : "-", verdict});
    for (const auto& [k, v] : m.notes) notes.push_back(s.name + ": " + k + ": " + v);
  }
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string text;
    for (size_t c = 0; c < r.size(); ++c) text += (c ? "  " : "") + Pad(r[c], width[c], right[c]);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
  };
  line(header);
  for (const auto& r : rows) line(r);
  if (!notes.empty()) {
    out << '\n';
    for (const auto& n : notes) out << "  " << n << '\n';
  }
}

nlohmann::ordered_json ToJson(const ServerInfo& server, double scale, int repeat,
                              const std::vector<Outcome>& outcomes) {
  nlohmann::ordered_json j;
  j["bench"] = "taskflow";
  j["scale"] = scale;
  j["repeat"] = repeat;
  j["server"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : server) j["server"][k] = v;
  j["results"] = nlohmann::ordered_json::array();
  for (const Outcome& o : outcomes) {
    const Scenario& s = *o.scenario;
    nlohmann::ordered_json r;
    r["scenario"] = s.name;
    r["ok"] = o.ok;
    if (!o.ok) {
      r["error"] = o.error;
    } else {
      r["jobs"] = o.measurement.jobs;
      r["seconds"] = std::round(o.measurement.seconds * 1000.0) / 1000.0;
      r["jobs_per_s"] = std::round(o.measurement.JobsPerSecond());
      for (const auto& [k, v] : o.measurement.notes) r["notes"][k] = v;
    }
    r["reference"] =
        s.reference.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(s.reference);
    const double ratio = RatioToReference(o, outcomes);
    r["ratio"] = ratio >= 0 ? nlohmann::ordered_json(std::round(ratio * 1000.0) / 1000.0)
                            : nlohmann::ordered_json();
    r["target"] = s.target > 0 ? nlohmann::ordered_json(s.target) : nlohmann::ordered_json();
    r["met"] = (s.target > 0 && ratio >= 0) ? nlohmann::ordered_json(ratio >= s.target)
                                            : nlohmann::ordered_json();
    j["results"].push_back(r);
  }
  return j;
}

}  // namespace taskflow::bench
