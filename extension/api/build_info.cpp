// What the running library was built from: taskflow_build_info{revision} in taskflow.metrics().
#include "generated/build_commit.h"  // TASKFLOW_BUILD_COMMIT, written by scripts/build_commit.sh
#include "pg/guard.hpp"
#include "pg/spi.hpp"

using namespace taskflow;

// taskflow._build_commit() RETURNS text: the git commit (short hash) the loaded taskflow library
// was built from, or 'unknown' when it was built outside a git checkout.
TF_FUNCTION(taskflow_build_commit) { return pg::TextDatum(TASKFLOW_BUILD_COMMIT); }
