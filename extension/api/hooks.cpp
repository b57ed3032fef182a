#include "api/hooks.hpp"

#include "api/rules.hpp"

namespace taskflow::api {

// Event-triggered automation rules fire here, in the transaction of the transition.
void AfterFinished(core::JobState to, const std::vector<std::int64_t>& jobs) {
  FireEventRules(to, jobs);
}

}  // namespace taskflow::api
