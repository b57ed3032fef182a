// Guard for extension/core: this code is pure C++17 and must never see a
// PostgreSQL header. PostgreSQL's macros (elog, palloc, setjmp-based errors)
// do not mix with exceptions and RAII, and keeping them out is what lets the
// core be unit-tested without a server.
//
// Every core file (header and source) includes this file as its LAST include,
// so it checks everything included above it. It deliberately has no include
// guard and no #pragma once: each inclusion is checked again, so a core header
// first included after postgres.h (directly, or through a pg/ or api/ header)
// fails to compile. test/lint.sh enforces both rules.

#if defined(POSTGRES_H) || defined(PG_MODULE_MAGIC)
#error "extension/core is pure C++: include core headers before (or without) postgres.h"
#endif
