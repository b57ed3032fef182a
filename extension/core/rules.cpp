#include "rules.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <utility>

#include "errors.hpp"
#include "validation.hpp"
#include "workflow.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

using Json = nlohmann::json;

namespace {

[[noreturn]] void Invalid(std::string message, std::string hint = {}) {
  throw DomainError(ErrorCode::InvalidParameterValue, std::move(message), std::move(hint));
}

Json ParseJson(std::string_view text, const char* what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) Invalid(std::string(what) + " is not valid JSON");
  return j;
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

const char* TypeName(const Json& j) { return j.type_name(); }

std::string RequireString(const Json& obj, const char* key, const std::string& where) {
  const Json& v = obj.at(key);
  if (!v.is_string()) {
    Invalid(where + "." + key + " must be a string, got " + TypeName(v));
  }
  return v.get<std::string>();
}

void CheckKeys(const Json& obj, const std::vector<std::string>& allowed, const std::string& where,
               const std::string& hint) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      Invalid(where + ": unknown key " + Quote(it.key()), hint);
    }
  }
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// ---- cron ---------------------------------------------------------------------------------------

struct CronField {
  const char* name;
  int min;
  int max;
  std::vector<std::string> names;  // names[i] stands for min + i
};

std::optional<int> CronValue(const std::string& s, const CronField& f) {
  if (s.empty()) return std::nullopt;
  if (std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (s.size() > 4) return std::nullopt;
    int v = std::stoi(s);
    if (v < f.min || v > f.max) return std::nullopt;
    return v;
  }
  std::string lower;
  for (unsigned char c : s) lower += static_cast<char>(std::tolower(c));
  for (std::size_t i = 0; i < f.names.size(); ++i) {
    if (f.names[i] == lower) return f.min + static_cast<int>(i);
  }
  return std::nullopt;
}

void ValidateCronField(const std::string& field, const CronField& f) {
  auto bad = [&](const std::string& why) {
    Invalid("invalid cron schedule: " + std::string(f.name) + " field " + Quote(field) + " " + why,
            "A schedule has five fields: minute (0-59) hour (0-23) day-of-month (1-31) "
            "month (1-12) day-of-week (0-7), e.g. \"0 7 * * *\" for every day at 07:00.");
  };
  std::size_t start = 0;
  while (true) {
    std::size_t comma = field.find(',', start);
    std::string item =
        field.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) bad("has an empty list item");
    std::string range = item;
    std::size_t slash = item.find('/');
    if (slash != std::string::npos) {
      range = item.substr(0, slash);
      std::string step = item.substr(slash + 1);
      if (step.empty() || step.size() > 4 ||
          !std::all_of(step.begin(), step.end(), [](unsigned char c) { return std::isdigit(c); }) ||
          std::stoi(step) < 1 || std::stoi(step) > f.max) {
        bad("has an invalid step");
      }
    }
    if (range != "*") {
      std::size_t dash = range.find('-');
      if (dash == std::string::npos) {
        if (!CronValue(range, f)) bad("is out of range or not a number");
      } else {
        auto lo = CronValue(range.substr(0, dash), f);
        auto hi = CronValue(range.substr(dash + 1), f);
        if (!lo || !hi) bad("has a range bound that is out of range or not a number");
        if (*lo > *hi) bad("has a range whose start is after its end");
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

// ---- templates
// ------------------------------------------------------------------------------------

std::string Trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

void CollectPaths(const Json& node, const std::string& where, std::vector<std::string>* paths) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      CollectPaths(it.value(), where + "." + it.key(), paths);
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      CollectPaths(node[i], where + "[" + std::to_string(i) + "]", paths);
    }
  } else if (node.is_string()) {
    for (const auto& seg : ParseStringTemplate(node.get<std::string>(), where)) {
      if (seg.is_path && std::find(paths->begin(), paths->end(), seg.text) == paths->end()) {
        paths->push_back(seg.text);
      }
    }
  }
}

}  // namespace

// ---- triggers
// -------------------------------------------------------------------------------------

const char* ToString(TriggerType type) noexcept {
  switch (type) {
    case TriggerType::Cron: return "cron";
    case TriggerType::Webhook: return "webhook";
    case TriggerType::Event: return "event";
  }
  return "cron";
}

