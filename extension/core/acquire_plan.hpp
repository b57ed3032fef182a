#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fair_share.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

// The arithmetic of taskflow.acquire (extension/api/acquire.cpp), without PostgreSQL: how many
// jobs a round may start (queue caps, tenant caps, rate limits), how a round's slots are trimmed
// to what the tenants' limits leave, and when to stop. The api side runs the SQL stages and
// feeds their results in here.
namespace taskflow::core {

// acquire(max_jobs): 1..kMaxAcquireJobs.
constexpr int kMaxAcquireJobs = 10000;
// Rounds per group of queues in one call (a backstop: rounds end earlier, see AnotherRound).
constexpr int kMaxAcquireRounds = 16;
// A call hands its slots to at most this many tenants (see AllocateSlots' quantum).
constexpr int kTenantsPerCall = 25;

// Throws InvalidParameterValue unless 1 <= max_jobs <= kMaxAcquireJobs.
void ValidateMaxJobs(int max_jobs);

// The best ready job of one tenant in a group of queues.
struct Head {
  std::string tenant;
  int priority = 0;
  std::int64_t next_run_at = 0;
  std::int64_t id = 0;
  // Higher priority first, then the earlier next_run_at, then the lower id.
  bool Before(const Head& o) const noexcept;
};

// The tenants a round shares its slots among: those not in `full` whose head job has the top
// priority, best head first. Empty when every tenant in `heads` is in `full` (or none).
std::vector<Head> PickContenders(const std::map<std::string, Head>& heads,
                                 const std::set<std::string>& full);

// A round found no contenders: look for ready jobs again (true) or stop. Stop when tenants are
// left (all at their limit) or when the heads are this call's own complete scan.
bool RescanForContenders(bool heads_empty, bool heads_fresh, bool heads_stale) noexcept;

// --- Tenant max_running (slot reservations, pg/shared_state.hpp) ---------------------------
// A limited tenant's RUNNING jobs as counted, with the slot table's totals around the count.
struct SlotCount {
  int counted = 0;
  std::uint64_t committed_at = 0;  // committed total read before the count
  std::uint64_t finished_at = 0;   // finished total read right after the count
  int own_at = 0;  // this transaction's reservations at the count (0: another one's)
};
// The slot table's totals now.
struct SlotTotals {
  std::uint64_t committed = 0;
  std::uint64_t finished = 0;
  int reserved = 0;
};
// An upper bound on the tenant's RUNNING jobs now:
//   counted + (committed now - committed_at) - (finished now - finished_at) + reserved now - own_at
std::int64_t RunningBound(const SlotCount& count, const SlotTotals& now) noexcept;
// The slots a limit leaves above a bound: limit - bound, at least 0 (at most INT_MAX).
int RoomUnder(int limit, std::int64_t bound) noexcept;

// A limited tenant's cap before its jobs are locked.
struct TenantCap {
  int cap = 0;
  bool recount = false;  // count its RUNNING jobs with the lock (the bound is unknown or suspect)
};
// `bound`: from this backend's count when it is still valid, else nullopt. `reserved_by_others`:
// reservations of other transactions now; `own`: this transaction's. The bound is trusted unless
// it says full while this transaction holds reservations (a rolled-back savepoint's jobs are
// PENDING again but still reserved: a count sees them as not running).
TenantCap PlanTenantCap(int limit, std::optional<std::int64_t> bound, int reserved_by_others,
                        int own) noexcept;

// --- Queue and group caps ----------------------------------------------------------------
// Slots a queue may still start: its concurrency_limit less its RUNNING jobs, and its rate
// limit's available tokens (nullopt: none).
int QueueCap(std::optional<int> concurrency_limit, int running,
             std::optional<double> tokens) noexcept;
// Slots the round hands out: at most `remaining`, and at most the queues' caps together.
int GroupCap(int remaining, const std::vector<int>& queue_caps) noexcept;
// A tenant's cap in the round: the group cap, its max_running cap and its rate limit's tokens.
int FlowCap(int group_cap, std::optional<int> tenant_cap, std::optional<double> tokens) noexcept;
// The quantum of AllocateSlots: a big batch goes to at most kTenantsPerCall tenants.
int SlotQuantum(int group_cap) noexcept;
// The queue's virtual time after an allocation: the largest pass a flow that was given slots
// had before its last slot (never below `vtime`).
double VirtualTimeAfter(const std::vector<Flow>& flows, double vtime) noexcept;

// --- Trimming after the jobs are locked ----------------------------------------------------
struct Trim {
  int keep = 0;          // slots the tenant keeps (to reserve)
  bool full = false;     // the tenant was counted at its limit: leave it out of later rounds
  bool trimmed = false;  // fewer free slots than estimated: another round may give the rest
};
// A limited tenant was given `given` slots, `locked` of its jobs were locked, `room` is what its
// limit leaves (RoomUnder) and `recounted` whether this round counted it. Nothing locked: keeps
// nothing (and was not counted).
Trim TrimToRoom(int given, int locked, int room, bool recounted) noexcept;

// A locked ready job.
struct Candidate {
  std::int64_t id = 0;
  std::string queue;
  std::string tenant;
  std::optional<int> running;  // the tenant's RUNNING jobs, for tenants counted by the lock
};
// The candidates (in lock order) to start: each within its tenant's share and its queue's cap,
// which it uses up (`queue_cap` is updated). Returns their indexes in `candidates`.
std::vector<std::size_t> KeepWithinCaps(const std::vector<Candidate>& candidates,
                                        std::map<std::string, int> share,
                                        std::map<std::string, int>& queue_cap);

// A tenant got fewer locked jobs than it was allocated: none left at this priority (others'
// locks aside): drop it for this call.
bool RanOut(int allocated, int locked) noexcept;
// What to take back from a flow's pass for slots allocated but not used.
double UnusedPassDelta(int allocated, int used, double weight) noexcept;

// --- Round termination ---------------------------------------------------------------------
struct RoundOutcome {
  bool exhausted = false;  // a tenant ran out (RanOut)
  bool trimmed = false;    // slots were lost to trimming or reservation
  int started = 0;         // jobs started
  int allocated = 0;       // slots AllocateSlots handed out
  int group_cap = 0;       // slots the round had
};
// Another round only when it can give something this one could not: slots of tenants that ran
// out, or whose count was stale. When the round handed out fewer slots than it had, every
// contender is at its cap already. Slots lost to trimming only: not worth another round for
// the last few (the caller may get up to a tenth fewer than it asked for while tenants are at
// their limits).
bool AnotherRound(const RoundOutcome& r) noexcept;

}  // namespace taskflow::core
