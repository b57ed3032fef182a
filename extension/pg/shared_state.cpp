#include "core/acquire_plan.hpp"
#include "pg/shared_state.hpp"

#include <algorithm>

#include "pg/postgres.hpp"

extern "C" {
#include "common/hashfn.h"   // hash_bytes_extended: flow keys
#include "port/atomics.h"    // the mapping generation counter
#include "storage/lwlock.h"  // the lock guarding the pass table
#include "storage/shmem.h"   // ShmemInitStruct, ShmemInitHash
#include "utils/hsearch.h"   // the pass table
}

namespace taskflow::pg {
namespace {

constexpr long kMaxFlows = 65536;
constexpr std::uint32_t kSlotStripes = 4096;

struct SharedHeader {
  LWLock* lock;
  LWLock* slot_lock;  // guards slot_committed and slot_reserved
  pg_atomic_uint64 tenant_generation;
  pg_atomic_uint64 ready_generation;
  pg_atomic_uint64 limits_generation;
  std::uint64_t slot_committed[kSlotStripes];  // reserved slots whose transaction committed, ever
  std::int32_t slot_reserved[kSlotStripes];    // slots reserved by uncommitted acquisitions
  std::uint64_t slot_finished[kSlotStripes];   // RUNNING jobs that ended (committed), ever
  std::int32_t slot_finishing[kSlotStripes];   // ended in transactions now committing
};

struct PassEntry {
  std::uint64_t key;  // hash key: must be first
  double pass;
};

SharedHeader* header = nullptr;
HTAB* passes_table = nullptr;

// What a backend caches is valid while a generation stays the same: a counter in shared memory,
// bumped when a transaction that changed what it guards commits, combined with this backend's
// epoch, bumped at its own change (it sees that at once) and when the transaction that made it
// ends without committing (what the backend cached inside it is void).
struct Generation {
  pg_atomic_uint64 SharedHeader::*counter;
  bool changed = false;  // this transaction changed what it guards
  std::uint64_t epoch = 0;

  std::uint64_t Read() const {
    std::uint64_t shared = header != nullptr ? pg_atomic_read_u64(&(header->*counter)) : 0;
    return shared * 1000003 + epoch;
  }
  void Changed() {
    changed = true;
    ++epoch;
  }
  void EndTransaction(bool committed) {
    if (changed && committed && header != nullptr) pg_atomic_fetch_add_u64(&(header->*counter), 1);
    if (changed && !committed) ++epoch;
    changed = false;
  }
};
Generation mapping{&SharedHeader::tenant_generation};  // the role -> tenant mapping
Generation ready{&SharedHeader::ready_generation};     // jobs that may have become PENDING
Generation limits{&SharedHeader::limits_generation};   // taskflow.tenants
// This backend's reservations in the current transaction, per stripe (few entries: a vector).
std::vector<std::pair<std::uint32_t, int>> own_slots;

// RUNNING jobs this transaction ended, per stripe and subtransaction level (a rolled-back
// subtransaction's are dropped). Announced as "finishing" before the commit becomes visible
// and moved to "finished" after it (see ReadFinished for why both).
struct Finished {
  std::uint32_t stripe;
  int n;
  int level;
};
std::vector<Finished> own_finished;
bool finishing_announced = false;

// This transaction's ended jobs of a stripe (not in the shared totals before it commits).
std::uint64_t OwnFinished(std::uint32_t stripe) {
  std::uint64_t n = 0;
  for (const Finished& f : own_finished) {
    if (f.stripe == stripe) n += static_cast<std::uint64_t>(f.n);
  }
  return n;
}

void AnnounceFinishing() {
  if (own_finished.empty() || header == nullptr) return;
  LWLockAcquire(header->slot_lock, LW_EXCLUSIVE);
  for (const Finished& f : own_finished) header->slot_finishing[f.stripe] += f.n;
  LWLockRelease(header->slot_lock);
  finishing_announced = true;
}

void EndFinished(bool committed) {
  if (!own_finished.empty() && header != nullptr && finishing_announced) {
    LWLockAcquire(header->slot_lock, LW_EXCLUSIVE);
    for (const Finished& f : own_finished) {
      header->slot_finishing[f.stripe] = std::max(0, header->slot_finishing[f.stripe] - f.n);
      if (committed) header->slot_finished[f.stripe] += static_cast<std::uint64_t>(f.n);
    }
    LWLockRelease(header->slot_lock);
  }
  own_finished.clear();
  finishing_announced = false;
}

void OnSubXact(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  const int level = GetCurrentTransactionNestLevel();
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    own_finished.erase(std::remove_if(own_finished.begin(), own_finished.end(),
                                      [&](const Finished& f) { return f.level >= level; }),
                       own_finished.end());
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    for (Finished& f : own_finished) {
      if (f.level >= level) f.level = level - 1;
    }
  }
}

int OwnReserved(std::uint32_t stripe) {
  for (const auto& [s, n] : own_slots) {
    if (s == stripe) return n;
  }
  return 0;
}

void AddOwn(std::uint32_t stripe, int n) {
  for (auto& entry : own_slots) {
    if (entry.first == stripe) {
      entry.second += n;
      return;
    }
  }
  own_slots.emplace_back(stripe, n);
}

// Ends this backend's reservations (transaction end). On commit they move to the stripes'
// committed totals: the jobs are visible to counts from now on, and acquirers whose count is
// older add them (CheckAndReserve's bound).
void EndReservations(bool committed) {
  if (own_slots.empty() || header == nullptr) {
    own_slots.clear();
    return;
  }
  LWLockAcquire(header->slot_lock, LW_EXCLUSIVE);
  for (const auto& [stripe, n] : own_slots) {
    header->slot_reserved[stripe] = std::max(0, header->slot_reserved[stripe] - n);
    if (committed) header->slot_committed[stripe] += static_cast<std::uint64_t>(n);
  }
  LWLockRelease(header->slot_lock);
  own_slots.clear();
}

shmem_request_hook_type prev_request = nullptr;
shmem_startup_hook_type prev_startup = nullptr;

void Request() {
  if (prev_request != nullptr) prev_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(SharedHeader)) +
                         hash_estimate_size(kMaxFlows, sizeof(PassEntry)));
  RequestNamedLWLockTranche("taskflow fair share", 2);
}

