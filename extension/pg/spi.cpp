#include "core/errors.hpp"
#include "core/validation.hpp"
#include "pg/spi.hpp"

namespace taskflow::pg {

SpiConnection::SpiConnection() {
  int rc = PgCall([] { return SPI_connect(); });
  if (rc != SPI_OK_CONNECT) {
    throw core::DomainError(core::ErrorCode::Internal, "SPI_connect failed");
  }
}

SpiConnection::~SpiConnection() {
  // SPI_finish does not ereport; it returns an error code when not connected, which is the
  // case after an aborted call, and then there is nothing to clean here.
  SPI_finish();
}

Statement::Statement(std::string sql, std::vector<Oid> arg_types, Plans plans)
    : sql_(std::move(sql)), arg_types_(std::move(arg_types)), plans_(plans) {}

SPIPlanPtr Statement::Plan() {
  if (plan_ != nullptr) return plan_;
  const char* sql = sql_.c_str();
  int nargs = static_cast<int>(arg_types_.size());
  Oid* types = arg_types_.data();
  int options = plans_ == Plans::Generic  ? CURSOR_OPT_GENERIC_PLAN
                : plans_ == Plans::Custom ? CURSOR_OPT_CUSTOM_PLAN
                                          : 0;
  SPIPlanPtr plan = PgCall([&] {
    SPIPlanPtr p = SPI_prepare_cursor(sql, nargs, types, options);
    if (p == nullptr) {
      elog(ERROR, "taskflow: SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result),
           sql);
    }
    if (SPI_keepplan(p) != 0) elog(ERROR, "taskflow: SPI_keepplan failed");
    return p;
  });
  plan_ = plan;
  return plan_;
}

std::uint64_t Statement::Run(const Datum* values, const char* nulls, bool read_only,
                             long row_limit) {
  SPIPlanPtr plan = Plan();
  const char* sql = sql_.c_str();
  int rc = PgCall([&] {
    return SPI_execute_plan(plan, const_cast<Datum*>(values), nulls, read_only, row_limit);
  });
  if (rc < 0) {
    throw core::DomainError(core::ErrorCode::Internal,
                            std::string("SPI_execute_plan failed: ") + SPI_result_code_string(rc),
                            {}, sql);
  }
  return SPI_processed;
}

Params& Params::Add(Datum value, bool is_null) {
  values_.push_back(value);
  nulls_.push_back(is_null ? 'n' : ' ');
  return *this;
}

Params& Params::AddText(std::string_view value) { return Add(TextDatum(value)); }

Params& Params::AddOptText(const std::optional<std::string>& value) {
  return value ? AddText(*value) : AddNull();
}

Params& Params::AddInterval(std::int64_t microseconds) { return Add(IntervalDatum(microseconds)); }

Params& Params::AddOptInterval(const std::optional<std::int64_t>& microseconds) {
  return microseconds ? AddInterval(*microseconds) : AddNull();
}

ResultRow::ResultRow(std::uint64_t row) {
  if (SPI_tuptable == nullptr || row >= SPI_processed) {
    throw core::DomainError(core::ErrorCode::Internal, "SPI result row out of range");
  }
  tuple_ = SPI_tuptable->vals[row];
  desc_ = SPI_tuptable->tupdesc;
}

Datum ResultRow::Raw(int column, bool* is_null) const {
  if (column < 1 || column > desc_->natts) {
    throw core::DomainError(core::ErrorCode::Internal, "SPI result column out of range");
  }
  HeapTuple tuple = tuple_;
  TupleDesc desc = desc_;
  return PgCall([&] { return SPI_getbinval(tuple, desc, column, is_null); });
}

std::optional<std::string> ResultRow::Text(int column) const {
  bool is_null = true;
  Datum d = Raw(column, &is_null);
  if (is_null) return std::nullopt;
  Oid type = TupleDescAttr(desc_, column - 1)->atttypid;
  if (type == TEXTOID || type == VARCHAROID) {
    // Direct, without the output-function lookup SPI_getvalue does per value.
    text* t = PgCall([&] { return DatumGetTextPP(d); });  // may detoast
    return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
  }
  if (type == NAMEOID) return std::string(NameStr(*DatumGetName(d)));
  HeapTuple tuple = tuple_;
  TupleDesc desc = desc_;
  // Any other type (enums, uuid, numbers): its output function.
  char* s = PgCall([&] { return SPI_getvalue(tuple, desc, column); });
  return std::string(s != nullptr ? s : "");
}

std::optional<std::int64_t> ResultRow::Int64(int column) const {
  bool is_null = true;
  Datum d = Raw(column, &is_null);
  if (is_null) return std::nullopt;
  return DatumGetInt64(d);
}

std::optional<std::int32_t> ResultRow::Int32(int column) const {
  bool is_null = true;
  Datum d = Raw(column, &is_null);
  if (is_null) return std::nullopt;
  return DatumGetInt32(d);
}

std::optional<bool> ResultRow::Bool(int column) const {
  bool is_null = true;
  Datum d = Raw(column, &is_null);
  if (is_null) return std::nullopt;
  return DatumGetBool(d);
}

static std::int64_t IntervalToMicros(const Interval* iv) {
  // A month counts as 30 days, as PostgreSQL's own interval comparisons do; saturating, so
  // '2000000000 days' cannot wrap around into a small or negative duration.
  return core::IntervalMicros(iv->month, iv->day, iv->time);
}

std::optional<std::int64_t> ResultRow::IntervalMicros(int column) const {
  bool is_null = true;
  Datum d = Raw(column, &is_null);
  if (is_null) return std::nullopt;
  return IntervalToMicros(DatumGetIntervalP(d));
}

std::optional<std::int64_t> ResultRow::Timestamp(int column) const {
  bool is_null = true;
  Datum d = Raw(column, &is_null);
  if (is_null) return std::nullopt;
  return static_cast<std::int64_t>(DatumGetTimestampTz(d));
}

Datum CopyOutOfSpi(Datum value, bool by_value, int type_length) {
  return PgCall([&] { return SPI_datumTransfer(value, by_value, type_length); });
}

bool ArgIsNull(FunctionCallInfo fcinfo, int n) {
  if (n < 0 || n >= PG_NARGS()) return true;
  return PG_ARGISNULL(n);
}

void RequireArg(FunctionCallInfo fcinfo, int n, const char* parameter) {
  if (ArgIsNull(fcinfo, n)) {
    throw core::DomainError(core::ErrorCode::NullValueNotAllowed,
                            std::string("parameter \"") + parameter + "\" must not be NULL");
  }
}

std::string ArgText(FunctionCallInfo fcinfo, int n) {
  char* s = PgCall([&] { return text_to_cstring(PG_GETARG_TEXT_PP(n)); });
  return std::string(s);
}

std::optional<std::string> ArgOptText(FunctionCallInfo fcinfo, int n) {
  if (ArgIsNull(fcinfo, n)) return std::nullopt;
  return ArgText(fcinfo, n);
}

std::optional<std::int32_t> ArgOptInt32(FunctionCallInfo fcinfo, int n) {
  if (ArgIsNull(fcinfo, n)) return std::nullopt;
  return PG_GETARG_INT32(n);
}

std::optional<std::int64_t> ArgOptInt64(FunctionCallInfo fcinfo, int n) {
  if (ArgIsNull(fcinfo, n)) return std::nullopt;
  return PG_GETARG_INT64(n);
}

std::optional<bool> ArgOptBool(FunctionCallInfo fcinfo, int n) {
  if (ArgIsNull(fcinfo, n)) return std::nullopt;
  return PG_GETARG_BOOL(n);
}

std::optional<std::int64_t> ArgOptIntervalMicros(FunctionCallInfo fcinfo, int n) {
  if (ArgIsNull(fcinfo, n)) return std::nullopt;
  return IntervalToMicros(PG_GETARG_INTERVAL_P(n));
}

JsonbFacts InspectJsonb(Datum value) {
  JsonbFacts facts;
  if (value == Datum(0)) throw core::DomainError(core::ErrorCode::Internal, "NULL jsonb pointer");
  Jsonb* jb = PgCall([&] { return DatumGetJsonbP(value); });
  facts.is_object = JB_ROOT_IS_OBJECT(jb);
  facts.is_array = JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb);
  facts.size_bytes = VARSIZE(jb) - VARHDRSZ;
  return facts;
}

