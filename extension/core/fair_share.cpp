#include "fair_share.hpp"

#include <algorithm>
#include <queue>
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

namespace {
double Stride(double weight) { return 1.0 / std::max(weight, 1.0); }
}  // namespace

double JoinPass(double stored_pass, double queue_vtime, double weight) noexcept {
  return std::max(stored_pass, queue_vtime - Stride(weight));
}

int AllocateSlots(std::vector<Flow>& flows, int slots, int quantum) {
  quantum = std::max(quantum, 1);
  // Min-heap on (pass, position): O(slots * log flows).
  using Entry = std::pair<double, std::size_t>;
  auto later = [](const Entry& a, const Entry& b) {
    return a.first != b.first ? a.first > b.first : a.second > b.second;
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(later)> heap(later);
  for (std::size_t i = 0; i < flows.size(); ++i) {
    flows[i].given = 0;
    if (flows[i].cap > 0) heap.emplace(flows[i].pass, i);
  }
  int given = 0;
  while (given < slots && !heap.empty()) {
    auto [pass, i] = heap.top();
    heap.pop();
    Flow& f = flows[i];
    const int chunk = std::min({quantum, f.cap - f.given, slots - given});
    f.given += chunk;
    f.pass = pass + chunk * Stride(f.weight);
    given += chunk;
    if (f.given < f.cap) heap.emplace(f.pass, i);
  }
  return given;
}

void ReturnSlots(Flow& flow, int unused) noexcept {
  if (unused <= 0) return;
  unused = std::min(unused, flow.given);
  flow.given -= unused;
  flow.pass -= unused * Stride(flow.weight);
}

double TokenBucket::Available(std::int64_t refreshed_us, std::int64_t now_us) const noexcept {
  if (max_starts <= 0 || period_us <= 0) return 0;
  double elapsed = static_cast<double>(std::max<std::int64_t>(0, now_us - refreshed_us));
  double refill = elapsed / static_cast<double>(period_us) * max_starts;
  return std::min<double>(max_starts, std::max(0.0, tokens) + refill);
}

}  // namespace taskflow::core
