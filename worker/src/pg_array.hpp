// PostgreSQL array literals for statement parameters: libpqxx 6.4 has no array
// parameter type, so the worker sends '{...}' text and casts it in SQL.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace taskflow {

// {"a","b\"c",NULL}: every element quoted and escaped; nullopt becomes NULL.
std::string ToPgArray(const std::vector<std::optional<std::string>>& elements);
std::string ToPgArray(const std::vector<std::string>& elements);

}  // namespace taskflow

namespace taskflow {

// PostgreSQL text rejects NUL and invalid UTF-8; stderr tails may contain both.
// Invalid bytes become U+FFFD, NUL is dropped.
std::string ValidUtf8(const std::string& text);

}  // namespace taskflow
