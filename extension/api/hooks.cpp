#include "api/hooks.hpp"

#include "api/dependencies.hpp"
#include "api/rules.hpp"

namespace taskflow::api {

// Event-triggered automation rules fire here, in the transaction of the transition.
// Then the jobs waiting for them are released or cancelled (workflows); the jobs cancelled that
// way fire their rules too, round by round (no recursion).
void AfterFinished(core::JobState to, const std::vector<std::int64_t>& jobs) {
  FireEventRules(to, jobs);
  ResolveDependencies(jobs, [](core::JobState s, const std::vector<std::int64_t>& cancelled) {
    FireEventRules(s, cancelled);
  });
}

}  // namespace taskflow::api
