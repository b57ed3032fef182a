// The launcher (see launcher.hpp). Plain C-style code: no C++ object with a destructor lives
// where PostgreSQL may longjmp, so errors need no guard here.
#include "pg/postgres.hpp"
#include "bgw/launcher.hpp"
#include "pg/settings.hpp"

extern "C" {
#include "access/htup_details.h"   // GETSTRUCT
#include "access/table.h"          // table_open
#include "access/tableam.h"        // table_beginscan_catalog
#include "access/heapam.h"         // heap_getnext
#include "catalog/pg_database.h"   // Form_pg_database, database_is_invalid_form
#include "commands/dbcommands.h"   // get_database_oid
#include "commands/defrem.h"       // defGetString
#include "nodes/parsenodes.h"      // the utility statements we watch
#include "postmaster/interrupt.h"  // SignalHandlerForConfigReload, ConfigReloadPending
#include "storage/shmem.h"         // ShmemInitStruct
#include "tcop/tcopprot.h"         // die (SIGTERM handler)
#include "utils/hsearch.h"         // the launcher's table of databases
}

#include <signal.h>

#include <algorithm>

namespace {

using taskflow::bgw::DbSlot;
using taskflow::bgw::SlotExit;

constexpr int kMaxPokes = 32;
constexpr int kMaxHolds = 32;
constexpr long kTickMs = 1000;                       // the launcher's loop
constexpr long kListEveryMs = 10 * 1000;             // list pg_database at least this often
constexpr long kRecheckNotInstalledMs = 300 * 1000;  // databases without the extension
constexpr long kHoldMs = 60 * 1000;                  // a DROP/ALTER DATABASE hold at most
constexpr int kMaxBackoffMs = 60 * 1000;             // restart delay after failures, at most
constexpr long kStableMs = 60 * 1000;                // a worker that ran this long: backoff reset
constexpr int kMaxStarting = 2;                      // workers starting or probing at once

struct Hold {
  Oid database;
  int pid;  // the backend running the command
  TimestampTz until;
};

struct LauncherShared {
  slock_t mutex;  // everything up to `slots`
  Latch* latch;   // the launcher's, NULL while none runs
  bool rescan;    // list the databases now
  bool poke_all;  // poke list overflowed: check every database
  int npoke;
  Oid poke[kMaxPokes];  // databases whose extensions may have changed
  Hold holds[kMaxHolds];
  int nslots;
  DbSlot slots[FLEXIBLE_ARRAY_MEMBER];  // each with its own mutex
};

// What the launcher passes to a maintenance worker (bgw_extra).
struct WorkerArgs {
  Oid database;
  uint32 generation;
};

LauncherShared* shared = nullptr;
uint32* generations = nullptr;  // per slot, in shared memory after the slots
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;
ProcessUtility_hook_type prev_utility_hook = nullptr;

// Backend-local, for the commit callback (which must not allocate or fail).
bool poke_pending = false;    // this transaction may have created or dropped the extension
bool rescan_pending = false;  // ... or created, renamed, dropped a database
bool hold_pending = false;    // this backend holds a database (released when the transaction ends)

DbSlot* my_slot = nullptr;  // in a maintenance worker

Size SharedSize(int nslots) {
  Size size = add_size(offsetof(LauncherShared, slots), mul_size(sizeof(DbSlot), nslots));
  return add_size(MAXALIGN(size), mul_size(sizeof(uint32), nslots));
}

void ShmemRequest() {
  if (prev_shmem_request_hook != nullptr) prev_shmem_request_hook();
  RequestAddinShmemSpace(MAXALIGN(SharedSize(max_worker_processes)));
}

void ShmemStartup() {
  if (prev_shmem_startup_hook != nullptr) prev_shmem_startup_hook();
  bool found = false;
  const Size size = SharedSize(max_worker_processes);
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  shared = static_cast<LauncherShared*>(ShmemInitStruct("taskflow launcher", size, &found));
  if (!found) {
    memset(shared, 0, size);
    SpinLockInit(&shared->mutex);
    shared->nslots = max_worker_processes;
    for (int i = 0; i < shared->nslots; ++i) SpinLockInit(&shared->slots[i].mutex);
  }
  generations = reinterpret_cast<uint32*>(
      reinterpret_cast<char*>(shared) +
      MAXALIGN(offsetof(LauncherShared, slots) + sizeof(DbSlot) * shared->nslots));
  LWLockRelease(AddinShmemInitLock);
}

// Adds `database` to the launcher's pokes (caller holds shared->mutex).
void AddPoke(Oid database) {
  for (int i = 0; i < shared->npoke; ++i) {
    if (shared->poke[i] == database) return;
  }
  if (shared->npoke < kMaxPokes) {
    shared->poke[shared->npoke++] = database;
  } else {
    shared->poke_all = true;
  }
}

bool IsHeld(Oid database, TimestampTz now) {
  bool held = false;
  SpinLockAcquire(&shared->mutex);
  for (int i = 0; i < kMaxHolds; ++i) {
    Hold* h = &shared->holds[i];
    if (h->database == InvalidOid) continue;
    if (h->until <= now) {
      h->database = InvalidOid;
      continue;
    }
    if (h->database == database) held = true;
  }
  SpinLockRelease(&shared->mutex);
  return held;
}

// ---- commit callback: pokes and holds ------------------------------------------------------

void OnXactEvent(XactEvent event, void*) {
  if (shared == nullptr) return;
  const bool commit = event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT;
  const bool end = commit || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
                   event == XACT_EVENT_PREPARE;
  if (!end) return;
  if ((commit && (poke_pending || rescan_pending)) || hold_pending) {
    Latch* latch = nullptr;
    SpinLockAcquire(&shared->mutex);
    if (commit && poke_pending && OidIsValid(MyDatabaseId)) AddPoke(MyDatabaseId);
    if ((commit && rescan_pending) || hold_pending) shared->rescan = true;
    if (hold_pending) {
      for (int i = 0; i < kMaxHolds; ++i) {
        if (shared->holds[i].pid == MyProcPid) {
          shared->holds[i].database = InvalidOid;
          shared->holds[i].pid = 0;
        }
      }
    }
    latch = shared->latch;
    SpinLockRelease(&shared->mutex);
    if (latch != nullptr) SetLatch(latch);
  }
  if (commit && poke_pending && OidIsValid(MyDatabaseId)) {
    // The worker of this database re-checks the extension at once (DROP EXTENSION).
    for (int i = 0; i < shared->nslots; ++i) {
      DbSlot* s = &shared->slots[i];
      Latch* latch = nullptr;
      SpinLockAcquire(&s->mutex);
      if (s->database == MyDatabaseId && s->latch != nullptr) {
        s->recheck = true;
        latch = s->latch;
      }
      SpinLockRelease(&s->mutex);
      if (latch != nullptr) SetLatch(latch);
    }
  }
  poke_pending = false;
  rescan_pending = false;
  hold_pending = false;
}

// ---- the utility hook: commands that need a database without other connections ------------

// Stops the worker of `database` and keeps the launcher from restarting it until this
// transaction ends (or kHoldMs pass).
void HoldAndStop(Oid database) {
  const TimestampTz now = GetCurrentTimestamp();
  const TimestampTz until = TimestampTzPlusMilliseconds(now, kHoldMs);
  SpinLockAcquire(&shared->mutex);
  for (int i = 0; i < kMaxHolds; ++i) {
    Hold* h = &shared->holds[i];
    if (h->database == InvalidOid || h->until <= now ||
        (h->database == database && h->pid == MyProcPid)) {
      h->database = database;
      h->pid = MyProcPid;
      h->until = until;
      break;
    }
  }
  SpinLockRelease(&shared->mutex);
  hold_pending = true;
  // A worker that attaches after this sees the hold and exits; one attached before is signalled.
  for (int i = 0; i < shared->nslots; ++i) {
    DbSlot* s = &shared->slots[i];
    int pid = 0;
    SpinLockAcquire(&s->mutex);
    if (s->database == database) {
      s->exit = SlotExit::kStopRequested;
      pid = s->pid;
    }
    SpinLockRelease(&s->mutex);
    if (pid != 0) kill(pid, SIGTERM);  // the command waits up to 5 s for it to exit
  }
}

const char* OptionString(List* options, const char* name) {
  ListCell* lc;
  foreach (lc, options) {
    DefElem* d = static_cast<DefElem*>(lfirst(lc));
    if (strcmp(d->defname, name) == 0 && d->arg != nullptr) return defGetString(d);
  }
  return nullptr;
}

void UtilityHook(PlannedStmt* pstmt, const char* query, bool read_only_tree,
                 ProcessUtilityContext context, ParamListInfo params, QueryEnvironment* env,
                 DestReceiver* dest, QueryCompletion* qc) {
  Node* tree = pstmt->utilityStmt;
  const char* dbname = nullptr;  // a database that must have no other connections
  switch (nodeTag(tree)) {
    case T_DropdbStmt:
      dbname = castNode(DropdbStmt, tree)->dbname;
      rescan_pending = true;
      break;
    case T_RenameStmt:
      if (castNode(RenameStmt, tree)->renameType == OBJECT_DATABASE) {
        dbname = castNode(RenameStmt, tree)->subname;
      }
      break;
    case T_AlterDatabaseStmt:
      if (OptionString(castNode(AlterDatabaseStmt, tree)->options, "tablespace") != nullptr) {
        dbname = castNode(AlterDatabaseStmt, tree)->dbname;
      }
      break;
    case T_CreatedbStmt:
      dbname = OptionString(castNode(CreatedbStmt, tree)->options, "template");
      rescan_pending = true;  // a copy of a database with the extension has it too
      break;
    case T_AlterDatabaseSetStmt: rescan_pending = true; break;
    case T_CreateExtensionStmt:  // any: CASCADE may create taskflow
    case T_DropOwnedStmt: poke_pending = true; break;
    case T_DropStmt:
      if (castNode(DropStmt, tree)->removeType == OBJECT_EXTENSION ||
          castNode(DropStmt, tree)->removeType == OBJECT_SCHEMA) {
        poke_pending = true;
      }
      break;
    default: break;
  }
  if (dbname != nullptr && shared != nullptr) {
    Oid db = get_database_oid(dbname, true);
    // Only its owner (or a superuser) may run these commands: nobody else can pause a worker.
    if (OidIsValid(db) && pg_database_ownercheck(db, GetUserId())) HoldAndStop(db);
  }
  if (prev_utility_hook != nullptr) {
    prev_utility_hook(pstmt, query, read_only_tree, context, params, env, dest, qc);
  } else {
    standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
  }
}

// ---- the launcher worker ---------------------------------------------------------------------

enum class EntryState { kProbe, kServing, kNotInstalled, kBackoff };

struct DbEntry {
  Oid database;  // hash key: must be first
  BackgroundWorkerHandle* handle;
  int slot;
  EntryState state;
  bool seen;    // in the last listing of pg_database
  bool repoke;  // poked while its worker was starting: check again when it exits
  TimestampTz next_start;
  TimestampTz started_at;
  int backoff_ms;
};

HTAB* entries = nullptr;
bool warned_no_worker = false;

void LauncherExit(int, Datum) {
  SpinLockAcquire(&shared->mutex);
  shared->latch = nullptr;
  SpinLockRelease(&shared->mutex);
}

// The databases a maintenance worker may serve: connections allowed, not a template, valid.
int ListDatabases(Oid** out) {
  int n = 0;
  int cap = 16;
  Oid* oids = static_cast<Oid*>(MemoryContextAlloc(TopMemoryContext, cap * sizeof(Oid)));
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  (void)GetTransactionSnapshot();
  Relation rel = table_open(DatabaseRelationId, AccessShareLock);
  TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
  HeapTuple tup;
  while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection))) {
    Form_pg_database d = reinterpret_cast<Form_pg_database>(GETSTRUCT(tup));
    if (!d->datallowconn || d->datistemplate || database_is_invalid_form(d)) continue;
    if (n == cap) {
      cap *= 2;
      oids = static_cast<Oid*>(repalloc(oids, cap * sizeof(Oid)));
    }
    oids[n++] = d->oid;
  }
  table_endscan(scan);
  table_close(rel, AccessShareLock);
  CommitTransactionCommand();
  *out = oids;
  return n;
}

