// Durations in flags and config files: "250ms", "2s", "1.5s", "5m", "1h", or a
// bare number of seconds.
#pragma once

#include <chrono>
#include <string>

namespace taskflow {

// Throws std::invalid_argument with a message naming the bad text.
std::chrono::milliseconds ParseDuration(const std::string& text);

// "1500ms" -> PostgreSQL interval text "1500 milliseconds".
std::string ToIntervalText(std::chrono::milliseconds duration);

}  // namespace taskflow
