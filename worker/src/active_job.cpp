#include "active_job.hpp"

#include <algorithm>

namespace taskflow {

const char* KindName(Report::Kind kind) {
  switch (kind) {
    case Report::Kind::kComplete: return "complete";
    case Report::Kind::kFail: return "fail";
    case Report::Kind::kRelease: return "release";
    case Report::Kind::kSnooze: return "snooze";
  }
  return "?";
}

std::string OneLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace taskflow
