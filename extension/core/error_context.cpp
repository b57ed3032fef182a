#include "error_context.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {
namespace {

enum class Kind { TaskFlowFrame, SqlText, SqlFunction, Other };

constexpr std::string_view kPlpgsqlFrame = "PL/pgSQL function ";
constexpr std::string_view kTaskFlowFrame = "PL/pgSQL function taskflow.";

bool StartsWith(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

Kind KindOf(std::string_view entry) noexcept {
  if (StartsWith(entry, kTaskFlowFrame)) return Kind::TaskFlowFrame;
  if (StartsWith(entry, "SQL statement \"") || StartsWith(entry, "SQL expression \""))
    return Kind::SqlText;
  if (StartsWith(entry, "SQL function \"")) return Kind::SqlFunction;
  return Kind::Other;
}

// One frame: from `pos` to the end of its line; an SQL statement or expression goes on to the
// line that ends with its closing quote (the statement's text may hold newlines).
std::size_t EntryEnd(std::string_view context, std::size_t pos, Kind kind) noexcept {
  std::size_t end = context.find('\n', pos);
  if (kind == Kind::SqlText) {
    while (end != std::string_view::npos && (end == 0 || context[end - 1] != '"')) {
      end = context.find('\n', end + 1);
    }
  }
  return end == std::string_view::npos ? context.size() : end;
}

}  // namespace

bool InnermostFrameIsTaskFlow(std::string_view context) noexcept {
  return KindOf(context) == Kind::TaskFlowFrame;
}

std::size_t CallerContextStart(std::string_view context) noexcept {
  std::size_t pos = 0;
  std::size_t caller_statement = std::string_view::npos;  // start of SQL text run before `pos`
  while (pos < context.size()) {
    Kind kind = KindOf(context.substr(pos));
    if (kind == Kind::Other) {
      // a caller's frame: keep it, and the statement it ran
      if (StartsWith(context.substr(pos), kPlpgsqlFrame) &&
          caller_statement != std::string_view::npos) {
        return caller_statement;
      }
      return pos;
    }
    if (kind == Kind::SqlText) {
      if (caller_statement == std::string_view::npos) caller_statement = pos;
    } else {
      caller_statement = std::string_view::npos;
    }
    std::size_t end = EntryEnd(context, pos, kind);
    pos = end < context.size() ? end + 1 : context.size();
  }
  return context.size();
}

}  // namespace taskflow::core