void FreeSlot(int i) {
  DbSlot* s = &shared->slots[i];
  SpinLockAcquire(&s->mutex);
  s->database = InvalidOid;
  s->pid = 0;
  s->latch = nullptr;
  s->npending = 0;
  s->overflow = false;
  s->recheck = false;
  SpinLockRelease(&s->mutex);
}

void StartWorker(DbEntry* e, TimestampTz now) {
  int idx = -1;
  for (int i = 0; i < shared->nslots && idx < 0; ++i) {
    SpinLockAcquire(&shared->slots[i].mutex);
    if (shared->slots[i].database == InvalidOid) idx = i;
    SpinLockRelease(&shared->slots[i].mutex);
  }
  BackgroundWorkerHandle* handle = nullptr;
  bool ok = false;
  if (idx >= 0) {
    DbSlot* s = &shared->slots[idx];
    WorkerArgs args;
    SpinLockAcquire(&s->mutex);
    s->database = e->database;
    s->pid = 0;
    s->latch = nullptr;
    s->exit = SlotExit::kNone;
    s->npending = 0;
    s->overflow = false;
    s->recheck = false;
    args.database = e->database;
    args.generation = ++generations[idx];
    SpinLockRelease(&s->mutex);

    BackgroundWorker w;
    memset(&w, 0, sizeof(w));
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_start_time = BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = BGW_NEVER_RESTART;  // the launcher restarts it, with backoff
    snprintf(w.bgw_library_name, BGW_MAXLEN, "taskflow");
    snprintf(w.bgw_function_name, BGW_MAXLEN, "taskflow_maintenance_main");
    snprintf(w.bgw_name, BGW_MAXLEN, "taskflow maintenance for database %u", e->database);
    snprintf(w.bgw_type, BGW_MAXLEN, "taskflow maintenance");
    w.bgw_main_arg = Int32GetDatum(idx);
    memcpy(w.bgw_extra, &args, sizeof(args));
    w.bgw_notify_pid = MyProcPid;
    MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
    ok = RegisterDynamicBackgroundWorker(&w, &handle);
    MemoryContextSwitchTo(old);
    if (!ok) FreeSlot(idx);
  }
  if (!ok) {
    if (!warned_no_worker) {
      ereport(WARNING,
              (errmsg("taskflow launcher: no background worker slot free for the maintenance "
                      "worker of database %u; retrying",
                      e->database),
               errhint("TaskFlow needs one background worker for its launcher and one per "
                       "database with the extension; raise max_worker_processes.")));
      warned_no_worker = true;
    }
    e->next_start = TimestampTzPlusMilliseconds(now, kTickMs);
    return;
  }
  warned_no_worker = false;
  e->handle = handle;
  e->slot = idx;
  e->started_at = now;
}

