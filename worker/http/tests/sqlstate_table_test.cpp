// The SQLSTATE table (problem.cpp) against the sources and the docs: every SQLSTATE the
// extension raises has an explicit entry (so a 500 means a bug, never an unmapped refusal), and
// docs/http.md shows exactly the same table.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "problem.hpp"

namespace taskflow::http {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const fs::path kRoot = TASKFLOW_SOURCE_DIR;

// ERRCODE_* names from PostgreSQL's utils/errcodes.h: name -> SQLSTATE.
std::map<std::string, std::string> PgErrcodes() {
  std::map<std::string, std::string> out;
  const std::string text = ReadFile(TASKFLOW_PG_ERRCODES_H);
  static const std::regex define(
      R"(#define\s+(ERRCODE_[A-Z_0-9]+)\s+MAKE_SQLSTATE\('(.)',\s*'(.)',\s*'(.)',\s*'(.)',\s*'(.)'\))");
  for (std::sregex_iterator it(text.begin(), text.end(), define), end; it != end; ++it) {
    out[(*it)[1]] = std::string((*it)[2]) + std::string((*it)[3]) + std::string((*it)[4]) +
                    std::string((*it)[5]) + std::string((*it)[6]);
  }
  return out;
}

// Every SQLSTATE the extension raises, with where it was found.
std::map<std::string, std::string> RaisedSqlStates() {
  std::map<std::string, std::string> raised;
  const auto errcodes = PgErrcodes();
  EXPECT_GT(errcodes.size(), 200u) << "cannot read " << TASKFLOW_PG_ERRCODES_H;
  // core::ErrorCode kinds: "  Name,   // 22023".
  {
    const std::string text = ReadFile(kRoot / "extension/core/errors.hpp");
    static const std::regex kind(R"(\n\s*[A-Za-z]+,\s*//\s*([0-9A-Z]{5})\b)");
    for (std::sregex_iterator it(text.begin(), text.end(), kind), end; it != end; ++it) {
      raised.emplace((*it)[1], "extension/core/errors.hpp");
    }
    EXPECT_GE(raised.size(), 10u) << "no ErrorCode kinds found in extension/core/errors.hpp";
  }
  // errcode(ERRCODE_...) in the PostgreSQL boundary; ereport without errcode is XX000.
  static const std::regex name(R"(ERRCODE_[A-Z_0-9]+)");
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / "extension")) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".cpp" && ext != ".hpp" && ext != ".h" && ext != ".c") continue;
    const std::string text = ReadFile(entry.path());
    for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
      const std::string n = (*it)[0];
      if (n == "ERRCODE_TO_CATEGORY") continue;
      const auto found = errcodes.find(n);
      if (found == errcodes.end()) {
        ADD_FAILURE() << n << " in " << entry.path() << " is not in errcodes.h";
        continue;
      }
      raised.emplace(found->second, entry.path().lexically_relative(kRoot).string());
    }
    if (text.find("ereport(") != std::string::npos)
      raised.emplace("XX000", "ereport without errcode");
  }
  // RAISE ... USING ERRCODE = '.....' in the SQL; RAISE EXCEPTION without one is P0001.
  static const std::regex sql_code(R"(ERRCODE\s*=\s*'([0-9A-Z]{5})')", std::regex::icase);
  static const std::regex sql_name(R"(ERRCODE\s*=\s*'([a-z_]+)')", std::regex::icase);
  for (const auto& entry : fs::directory_iterator(kRoot / "sql/src")) {
    if (entry.path().extension() != ".sql") continue;
    const std::string text = ReadFile(entry.path());
    const std::string where = entry.path().lexically_relative(kRoot).string();
    for (std::sregex_iterator it(text.begin(), text.end(), sql_code), end; it != end; ++it) {
      raised.emplace((*it)[1], where);
    }
    for (std::sregex_iterator it(text.begin(), text.end(), sql_name), end; it != end; ++it) {
      std::string upper = "ERRCODE_" + std::string((*it)[1]);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const auto found = errcodes.find(upper);
      if (found == errcodes.end())
        ADD_FAILURE() << "unknown condition " << (*it)[1] << " in " << where;
      else
        raised.emplace(found->second, where);
    }
    if (text.find("RAISE EXCEPTION") != std::string::npos) raised.emplace("P0001", where);
  }
  // What PostgreSQL itself raises inside the extension's statements on values clients send.
  for (const char* s :
       {"23503", "23505", "23502", "23514", "22P02", "22003", "22007", "22008", "22P05", "2201B",
        "22021", "54001", "57014", "40001", "40P01", "55P03", "53200", "53300", "57P01", "08006"}) {
    raised.emplace(s, "PostgreSQL on the extension's statements");
  }
  return raised;
}

TEST(SqlStateTable, EveryRaisedSqlStateHasAnEntry) {
  const auto raised = RaisedSqlStates();
  EXPECT_TRUE(raised.count("42710")) << "the scan misses 42710 (sql/src)";
  EXPECT_TRUE(raised.count("0A000")) << "the scan misses ERRCODE_FEATURE_NOT_SUPPORTED";
  for (const auto& [sqlstate, where] : raised) {
    const SqlStateRule* rule = MatchSqlState(sqlstate);
    EXPECT_NE(rule, nullptr) << "SQLSTATE " << sqlstate << " (" << where
                             << ") has no entry in SqlStateTable(): it would answer 500";
    if (rule != nullptr && rule->status == 500) {
      EXPECT_EQ(sqlstate.substr(0, 2), "XX")
          << "SQLSTATE " << sqlstate << " (" << where << ") answers 500, which must mean a bug";
    }
  }
}

TEST(SqlStateTable, DuplicatesAreConflicts) {
  EXPECT_EQ(StatusForSqlState("42710"), 409);
  EXPECT_EQ(StatusForSqlState("23505"), 409);
  EXPECT_EQ(StatusForSqlState("54001"), 422);
}

TEST(SqlStateTable, ExactCodesComeBeforeTheirClass) {
  const auto& table = SqlStateTable();
  for (size_t i = 0; i < table.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const std::string earlier = table[j].sqlstate, later = table[i].sqlstate;
      EXPECT_FALSE(later.rfind(earlier, 0) == 0)
          << later << " can never match: " << earlier << " comes before it";
    }
  }
}

std::string MarkdownTable() {
  std::string out = "| SQLSTATE | status | when |\n|---|---|---|\n";
  for (const SqlStateRule& rule : SqlStateTable()) {
    const std::string code = std::string(rule.sqlstate).size() == 2
                                 ? "class `" + std::string(rule.sqlstate) + "`"
                                 : "`" + std::string(rule.sqlstate) + "`";
    out += "| " + code + " | " + std::to_string(rule.status) + " | " + rule.when + " |\n";
  }
  return out;
}

TEST(SqlStateTable, DocsShowTheSameTable) {
  const std::string docs = ReadFile(kRoot / "docs/http.md");
  const std::string begin =
      "<!-- sqlstate-table:begin (generated from worker/http/src/problem.cpp) -->\n";
  const std::string end = "<!-- sqlstate-table:end -->";
  const size_t b = docs.find(begin), e = docs.find(end);
  ASSERT_NE(b, std::string::npos) << "docs/http.md lacks the marker " << begin;
  ASSERT_NE(e, std::string::npos) << "docs/http.md lacks the marker " << end;
  const std::string shown = docs.substr(b + begin.size(), e - b - begin.size());
  EXPECT_EQ(shown, MarkdownTable()) << "docs/http.md's SQLSTATE table differs from the code's; "
                                       "replace it with the expected text above";
}

}  // namespace
}  // namespace taskflow::http
