// Guard for extension/core: this code is pure C++17 and must never see a
// PostgreSQL header. PostgreSQL's macros (elog, palloc, setjmp-based errors)
// do not mix with exceptions and RAII, and keeping them out is what lets the
// core be unit-tested without a server. Every core header includes this file.
#pragma once

#if defined(POSTGRES_H) || defined(PG_MODULE_MAGIC)
#error "extension/core is pure C++: include core headers before (or without) postgres.h"
#endif