// A worker stopped: decide when to start it again from how it ended.
void Reap(DbEntry* e, TimestampTz now) {
  DbSlot* s = &shared->slots[e->slot];
  SpinLockAcquire(&s->mutex);
  SlotExit how = s->exit;
  SpinLockRelease(&s->mutex);
  FreeSlot(e->slot);
  pfree(e->handle);
  e->handle = nullptr;
  e->slot = -1;
  switch (how) {
    case SlotExit::kNotInstalled:
      e->state = EntryState::kNotInstalled;
      e->backoff_ms = 0;
      e->next_start = e->repoke ? now : TimestampTzPlusMilliseconds(now, kRecheckNotInstalledMs);
      break;
    case SlotExit::kStopRequested:
      e->state = EntryState::kProbe;
      e->backoff_ms = 0;
      e->next_start = now;  // unless held
      break;
    case SlotExit::kNone:
    default:
      if (TimestampDifferenceExceeds(e->started_at, now, kStableMs)) {
        e->backoff_ms = 1000;
      } else {
        e->backoff_ms = std::min(std::max(e->backoff_ms * 2, 1000), kMaxBackoffMs);
      }
      ereport(LOG, (errmsg("taskflow launcher: the maintenance worker of database %u stopped "
                           "unexpectedly; restarting it in %d ms",
                           e->database, e->backoff_ms)));
      e->state = EntryState::kBackoff;
      e->next_start = TimestampTzPlusMilliseconds(now, e->backoff_ms);
      break;
  }
  e->repoke = false;
}

