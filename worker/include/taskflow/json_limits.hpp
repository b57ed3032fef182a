// Bounds on untrusted JSON, shared by the worker and the HTTP server (header-only, so the HTTP
// library also builds on its own).
//
// nlohmann::json parses and destroys without recursion, but dump(), copies and comparisons recurse
// once per nesting level: a 200 KB document of 100,000 nested arrays overflows the stack. Every
// JSON text that comes from a client or from the database is checked with JsonDeeperThan() before
// anything recursive touches it. The check is a single pass over the raw text that counts the
// open arrays and objects outside strings; it never recurses and never allocates.
#pragma once

#include <cstddef>
#include <string_view>

namespace taskflow {

// The deepest nesting of arrays and objects a JSON value may have: `{}` and `[]` are depth 1,
// `{"a": [1]}` is depth 2 (a scalar 0). The same bound as the SQL API's (core::kMaxJsonDepth,
// extension/core/validation.hpp), so what the HTTP API lets through the extension accepts, and
// what the extension stores a worker can hand to handlers. Documented in docs/http.md ("Limits")
// and docs/worker.md.
constexpr std::size_t kMaxJsonDepth = 64;

// The nesting depth of the JSON text `text`, counting `[` and `{` outside strings, or `limit + 1`
// as soon as it passes `limit`. Invalid JSON gives some number (the parser reports it later).
inline std::size_t JsonNestingDepth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return limit + 1;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

inline bool JsonDeeperThan(std::string_view text, std::size_t limit) {
  return JsonNestingDepth(text, limit) > limit;
}

}  // namespace taskflow
