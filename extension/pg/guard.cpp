#include "core/errors.hpp"
#include "pg/guard.hpp"

#include <cstdio>
#include <new>

namespace taskflow::pg {

const char* PgError::what() const noexcept {
  return (data_ != nullptr && data_->message != nullptr) ? data_->message : "PostgreSQL error";
}

namespace {

int ToErrcode(core::ErrorCode code) {
  const char* s = core::SqlState(code);
  return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

// Fixed buffers: the catch blocks must not allocate through PostgreSQL (palloc may longjmp).
struct PendingError {
  int sqlstate = 0;
  char message[1024] = {0};
  char detail[1024] = {0};
  char hint[512] = {0};
};

void Copy(char* dst, std::size_t size, const char* src) noexcept {
  snprintf(dst, size, "%s", src != nullptr ? src : "");
}

// Set by HideInternalErrorContext for the innermost CallGuarded (saved and restored around
// nested calls).
bool hide_context = false;

}  // namespace

void HideInternalErrorContext() noexcept { hide_context = true; }

Datum CallGuarded(FunctionCallInfo fcinfo, GuardedBody body) noexcept {
  ErrorData* pg_error = nullptr;
  PendingError pending;
  bool outer_hide = hide_context;
  hide_context = false;
  try {
    Datum result = body(fcinfo);
    hide_context = outer_hide;
    return result;
  } catch (const PgError& e) {
    pg_error = e.data();
  } catch (const core::DomainError& e) {
    pending.sqlstate = ToErrcode(e.code());
    Copy(pending.message, sizeof pending.message, e.what());
    Copy(pending.detail, sizeof pending.detail, e.detail().c_str());
    Copy(pending.hint, sizeof pending.hint, e.hint().c_str());
  } catch (const std::bad_alloc&) {
    pending.sqlstate = ERRCODE_OUT_OF_MEMORY;
    Copy(pending.message, sizeof pending.message, "out of memory in taskflow");
  } catch (const std::exception& e) {
    pending.sqlstate = ERRCODE_INTERNAL_ERROR;
    snprintf(pending.message, sizeof pending.message, "taskflow internal error: %s", e.what());
  } catch (...) {
    pending.sqlstate = ERRCODE_INTERNAL_ERROR;
    Copy(pending.message, sizeof pending.message, "taskflow internal error: unknown C++ exception");
  }
  bool hide = hide_context;
  hide_context = outer_hide;
  // Outside every catch block: the exception objects are gone, longjmp is safe now.
  if (pg_error != nullptr) {
    if (hide) {
      pg_error->context = nullptr;
      pg_error->internalquery = nullptr;
      pg_error->internalpos = 0;
    }
    ReThrowError(pg_error);
  }
  ereport(ERROR, (errcode(pending.sqlstate), errmsg("%s", pending.message),
                  pending.detail[0] ? errdetail("%s", pending.detail) : 0,
                  pending.hint[0] ? errhint("%s", pending.hint) : 0));
  pg_unreachable();
}

}  // namespace taskflow::pg
