// Soft state shared by all backends in shared memory (lost on restart, which is harmless):
//  - fair-share passes per (queue group, tenant) for acquire()'s weighted round robin, so
//    concurrent acquirers need no row locks or writes to stay fair;
//  - a generation number of the role -> tenant mapping, so backends can cache their tenant;
//  - a generation number of the ready set (bumped when a transaction that may have made jobs
//    PENDING commits), so acquire() can reuse the tenants it found by its skip scan;
//  - tenant slot reservations: the RUNNING jobs that acquirers started but have not committed
//    yet, per stripe of tenants, so max_running holds across concurrent acquirers without a
//    lock held until commit (see ReadSlots / ReserveSlots).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace taskflow::pg {

// Called from _PG_init (shared memory is requested before the postmaster allocates it).
void InitSharedState();

// Under the pass table's lock, so concurrent acquirers share slots one after the other (and do
// not all pick the same tenants): loads the stored passes of `keys` (0 when unknown) and the
// queue group's virtual time, calls `allocate(passes, vtime)`, which advances the passes and
// returns the new virtual time, and stores them (the virtual time never goes down). `allocate`
// must not call PostgreSQL; if it throws, nothing is stored.
void UpdatePasses(const std::vector<std::uint64_t>& keys, std::uint64_t vtime_key,
                  const std::function<double(std::vector<double>& passes, double vtime)>& allocate);
// Adds `deltas` to the stored passes of `keys` (slots given out by UpdatePasses but not used).
void AddToPasses(const std::vector<std::uint64_t>& keys, const std::vector<double>& deltas);
std::uint64_t FlowKey(const std::string& group, const std::string& tenant);

// The tenant mapping's generation as this backend sees it: changes when a transaction that
// changed the mapping commits (any backend), or changes it or rolls it back (this backend).
std::uint64_t TenantGeneration();
// Marks the current transaction as changing the mapping (bump at commit).
void TenantMappingChanged();

// The ready set's generation as this backend sees it: changes when a transaction that may have
// made jobs PENDING commits (any backend), or does so (this backend, at once).
std::uint64_t ReadyGeneration();
// Marks the current transaction as possibly making jobs PENDING.
void ReadyChanged();

// Tenant slots (max_running). Only acquire() starts jobs, and for a limited tenant it reserves
// every start here, per stripe (a hash of the tenant), until its transaction ends; on commit the
// reservation moves to the stripe's committed total. So for a count of a tenant's RUNNING jobs
// taken by a statement that started after ReadSlots returned `committed_at` (and `own_at`, this
// transaction's reservations then):
//   RUNNING now <= counted + (committed total now - committed_at)
//                  - (finished total now - finished_at) + reserved now - own_at
// where finished_at comes from ReadFinished right AFTER the counting statement: it includes the
// jobs ended by transactions that are committing (announced before their commit becomes
// visible), so a job that ended before the count saw it is never subtracted again. Both
// "finished" totals include this transaction's own ended jobs (gone again if the
// subtransaction that ended them rolls back). Paths that
// end RUNNING jobs without RecordFinished only make the bound looser. ReserveSlots grants at most
// limit - that bound, under one lock, so concurrent acquirers never exceed the limit together
// and need not count again while the bound leaves room. A count from an earlier transaction of
// this backend uses own_at = 0. Tenants sharing a stripe only make the bound looser.
// Reservations end when the transaction ends; unused ones are given back at once
// (UnreserveSlots). A prepared transaction cannot keep them: PREPARE after such an acquire fails.
std::uint32_t SlotStripe(const std::string& tenant);
// False when the library was not preloaded (no shared memory): limits cannot be enforced.
bool SlotsAvailable();
struct SlotView {
  std::uint64_t committed = 0;
  std::uint64_t finished = 0;
  int reserved = 0;  // by every transaction, this one's included
  int own = 0;       // by this transaction
};
std::vector<SlotView> ReadSlots(const std::vector<std::uint32_t>& stripes);
struct SlotRequest {
  std::uint32_t stripe = 0;
  int limit = 0;                   // max_running
  int counted = 0;                 // RUNNING jobs counted
  std::uint64_t committed_at = 0;  // SlotView::committed read before that count
  std::uint64_t finished_at = 0;   // ReadFinished right after that count
  int own_at = 0;                  // SlotView::own then, if the count is of this transaction
  int want = 0;
};
std::vector<int> ReserveSlots(const std::vector<SlotRequest>& requests);
void UnreserveSlots(std::uint32_t stripe, int n);
// Finished totals (committed and committing) of the stripes, read right after a count.
std::vector<std::uint64_t> ReadFinished(const std::vector<std::uint32_t>& stripes);
// This transaction ended a RUNNING job of `tenant` (complete, fail, release, lease expiry).
void RecordFinished(const std::string& tenant);

// Generation of taskflow.tenants (weights, limits): cached counts of limited tenants are
// dropped when it changes (a limit that was off let acquisitions through unreserved).
std::uint64_t LimitsGeneration();
void TenantLimitsChanged();  // statement trigger on taskflow.tenants

}  // namespace taskflow::pg
