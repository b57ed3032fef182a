// Shared assertion for tests: `call` must throw DomainError with `code` and
// a message containing `needle`.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/errors.hpp"

namespace taskflow::core::testing {

template <typename Call>
::testing::AssertionResult ThrowsDomainError(Call&& call, ErrorCode code,
                                             const std::string& needle) {
  try {
    call();
  } catch (const DomainError& e) {
    if (e.code() != code) {
      return ::testing::AssertionFailure()
             << "wrong code: SQLSTATE " << SqlState(e.code()) << ", expected " << SqlState(code)
             << " (message: " << e.what() << ")";
    }
    if (std::string(e.what()).find(needle) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message \"" << e.what() << "\" does not contain \"" << needle << "\"";
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-DomainError: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace taskflow::core::testing