// The requests backends left in shared memory since the last tick, taken (and cleared).
struct Requests {
  bool rescan = false;
  bool poke_all = false;
  int npoke = 0;
  Oid pokes[kMaxPokes];
};

Requests TakeRequests() {
  Requests r;
  SpinLockAcquire(&shared->mutex);
  r.rescan = shared->rescan;
  r.poke_all = shared->poke_all;
  r.npoke = shared->npoke;
  memcpy(r.pokes, shared->poke, sizeof(Oid) * r.npoke);
  shared->rescan = false;
  shared->poke_all = false;
  shared->npoke = 0;
  SpinLockRelease(&shared->mutex);
  return r;
}

// Lists the databases: a new one gets an entry to probe; `seen` marks those still there.
void RefreshDatabases(TimestampTz now) {
  HASH_SEQ_STATUS it;
  DbEntry* e;
  Oid* oids = nullptr;
  int n = ListDatabases(&oids);
  hash_seq_init(&it, entries);
  while ((e = static_cast<DbEntry*>(hash_seq_search(&it))) != nullptr) e->seen = false;
  for (int i = 0; i < n; ++i) {
    bool found = false;
    e = static_cast<DbEntry*>(hash_search(entries, &oids[i], HASH_ENTER, &found));
    if (!found) {
      e->handle = nullptr;
      e->slot = -1;
      e->state = EntryState::kProbe;
      e->repoke = false;
      e->next_start = now;
      e->started_at = 0;
      e->backoff_ms = 0;
    }
    e->seen = true;
  }
  pfree(oids);
}

