#include "acquire_plan.hpp"

#include <algorithm>
#include <climits>

#include "errors.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

void ValidateMaxJobs(int max_jobs) {
  if (max_jobs < 1 || max_jobs > kMaxAcquireJobs) {
    throw DomainError(ErrorCode::InvalidParameterValue,
                      "max_jobs must be between 1 and " + std::to_string(kMaxAcquireJobs));
  }
}

bool Head::Before(const Head& o) const noexcept {
  if (priority != o.priority) return priority > o.priority;
  if (next_run_at != o.next_run_at) return next_run_at < o.next_run_at;
  return id < o.id;
}

std::vector<Head> PickContenders(const std::map<std::string, Head>& heads,
                                 const std::set<std::string>& full) {
  std::optional<int> top;
  for (const auto& [t, h] : heads) {
    if (full.count(t) == 0) top = std::max(top.value_or(h.priority), h.priority);
  }
  std::vector<Head> out;
  if (!top) return out;
  for (const auto& [t, h] : heads) {
    if (h.priority == *top && full.count(t) == 0) out.push_back(h);
  }
  std::sort(out.begin(), out.end(), [](const Head& a, const Head& b) { return a.Before(b); });
  return out;
}

bool RescanForContenders(bool heads_empty, bool heads_fresh, bool heads_stale) noexcept {
  if (!heads_empty) return false;                 // every tenant left is at its limit
  if (heads_fresh && !heads_stale) return false;  // nothing ready
  return true;  // the tenants ran out at their priority: look again (lower priorities, others)
}

std::int64_t RunningBound(const SlotCount& c, const SlotTotals& now) noexcept {
  return static_cast<std::int64_t>(c.counted) +
         static_cast<std::int64_t>(now.committed - c.committed_at) -
         (static_cast<std::int64_t>(now.finished) - static_cast<std::int64_t>(c.finished_at)) +
         now.reserved - c.own_at;
}

int RoomUnder(int limit, std::int64_t bound) noexcept {
  const std::int64_t room = static_cast<std::int64_t>(limit) - bound;
  return static_cast<int>(std::clamp<std::int64_t>(room, 0, INT_MAX));
}

TenantCap PlanTenantCap(int limit, std::optional<std::int64_t> bound, int reserved_by_others,
                        int own) noexcept {
  if (bound) {
    const int room = RoomUnder(limit, *bound);
    // The bound follows starts and ends as they commit: no need to count again, unless it says
    // full while this transaction holds reservations.
    if (!(room == 0 && own > 0)) return {room, false};
  }
  return {std::max(0, limit - std::max(0, reserved_by_others)), true};  // counted if it gets slots
}

int QueueCap(std::optional<int> concurrency_limit, int running,
             std::optional<double> tokens) noexcept {
  int cap = INT_MAX;
  if (concurrency_limit) cap = std::max(0, *concurrency_limit - running);
  if (tokens) cap = std::min(cap, static_cast<int>(*tokens));
  return cap;
}

int GroupCap(int remaining, const std::vector<int>& queue_caps) noexcept {
  long long total = 0;
  for (int c : queue_caps) total += c;
  return static_cast<int>(std::min<long long>(remaining, total));
}

int FlowCap(int group_cap, std::optional<int> tenant_cap, std::optional<double> tokens) noexcept {
  int cap = group_cap;
  if (tenant_cap) cap = std::min(cap, *tenant_cap);
  if (tokens) cap = std::min(cap, static_cast<int>(*tokens));
  return cap;
}

int SlotQuantum(int group_cap) noexcept {
  return (group_cap + kTenantsPerCall - 1) / kTenantsPerCall;
}

double VirtualTimeAfter(const std::vector<Flow>& flows, double vtime) noexcept {
  double out = vtime;
  for (const Flow& f : flows) {
    if (f.given > 0) out = std::max(out, f.pass - 1.0 / std::max(f.weight, 1.0));
  }
  return out;
}

Trim TrimToRoom(int given, int locked, int room, bool recounted) noexcept {
  Trim t;
  if (locked == 0) return t;  // nothing locked (and so not counted): nothing to reserve
  t.full = room == 0 && recounted;
  t.keep = std::max(0, std::min({given, room, locked}));
  t.trimmed = t.keep < std::min(given, locked);
  return t;
}

std::vector<std::size_t> KeepWithinCaps(const std::vector<Candidate>& candidates,
                                        std::map<std::string, int> share,
                                        std::map<std::string, int>& queue_cap) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    if (share[c.tenant] <= 0 || queue_cap[c.queue] <= 0) continue;
    share[c.tenant]--;
    queue_cap[c.queue]--;
    out.push_back(i);
  }
  return out;
}

bool RanOut(int allocated, int locked) noexcept { return allocated > 0 && locked < allocated; }

double UnusedPassDelta(int allocated, int used, double weight) noexcept {
  return -(allocated - used) / std::max(weight, 1.0);
}

bool AnotherRound(const RoundOutcome& r) noexcept {
  if (!r.exhausted && !r.trimmed && (r.started == 0 || r.allocated < r.group_cap)) return false;
  if (!r.exhausted && r.started > 0 &&
      (static_cast<long long>(r.group_cap) - r.started) * 10 <= r.group_cap) {
    return false;
  }
  return true;
}

}  // namespace taskflow::core
