#include "pg/postgres.hpp"
#include "bgw/wakeup.hpp"
#include "bgw/launcher.hpp"
#include "bgw/transaction.hpp"

namespace {

using taskflow::bgw::DbSlot;
using taskflow::bgw::kMaxPending;

// Backend-local: queues to wake at commit. Plain arrays: the commit callback must never
// allocate or raise an error (an error after commit is a PANIC).
int local_count = 0;
bool local_overflow = false;
char local_pending[kMaxPending][NAMEDATALEN];

void AddUnique(char (*list)[NAMEDATALEN], int* count, bool* overflow, const char* name) {
  for (int i = 0; i < *count; ++i) {
    if (strncmp(list[i], name, NAMEDATALEN) == 0) return;
  }
  if (*count >= kMaxPending) {
    *overflow = true;
    return;
  }
  strlcpy(list[*count], name, NAMEDATALEN);
  ++*count;
}

void OnXactEvent(XactEvent event, void*) {
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) {
    if (local_count > 0 || local_overflow) {
      // The worker of this database may have stopped since RequestWakeup: then the hint is
      // lost (workers also poll), it cannot be sent after the commit any more.
      DbSlot* slot = taskflow::bgw::ServingSlot(MyDatabaseId);
      if (slot != nullptr) {
        Latch* latch = nullptr;
        SpinLockAcquire(&slot->mutex);
        if (slot->database == MyDatabaseId && slot->latch != nullptr) {
          for (int i = 0; i < local_count; ++i) {
            AddUnique(slot->pending, &slot->npending, &slot->overflow, local_pending[i]);
          }
          slot->overflow = slot->overflow || local_overflow;
          latch = slot->latch;
        }
        SpinLockRelease(&slot->mutex);
        if (latch != nullptr) SetLatch(latch);
      }
    }
    local_count = 0;
    local_overflow = false;
  } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
             event == XACT_EVENT_PREPARE) {
    local_count = 0;
    local_overflow = false;
  }
}

}  // namespace

namespace taskflow::bgw {

void InitWakeups() { RegisterXactCallback(OnXactEvent, nullptr); }

void RequestWakeup(const char* queue) {
  if (ServingSlot(MyDatabaseId) == nullptr) {
    // No worker serves this database (yet): NOTIFY in the transaction itself (correct, slower).
    char channel[NAMEDATALEN + 16];
    snprintf(channel, sizeof channel, "taskflow_%s", queue);
    Async_Notify(channel, "");
    return;
  }
  AddUnique(local_pending, &local_count, &local_overflow, queue);
}

namespace {

// The wake-ups of one round, taken from the slot.
struct Wakeups {
  char names[kMaxPending][NAMEDATALEN];
  int n = 0;
  bool overflow = false;
};

void NotifyWakeups(void* arg) {
  const Wakeups* w = static_cast<const Wakeups*>(arg);
  // This transaction writes nothing that must survive a crash (a NOTIFY is lost in a crash
  // anyway, and workers also poll), so its commit need not wait for the WAL flush: on a
  // durable server that wait is most of a wake-up's cost. For this transaction only.
  (void)set_config_option("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
                          true, 0, false);
  char channel[NAMEDATALEN + 16];
  for (int i = 0; i < w->n; ++i) {
    snprintf(channel, sizeof channel, "taskflow_%s", w->names[i]);
    Async_Notify(channel, "");
  }
  if (w->overflow) {
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    if (SPI_execute("SELECT 'taskflow_' || name FROM taskflow.queues WHERE "
                    "EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'taskflow')",
                    true, 0) == SPI_OK_SELECT) {
      for (uint64 i = 0; i < SPI_processed; ++i) {
        char* c = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
        if (c != nullptr) Async_Notify(c, "");
      }
    }
    SPI_finish();
    PopActiveSnapshot();
  }
}

}  // namespace

// Sends the NOTIFYs handed over since the last round, in one short transaction.
void SendPendingWakeups() {
  DbSlot* slot = MySlot();
  if (slot == nullptr) return;
  Wakeups w;
  SpinLockAcquire(&slot->mutex);
  w.n = slot->npending;
  w.overflow = slot->overflow;
  memcpy(w.names, slot->pending, sizeof(w.names[0]) * w.n);
  slot->npending = 0;
  slot->overflow = false;
  SpinLockRelease(&slot->mutex);
  if (w.n == 0 && !w.overflow) return;

  RunTransaction(NotifyWakeups, &w);
}

}  // namespace taskflow::bgw