// Pokes: the extension may have appeared or gone; a failing worker waits for its backoff.
void ApplyPokes(const Requests& r, TimestampTz now) {
  HASH_SEQ_STATUS it;
  DbEntry* e;
  hash_seq_init(&it, entries);
  while ((e = static_cast<DbEntry*>(hash_seq_search(&it))) != nullptr) {
    bool poked = r.poke_all;
    for (int i = 0; i < r.npoke && !poked; ++i) poked = r.pokes[i] == e->database;
    if (!poked) continue;
    if (e->handle != nullptr) {
      // A serving worker checks by itself (its latch is set); a probe may have looked too early.
      if (e->state != EntryState::kServing) e->repoke = true;
    } else if (e->state != EntryState::kBackoff) {
      e->next_start = now;
    }
  }
}

// A running worker: stopped (reaped), of a database that is gone (asked to stop), serving, or
// still starting (returns true).
bool CheckWorker(DbEntry* e, TimestampTz now) {
  pid_t pid = 0;
  BgwHandleStatus st = GetBackgroundWorkerPid(e->handle, &pid);
  if (st == BGWH_POSTMASTER_DIED) proc_exit(1);
  if (st == BGWH_STOPPED) {
    Reap(e, now);
    return false;
  }
  DbSlot* s = &shared->slots[e->slot];
  if (!e->seen) {
    TerminateBackgroundWorker(e->handle);  // dropped, template, or no connections allowed
    SpinLockAcquire(&s->mutex);
    s->exit = SlotExit::kStopRequested;
    SpinLockRelease(&s->mutex);
    return false;
  }
  SpinLockAcquire(&s->mutex);
  bool serving = s->latch != nullptr;
  SpinLockRelease(&s->mutex);
  if (serving) e->state = EntryState::kServing;
  return !serving;
}

