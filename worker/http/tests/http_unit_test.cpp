// Unit tests of the HTTP API's pure parts: the SQLSTATE table, problem bodies, the listen
// address, metrics text, and the OpenAPI document against the route table.
#include <cctype>
#include <set>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <taskflow/http/server.hpp>

#include "metrics.hpp"
#include "openapi.hpp"
#include "problem.hpp"
#include "routes.hpp"

namespace taskflow::http {
namespace {

TEST(SqlState, MapsTheExtensionsErrorsToStatuses) {
  EXPECT_EQ(StatusForSqlState("22023"), 422);
  EXPECT_EQ(StatusForSqlState("22P02"), 422);
  EXPECT_EQ(StatusForSqlState("22004"), 422);
  EXPECT_EQ(StatusForSqlState("42704"), 422);
  EXPECT_EQ(StatusForSqlState("42501"), 403);
  EXPECT_EQ(StatusForSqlState("28000"), 401);
  EXPECT_EQ(StatusForSqlState("P0002"), 404);
  EXPECT_EQ(StatusForSqlState("55000"), 409);
  EXPECT_EQ(StatusForSqlState("54000"), 413);
  EXPECT_EQ(StatusForSqlState("42883"), 501);
  EXPECT_EQ(StatusForSqlState("42P01"), 501);
  EXPECT_EQ(StatusForSqlState("57014"), 503);
  EXPECT_EQ(StatusForSqlState("40001"), 503);
  EXPECT_EQ(StatusForSqlState("XX000"), 500);
  EXPECT_EQ(StatusForSqlState("42601"), 500);
}

TEST(Problem, CarriesSqlStateAndHidesInternalErrors) {
  const auto client = nlohmann::json::parse(
      ProblemJson(ProblemFromSql("55000", "cannot retry job 1: it is PENDING", ""), "c-1"));
  EXPECT_EQ(client["status"], 409);
  EXPECT_EQ(client["type"], "/problems/conflict");
  EXPECT_EQ(client["sqlstate"], "55000");
  EXPECT_EQ(client["detail"], "cannot retry job 1: it is PENDING");
  EXPECT_EQ(client["correlation_id"], "c-1");
  const auto internal =
      nlohmann::json::parse(ProblemJson(ProblemFromSql("XX000", "secret internals", ""), ""));
  EXPECT_EQ(internal["status"], 500);
  EXPECT_EQ(internal["detail"].get<std::string>().find("secret"), std::string::npos);
  EXPECT_FALSE(internal.contains("correlation_id"));
}

TEST(ListenAddress, Parses) {
  ServerConfig c;
  ParseListenAddress("127.0.0.1:9000", &c);
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 9000);
  ParseListenAddress(":0", &c);
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 0);
  ParseListenAddress("[::1]:8080", &c);
  EXPECT_EQ(c.host, "::1");
  EXPECT_THROW(ParseListenAddress("localhost", &c), std::invalid_argument);
  EXPECT_THROW(ParseListenAddress("localhost:99999", &c), std::invalid_argument);
  EXPECT_THROW(ParseListenAddress("localhost:http", &c), std::invalid_argument);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  HttpMetrics m;
  m.Record("/jobs", "POST", 201, 0.003);
  m.Record("/jobs", "POST", 201, 0.0002);  // sub-millisecond: its own bucket
  m.Record("/jobs", "POST", 201, 0.2);
  m.Record("/jobs", "POST", 422, 20.0);
  const std::string text = m.Render({});
  for (const char* line : {
           "taskflow_http_requests_total{route=\"/jobs\",method=\"POST\",status=\"201\"} 3\n",
           "taskflow_http_request_duration_seconds_bucket{route=\"/jobs\",le=\"0.0001\"} 0\n",
           "taskflow_http_request_duration_seconds_bucket{route=\"/jobs\",le=\"0.00025\"} 1\n",
           "taskflow_http_request_duration_seconds_bucket{route=\"/jobs\",le=\"0.005\"} 2\n",
           "taskflow_http_request_duration_seconds_bucket{route=\"/jobs\",le=\"0.25\"} 3\n",
           "taskflow_http_request_duration_seconds_bucket{route=\"/jobs\",le=\"+Inf\"} 4\n",
           "taskflow_http_request_duration_seconds_count{route=\"/jobs\"} 4\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
  EXPECT_EQ(EscapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(OpenApi, DocumentsExactlyTheServedRoutes) {
  const auto doc = nlohmann::json::parse(OpenApiDocument());
  EXPECT_EQ(doc["openapi"], "3.1.0");
  std::set<std::pair<std::string, std::string>> documented, served;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      std::string m = method;
      for (char& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      documented.insert({m, path});
      EXPECT_TRUE(op.contains("responses")) << m << " " << path;
      // The problems of openapi.cpp's operations are expanded: every key is an HTTP status.
      for (const auto& [status, response] : op["responses"].items()) {
        EXPECT_TRUE(status.size() == 3 && std::isdigit(static_cast<unsigned char>(status[0])))
            << m << " " << path << " " << status;
      }
    }
  }
  for (const RouteSpec& r : RouteTable()) served.insert({r.method, r.path});
  EXPECT_EQ(documented, served);
  // Every $ref points at something that exists.
  std::function<void(const nlohmann::json&)> check = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      for (const auto& [k, v] : j.items()) {
        if (k == "$ref") {
          const std::string ref = v.get<std::string>();
          ASSERT_EQ(ref.rfind("#/", 0), 0u) << ref;
          EXPECT_TRUE(doc.contains(nlohmann::json::json_pointer(ref.substr(1)))) << ref;
        } else {
          check(v);
        }
      }
    } else if (j.is_array()) {
      for (const auto& v : j) check(v);
    }
  };
  check(doc);
}

}  // namespace
}  // namespace taskflow::http

#include <taskflow/http/handler_metrics.hpp>

namespace taskflow::http {
namespace {

TEST(HandlerMetrics, RunningGaugeAndDurations) {
  HandlerMetrics m;
  m.Started();
  m.Started();
  EXPECT_EQ(m.running(), 2);
  m.Finished("ping", "succeeded", 0.002);
  EXPECT_EQ(m.running(), 1);
  const std::string text = m.Render();
  EXPECT_NE(text.find("taskflow_worker_jobs_running 1\n"), std::string::npos);
  EXPECT_NE(
      text.find(
          "taskflow_worker_handler_duration_seconds_bucket{job_type=\"ping\",outcome=\"succeeded\",le=\"0.005\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          "taskflow_worker_handler_duration_seconds_bucket{job_type=\"ping\",outcome=\"succeeded\",le=\"0.001\"} 0\n"),
      std::string::npos);
  m.Finished("ping", "succeeded", 0.0003);
  EXPECT_NE(
      m.Render().find(
          "taskflow_worker_handler_duration_seconds_bucket{job_type=\"ping\",outcome=\"succeeded\",le=\"0.0005\"} 1\n"),
      std::string::npos);
}

TEST(HandlerMetrics, JobTypeLabelsAreBounded) {
  HandlerMetrics m;
  for (int i = 0; i < 1000; ++i) {
    m.Started();
    m.Finished("type" + std::to_string(i), "succeeded", 0.1);
  }
  const std::string text = m.Render();
  size_t series = 0;
  for (size_t pos = 0; (pos = text.find("_count{", pos)) != std::string::npos; ++pos) ++series;
  EXPECT_LE(series, HandlerMetrics::kMaxJobTypes * 4 + 1);
  EXPECT_NE(text.find("job_type=\"other\""), std::string::npos);
}

}  // namespace
}  // namespace taskflow::http
