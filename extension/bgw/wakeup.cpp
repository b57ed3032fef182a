#include "pg/postgres.hpp"
#include "bgw/wakeup.hpp"
#include "pg/settings.hpp"

extern "C" {
#include "postmaster/interrupt.h"  // SignalHandlerForConfigReload, ConfigReloadPending
#include "storage/shmem.h"         // ShmemInitStruct
#include "storage/spin.h"          // the spinlock guarding the shared list
#include "tcop/tcopprot.h"         // die (SIGTERM handler)
}

namespace {

constexpr int kMaxPending = 64;  // distinct queues per hand-over; more sets `overflow`

struct WakeupShared {
  slock_t mutex;
  Latch* notifier_latch;  // NULL while no notifier runs
  Oid database;           // the database the notifier serves
  int npending;
  bool overflow;          // too many queues: notify every queue
  char pending[kMaxPending][NAMEDATALEN];
};

WakeupShared* shared = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

// Backend-local: queues to wake at commit. Plain arrays: the commit callback must never
// allocate or raise an error (an error after commit is a PANIC).
int local_count = 0;
bool local_overflow = false;
char local_pending[kMaxPending][NAMEDATALEN];

void ShmemRequest() {
  if (prev_shmem_request_hook != nullptr) prev_shmem_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(WakeupShared)));
}

void ShmemStartup() {
  if (prev_shmem_startup_hook != nullptr) prev_shmem_startup_hook();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  shared = static_cast<WakeupShared*>(ShmemInitStruct("taskflow wakeups", sizeof(WakeupShared), &found));
  if (!found) {
    memset(shared, 0, sizeof(WakeupShared));
    SpinLockInit(&shared->mutex);
  }
  LWLockRelease(AddinShmemInitLock);
}

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
    if ((local_count > 0 || local_overflow) && shared != nullptr) {
      Latch* latch = nullptr;
      SpinLockAcquire(&shared->mutex);
      for (int i = 0; i < local_count; ++i) {
        AddUnique(shared->pending, &shared->npending, &shared->overflow, local_pending[i]);
      }
      shared->overflow = shared->overflow || local_overflow;
      latch = shared->notifier_latch;
      SpinLockRelease(&shared->mutex);
      if (latch != nullptr) SetLatch(latch);
    }
    local_count = 0;
    local_overflow = false;
  } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
             event == XACT_EVENT_PREPARE) {
    local_count = 0;
    local_overflow = false;
  }
}

void NotifierExit(int, Datum) {
  if (shared == nullptr) return;
  SpinLockAcquire(&shared->mutex);
  shared->notifier_latch = nullptr;
  SpinLockRelease(&shared->mutex);
}

// Sends the NOTIFYs handed over since the last round, in one short transaction.
void SendPending() {
  char names[kMaxPending][NAMEDATALEN];
  int n = 0;
  bool overflow = false;
  SpinLockAcquire(&shared->mutex);
  n = shared->npending;
  overflow = shared->overflow;
  memcpy(names, shared->pending, sizeof(names[0]) * n);
  shared->npending = 0;
  shared->overflow = false;
  SpinLockRelease(&shared->mutex);
  if (n == 0 && !overflow) return;

  MemoryContext outer = CurrentMemoryContext;
  StartTransactionCommand();
  PG_TRY();
  {
    char channel[NAMEDATALEN + 16];
    for (int i = 0; i < n; ++i) {
      snprintf(channel, sizeof channel, "taskflow_%s", names[i]);
      Async_Notify(channel, "");
    }
    if (overflow) {
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
    CommitTransactionCommand();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(outer);
    EmitErrorReport();
    FlushErrorState();
    AbortCurrentTransaction();
  }
  PG_END_TRY();
}

}  // namespace

namespace taskflow::bgw {

void InitWakeups() {
  prev_shmem_request_hook = shmem_request_hook;
  shmem_request_hook = ShmemRequest;
  prev_shmem_startup_hook = shmem_startup_hook;
  shmem_startup_hook = ShmemStartup;
  RegisterXactCallback(OnXactEvent, nullptr);

  BackgroundWorker worker;
  memset(&worker, 0, sizeof(worker));
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = 1;
  snprintf(worker.bgw_library_name, BGW_MAXLEN, "taskflow");
  snprintf(worker.bgw_function_name, BGW_MAXLEN, "taskflow_notifier_main");
  snprintf(worker.bgw_name, BGW_MAXLEN, "taskflow notifier");
  snprintf(worker.bgw_type, BGW_MAXLEN, "taskflow notifier");
  RegisterBackgroundWorker(&worker);
}

void RequestWakeup(const char* queue) {
  bool served = false;
  if (shared != nullptr) {
    SpinLockAcquire(&shared->mutex);
    served = shared->notifier_latch != nullptr && shared->database == MyDatabaseId;
    SpinLockRelease(&shared->mutex);
  }
  if (!served) {
    // No notifier for this database: NOTIFY in the transaction itself (correct, slower).
    char channel[NAMEDATALEN + 16];
    snprintf(channel, sizeof channel, "taskflow_%s", queue);
    Async_Notify(channel, "");
    return;
  }
  AddUnique(local_pending, &local_count, &local_overflow, queue);
}

}  // namespace taskflow::bgw

void taskflow_notifier_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(taskflow_database_name, nullptr, 0);
  pgstat_report_appname("taskflow notifier");

  on_shmem_exit(NotifierExit, 0);
  SpinLockAcquire(&shared->mutex);
  shared->database = MyDatabaseId;
  shared->notifier_latch = MyLatch;
  SpinLockRelease(&shared->mutex);

  for (;;) {
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    SendPending();
  }
}
