// ExpectRejected: options whose Validate() refuses a bad value with a message naming its flag.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>

namespace taskflow::testing {

// Default Options changed by `change` make Validate() throw std::invalid_argument whose
// message names `flag`. Options is given explicitly: ExpectRejected<WorkerOptions>(...).
template <typename Options>
void ExpectRejected(const std::function<void(Options&)>& change, const std::string& flag) {
  Options options;
  change(options);
  try {
    options.Validate();
    ADD_FAILURE() << "accepted a bad " << flag;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
  }
}

}  // namespace taskflow::testing
