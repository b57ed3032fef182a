#include "errors.hpp"

#include <utility>
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

const char* SqlState(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidParameterValue: return "22023";
    case ErrorCode::ObjectNotInPrerequisiteState: return "55000";
    case ErrorCode::UndefinedObject: return "42704";
    case ErrorCode::ForeignKeyViolation: return "23503";
    case ErrorCode::InsufficientPrivilege: return "42501";
    case ErrorCode::InvalidAuthorization: return "28000";
    case ErrorCode::ProgramLimitExceeded: return "54000";
    case ErrorCode::DuplicateObject: return "42710";
    case ErrorCode::NullValueNotAllowed: return "22004";
    case ErrorCode::NoDataFound: return "P0002";
    case ErrorCode::Internal: return "XX000";
  }
  return "XX000";  // an out-of-range value is a bug: report it as internal
}

DomainError::DomainError(ErrorCode code, std::string message, std::string hint, std::string detail)
    : std::runtime_error(std::move(message)),
      code_(code),
      hint_(std::move(hint)),
      detail_(std::move(detail)) {}

}  // namespace taskflow::core
