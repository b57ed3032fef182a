// The launcher: serves every database in which the extension is installed.
//
// One static background worker, `taskflow launcher`, connected to no database (it reads only the
// shared catalog pg_database), lists the databases that accept connections and are not
// templates, and starts one dynamic `taskflow maintenance` worker per database. That worker checks
// pg_extension: without the extension it exits at once ("not installed") and the launcher
// checks again after kRecheckNotInstalled or when poked; with it, it runs the maintenance tasks
// and sends the wake-up NOTIFYs of its database until the extension is dropped (it exits
// cleanly), it is asked to stop, or it fails (the launcher restarts it with backoff).
//
// Pokes: a transaction that ran CREATE/DROP EXTENSION, DROP SCHEMA, DROP OWNED or CREATE
// DATABASE tells the launcher (and its database's worker) at commit, so such a change is
// noticed within a second instead of at the next periodic check.
//
// DROP DATABASE, ALTER DATABASE ... RENAME / SET TABLESPACE and CREATE DATABASE ... TEMPLATE need
// a database without other connections. In PostgreSQL 15 background workers are not terminated
// for them, so a ProcessUtility hook stops the database's worker first and holds its restart
// until the command's transaction ends (or 60 s pass).
//
// Shared memory: one slot per possible worker (max_worker_processes), each with the database it
// serves, the worker's pid and latch, how it ended, and the queue names waiting to be NOTIFYed.
#pragma once

extern "C" {
#include "storage/latch.h"
#include "storage/spin.h"

PGDLLEXPORT void taskflow_launcher_main(Datum arg);
PGDLLEXPORT void taskflow_maintenance_main(Datum arg);
}

namespace taskflow::bgw {

constexpr int kMaxPending = 64;  // distinct queues per hand-over; more sets `overflow`

// How a maintenance worker ended, written by the worker (or the stopping backend) before it
// exits; anything else (kNone) is a failure and is restarted with backoff.
enum class SlotExit : int {
  kNone = 0,
  kNotInstalled = 1,   // the extension is not (or no longer) installed in the database
  kStopRequested = 2,  // stopped for DROP/ALTER DATABASE or because the database is held
};

struct DbSlot {
  slock_t mutex;
  Oid database;   // InvalidOid: free (assigned by the launcher before the start)
  int pid;        // the worker's pid once it runs, else 0
  Latch* latch;   // the worker's latch once it serves the database, else NULL
  SlotExit exit;  // how it ended
  bool recheck;   // the extension may have been dropped: check at once
  // Wake-ups handed over by committing transactions, sent by the worker.
  int npending;
  bool overflow;  // too many queues: notify every queue
  char pending[kMaxPending][NAMEDATALEN];
};

// Called from _PG_init: shared memory, the launcher worker, the utility hook and the commit
// callback that pokes the launcher.
void InitLauncher();

// The slot of the worker that serves `database` now (latch set), or nullptr. The caller locks
// the slot's mutex and checks `database` and `latch` again before using it.
DbSlot* ServingSlot(Oid database);

// In a maintenance worker: its own slot (after AttachSlot), else nullptr.
DbSlot* MySlot();

// In a maintenance worker. WorkerDatabase: the database to connect to. AttachSlot (connected):
// takes slot `idx`; false when the slot went to another worker or the database is held for
// DROP/ALTER DATABASE, and the worker must exit. ServeSlot: from now on the worker serves the
// database (wake-ups are handed to it). SetSlotExit: how it ends, for the launcher. TakeRecheck:
// whether a committed DROP EXTENSION/SCHEMA/OWNED asks it to check the extension now.
Oid WorkerDatabase();
bool AttachSlot(int idx);
void ServeSlot();
void SetSlotExit(SlotExit how);
bool TakeRecheck();

}  // namespace taskflow::bgw