void Startup() {
  if (prev_startup != nullptr) prev_startup();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  header = static_cast<SharedHeader*>(
      ShmemInitStruct("taskflow shared state", sizeof(SharedHeader), &found));
  if (!found) {
    LWLockPadded* locks = GetNamedLWLockTranche("taskflow fair share");
    header->lock = &locks[0].lock;
    header->slot_lock = &locks[1].lock;
    pg_atomic_init_u64(&header->tenant_generation, 1);
    pg_atomic_init_u64(&header->ready_generation, 1);
    pg_atomic_init_u64(&header->limits_generation, 1);
    memset(header->slot_committed, 0, sizeof(header->slot_committed));
    memset(header->slot_finished, 0, sizeof(header->slot_finished));
    memset(header->slot_finishing, 0, sizeof(header->slot_finishing));
    memset(header->slot_reserved, 0, sizeof(header->slot_reserved));
  }
  HASHCTL info;
  memset(&info, 0, sizeof(info));
  info.keysize = sizeof(std::uint64_t);
  info.entrysize = sizeof(PassEntry);
  passes_table =
      ShmemInitHash("taskflow fair share passes", 1024, kMaxFlows, &info, HASH_ELEM | HASH_BLOBS);
  LWLockRelease(AddinShmemInitLock);
}

// Runs after the commit is visible to new snapshots (CommitTransaction calls the callbacks after
// ProcArrayEndTransaction), which the generations and the slot sequence numbers rely on.
void OnXact(XactEvent event, void*) {
  if (event == XACT_EVENT_PRE_PREPARE && !own_slots.empty()) {
    // A prepared transaction's RUNNING jobs stay invisible until COMMIT PREPARED, long after
    // this backend has moved on: its reservations could not be kept. No C++ object is alive here.
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             errmsg("cannot PREPARE a transaction that acquired jobs of a tenant with max_running"),
             errhint("Call taskflow.acquire() outside two-phase transactions.")));
  }
  if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT) {
    AnnounceFinishing();
  } else if (event == XACT_EVENT_PRE_PREPARE) {
    own_finished.clear();  // not announced: the bound only stays higher, which is safe
  } else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) {
    for (Generation* g : {&mapping, &ready, &limits}) g->EndTransaction(true);
    EndReservations(true);
    EndFinished(true);
  } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
             event == XACT_EVENT_PREPARE) {
    for (Generation* g : {&mapping, &ready, &limits}) g->EndTransaction(false);
    EndReservations(false);
    EndFinished(false);
  }
}

}  // namespace

