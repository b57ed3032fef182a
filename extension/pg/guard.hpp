// The C++/PostgreSQL boundary. PostgreSQL reports errors with longjmp, C++ with exceptions;
// neither may cross the other:
//  - Every SQL-callable function enters C++ through TF_FUNCTION (CallGuarded): it catches every
//    exception and raises ereport(ERROR) with a real SQLSTATE only after leaving the catch block.
//  - Every PostgreSQL call that may ereport while C++ objects with destructors are alive goes
//    through PgCall, which turns the longjmp into a C++ PgError exception.
// A PgError is never swallowed: it travels up to CallGuarded, which re-throws the original
// PostgreSQL error (same SQLSTATE, message, detail, hint) so the transaction aborts normally.
#pragma once

#include "pg/postgres.hpp"

#include <exception>
#include <utility>

namespace taskflow::pg {

// A PostgreSQL error captured by PgCall. The ErrorData lives in the memory context that was
// current when PgCall was entered (the function's call context), which outlives the unwinding.
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* data) noexcept : data_(data) {}
  ErrorData* data() const noexcept { return data_; }
  const char* what() const noexcept override;

 private:
  ErrorData* data_;
};

// Puts back PostgreSQL's error handler stack and error context stack as they were when it was
// made, on every way out of the scope that made it: a normal return, and the PgError thrown
// after a longjmp (the object lives in PgCall's own frame, which the longjmp does not leave).
class ErrorStackRestorer {
 public:
  ErrorStackRestorer() noexcept : stack_(PG_exception_stack), context_(error_context_stack) {}
  ErrorStackRestorer(const ErrorStackRestorer&) = delete;
  ErrorStackRestorer& operator=(const ErrorStackRestorer&) = delete;
  ~ErrorStackRestorer() { Restore(); }
  void Restore() const noexcept {
    PG_exception_stack = stack_;
    error_context_stack = context_;
  }

 private:
  sigjmp_buf* const stack_;
  ErrorContextCallback* const context_;
};

// Runs `fn` (a lambda that only calls PostgreSQL and holds no objects with destructors) with
// its own error handler. A PostgreSQL ERROR inside becomes a PgError exception.
template <typename Fn>
auto PgCall(Fn&& fn) -> decltype(fn()) {
  MemoryContext volatile saved_context = CurrentMemoryContext;
  const ErrorStackRestorer restore;  // constructed before sigsetjmp: alive on both paths
  sigjmp_buf local;
  if (sigsetjmp(local, 0) != 0) {
    // Restore now, not only when the PgError unwinds this frame: CopyErrorData may itself fail,
    // and that error must reach the caller's handler, not jump back here.
    restore.Restore();
    // The copy must outlive SPI_finish (which frees SPI's contexts while the exception unwinds):
    // keep it in the transaction's top context until CallGuarded re-throws it.
    MemoryContextSwitchTo(IsTransactionState() ? TopTransactionContext : saved_context);
    ErrorData* data = CopyErrorData();
    MemoryContextSwitchTo(saved_context);
    FlushErrorState();
    throw PgError(data);
  }
  PG_exception_stack = &local;
  return fn();  // `restore` puts the stacks back on the way out
}

using GuardedBody = Datum (*)(FunctionCallInfo);

// Marks the running SQL-callable function (the innermost CallGuarded) so that a PostgreSQL
// error it re-throws loses its context and internal query: the statements TaskFlow runs and
// the rows they touched (a lock wait names the row's ctid) are not shown to a confined tenant.
void HideInternalErrorContext() noexcept;

// Installs the emit_log_hook that drops TaskFlow's own CONTEXT frames from the errors it raises
// on purpose (error_context.cpp); called once from _PG_init.
void InitErrorContextHook();

// Runs an SQL-callable function body; never lets an exception escape.
Datum CallGuarded(FunctionCallInfo fcinfo, GuardedBody body) noexcept;

}  // namespace taskflow::pg

// Defines an SQL-callable C function `name` whose C++ body runs inside CallGuarded:
//   TF_FUNCTION(taskflow_schedule) { ... return datum; }
#define TF_FUNCTION(name)                                    \
  static Datum name##_body(FunctionCallInfo fcinfo);         \
  extern "C" {                                               \
  PG_FUNCTION_INFO_V1(name);                                 \
  PGDLLEXPORT Datum name(PG_FUNCTION_ARGS) {                 \
    return ::taskflow::pg::CallGuarded(fcinfo, name##_body); \
  }                                                          \
  }                                                          \
  static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo)