Trigger ParseTrigger(std::string_view json) {
  const std::string hint =
      "Examples: {\"type\": \"cron\", \"schedule\": \"0 7 * * *\"}, {\"type\": \"webhook\"}, "
      "{\"type\": \"event\", \"on\": \"job_succeeded\", \"job_type\": \"import\"}";
  Json j = ParseJson(json, "trigger");
  if (!j.is_object()) Invalid("trigger must be a JSON object", hint);
  if (!j.contains("type")) Invalid("trigger.type is required", hint);
  std::string type = RequireString(j, "type", "trigger");
  Trigger t;
  if (type == "cron") {
    t.type = TriggerType::Cron;
    CheckKeys(j, {"type", "schedule", "for_each"}, "trigger",
              "A cron trigger has the keys type, schedule, for_each.");
    if (!j.contains("schedule")) Invalid("trigger.schedule is required for a cron trigger", hint);
    t.schedule = RequireString(j, "schedule", "trigger");
    ValidateCronSchedule(t.schedule);
  } else if (type == "webhook") {
    t.type = TriggerType::Webhook;
    CheckKeys(j, {"type", "key", "secret", "for_each"}, "trigger",
              "A webhook trigger has the keys type, key, secret, for_each.");
    if (j.contains("key")) {
      t.key = RequireString(j, "key", "trigger");
      ValidateWebhookKey(*t.key);
    }
    if (j.contains("secret")) {
      t.secret_given = true;
      if (!j.at("secret").is_null()) {
        t.secret = RequireString(j, "secret", "trigger");
        ValidateWebhookSecret(*t.secret);
      }
    }
  } else if (type == "event") {
    t.type = TriggerType::Event;
    CheckKeys(j, {"type", "on", "job_type", "queue"}, "trigger",
              "An event trigger has the keys type, on, job_type, queue.");
    if (!j.contains("on")) {
      Invalid("trigger.on is required for an event trigger",
              "One of job_succeeded, job_failed, job_dead, job_cancelled.");
    }
    t.on = RequireString(j, "on", "trigger");
    static const std::vector<std::string> events = {"job_succeeded", "job_failed", "job_dead",
                                                    "job_cancelled"};
    if (std::find(events.begin(), events.end(), t.on) == events.end()) {
      Invalid("trigger.on must be one of " + Join(events) + ", got " + Quote(t.on));
    }
    if (j.contains("job_type")) {
      t.job_type = RequireString(j, "job_type", "trigger");
      ValidateJobType(*t.job_type);
    }
    if (j.contains("queue")) {
      t.queue = RequireString(j, "queue", "trigger");
      ValidateQueueName(*t.queue);
    }
  } else {
    Invalid("trigger.type must be cron, webhook or event, got " + Quote(type), hint);
  }
  if (j.contains("for_each")) {
    std::string fe = RequireString(j, "for_each", "trigger");
    if (fe != "tenant") Invalid("trigger.for_each must be \"tenant\", got " + Quote(fe));
    t.for_each_tenant = true;
  }
  return t;
}