void InitSharedState() {
  prev_request = shmem_request_hook;
  shmem_request_hook = Request;
  prev_startup = shmem_startup_hook;
  shmem_startup_hook = Startup;
  RegisterXactCallback(OnXact, nullptr);
  RegisterSubXactCallback(OnSubXact, nullptr);
}

// Shared memory serves every database of the cluster (one maintenance worker each), and tenant
// names are per database: the database is part of every key, so tenant `acme` of one database
// never shares passes or slot stripes with `acme` of another by construction (only by the same
// chance as any two tenants).
namespace {
std::uint64_t DatabaseSeed(std::uint64_t salt) {
  return salt ^ (static_cast<std::uint64_t>(MyDatabaseId) << 32);
}
}  // namespace

std::uint64_t FlowKey(const std::string& group, const std::string& tenant) {
  std::string k = group;
  k.push_back('\0');
  k += tenant;
  return hash_bytes_extended(reinterpret_cast<const unsigned char*>(k.data()),
                             static_cast<int>(k.size()), DatabaseSeed(0x7461736b));
}

void UpdatePasses(
    const std::vector<std::uint64_t>& keys, std::uint64_t vtime_key,
    const std::function<double(std::vector<double>& passes, double vtime)>& allocate) {
  std::vector<double> passes(keys.size(), 0.0);
  if (header == nullptr || passes_table == nullptr) {
    allocate(passes, 0.0);  // no shared memory (not preloaded): fair within the call only
    return;
  }
  LWLockAcquire(header->lock, LW_EXCLUSIVE);
  // Nothing below raises: hash_search HASH_FIND / HASH_REMOVE / HASH_ENTER_NULL never do; a
  // C++ exception from `allocate` releases the lock first.
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto* e = static_cast<PassEntry*>(hash_search(passes_table, &keys[i], HASH_FIND, nullptr));
    if (e != nullptr) passes[i] = e->pass;
  }
  auto* v = static_cast<PassEntry*>(hash_search(passes_table, &vtime_key, HASH_FIND, nullptr));
  const double vtime = v != nullptr ? v->pass : 0.0;
  double new_vtime = vtime;
  try {
    new_vtime = allocate(passes, vtime);
  } catch (...) {
    LWLockRelease(header->lock);
    throw;
  }
  if (hash_get_num_entries(passes_table) + static_cast<long>(keys.size()) + 1 >= kMaxFlows) {
    // Full (the size reserved for it): start over. The passes are soft state; after a reset
    // every flow starts level, which is fair, whereas refusing new flows would starve them.
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, passes_table);
    while (auto* e = static_cast<PassEntry*>(hash_seq_search(&scan))) {
      hash_search(passes_table, &e->key, HASH_REMOVE, nullptr);
    }
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    bool found = false;
    // HASH_ENTER_NULL never raises (NULL when shared memory runs out: the flow just starts
    // from the queue's virtual time next time).
    auto* e = static_cast<PassEntry*>(hash_search(passes_table, &keys[i], HASH_ENTER_NULL, &found));
    if (e != nullptr) e->pass = passes[i];
  }
  bool found = false;
  v = static_cast<PassEntry*>(hash_search(passes_table, &vtime_key, HASH_ENTER_NULL, &found));
  if (v != nullptr && (!found || v->pass < new_vtime)) v->pass = new_vtime;
  LWLockRelease(header->lock);
}

void AddToPasses(const std::vector<std::uint64_t>& keys, const std::vector<double>& deltas) {
  if (header == nullptr || passes_table == nullptr) return;
  LWLockAcquire(header->lock, LW_EXCLUSIVE);
  for (std::size_t i = 0; i < keys.size() && i < deltas.size(); ++i) {
    if (deltas[i] == 0.0) continue;
    auto* e = static_cast<PassEntry*>(hash_search(passes_table, &keys[i], HASH_FIND, nullptr));
    if (e != nullptr) e->pass += deltas[i];
  }
  LWLockRelease(header->lock);
}

std::uint64_t TenantGeneration() { return mapping.Read(); }

void TenantMappingChanged() { mapping.Changed(); }

