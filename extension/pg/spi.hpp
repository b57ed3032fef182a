// Thin, guarded wrappers over SPI and fmgr argument access. Every call that may ereport goes
// through PgCall, so C++ objects on the stack are unwound properly on error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/guard.hpp"

namespace taskflow::pg {

// SPI_connect for the lifetime of the object. SPI_finish on scope exit; on error paths the
// transaction abort cleans up whatever SPI state is left.
class SpiConnection {
 public:
  SpiConnection();
  ~SpiConnection();
  SpiConnection(const SpiConnection&) = delete;
  SpiConnection& operator=(const SpiConnection&) = delete;
};

// A statement prepared on first use and kept for the life of the backend (SPI_keepplan);
// PostgreSQL's plan cache revalidates it when the schema changes.
class Statement {
 public:
  // Generic: always use the generic plan. For statements whose parameters never change the best
  // plan, so the plan cache does not re-plan them on every call (custom plans).
  // Default: PostgreSQL's plan cache chooses; Generic: plan once; Custom: plan for each call's
  // parameters (for statements whose best plan depends on their array parameters).
  enum class Plans { Default, Generic, Custom };
  Statement(std::string sql, std::vector<Oid> arg_types, Plans plans = Plans::Default);
  // Runs the statement. `nulls` holds 'n' for NULL arguments, ' ' otherwise (nullptr: none).
  // Returns the number of rows processed; rows are in SPI_tuptable until the next call.
  std::uint64_t Run(const Datum* values, const char* nulls, bool read_only = false,
                    long row_limit = 0);

 private:
  SPIPlanPtr Plan();
  std::string sql_;
  std::vector<Oid> arg_types_;
  Plans plans_;
  SPIPlanPtr plan_ = nullptr;
};

// Arguments for a Statement, built up in order.
class Params {
 public:
  Params& Add(Datum value, bool is_null = false);
  Params& AddNull() { return Add(Datum(0), true); }
  Params& AddText(std::string_view value);
  Params& AddOptText(const std::optional<std::string>& value);
  Params& AddInt32(std::int32_t v) { return Add(Int32GetDatum(v)); }
  Params& AddInt64(std::int64_t v) { return Add(Int64GetDatum(v)); }
  Params& AddBool(bool v) { return Add(BoolGetDatum(v)); }
  Params& AddInterval(std::int64_t microseconds);
  Params& AddOptInterval(const std::optional<std::int64_t>& microseconds);
  const Datum* values() const { return values_.data(); }
  const char* nulls() const { return nulls_.c_str(); }
  std::uint64_t Run(Statement& stmt, bool read_only = false, long row_limit = 0) {
    return stmt.Run(values(), nulls(), read_only, row_limit);
  }

 private:
  std::vector<Datum> values_;
  std::string nulls_;
};

// Read access to row `row` of the current SPI_tuptable (columns are 1-based).
class ResultRow {
 public:
  explicit ResultRow(std::uint64_t row);
  Datum Raw(int column, bool* is_null) const;
  std::optional<std::string> Text(int column) const;
  std::optional<std::int64_t> Int64(int column) const;
  std::optional<std::int32_t> Int32(int column) const;
  std::optional<bool> Bool(int column) const;
  std::optional<std::int64_t> IntervalMicros(int column) const;
  std::optional<std::int64_t> Timestamp(int column) const;  // TimestampTz microseconds

 private:
  HeapTuple tuple_;
  TupleDesc desc_;
};

// Copies a datum out of SPI memory into the caller's (upper executor) context.
Datum CopyOutOfSpi(Datum value, bool by_value, int type_length);

// --- function arguments --------------------------------------------------------------------
bool ArgIsNull(FunctionCallInfo fcinfo, int n);
std::string ArgText(FunctionCallInfo fcinfo, int n);
std::optional<std::string> ArgOptText(FunctionCallInfo fcinfo, int n);
std::optional<std::int32_t> ArgOptInt32(FunctionCallInfo fcinfo, int n);
std::optional<std::int64_t> ArgOptInt64(FunctionCallInfo fcinfo, int n);
std::optional<bool> ArgOptBool(FunctionCallInfo fcinfo, int n);
std::optional<std::int64_t> ArgOptIntervalMicros(FunctionCallInfo fcinfo, int n);
// Fails with 22004 (null value not allowed) naming the parameter when argument n is NULL.
void RequireArg(FunctionCallInfo fcinfo, int n, const char* parameter);

// Facts about a jsonb argument, read without copying the whole value.
struct JsonbFacts {
  bool is_object = false;
  bool is_array = false;
  std::size_t size_bytes = 0;
};
JsonbFacts InspectJsonb(Datum value);
// The deepest nesting of arrays and objects in a jsonb value (a scalar is 0), walking its
// tokens with JsonbIteratorNext (iterative, no recursion); stops once past `stop_above`.
// `*child` gets the index of the root's element (or member) that holds the deepest part.
int JsonbDepth(Datum value, int stop_above, long* child = nullptr);

// --- results ---------------------------------------------------------------------------------
Datum TextDatum(std::string_view s);
Datum IntervalDatum(std::int64_t microseconds);
Datum EmptyJsonbObject();  // '{}'::jsonb

// A materialized set-returning-function result (InitMaterializedSRF).
class SetResult {
 public:
  // For a function returning SETOF <scalar>, pass the scalar's type; 0 for composite rows.
  explicit SetResult(FunctionCallInfo fcinfo, Oid scalar_type = InvalidOid);
  void PutValues(const Datum* values, const bool* nulls);

 private:
  Tuplestorestate* store_;
  TupleDesc desc_;
};

}  // namespace taskflow::pg
