// The HTTP server's SQL table (statements.cpp) and the parts generated from schedule()'s field
// table (core/schedule_fields.hpp): POST /jobs's statements and its OpenAPI schema.
#include <algorithm>
#include <regex>
#include <stdexcept>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/schedule_fields.hpp"
#include "openapi.hpp"
#include "statements.hpp"

namespace taskflow::http {
namespace {

TEST(Statements, OnePerStmtWithUniqueNames) {
  const std::vector<Statement>& table = Statements();
  ASSERT_EQ(table.size(), static_cast<std::size_t>(Stmt::kCount));
  std::set<std::string> names;
  for (std::size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(static_cast<std::size_t>(table[i].id), i) << table[i].name;
    EXPECT_TRUE(names.insert(table[i].name).second) << "duplicate name " << table[i].name;
    EXPECT_STREQ(StatementName(table[i].id), table[i].name);
  }
}

// The highest $n a statement uses.
int MaxParameter(const std::string& sql) {
  int max = 0;
  static const std::regex kParam("\\$([0-9]+)");
  for (auto it = std::sregex_iterator(sql.begin(), sql.end(), kParam); it != std::sregex_iterator();
       ++it) {
    max = std::max(max, std::stoi((*it)[1]));
  }
  return max;
}

TEST(Statements, ScheduleBindsEveryFieldOfTheTableByName) {
  for (Stmt id : {Stmt::kSchedule, Stmt::kScheduleReadBack}) {
    const std::string& sql = Statements()[static_cast<std::size_t>(id)].sql;
    EXPECT_EQ(MaxParameter(sql), static_cast<int>(core::kScheduleFields.size())) << sql;
    for (std::size_t i = 0; i < core::kScheduleFields.size(); ++i) {
      const core::ScheduleField& f = core::kScheduleFields[i];
      const std::string name(f.name);
      EXPECT_NE(sql.find(name + " => "), std::string::npos) << name << " in " << sql;
      if (name == "correlation_id") continue;  // bound per statement
      const std::string param = "$" + std::to_string(i + 1) + "::" + std::string(f.sql_type);
      EXPECT_TRUE(sql.find(name + " => " + param) != std::string::npos ||
                  sql.find(name + " => COALESCE(" + param + ", " + std::string(f.sql_default) +
                           ")") != std::string::npos)
          << name << " in " << sql;
    }
  }
  EXPECT_EQ(ScheduleFieldIndex("job_type"), 0u);
  EXPECT_THROW(ScheduleFieldIndex("no_such_field"), std::logic_error);
}

TEST(OpenApi, NewJobHasExactlyTheFieldsOfSchedule) {
  const auto doc = nlohmann::ordered_json::parse(OpenApiDocument());
  const auto& schema = doc["components"]["schemas"]["NewJob"];
  ASSERT_TRUE(schema.contains("properties")) << schema.dump();
  EXPECT_EQ(schema["additionalProperties"], false);
  std::vector<std::string> documented, fields, required, expected_required;
  for (const auto& [name, property] : schema["properties"].items()) {
    documented.push_back(name);
    const core::ScheduleField* f = core::FindScheduleField(name);
    ASSERT_NE(f, nullptr) << name;
    if (property.contains("type")) {
      EXPECT_EQ(property["type"], std::string(core::JsonTypeName(f->json_type))) << name;
    } else {
      EXPECT_TRUE(property.contains("$ref")) << name;
    }
    EXPECT_EQ(property["description"].get<std::string>().rfind(std::string(f->description), 0), 0u)
        << name;
  }
  for (const core::ScheduleField& f : core::kScheduleFields) {
    fields.emplace_back(f.name);
    if (f.sql_default.empty()) expected_required.emplace_back(f.name);
  }
  for (const auto& r : schema["required"]) required.push_back(r.get<std::string>());
  EXPECT_EQ(documented, fields);
  EXPECT_EQ(required, expected_required);
  EXPECT_EQ(schema, NewJobSchema());
}

}  // namespace
}  // namespace taskflow::http
