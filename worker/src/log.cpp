#include "log.hpp"

#include <memory>
#include <stdexcept>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace taskflow::log {
namespace {

Format g_format = Format::kText;

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
    throw std::invalid_argument("unknown log level '" + level + "' (trace, debug, info, warn, error, off)");
  }
  g_format = format;
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("taskflow-worker", sink);
  if (format == Format::kJson) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

Format CurrentFormat() { return g_format; }

bool Enabled(spdlog::level::level_enum level) { return spdlog::default_logger_raw()->should_log(level); }

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
  logger->log(level, "{}", Render(g_format, message, fields));
}

Fields JobFields(const Job& job) {
  Fields fields = Fields::object();
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