// Workers that stopped; databases that are gone. Returns how many workers are still starting.
int CheckWorkers(TimestampTz now) {
  HASH_SEQ_STATUS it;
  DbEntry* e;
  int starting = 0;
  hash_seq_init(&it, entries);
  while ((e = static_cast<DbEntry*>(hash_seq_search(&it))) != nullptr) {
    if (e->handle != nullptr && CheckWorker(e, now)) ++starting;
    if (e->handle == nullptr && !e->seen) {
      hash_search(entries, &e->database, HASH_REMOVE, nullptr);
    }
  }
  return starting;
}

// Start what is due: databases with the extension first, at most kMaxStarting at once.
void StartDue(int starting, TimestampTz now) {
  HASH_SEQ_STATUS it;
  DbEntry* e;
  for (int pass = 0; pass < 2; ++pass) {
    hash_seq_init(&it, entries);
    while ((e = static_cast<DbEntry*>(hash_seq_search(&it))) != nullptr) {
      if (e->handle != nullptr || !e->seen || e->next_start > now) continue;
      const bool known = e->state == EntryState::kServing || e->state == EntryState::kBackoff;
      if (known != (pass == 0)) continue;
      if (starting >= kMaxStarting || IsHeld(e->database, now)) continue;
      StartWorker(e, now);
      if (e->handle != nullptr) ++starting;
    }
  }
}

void LauncherTick() {
  TimestampTz now = GetCurrentTimestamp();
  static TimestampTz next_listing = 0;

  const Requests requests = TakeRequests();
  if (requests.rescan || requests.poke_all || requests.npoke > 0 || now >= next_listing) {
    RefreshDatabases(now);
    next_listing = TimestampTzPlusMilliseconds(now, kListEveryMs);
  }
  ApplyPokes(requests, now);
  StartDue(CheckWorkers(now), now);
}

}  // namespace

