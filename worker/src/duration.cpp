#include "duration.hpp"

#include <cctype>
#include <cmath>
#include <stdexcept>

namespace taskflow {

std::chrono::milliseconds ParseDuration(const std::string& text) {
  const std::string bad =
      "invalid duration '" + text + "' (expected e.g. 500ms, 2s, 1.5m, 1h or seconds)";
  size_t pos = 0;
  while (pos < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.'))
    ++pos;
  if (pos == 0) throw std::invalid_argument(bad);
  double value = 0;
  try {
    size_t used = 0;
    value = std::stod(text.substr(0, pos), &used);
    if (used != pos) throw std::invalid_argument(bad);
  } catch (const std::logic_error&) {
    throw std::invalid_argument(bad);
  }
  const std::string unit = text.substr(pos);
  double ms_per_unit = 0;
  if (unit.empty() || unit == "s")
    ms_per_unit = 1000;
  else if (unit == "ms")
    ms_per_unit = 1;
  else if (unit == "m" || unit == "min")
    ms_per_unit = 60'000;
  else if (unit == "h")
    ms_per_unit = 3'600'000;
  else
    throw std::invalid_argument(bad);
  const double ms = value * ms_per_unit;
  // Ten years is far beyond any lease or timeout; it also keeps int64 safe.
  if (!std::isfinite(ms) || ms > 10.0 * 365 * 24 * 3'600'000) throw std::invalid_argument(bad);
  return std::chrono::milliseconds(static_cast<long long>(std::llround(ms)));
}

std::string ToIntervalText(std::chrono::milliseconds duration) {
  return std::to_string(duration.count()) + " milliseconds";
}

}  // namespace taskflow
