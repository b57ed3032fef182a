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

// Runs work(arg) in a transaction of its own and commits it; an error is logged and the
// transaction aborted (LogErrorAndAbort). Returns whether it committed. `work` is plain C-style
// code: no C++ object with a destructor may live across an error (PG_TRY is a longjmp).
inline bool RunTransaction(void (*work)(void*), void* arg) {
  MemoryContext outer = CurrentMemoryContext;
  volatile bool committed = false;
  StartTransactionCommand();
  PG_TRY();
  {
    work(arg);
    CommitTransactionCommand();
    committed = true;
  }
  PG_CATCH();
  { LogErrorAndAbort(outer); }
  PG_END_TRY();
  return committed;
}

}  // namespace taskflow::bgw