namespace taskflow::bgw {

void InitLauncher() {
  prev_shmem_request_hook = shmem_request_hook;
  shmem_request_hook = ShmemRequest;
  prev_shmem_startup_hook = shmem_startup_hook;
  shmem_startup_hook = ShmemStartup;
  prev_utility_hook = ProcessUtility_hook;
  ProcessUtility_hook = UtilityHook;
  RegisterXactCallback(OnXactEvent, nullptr);

  BackgroundWorker worker;
  memset(&worker, 0, sizeof(worker));
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = 5;
  snprintf(worker.bgw_library_name, BGW_MAXLEN, "taskflow");
  snprintf(worker.bgw_function_name, BGW_MAXLEN, "taskflow_launcher_main");
  snprintf(worker.bgw_name, BGW_MAXLEN, "taskflow launcher");
  snprintf(worker.bgw_type, BGW_MAXLEN, "taskflow launcher");
  RegisterBackgroundWorker(&worker);
}

DbSlot* ServingSlot(Oid database) {
  if (shared == nullptr) return nullptr;
  for (int i = 0; i < shared->nslots; ++i) {
    DbSlot* s = &shared->slots[i];
    if (s->database != database) continue;  // unlocked hint, confirmed below
    SpinLockAcquire(&s->mutex);
    bool serving = s->database == database && s->latch != nullptr;
    SpinLockRelease(&s->mutex);
    if (serving) return s;
  }
  return nullptr;
}

DbSlot* MySlot() { return my_slot; }

// In a maintenance worker, connected: takes its slot (false when the slot was handed to another
// worker, or the database is held for DROP/ALTER DATABASE: then the worker must exit).
bool AttachSlot(int idx) {
  if (shared == nullptr || idx < 0 || idx >= shared->nslots) return false;
  WorkerArgs args;
  memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
  DbSlot* s = &shared->slots[idx];
  bool mine = false;
  SpinLockAcquire(&s->mutex);
  if (s->database == args.database && generations[idx] == args.generation && s->pid == 0) {
    s->pid = MyProcPid;
    mine = true;
  }
  SpinLockRelease(&s->mutex);
  if (!mine) return false;
  my_slot = s;
  if (IsHeld(args.database, GetCurrentTimestamp())) {
    SetSlotExit(SlotExit::kStopRequested);
    return false;
  }
  return true;
}

Oid WorkerDatabase() {
  WorkerArgs args;
  memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
  return args.database;
}

void SetSlotExit(SlotExit how) {
  if (my_slot == nullptr) return;
  SpinLockAcquire(&my_slot->mutex);
  my_slot->exit = how;
  SpinLockRelease(&my_slot->mutex);
}

static void DetachSlot(int, Datum) {
  if (my_slot == nullptr) return;
  SpinLockAcquire(&my_slot->mutex);
  my_slot->latch = nullptr;
  my_slot->pid = 0;
  SpinLockRelease(&my_slot->mutex);
}

void ServeSlot() {
  if (my_slot == nullptr) return;
  on_shmem_exit(DetachSlot, 0);
  SpinLockAcquire(&my_slot->mutex);
  my_slot->latch = MyLatch;
  SpinLockRelease(&my_slot->mutex);
  Latch* launcher = nullptr;
  SpinLockAcquire(&shared->mutex);
  launcher = shared->latch;
  SpinLockRelease(&shared->mutex);
  if (launcher != nullptr) SetLatch(launcher);  // it may start the next one
}

bool TakeRecheck() {
  if (my_slot == nullptr) return false;
  SpinLockAcquire(&my_slot->mutex);
  bool r = my_slot->recheck;
  my_slot->recheck = false;
  SpinLockRelease(&my_slot->mutex);
  return r;
}

}  // namespace taskflow::bgw

void taskflow_launcher_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);  // shared catalogs only
  pgstat_report_appname("taskflow launcher");

  // A launcher that restarts after an error does not know the workers of the previous one:
  // stop them (their slots get new generations, so a late starter cannot take one either).
  for (int i = 0; i < shared->nslots; ++i) {
    DbSlot* s = &shared->slots[i];
    int pid = 0;
    SpinLockAcquire(&s->mutex);
    ++generations[i];
    pid = s->pid;
    SpinLockRelease(&s->mutex);
    if (pid != 0) kill(pid, SIGTERM);
  }
  for (int waited = 0; waited < 100; ++waited) {
    bool any = false;
    for (int i = 0; i < shared->nslots; ++i) {
      SpinLockAcquire(&shared->slots[i].mutex);
      any = any || shared->slots[i].pid != 0;
      SpinLockRelease(&shared->slots[i].mutex);
    }
    if (!any) break;
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100L,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  }
  for (int i = 0; i < shared->nslots; ++i) FreeSlot(i);

  HASHCTL info;
  memset(&info, 0, sizeof(info));
  info.keysize = sizeof(Oid);
  info.entrysize = sizeof(DbEntry);
  entries = hash_create("taskflow launcher databases", 64, &info, HASH_ELEM | HASH_BLOBS);

  on_shmem_exit(LauncherExit, 0);
  SpinLockAcquire(&shared->mutex);
  shared->latch = MyLatch;
  shared->rescan = true;
  SpinLockRelease(&shared->mutex);

  if (taskflow_database_name != nullptr && strcmp(taskflow_database_name, "postgres") != 0) {
    ereport(LOG, (errmsg("taskflow.database_name is deprecated and ignored: TaskFlow serves "
                         "every database in which the extension is installed")));
  }

  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    LauncherTick();
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, kTickMs,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}
