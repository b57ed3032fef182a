// Printing results: an aligned table for people and one JSON line for machines.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenario.hpp"

namespace taskflow::bench {

struct Outcome {
  const Scenario* scenario = nullptr;
  bool ok = false;
  std::string error;  // when !ok
  Measurement measurement;
};

// The rate of `o` divided by the rate of its reference in the same run; < 0 when either is
// missing or failed.
double RatioToReference(const Outcome& o, const std::vector<Outcome>& all);

// The server facts that decide what the numbers mean (version, fsync, synchronous_commit, ...).
using ServerInfo = std::vector<std::pair<std::string, std::string>>;

void PrintTable(std::ostream& out, const ServerInfo& server, double scale, int repeat,
                const std::vector<Outcome>& outcomes);
nlohmann::ordered_json ToJson(const ServerInfo& server, double scale, int repeat,
                              const std::vector<Outcome>& outcomes);

}  // namespace taskflow::bench