int JsonbDepth(Datum value, int stop_above, long* child) {
  if (value == Datum(0)) throw core::DomainError(core::ErrorCode::Internal, "NULL jsonb pointer");
  Jsonb* jb = PgCall([&] { return DatumGetJsonbP(value); });
  // A scalar root is stored as a one-element array: it nests nothing.
  if (JB_ROOT_IS_SCALAR(jb)) return 0;
  // Every container takes at least a 4-byte header, so a small value cannot be deep.
  if (VARSIZE(jb) - VARHDRSZ <= static_cast<std::size_t>(stop_above) * 4) return 0;
  int deepest = 0;
  long index = -1;
  PgCall([&] {
    JsonbValue v;
    JsonbIterator* it = JsonbIteratorInit(&jb->root);
    JsonbIteratorToken tok;
    int depth = 0;
    while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE) {
      if (tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT) {
        if (depth == 1) ++index;
        if (++depth > deepest) deepest = depth;
        if (deepest > stop_above) break;
      } else if (tok == WJB_END_ARRAY || tok == WJB_END_OBJECT) {
        --depth;
      } else if (depth == 1 && tok == WJB_ELEM) {
        ++index;
      }
    }
    return 0;
  });
  if (child) *child = index;
  return deepest;
}

Datum TextDatum(std::string_view s) {
  const char* data = s.data();
  int len = static_cast<int>(s.size());
  return PgCall([&] { return PointerGetDatum(cstring_to_text_with_len(data, len)); });
}

