// Structured logs on stderr through spdlog. Text: "msg key=value ...";
// json: one object per line, {"ts":...,"level":...,"msg":...,"job_id":...}.
#pragma once

#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/common.h>

#include <taskflow/worker.hpp>

namespace taskflow::log {

enum class Format { kText, kJson };

using Fields = nlohmann::ordered_json;

// Installs the stderr logger. Throws std::invalid_argument on an unknown level.
void Init(Format format, const std::string& level);
Format CurrentFormat();
bool Enabled(spdlog::level::level_enum level);

// The part of a line after timestamp and level (json: the object's members without braces).
std::string Render(Format format, const std::string& message, const Fields& fields);

void Write(spdlog::level::level_enum level, const std::string& message,
           const Fields& fields = Fields::object());

// The worker id JobFields() adds to every job line (docs/worker.md, Logs).
void SetWorkerId(const std::string& worker_id);

// worker_id, job_id, job_type, queue, tenant_id, attempt, correlation_id.
Fields JobFields(const Job& job);

void Flush();

}  // namespace taskflow::log
