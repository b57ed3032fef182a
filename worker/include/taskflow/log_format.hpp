// The stderr logger of every TaskFlow binary (taskflow-worker, taskflow-http), header-only so the
// HTTP library's standalone build shares it.
//
// In json mode every line is one JSON object, whoever logs it: a custom spdlog formatter turns
// each message into {"ts":...,"level":...,"msg":...} and adds the structured fields of the line
// (taskflow::log::Write in the worker hands them over through LineFields()). Plain spdlog calls,
// for example the embedded HTTP server's, become {"ts","level","msg"} lines instead of text.
#pragma once

#include <ctime>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace taskflow::log {

// The fields of the line being logged on this thread (set around one logger call), or null.
inline const nlohmann::ordered_json*& LineFields() {
  thread_local const nlohmann::ordered_json* fields = nullptr;
  return fields;
}

class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line = nlohmann::ordered_json::object();
    line["ts"] = Timestamp(msg.time);
    const auto level = spdlog::level::to_string_view(msg.level);
    line["level"] = std::string(level.data(), level.size());
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    if (const nlohmann::ordered_json* fields = LineFields()) {
      for (const auto& [key, value] : fields->items()) line[key] = value;
    }
    std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    text += '\n';
    dest.append(text.data(), text.data() + text.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }

  // 2026-01-02T03:04:05.123456Z
  static std::string Timestamp(spdlog::log_clock::time_point time) {
    const auto since = time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(since - seconds).count();
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(micros));
    return buf;
  }
};

// Installs a stderr logger named `name` as spdlog's default: json lines or
// "2026-01-02T03:04:05.123Z info message key=value" text.
inline void InstallStderrLogger(const std::string& name, bool json,
                                spdlog::level::level_enum level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  if (json) {
    logger->set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace taskflow::log