Datum IntervalDatum(std::int64_t microseconds) {
  Interval* iv = PgCall([] { return static_cast<Interval*>(palloc0(sizeof(Interval))); });
  iv->time = microseconds;
  return IntervalPGetDatum(iv);
}

Datum EmptyJsonbObject() {
  return PgCall([] { return DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")); });
}

SetResult::SetResult(FunctionCallInfo fcinfo, Oid scalar_type) {
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  if (scalar_type == InvalidOid) {
    PgCall([&] { InitMaterializedSRF(fcinfo, 0); });
  } else {
    // InitMaterializedSRF wants a row type; a SETOF scalar gets a one-column descriptor.
    PgCall([&] {
      if (rsinfo == nullptr || !IsA(rsinfo, ReturnSetInfo) ||
          (rsinfo->allowedModes & SFRM_Materialize) == 0) {
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("set-valued function called in context that cannot accept a set")));
      }
      MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
      TupleDesc desc = CreateTemplateTupleDesc(1);
      TupleDescInitEntry(desc, 1, "value", scalar_type, -1, 0);
      rsinfo->returnMode = SFRM_Materialize;
      rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
      rsinfo->setDesc = desc;
      MemoryContextSwitchTo(old);
    });
  }
  store_ = rsinfo->setResult;
  desc_ = rsinfo->setDesc;
}

void SetResult::PutValues(const Datum* values, const bool* nulls) {
  Tuplestorestate* store = store_;
  TupleDesc desc = desc_;
  PgCall([&] {
    tuplestore_putvalues(store, desc, const_cast<Datum*>(values), const_cast<bool*>(nulls));
  });
}

}  // namespace taskflow::pg
