// Output for people: aligned tables, short durations and timestamps, a job's timeline, error
// text without PL/pgSQL noise. Pure functions of their inputs (unit-tested in cli/tests).
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace taskflow::cli {

// A table with aligned columns. Right-aligned columns are for numbers. A column with a width
// cap shortens longer cells to the cap, ending in "...".
class Table {
 public:
  struct Column {
    std::string header;
    bool right = false;
    std::size_t max_width = 0;  // 0: no cap
  };
  explicit Table(std::vector<Column> columns);
  void AddRow(std::vector<std::string> cells);
  std::size_t Rows() const { return rows_.size(); }
  // Header line, then one line per row; columns separated by two spaces, no trailing blanks.
  void Render(std::ostream& out) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON value as a table cell: null "-", strings as they are, numbers without trailing zeros,
// booleans "yes"/"no", objects and arrays as compact JSON.
std::string Cell(const nlohmann::json& value);
// The member `key` of `object` as a cell ("-" when absent).
std::string Cell(const nlohmann::json& object, const std::string& key);

// An age or a wait in seconds, to the precision a person reads: "0s", "45s", "2m05s",
// "3h07m", "4d02h". Negative values count as 0.
std::string FormatAge(double seconds);
// A duration in milliseconds: "0.25 ms", "12 ms", "1.18 s", "2m05s".
std::string FormatMillis(double ms);
// A ratio 0..1 as a percentage with one decimal: "12.5%".
std::string FormatPercent(double ratio);

// An RFC 3339 / PostgreSQL JSON timestamp ("2026-11-26T16:53:51.389175+00:00") as seconds
// since the epoch; nullopt when it is not one.
std::optional<double> ParseTimestamp(const std::string& text);
// The same timestamp, shorter: "2026-11-26 16:53:51.389" in UTC.
std::string ShortTimestamp(const std::string& text);

// A libpq error message as a person should read it: without the "ERROR:  " prefix and
// without the CONTEXT/QUERY/LOCATION lines (PL/pgSQL internals), DETAIL and HINT kept.
std::string CleanErrorMessage(const std::string& message);

// A job_detail() document as lines of text: the job's fields, then its timeline (each
// transition with its time, the time since the previous one, the actor and the reason; under a
// transition out of RUNNING the attempt it ended: worker, duration, outcome, error, backoff).
std::vector<std::string> JobDetailLines(const nlohmann::json& detail);

}  // namespace taskflow::cli
