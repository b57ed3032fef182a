#pragma once

#include <stdexcept>
#include <string>
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// The error kinds the core can report. Each maps to one SQLSTATE so the
// boundary layer can raise it unchanged instead of flattening it to XX000.
enum class ErrorCode {
  InvalidParameterValue,         // 22023
  ObjectNotInPrerequisiteState,  // 55000
  UndefinedObject,               // 42704
  ForeignKeyViolation,           // 23503
  InsufficientPrivilege,         // 42501
  InvalidAuthorization,          // 28000
  ProgramLimitExceeded,          // 54000
  DuplicateObject,               // 42710
  NullValueNotAllowed,           // 22004
  NoDataFound,                   // P0002
  Internal,                      // XX000
};

// The five-character SQLSTATE for `code`.
const char* SqlState(ErrorCode code) noexcept;

class DomainError : public std::runtime_error {
 public:
  DomainError(ErrorCode code, std::string message, std::string hint = {}, std::string detail = {});

  ErrorCode code() const noexcept { return code_; }
  const std::string& hint() const noexcept { return hint_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  ErrorCode code_;
  std::string hint_;
  std::string detail_;
};

}  // namespace taskflow::core
