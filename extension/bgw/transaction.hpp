// The background workers' own transactions (maintenance.cpp, wakeup.cpp).
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "access/xact.h"  // AbortCurrentTransaction
}

namespace taskflow::bgw {

// In a PG_CATCH block of a background worker: logs the error being handled, clears it and
// aborts the transaction, back in `outer` (the memory context from before the transaction). The
// worker goes on: a failing round must not stop the next one.
inline void LogErrorAndAbort(MemoryContext outer) {
  MemoryContextSwitchTo(outer);
  EmitErrorReport();
  FlushErrorState();
  AbortCurrentTransaction();
}

}  // namespace taskflow::bgw
