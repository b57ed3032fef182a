#include "pg/shared_state.hpp"

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

struct SharedHeader {
  LWLock* lock;
  pg_atomic_uint64 tenant_generation;
};

struct PassEntry {
  std::uint64_t key;  // hash key: must be first
  double pass;
};

SharedHeader* header = nullptr;
HTAB* passes_table = nullptr;
bool mapping_changed = false;  // this transaction changed the role -> tenant mapping
std::uint64_t local_epoch = 0;  // bumped when this backend's view of the mapping may differ

shmem_request_hook_type prev_request = nullptr;
shmem_startup_hook_type prev_startup = nullptr;

void Request() {
  if (prev_request != nullptr) prev_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(SharedHeader)) +
                         hash_estimate_size(kMaxFlows, sizeof(PassEntry)));
  RequestNamedLWLockTranche("taskflow fair share", 1);
}

void Startup() {
  if (prev_startup != nullptr) prev_startup();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  header = static_cast<SharedHeader*>(
      ShmemInitStruct("taskflow shared state", sizeof(SharedHeader), &found));
  if (!found) {
    header->lock = &(GetNamedLWLockTranche("taskflow fair share"))->lock;
    pg_atomic_init_u64(&header->tenant_generation, 1);
  }
  HASHCTL info;
  memset(&info, 0, sizeof(info));
  info.keysize = sizeof(std::uint64_t);
  info.entrysize = sizeof(PassEntry);
  passes_table = ShmemInitHash("taskflow fair share passes", 1024, kMaxFlows, &info,
                               HASH_ELEM | HASH_BLOBS);
  LWLockRelease(AddinShmemInitLock);
}

void OnXact(XactEvent event, void*) {
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) {
    if (mapping_changed && header != nullptr) pg_atomic_fetch_add_u64(&header->tenant_generation, 1);
    mapping_changed = false;
  } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
             event == XACT_EVENT_PREPARE) {
    if (mapping_changed) ++local_epoch;  // what this backend cached inside it is void
    mapping_changed = false;
  }
}

}  // namespace

void InitSharedState() {
  prev_request = shmem_request_hook;
  shmem_request_hook = Request;
  prev_startup = shmem_startup_hook;
  shmem_startup_hook = Startup;
  RegisterXactCallback(OnXact, nullptr);
}

std::uint64_t FlowKey(const std::string& group, const std::string& tenant) {
  std::string k = group;
  k.push_back('\0');
  k += tenant;
  return hash_bytes_extended(reinterpret_cast<const unsigned char*>(k.data()),
                             static_cast<int>(k.size()), 0x7461736b);
}

void LoadPasses(const std::vector<std::uint64_t>& keys, std::uint64_t vtime_key,
                std::vector<double>* passes, double* vtime) {
  passes->assign(keys.size(), 0.0);
  *vtime = 0.0;
  if (header == nullptr || passes_table == nullptr) return;
  // No PostgreSQL call below can ereport while the lock is held (hash_search HASH_FIND).
  LWLockAcquire(header->lock, LW_SHARED);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto* e = static_cast<PassEntry*>(hash_search(passes_table, &keys[i], HASH_FIND, nullptr));
    if (e != nullptr) (*passes)[i] = e->pass;
  }
  auto* v = static_cast<PassEntry*>(hash_search(passes_table, &vtime_key, HASH_FIND, nullptr));
  if (v != nullptr) *vtime = v->pass;
  LWLockRelease(header->lock);
}

void StorePasses(const std::vector<std::uint64_t>& keys, const std::vector<double>& passes,
                 std::uint64_t vtime_key, double vtime) {
  if (header == nullptr || passes_table == nullptr) return;
  LWLockAcquire(header->lock, LW_EXCLUSIVE);
  if (hash_get_num_entries(passes_table) + static_cast<long>(keys.size()) + 1 >= kMaxFlows) {
    // Full (the size reserved for it): start over. The passes are soft state; after a reset
    // every flow starts level, which is fair, whereas refusing new flows would starve them.
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, passes_table);
    while (auto* e = static_cast<PassEntry*>(hash_seq_search(&scan))) {
      hash_search(passes_table, &e->key, HASH_REMOVE, nullptr);
    }
  }
  for (std::size_t i = 0; i < keys.size() && i < passes.size(); ++i) {
    bool found = false;
    // HASH_ENTER_NULL never raises (NULL when shared memory runs out: the flow just starts
    // from the queue's virtual time next time).
    auto* e = static_cast<PassEntry*>(hash_search(passes_table, &keys[i], HASH_ENTER_NULL, &found));
    if (e != nullptr) e->pass = passes[i];
  }
  bool found = false;
  auto* v = static_cast<PassEntry*>(hash_search(passes_table, &vtime_key, HASH_ENTER_NULL, &found));
  if (v != nullptr && (!found || v->pass < vtime)) v->pass = vtime;
  LWLockRelease(header->lock);
}

std::uint64_t TenantGeneration() {
  std::uint64_t shared = header != nullptr ? pg_atomic_read_u64(&header->tenant_generation) : 0;
  return shared * 1000003 + local_epoch;
}

void TenantMappingChanged() {
  mapping_changed = true;
  ++local_epoch;  // this backend sees its own change at once
}

}  // namespace taskflow::pg
