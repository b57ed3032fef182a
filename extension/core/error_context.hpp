#pragma once

#include <cstddef>
#include <string_view>

#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// The CONTEXT of an error lists frames innermost first, one per line: "PL/pgSQL function
// taskflow.x(text) line 5 at RAISE", "SQL statement \"SELECT ...\"" (may span lines), "SQL
// function \"f\" statement 1", then the caller's own frames. An error TaskFlow raises on purpose
// (unknown queue, invalid value) says all it means in its message, detail and hint; TaskFlow's
// own frames are noise to the user (and name internal helpers). These functions find them.

// Whether the innermost frame is a PL/pgSQL function of the taskflow schema.
bool InnermostFrameIsTaskFlow(std::string_view context) noexcept;

// The offset in `context` where the caller's frames begin, after TaskFlow's own: the leading
// frames of taskflow PL/pgSQL functions, SQL functions and the SQL statements between them.
// The statement that a caller's frame ran (the line just before that frame) belongs to the
// caller and is kept. context.size() when every frame is TaskFlow's.
std::size_t CallerContextStart(std::string_view context) noexcept;

}  // namespace taskflow::core
