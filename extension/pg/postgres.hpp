// The one place where PostgreSQL headers enter C++. Every PostgreSQL include of the extension is
// in this extern "C" block, postgres.h first. Files under extension/core must never include it.
#pragma once

extern "C" {
#include "postgres.h"  // must be first: base types, elog/ereport, palloc

#include "access/xact.h"             // transaction control in background workers
#include "catalog/namespace.h"       // get_namespace_oid: our schema's types
#include "catalog/pg_type.h"         // type OIDs for SPI parameters
#include "commands/async.h"          // Async_Notify: wake-up hints for workers
#include "executor/spi.h"            // SPI: SQL from C
#include "fmgr.h"                    // the function manager call interface
#include "funcapi.h"                 // set-returning functions, composite results
#include "miscadmin.h"               // process_shared_preload_libraries_in_progress, MyProcPid
#include "pgstat.h"                  // wait events for WaitLatch
#include "postmaster/bgworker.h"     // background worker registration
#include "storage/ipc.h"             // proc_exit
#include "storage/latch.h"           // WaitLatch
#include "storage/proc.h"            // MyLatch
#include "tcop/utility.h"            // ProcessUtility hook types (none installed yet)
#include "utils/array.h"             // arrays in and out of SPI
#include "utils/acl.h"               // role membership (tenant confinement)
#include "utils/builtins.h"          // text <-> cstring
#include "utils/guc.h"               // the taskflow.* settings
#include "utils/jsonb.h"             // jsonb inspection (object check, size)
#include "utils/lsyscache.h"         // get_typlenbyvalalign
#include "utils/memutils.h"          // memory contexts
#include "utils/syscache.h"          // enum type lookup
#include "utils/snapmgr.h"           // snapshots in background workers
#include "utils/timestamp.h"         // timestamptz arithmetic
#include "utils/uuid.h"              // lease tokens
#include "common/pg_prng.h"          // jitter randomness
#include "common/hmac.h"             // webhook signatures (HMAC-SHA256)
#include "utils/resowner.h"          // subtransactions around rule firings
#include "utils/inval.h"             // webhook rule cache: invalidated when rules or tenants change
#include "commands/trigger.h"        // CALLED_AS_TRIGGER: statement triggers in C
#include "commands/event_trigger.h"  // CALLED_AS_EVENT_TRIGGER: DROP EXTENSION clean-up
}

// PostgreSQL defines these as macros; they collide with the C++ standard library.
#ifdef Max
#undef Max
#endif
#ifdef Min
#undef Min
#endif
