// A benchmark scenario: a named function that does a fixed amount of work against the server
// and says how many jobs it moved in how many seconds. Scenarios are listed in registry.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace taskflow::bench {

class Context;

// What one scenario measured. `jobs` is verified against the database before it is reported.
struct Measurement {
  std::int64_t jobs = 0;
  double seconds = 0.0;
  // Extra facts worth printing (e.g. how long a history fill took), in order.
  std::vector<std::pair<std::string, std::string>> notes;

  double JobsPerSecond() const { return seconds > 0.0 ? static_cast<double>(jobs) / seconds : 0.0; }
};

using ScenarioFn = Measurement (*)(Context&);

struct Scenario {
  std::string name;         // what --only takes
  std::string description;  // one line for --list and the docs
  std::string reference;    // scenario whose rate this one is divided by; empty when none
  double target = 0.0;      // minimum ratio to the reference; 0 when there is no target
  ScenarioFn run = nullptr;
};

// Every scenario in the order a full run executes them (each ceiling right before the
// TaskFlow scenario that is compared with it, so both see the same server state).
const std::vector<Scenario>& Registry();
const Scenario* FindScenario(const std::string& name);

}  // namespace taskflow::bench
