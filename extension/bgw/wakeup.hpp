// Wake-up hints for workers, sent outside the application's transaction.
//
// PostgreSQL serializes the commits of all transactions that NOTIFY (a database-wide lock held
// through the commit record's flush), which cuts single-job enqueue throughput by half or more
// under durable commits. So schedule() does not NOTIFY itself: it remembers the queue, and at
// commit a transaction callback hands the queue names to the notifier background worker through
// shared memory and sets its latch. The notifier sends one NOTIFY per queue (channel
// `taskflow_<queue>`), coalescing concurrent commits. A rolled-back transaction sends nothing.
// NOTIFY stays a hint: workers also poll.
#pragma once

extern "C" {
PGDLLEXPORT void taskflow_notifier_main(Datum arg);
}

namespace taskflow::bgw {

// Called from _PG_init: shared memory hooks, transaction callback, the notifier worker.
void InitWakeups();

// Records that `queue` has ready jobs; the hint is sent after this transaction commits.
// Falls back to a plain NOTIFY when the notifier does not serve this database.
void RequestWakeup(const char* queue);

}  // namespace taskflow::bgw
