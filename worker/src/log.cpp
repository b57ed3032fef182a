#include "log.hpp"

#include <memory>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include <taskflow/log_format.hpp>

namespace taskflow::log {
namespace {

Format g_format = Format::kText;
std::string g_worker_id;  // set once at startup, before any job line

// Text values: bare when they are simple, JSON-quoted otherwise.
std::string TextValue(const Fields& value) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    bool simple = !s.empty();
    for (char c : s) {
      if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) simple = false;
    }
    return simple ? s : value.dump();
  }
  return value.dump();
}

}  // namespace

void Init(Format format, const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    throw std::invalid_argument("unknown log level '" + level +
                                "' (trace, debug, info, warn, error, off)");
  }
  g_format = format;
  InstallStderrLogger("taskflow-worker", format == Format::kJson, parsed);
}

void SetWorkerId(const std::string& worker_id) { g_worker_id = worker_id; }

Format CurrentFormat() { return g_format; }

bool Enabled(spdlog::level::level_enum level) {
  return spdlog::default_logger_raw()->should_log(level);
}

std::string Render(Format format, const std::string& message, const Fields& fields) {
  if (format == Format::kJson) {
    Fields line = Fields::object();
    line["msg"] = message;
    for (const auto& [key, value] : fields.items()) line[key] = value;
    const std::string dumped = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return dumped.substr(1, dumped.size() - 2);  // the pattern supplies the braces
  }
  std::string out = message;
  for (const auto& [key, value] : fields.items()) {
    if (value.is_null()) continue;
    out += ' ';
    out += key;
    out += '=';
    out += TextValue(value);
  }
  return out;
}

void Write(spdlog::level::level_enum level, const std::string& message, const Fields& fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  if (g_format == Format::kJson) {
    // The json formatter (log_format.hpp) adds the fields to the line's object.
    LineFields() = &fields;
    try {
      logger->log(level, "{}", message);
    } catch (...) {
      LineFields() = nullptr;
      throw;
    }
    LineFields() = nullptr;
    return;
  }
  logger->log(level, "{}", Render(g_format, message, fields));
}

Fields JobFields(const Job& job) {
  Fields fields = Fields::object();
  // json lines are collected from many workers; a text line's reader knows which one wrote it
  // (and text lines keep their documented shape).
  if (g_format == Format::kJson && !g_worker_id.empty()) fields["worker_id"] = g_worker_id;
  fields["job_id"] = job.id;
  fields["job_type"] = job.type;
  fields["queue"] = job.queue;
  fields["tenant_id"] = job.tenant_id;
  fields["attempt"] = job.attempt;
  fields["correlation_id"] = job.correlation_id.empty() ? Fields() : Fields(job.correlation_id);
  return fields;
}

void Flush() { spdlog::default_logger_raw()->flush(); }

}  // namespace taskflow::log
