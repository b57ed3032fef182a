// Errors TaskFlow raises on purpose reach the client without TaskFlow's own CONTEXT frames
// (docs/functions.md, "Errors"): an emit_log_hook trims them before the report is sent.
#include <cstring>
#include <string_view>

#include "core/error_context.hpp"
#include "pg/guard.hpp"

namespace taskflow::pg {
namespace {

emit_log_hook_type previous_emit_log_hook = nullptr;

// A RAISE in a taskflow PL/pgSQL function, or a DomainError of a TF_FUNCTION (CallGuarded
// raises it; internal errors and out-of-memory keep their context: nobody planned them).
bool RaisedOnPurpose(const ErrorData* e) noexcept {
  if (e->funcname == nullptr) return false;
  if (std::strcmp(e->funcname, "exec_stmt_raise") == 0) {
    return core::InnermostFrameIsTaskFlow(e->context);
  }
  if (std::strcmp(e->funcname, "CallGuarded") == 0) {
    return e->sqlerrcode != ERRCODE_INTERNAL_ERROR && e->sqlerrcode != ERRCODE_OUT_OF_MEMORY;
  }
  return false;
}

// Plain C from here: the hook runs inside error reporting; it must neither throw nor ereport.
void TrimTaskFlowContext(ErrorData* edata) {
  if (edata->elevel >= ERROR && edata->context != nullptr && RaisedOnPurpose(edata)) {
    std::string_view context(edata->context);
    std::size_t start = core::CallerContextStart(context);
    if (start >= context.size()) {
      edata->context = nullptr;  // the old string stays in ErrorContext until it is reset
    } else if (start > 0) {
      std::size_t len = context.size() - start;
      auto* kept =
          static_cast<char*>(MemoryContextAllocExtended(ErrorContext, len + 1, MCXT_ALLOC_NO_OOM));
      if (kept != nullptr) {
        std::memcpy(kept, context.data() + start, len);
        kept[len] = '\0';
        edata->context = kept;
      }
    }
  }
  if (previous_emit_log_hook != nullptr) previous_emit_log_hook(edata);
}

}  // namespace

void InitErrorContextHook() {
  previous_emit_log_hook = emit_log_hook;
  emit_log_hook = TrimTaskFlowContext;
}

}  // namespace taskflow::pg
