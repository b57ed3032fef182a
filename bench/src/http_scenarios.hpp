// The HTTP API scenario (http_scenarios.cpp), listed in registry.cpp.
#pragma once

#include "scenario.hpp"

namespace taskflow::bench {

// POST /jobs from 8 keep-alive clients to the HTTP API served in-process; one job per request.
Measurement HttpEnqueue(Context& ctx);

}  // namespace taskflow::bench
