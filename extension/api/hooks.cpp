#include "api/hooks.hpp"

namespace taskflow::api {

// No automation rules yet: event-triggered rules arrive with the automation issue and fire
// from here.
void AfterFinished(core::JobState, const std::vector<std::int64_t>&) {}

}  // namespace taskflow::api