std::uint64_t ReadyGeneration() {
  std::uint64_t generation = ready.Read();
  pg_memory_barrier();  // read before the snapshot of the skip scan that follows is taken
  return generation;
}

void ReadyChanged() { ready.Changed(); }

bool SlotsAvailable() { return header != nullptr; }

std::uint32_t SlotStripe(const std::string& tenant) {
  return hash_bytes_extended(reinterpret_cast<const unsigned char*>(tenant.data()),
                             static_cast<int>(tenant.size()), DatabaseSeed(0x736c6f74)) %
         kSlotStripes;
}

std::vector<SlotView> ReadSlots(const std::vector<std::uint32_t>& stripes) {
  std::vector<SlotView> out(stripes.size());
  if (header == nullptr) return out;
  LWLockAcquire(header->slot_lock, LW_SHARED);
  for (std::size_t i = 0; i < stripes.size(); ++i) {
    const std::uint32_t s = stripes[i] % kSlotStripes;
    out[i].committed = header->slot_committed[s];
    out[i].finished = header->slot_finished[s] + OwnFinished(s);
    out[i].reserved = header->slot_reserved[s];
    out[i].own = OwnReserved(s);
  }
  LWLockRelease(header->slot_lock);
  return out;
}

std::vector<int> ReserveSlots(const std::vector<SlotRequest>& requests) {
  std::vector<int> granted(requests.size(), 0);
  if (header == nullptr) return granted;
  // Room for this call's entries first: nothing below may fail while the lock is held.
  own_slots.reserve(own_slots.size() + requests.size());
  LWLockAcquire(header->slot_lock, LW_EXCLUSIVE);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const SlotRequest& r = requests[i];
    const std::uint32_t s = r.stripe % kSlotStripes;
    // RUNNING now <= counted + committed since the count - ended since + reserved now (minus
    // this transaction's reservations that the count already saw): the same bound acquire uses.
    const std::int64_t bound =
        core::RunningBound({r.counted, r.committed_at, r.finished_at, r.own_at},
                           {header->slot_committed[s], header->slot_finished[s] + OwnFinished(s),
                            header->slot_reserved[s]});
    const int g = std::max(0, std::min(r.want, core::RoomUnder(r.limit, bound)));
    if (g == 0) continue;
    header->slot_reserved[s] += g;
    AddOwn(s, g);
    granted[i] = g;
  }
  LWLockRelease(header->slot_lock);
  return granted;
}

std::vector<std::uint64_t> ReadFinished(const std::vector<std::uint32_t>& stripes) {
  std::vector<std::uint64_t> out(stripes.size(), 0);
  if (header == nullptr) return out;
  LWLockAcquire(header->slot_lock, LW_SHARED);
  for (std::size_t i = 0; i < stripes.size(); ++i) {
    const std::uint32_t s = stripes[i] % kSlotStripes;
    out[i] = header->slot_finished[s] +
             static_cast<std::uint64_t>(std::max(0, header->slot_finishing[s]));
  }
  LWLockRelease(header->slot_lock);
  // This transaction's own ended jobs are invisible to the totals until it commits, but the
  // count already missed them: include them, or they would be subtracted twice.
  for (std::size_t i = 0; i < stripes.size(); ++i) out[i] += OwnFinished(stripes[i] % kSlotStripes);
  return out;
}

void RecordFinished(const std::string& tenant) {
  const std::uint32_t stripe = SlotStripe(tenant);
  const int level = GetCurrentTransactionNestLevel();
  for (Finished& f : own_finished) {
    if (f.stripe == stripe && f.level == level) {
      ++f.n;
      return;
    }
  }
  own_finished.push_back({stripe, 1, level});
}

void UnreserveSlots(std::uint32_t stripe, int n) {
  if (header == nullptr || n <= 0) return;
  const std::uint32_t s = stripe % kSlotStripes;
  LWLockAcquire(header->slot_lock, LW_EXCLUSIVE);
  for (auto& entry : own_slots) {
    if (entry.first == s) {
      const int k = std::min(n, entry.second);
      entry.second -= k;
      header->slot_reserved[s] = std::max(0, header->slot_reserved[s] - k);
      break;
    }
  }
  LWLockRelease(header->slot_lock);
}

std::uint64_t LimitsGeneration() { return limits.Read(); }

void TenantLimitsChanged() { limits.Changed(); }

}  // namespace taskflow::pg
