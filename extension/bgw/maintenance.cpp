// The maintenance background worker: one process per database with the extension, started by
// the launcher (launcher.cpp). Every maintenance_interval it runs, each in its own transaction:
//   Rescuer   taskflow._rescue_expired   RUNNING jobs whose lease expired -> retry / DEAD /
//                                        CANCELLED (extension/api/rescuer.cpp)
//   Scheduler taskflow._promote_due      SCHEDULED jobs that came due -> PENDING, + NOTIFY
//                                        (extension/api/scheduler.cpp)
//   Cleaner   taskflow._clean            metrics roll-up, then SUCCEEDED/CANCELLED jobs older
//                                        than taskflow.retention (sql/src/072_maintenance.sql)
// In between, it sends the wake-up NOTIFYs that committing transactions of its database hand
// over (wakeup.cpp). Without the extension in its database it exits ("not installed").
// The loop is plain C-style code: no C++ object lives across PG_TRY, so longjmp is safe here,
// and the work itself runs through the guarded SQL functions.
#include "pg/postgres.hpp"
#include "pg/settings.hpp"
#include "bgw/launcher.hpp"
#include "bgw/transaction.hpp"
#include "bgw/wakeup.hpp"

extern "C" {
#include "catalog/pg_extension.h"  // ExtensionRelationId
#include "commands/extension.h"    // get_extension_oid
#include "storage/lmgr.h"          // LockDatabaseObject
#include "postmaster/interrupt.h"  // SignalHandlerForConfigReload, ConfigReloadPending
#include "tcop/tcopprot.h"         // die (SIGTERM handler)
#include "utils/ps_status.h"       // set_ps_display
}

namespace {

// One maintenance statement and its parameters.
struct Task {
  const char* name;
  const char* sql;
  int nargs;
  Oid* types;
  Datum* values;
};

void RunTaskStatement(void* arg) {
  const Task* task = static_cast<const Task*>(arg);
  SPI_connect();
  PushActiveSnapshot(GetTransactionSnapshot());
  pgstat_report_activity(STATE_RUNNING, task->name);
  // Locked like Citus' maintenance daemon does: a DROP EXTENSION that commits between the
  // check and the task waits for the task instead of failing it ("relation does not exist").
  Oid ext = get_extension_oid("taskflow", true);
  if (OidIsValid(ext)) {
    LockDatabaseObject(ExtensionRelationId, ext, 0, AccessShareLock);
    if (get_extension_oid("taskflow", true) == ext) {
      SPI_execute_with_args(task->sql, task->nargs, task->types, task->values, nullptr, false, 0);
    }
  }
  SPI_finish();
  PopActiveSnapshot();
}

// Runs one maintenance statement in its own transaction; an error is logged and the worker
// goes on with the next task (a failing task must not stop the others).
void RunTask(const char* name, const char* sql, int nargs, Oid* types, Datum* values) {
  Task task{name, sql, nargs, types, values};
  SetCurrentStatementStartTimestamp();
  taskflow::bgw::RunTransaction(RunTaskStatement, &task);
  pgstat_report_stat(false);
  pgstat_report_activity(STATE_IDLE, nullptr);
}

void CheckInstalled(void* installed) {
  *static_cast<bool*>(installed) = OidIsValid(get_extension_oid("taskflow", true));
}

// Whether the extension exists in this database (its own short transaction); an error counts
// as installed (unknown: try again next round).
bool ExtensionInstalled() {
  bool installed = false;
  SetCurrentStatementStartTimestamp();
  return !taskflow::bgw::RunTransaction(CheckInstalled, &installed) || installed;
}

}  // namespace

void taskflow_maintenance_main(Datum arg) {
  using taskflow::bgw::SlotExit;
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(taskflow::bgw::WorkerDatabase(), InvalidOid, 0);
  pgstat_report_appname("taskflow maintenance");
  if (!taskflow::bgw::AttachSlot(DatumGetInt32(arg))) proc_exit(0);
  if (!ExtensionInstalled()) {
    taskflow::bgw::SetSlotExit(SlotExit::kNotInstalled);
    proc_exit(0);
  }
  taskflow::bgw::ServeSlot();
  ereport(DEBUG1, (errmsg("taskflow maintenance worker serves database %u", MyDatabaseId)));

  TimestampTz next_round = GetCurrentTimestamp();
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    taskflow::bgw::SendPendingWakeups();

    TimestampTz now = GetCurrentTimestamp();
    const bool due = now >= next_round;
    if (due || taskflow::bgw::TakeRecheck()) {
      if (!ExtensionInstalled()) {
        ereport(LOG, (errmsg("taskflow maintenance worker stops: the extension is no longer "
                             "installed in database %u",
                             MyDatabaseId)));
        taskflow::bgw::SetSlotExit(SlotExit::kNotInstalled);
        proc_exit(0);
      }
    }
    if (due) {
      Oid int_type[1] = {INT4OID};
      Datum batch[1] = {Int32GetDatum(taskflow_cleaner_batch)};
      RunTask("taskflow rescuer", "SELECT taskflow._rescue_expired($1)", 1, int_type, batch);
      taskflow::bgw::SendPendingWakeups();
      RunTask("taskflow scheduler", "SELECT taskflow._promote_due($1)", 1, int_type, batch);
      taskflow::bgw::SendPendingWakeups();

      Oid clean_types[2] = {INT4OID, INT4OID};
      Datum clean_args[2] = {Int32GetDatum(taskflow_retention_s),
                             Int32GetDatum(taskflow_cleaner_batch)};
      RunTask("taskflow cleaner", "SELECT taskflow._clean($1, $2)", 2, clean_types, clean_args);
      now = GetCurrentTimestamp();
      next_round = TimestampTzPlusMilliseconds(now, taskflow_maintenance_interval_ms);
    }

    long timeout = 0;
    if (next_round > now) timeout = static_cast<long>((next_round - now + 999) / 1000);
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}
