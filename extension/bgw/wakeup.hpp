// Wake-up hints for workers, sent outside the application's transaction.
//
// PostgreSQL serializes the commits of all transactions that NOTIFY (a database-wide lock held
// through the commit record's flush), which cuts single-job enqueue throughput by half or more
// under durable commits. So schedule() does not NOTIFY itself: it remembers the queue, and at
// commit a transaction callback hands the queue names to the maintenance worker of the database
// (bgw/launcher.hpp) through its shared memory slot and sets its latch. That worker sends one
// NOTIFY per queue (channel `taskflow_<queue>`), coalescing concurrent commits. A rolled-back
// transaction sends nothing. NOTIFY stays a hint: workers also poll.
#pragma once

namespace taskflow::bgw {

// Called from _PG_init: the transaction callback.
void InitWakeups();

// Records that `queue` has ready jobs; the hint is sent after this transaction commits.
// Falls back to a plain NOTIFY when no worker serves this database.
void RequestWakeup(const char* queue);

// In the maintenance worker: sends the NOTIFYs handed over since the last call, in one short
// transaction of its own (errors are logged, not raised).
void SendPendingWakeups();

}  // namespace taskflow::bgw