void ValidateCronSchedule(std::string_view schedule) {
  std::string s = Trim(schedule);
  static const std::vector<std::string> macros = {"@yearly", "@annually", "@monthly",
                                                  "@weekly", "@daily",    "@hourly"};
  if (!s.empty() && s[0] == '@') {
    if (std::find(macros.begin(), macros.end(), s) == macros.end()) {
      Invalid("invalid cron schedule " + Quote(s) + ": unknown macro",
              "Macros: " + Join(macros) + ".");
    }
    return;
  }
  std::vector<std::string> fields;
  std::string cur;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) fields.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) fields.push_back(cur);
  if (fields.size() != 5) {
    Invalid("invalid cron schedule " + Quote(s) + ": expected 5 fields, got " +
                std::to_string(fields.size()),
            "minute hour day-of-month month day-of-week, e.g. \"0 7 * * *\".");
  }
  static const std::array<CronField, 5> spec = {{
      {"minute", 0, 59, {}},
      {"hour", 0, 23, {}},
      {"day-of-month", 1, 31, {}},
      {"month",
       1,
       12,
       {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
      {"day-of-week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
  }};
  for (std::size_t i = 0; i < 5; ++i) ValidateCronField(fields[i], spec[i]);
}

std::string EventNameOf(std::string_view terminal_state) {
  std::string out = "job_";
  for (unsigned char c : terminal_state) out += static_cast<char>(std::tolower(c));
  return out;
}

// ---- webhooks
// -------------------------------------------------------------------------------------

std::string Base64UrlEncode(const std::uint8_t* data, std::size_t size) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((size * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    std::uint32_t v =
        (std::uint32_t(data[i]) << 16) | (std::uint32_t(data[i + 1]) << 8) | data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (size - i == 1) {
    std::uint32_t v = std::uint32_t(data[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (size - i == 2) {
    std::uint32_t v = (std::uint32_t(data[i]) << 16) | (std::uint32_t(data[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

void ValidateWebhookKey(std::string_view key) {
  if (key.size() < kMinWebhookKeyChars || key.size() > kMaxWebhookKeyChars) {
    Invalid("trigger.key must be " + std::to_string(kMinWebhookKeyChars) + " to " +
                std::to_string(kMaxWebhookKeyChars) + " characters long, got " +
                std::to_string(key.size()),
            "Leave the key out to get a generated one.");
  }
  for (unsigned char c : key) {
    if (!(std::isalnum(c) || c == '-' || c == '_')) {
      Invalid("trigger.key must be URL-safe: only A-Z, a-z, 0-9, '-' and '_'",
              "Leave the key out to get a generated one.");
    }
  }
}

void ValidateWebhookSecret(std::string_view secret) {
  if (secret.size() < kMinWebhookSecretChars || secret.size() > kMaxWebhookSecretChars) {
    Invalid("trigger.secret must be " + std::to_string(kMinWebhookSecretChars) + " to " +
                std::to_string(kMaxWebhookSecretChars) + " characters long",
            "Leave the secret out to get a generated one, or set it to null to accept unsigned "
            "calls.");
  }
  for (unsigned char c : secret) {
    if (c < 0x20 || c == 0x7F) Invalid("trigger.secret must not contain control characters");
  }
}

std::optional<std::vector<std::uint8_t>> ParseSha256Signature(std::string_view signature) {
  constexpr std::string_view prefix = "sha256=";
  if (signature.size() != prefix.size() + 64 || signature.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out(32);
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = nibble(signature[prefix.size() + 2 * i]);
    int lo = nibble(signature[prefix.size() + 2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

bool ConstantTimeEquals(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  if (a.size() != b.size()) return false;
  volatile std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = diff | (a[i] ^ b[i]);
  return diff == 0;
}

std::string ToHex(const std::uint8_t* data, std::size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

bool IsJson(std::string_view text) { return Json::accept(text.begin(), text.end()); }

void ValidateRuleName(std::string_view name) {
  if (Trim(name).empty()) Invalid("rule name must not be empty");
  std::size_t chars = 0;
  for (unsigned char c : name) {
    if ((c & 0xC0) != 0x80) ++chars;
    if (c < 0x20 || c == 0x7F) Invalid("rule name must not contain control characters");
  }
  if (chars > kMaxRuleNameChars) {
    Invalid("rule name is too long: " + std::to_string(chars) + " characters, at most " +
            std::to_string(kMaxRuleNameChars) + " allowed");
  }
}

// ---- contexts
// -------------------------------------------------------------------------------------

NowFields NowOf(std::int64_t unix_micros) {
  if (unix_micros < 0) unix_micros = 0;
  std::int64_t secs = unix_micros / 1000000;
  int micros = static_cast<int>(unix_micros % 1000000);
  std::int64_t days = secs / 86400;
  int rem = static_cast<int>(secs % 86400);
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  std::int64_t z = days + 719468;
  std::int64_t era = z / 146097;
  unsigned doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;

  NowFields now;
  now.hour = rem / 3600;
  now.minute = rem % 3600 / 60;
  int second = rem % 60;
  now.dow = static_cast<int>((days + 4) % 7);  // 1970-01-01 was a Thursday
  char date[32];
  std::snprintf(date, sizeof date, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  now.date = date;
  char ts[64];
  std::snprintf(ts, sizeof ts, "%sT%02d:%02d:%02d", date, now.hour, now.minute, second);
  now.ts = ts;
  if (micros != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%06d", micros);
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    now.ts += f;
  }
  now.ts += "+00:00";
  return now;
}

std::string JsonString(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string ContextJson(std::string_view event_json, std::string_view tenant_id,
                        std::string_view attributes_json, std::int64_t rule_id,
                        std::string_view rule_name, const NowFields& now) {
  std::string out;
  out.reserve(event_json.size() + attributes_json.size() + 256);
  out += "{\"event\": ";
  out += event_json;
  out += ", \"tenant\": {\"id\": " + JsonString(tenant_id) + ", \"attributes\": ";
  out += attributes_json;
  out +=
      "}, \"rule\": {\"id\": " + std::to_string(rule_id) + ", \"name\": " + JsonString(rule_name);
  out += "}, \"now\": {\"ts\": " + JsonString(now.ts) + ", \"hour\": " + std::to_string(now.hour) +
         ", \"minute\": " + std::to_string(now.minute) + ", \"dow\": " + std::to_string(now.dow) +
         ", \"date\": " + JsonString(now.date) + "}}";
  return out;
}

std::string WebhookEventJson(std::string_view body, const std::optional<std::string>& delivery_id) {
  std::string out = "{\"type\": \"webhook\", \"delivery_id\": ";
  out += delivery_id ? JsonString(*delivery_id) : "null";
  out += ", \"body\": ";
  out += body;
  out += "}";
  return out;
}

// ---- jsonpath
// ---------------------------------------------------------------------------------------

std::vector<std::string> JsonpathVariables(std::string_view p) {
  std::vector<std::string> out;
  // Reads the double-quoted string starting at p[i] == '"'; returns the index after it.
  auto read_string = [&](std::size_t i, std::string* text) {
    ++i;
    while (i < p.size() && p[i] != '"') {
      if (p[i] == '\\' && i + 1 < p.size()) ++i;
      if (text != nullptr) *text += p[i];
      ++i;
    }
    return i + 1;
  };
  std::size_t i = 0;
  while (i < p.size()) {
    char c = p[i];
    if (c == '"') {
      i = read_string(i, nullptr);
    } else if (c == '$' && i + 1 < p.size() &&
               (p[i + 1] == '"' || p[i + 1] == '_' ||
                std::isalnum(static_cast<unsigned char>(p[i + 1])))) {
      std::string name;
      if (p[i + 1] == '"') {
        i = read_string(i + 1, &name);
      } else {  // $name as written by hand (PostgreSQL prints $"name")
        ++i;
        while (i < p.size() && (p[i] == '_' || std::isalnum(static_cast<unsigned char>(p[i])))) {
          name += p[i++];
        }
      }
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    } else {
      ++i;
    }
  }
  return out;
}

// ---- templates
// ------------------------------------------------------------------------------------

std::vector<TemplateSegment> ParseStringTemplate(std::string_view s, const std::string& where) {
  std::vector<TemplateSegment> out;
  std::size_t pos = 0;
  std::string literal;
  while (pos < s.size()) {
    std::size_t open = s.find("{{", pos);
    if (open == std::string_view::npos) {
      literal += s.substr(pos);
      break;
    }
    literal += s.substr(pos, open - pos);
    std::size_t close = s.find("}}", open + 2);
    if (close == std::string_view::npos) {
      Invalid(where + ": \"{{\" without a closing \"}}\"",
              "A placeholder looks like \"{{ $.tenant.id }}\".");
    }
    std::string path = Trim(s.substr(open + 2, close - open - 2));
    if (path.empty()) {
      Invalid(where + ": empty placeholder \"{{ }}\"",
              "A placeholder looks like \"{{ $.tenant.id }}\".");
    }
    if (!literal.empty()) out.push_back({false, literal});
    literal.clear();
    out.push_back({true, path});
    pos = close + 2;
  }
  if (!literal.empty() || out.empty()) out.push_back({false, literal});
  return out;
}

// One node of a workflow action: schedule_workflow's node fields a rule may set.
struct WorkflowNodeTemplate {
  std::string key;
  std::string job_type;
  std::optional<std::string> queue;  // absent: schedule's default
  Json payload = Json::object();
  std::optional<int> priority;
  std::optional<int> max_attempts;
};

struct ActionTemplate {
  // A workflow action ({"workflow": {...}}) starts a whole workflow; the other fields below
  // are then unused (the nodes carry their own).
  bool is_workflow = false;
  std::optional<std::string> workflow_name;  // may hold placeholders
  std::vector<WorkflowNodeTemplate> nodes;
  Json edges = Json::array();  // validated: [{"from", "to", "on_failure"?}]
  std::string job_type;
  std::string queue = "default";
  Json payload = Json::object();
  int priority = 0;
  std::optional<std::string> delay;
  std::optional<int> max_attempts;
  std::optional<std::string> unique_key;
};

struct RuleActions::Impl {
  std::vector<ActionTemplate> actions;
  std::vector<std::string> paths;
};

namespace {

int RequireInt(const Json& obj, const char* key, const std::string& where, long long lo,
               long long hi) {
  const Json& v = obj.at(key);
  if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi) {
    Invalid(where + "." + key + " must be an integer from " + std::to_string(lo) + " to " +
            std::to_string(hi) + ", got " + v.dump());
  }
  return static_cast<int>(v.get<long long>());
}

// The job fields a job action and a workflow node share: job_type (required), queue, payload
// (a JSON object; its placeholders' paths go to `paths`), priority and max_attempts. An absent
// field keeps `job`'s default. `where` names the object in messages.
template <typename Job>
void ParseJobFields(const Json& j, const std::string& where, std::vector<std::string>* paths,
                    Job& job) {
  if (!j.contains("job_type")) Invalid(where + ".job_type is required");
  job.job_type = RequireString(j, "job_type", where);
  ValidateJobType(job.job_type);
  if (j.contains("queue")) {
    const std::string queue = RequireString(j, "queue", where);
    ValidateQueueName(queue);
    job.queue = queue;
  }
  if (j.contains("payload")) {
    job.payload = j.at("payload");
    if (!job.payload.is_object()) {
      Invalid(where + ".payload must be a JSON object, got " + TypeName(job.payload));
    }
    CollectPaths(job.payload, where + ".payload", paths);
  }
  if (j.contains("priority"))
    job.priority = RequireInt(j, "priority", where, kMinPriority, kMaxPriority);
  if (j.contains("max_attempts"))
    job.max_attempts = RequireInt(j, "max_attempts", where, 1, 2147483647LL);
}

// One node of a workflow action ({"key", "job_type", "queue"?, "payload"?, "priority"?,
// "max_attempts"?}); `nw` names it in messages.
WorkflowNodeTemplate ParseWorkflowNode(const Json& n, const std::string& nw,
                                       std::vector<std::string>* paths) {
  if (!n.is_object()) Invalid(nw + " must be a JSON object, got " + TypeName(n));
  CheckKeys(n, {"key", "job_type", "queue", "payload", "priority", "max_attempts"}, nw,
            "Keys: key, job_type, queue, payload, priority, max_attempts.");
  WorkflowNodeTemplate node;
  if (!n.contains("key")) Invalid(nw + ".key is required");
  node.key = RequireString(n, "key", nw);
  ParseJobFields(n, nw, paths, node);
  return node;
}

// One edge of a workflow action ({"from", "to", "on_failure"?}); `ew` names it in messages.
WorkflowEdgeSpec ParseWorkflowEdge(const Json& e, const std::string& ew) {
  if (!e.is_object()) Invalid(ew + " must be a JSON object, got " + TypeName(e));
  CheckKeys(e, {"from", "to", "on_failure"}, ew, "Keys: from, to, on_failure.");
  if (!e.contains("from") || !e.contains("to"))
    Invalid(ew + ": from and to (node keys) are required");
  WorkflowEdgeSpec spec;
  spec.from = RequireString(e, "from", ew);
  spec.to = RequireString(e, "to", ew);
  if (e.contains("on_failure")) {
    std::optional<OnDependencyFailure> policy;
    if (e.at("on_failure").is_string()) {
      policy = ParseOnDependencyFailure(e.at("on_failure").get<std::string>());
    }
    if (!policy) Invalid(ew + ".on_failure must be \"cancel\" or \"run\"");
    spec.on_failure = *policy;
  }
  return spec;
}

// Sizes first: an oversized graph is refused before its elements are read.
void CheckWorkflowSizes(const Json& nodes, const Json& edges, const std::string& at,
                        std::size_t max_nodes, std::size_t max_edges) {
  const std::string limits_hint =
      "taskflow.max_workflow_nodes and taskflow.max_workflow_edges set the limits.";
  if (nodes.size() > max_nodes) {
    Invalid(at + " has " + std::to_string(nodes.size()) + " nodes, the limit is " +
                std::to_string(max_nodes),
            limits_hint);
  }
  if (edges.size() > max_edges) {
    Invalid(at + " has " + std::to_string(edges.size()) + " edges, the limit is " +
                std::to_string(max_edges),
            limits_hint);
  }
}

// {"workflow": {"name"?, "nodes": [...], "edges"?: [...]}}: the graph is checked here like
// schedule_workflow checks it (keys, edges, cycles), within the given limits.
ActionTemplate ParseWorkflowAction(const Json& a, const std::string& where,
                                   std::vector<std::string>* paths, std::size_t max_nodes,
                                   std::size_t max_edges) {
  CheckKeys(a, {"workflow"}, where, "A workflow action has only the key workflow.");
  const Json& w = a.at("workflow");
  const std::string at = where + ".workflow";
  const std::string hint =
      "Example: {\"workflow\": {\"name\": \"report\", \"nodes\": [{\"key\": \"a\", \"job_type\": "
      "\"render\"}, {\"key\": \"b\", \"job_type\": \"merge\"}], \"edges\": [{\"from\": \"a\", "
      "\"to\": \"b\"}]}}";
  if (!w.is_object()) Invalid(at + " must be a JSON object, got " + TypeName(w), hint);
  CheckKeys(w, {"name", "nodes", "edges"}, at,
            "Keys: name, nodes, edges (the workflow runs in the firing's tenant).");
  ActionTemplate t;
  t.is_workflow = true;
  if (w.contains("name")) {
    t.workflow_name = RequireString(w, "name", at);
    CollectPaths(Json(*t.workflow_name), at + ".name", paths);
  }
  if (!w.contains("nodes") || !w.at("nodes").is_array()) {
    Invalid(at + ".nodes must be a JSON array of nodes", hint);
  }
  const Json& nodes = w.at("nodes");
  const Json empty = Json::array();
  const Json& edges = w.contains("edges") ? w.at("edges") : empty;
  if (!edges.is_array()) Invalid(at + ".edges must be a JSON array of edges", hint);
  CheckWorkflowSizes(nodes, edges, at, max_nodes, max_edges);
  std::vector<std::string> keys;
  keys.reserve(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    t.nodes.push_back(ParseWorkflowNode(nodes[i], at + ".nodes[" + std::to_string(i) + "]", paths));
    keys.push_back(t.nodes.back().key);
  }
  std::vector<WorkflowEdgeSpec> specs;
  specs.reserve(edges.size());
  for (std::size_t i = 0; i < edges.size(); ++i) {
    specs.push_back(ParseWorkflowEdge(edges[i], at + ".edges[" + std::to_string(i) + "]"));
  }
  try {
    BuildWorkflowGraph(keys, specs, max_nodes, max_edges);  // keys, unknown keys, cycles
  } catch (const DomainError& e) {
    throw DomainError(e.code(), at + ": " + e.what(), e.hint(), e.detail());
  }
  t.edges = edges;
  return t;
}

ActionTemplate ParseAction(const Json& a, const std::string& where, std::vector<std::string>* paths,
                           std::size_t max_nodes, std::size_t max_edges) {
  if (!a.is_object()) Invalid(where + " must be a JSON object, got " + TypeName(a));
  if (a.contains("workflow")) return ParseWorkflowAction(a, where, paths, max_nodes, max_edges);
  CheckKeys(a, {"job_type", "queue", "payload", "priority", "delay", "max_attempts", "unique_key"},
            where,
            "Keys: job_type, queue, payload, priority, delay, max_attempts, unique_key "
            "(or only workflow, to start a workflow).");
  ActionTemplate t;
  ParseJobFields(a, where, paths, t);
  if (a.contains("delay")) {
    const Json& d = a.at("delay");
    if (d.is_string()) {
      if (Trim(d.get<std::string>()).empty()) Invalid(where + ".delay must not be empty");
      t.delay = d.get<std::string>();
    } else if (d.is_number() && d.get<double>() >= 0) {
      t.delay = d.dump() + " seconds";
    } else {
      Invalid(where +
              ".delay must be an interval such as \"5 minutes\" or a number of seconds "
              ">= 0, got " +
              d.dump());
    }
  }
  if (a.contains("unique_key")) {
    t.unique_key = RequireString(a, "unique_key", where);
    if (t.unique_key->empty()) Invalid(where + ".unique_key must not be empty");
    CollectPaths(Json(*t.unique_key), where + ".unique_key", paths);
  }
  return t;
}

struct Filler {
  const std::vector<std::string>& paths;
  const std::vector<std::optional<std::string>>& values;
  std::size_t max_bytes = SIZE_MAX;  // of one rendered payload (or unique key)
  std::size_t* budget = nullptr;     // what the whole call may still render

  // Appends `piece` unless that takes `out` past max_bytes or the call past its budget: checked
  // before anything is copied, so rendering stops at the first piece too many.
  void Append(std::string* out, std::string_view piece, const std::string& where) const {
    if (piece.size() > max_bytes || out->size() > max_bytes - piece.size()) {
      throw DomainError(ErrorCode::ProgramLimitExceeded,
                        where + ": the filled payload would be larger than " +
                            std::to_string(max_bytes) + " bytes (taskflow.max_payload_bytes)",
                        "A placeholder copies its whole value; use a smaller part of the context.");
    }
    if (budget != nullptr) {
      if (piece.size() > *budget) {
        throw DomainError(ErrorCode::ProgramLimitExceeded,
                          where +
                              ": this call has rendered as much as it may "
                              "(taskflow.max_rule_render_bytes)",
                          "Fewer or smaller placeholders, or fewer tenants per firing.");
      }
      *budget -= piece.size();
    }
    out->append(piece.data(), piece.size());
  }

  // The raw JSON text of a path's value; throws when the path selects nothing.
  const std::string& Raw(const std::string& path, const std::string& where) const {
    auto it = std::find(paths.begin(), paths.end(), path);
    std::size_t i = static_cast<std::size_t>(it - paths.begin());
    if (it == paths.end() || i >= values.size() || !values[i]) {
      Invalid(where + ": {{ " + path + " }} has no value in the context");
    }
    return *values[i];
  }

  // A value embedded in a longer string: strings as their text, numbers and booleans as written.
  std::string Embedded(const std::string& path, const std::string& where) const {
    const std::string& raw = Raw(path, where);
    Json v = Json::parse(raw, nullptr, false);
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number() || v.is_boolean()) return Trim(raw);
    Invalid(where + ": {{ " + path + " }} is " + (v.is_discarded() ? "not JSON" : TypeName(v)) +
            " and cannot be part of a string");
  }

  // Writes `node` as JSON text into `out`, placeholders filled. Values from the context are
  // copied as PostgreSQL wrote them, so their numbers keep full precision. Iterative (an explicit
  // stack), so a deeply nested template cannot exhaust the C stack.
  void Write(const Json& root, const std::string& root_where, std::string* out) const {
    struct Frame {
      const Json* node;
      std::string where;
      Json::const_iterator it;  // next child (objects and arrays)
      std::size_t index = 0;    // its position
    };
    std::vector<Frame> stack;
    auto push = [&](const Json* node, std::string where) {
      if (node->is_object() || node->is_array()) {
        Append(out, node->is_object() ? "{" : "[", where);
        stack.push_back({node, std::move(where), node->cbegin(), 0});
        return;
      }
      if (node->is_string()) {
        auto segs = ParseStringTemplate(node->get<std::string>(), where);
        if (segs.size() == 1 && segs[0].is_path) {
          Append(out, Raw(segs[0].text, where), where);
        } else {
          Append(out, Json(Interpolate(segs, where)).dump(), where);
        }
      } else {
        Append(out, node->dump(), where);
      }
    };
    push(&root, root_where);
    while (!stack.empty()) {
      Frame& f = stack.back();
      bool object = f.node->is_object();
      if (f.it == f.node->cend()) {
        Append(out, object ? "}" : "]", f.where);
        stack.pop_back();
        continue;
      }
      if (f.index > 0) Append(out, ",", f.where);
      std::string where;
      if (object) {
        Append(out, Json(f.it.key()).dump() + ":", f.where);
        where = f.where + "." + f.it.key();
      } else {
        where = f.where + "[" + std::to_string(f.index) + "]";
      }
      const Json* child = &*f.it;
      ++f.it;
      ++f.index;
      push(child, std::move(where));  // may reallocate the stack: f is not used after this
    }
  }

  std::string Interpolate(const std::vector<TemplateSegment>& segs,
                          const std::string& where) const {
    std::string s;
    for (const auto& seg : segs) {
      if (seg.is_path) {
        Append(&s, Embedded(seg.text, where), where);
      } else {
        Append(&s, seg.text, where);
      }
    }
    return s;
  }

  std::string UniqueKey(const std::string& tmpl, const std::string& where) const {
    auto segs = ParseStringTemplate(tmpl, where);
    std::string key = segs.size() == 1 && segs[0].is_path ? Embedded(segs[0].text, where)
                                                          : Interpolate(segs, where);
    if (key.empty()) Invalid(where + " is empty after filling");
    return key;
  }
};

}  // namespace

RuleActions RuleActions::Parse(std::string_view actions_json, std::size_t max_workflow_nodes,
                               std::size_t max_workflow_edges) {
  const std::string hint =
      "Example: [{\"job_type\": \"RecalculateBilling\", \"payload\": {\"tenant\": \"{{ $.tenant.id }}\"}}]";
  Json j = ParseJson(actions_json, "actions");
  if (!j.is_array()) Invalid("actions must be a JSON array of job templates", hint);
  if (j.empty()) Invalid("actions must contain at least one job template", hint);
  auto impl = std::make_shared<Impl>();
  for (std::size_t i = 0; i < j.size(); ++i) {
    impl->actions.push_back(ParseAction(j[i], "actions[" + std::to_string(i) + "]", &impl->paths,
                                        max_workflow_nodes, max_workflow_edges));
  }
  RuleActions r;
  r.impl_ = std::move(impl);
  return r;
}

std::size_t RuleActions::size() const { return impl_ ? impl_->actions.size() : 0; }

const std::vector<std::string>& RuleActions::paths() const {
  static const std::vector<std::string> none;
  return impl_ ? impl_->paths : none;
}

std::vector<std::string> RuleActions::queues() const {
  std::vector<std::string> out;
  if (!impl_) return out;
  auto add = [&](const std::string& q) {
    if (std::find(out.begin(), out.end(), q) == out.end()) out.push_back(q);
  };
  for (const auto& a : impl_->actions) {
    if (!a.is_workflow) {
      add(a.queue);
      continue;
    }
    for (const auto& n : a.nodes) add(n.queue.value_or("default"));
  }
  return out;
}

std::vector<std::string> RuleActions::delays() const {
  std::vector<std::string> out;
  if (!impl_) return out;
  for (const auto& a : impl_->actions) {
    if (a.delay && std::find(out.begin(), out.end(), *a.delay) == out.end())
      out.push_back(*a.delay);
  }
  return out;
}

std::vector<FilledAction> RuleActions::Fill(const std::vector<std::optional<std::string>>& values,
                                            std::size_t max_payload_bytes,
                                            std::size_t* budget) const {
  std::vector<FilledAction> out;
  if (!impl_) return out;
  Filler filler{impl_->paths, values, max_payload_bytes, budget};
  for (std::size_t i = 0; i < impl_->actions.size(); ++i) {
    const ActionTemplate& a = impl_->actions[i];
    std::string where = "actions[" + std::to_string(i) + "]";
    FilledAction f;
    if (a.is_workflow) {
      // schedule_workflow's spec, as JSON text, with the node payloads (and name) filled.
      where += ".workflow";
      std::string spec = "{";
      if (a.workflow_name) {
        spec +=
            "\"name\":" + Json(filler.UniqueKey(*a.workflow_name, where + ".name")).dump() + ",";
      }
      spec += "\"nodes\":[";
      for (std::size_t k = 0; k < a.nodes.size(); ++k) {
        const WorkflowNodeTemplate& n = a.nodes[k];
        const std::string nw = where + ".nodes[" + std::to_string(k) + "]";
        if (k > 0) spec += ",";
        spec += "{\"key\":" + Json(n.key).dump() + ",\"job_type\":" + Json(n.job_type).dump();
        if (n.queue) spec += ",\"queue\":" + Json(*n.queue).dump();
        if (n.priority) spec += ",\"priority\":" + std::to_string(*n.priority);
        if (n.max_attempts) spec += ",\"max_attempts\":" + std::to_string(*n.max_attempts);
        std::string payload;
        filler.Write(n.payload, nw + ".payload", &payload);
        spec += ",\"payload\":" + payload + "}";
      }
      spec += "],\"edges\":" + a.edges.dump() + "}";
      f.workflow_json = std::move(spec);
      out.push_back(std::move(f));
      continue;
    }
    f.job_type = a.job_type;
    f.queue = a.queue;
    f.priority = a.priority;
    f.delay = a.delay;
    f.max_attempts = a.max_attempts;
    filler.Write(a.payload, where + ".payload", &f.payload_json);
    if (a.unique_key) f.unique_key = filler.UniqueKey(*a.unique_key, where + ".unique_key");
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace taskflow::core
