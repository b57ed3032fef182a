#include <gtest/gtest.h>

#include <stdlib.h>

#include <cstdio>
#include <fstream>

#include "config.hpp"
#include "executors.hpp"

namespace taskflow {
namespace {

using std::chrono::milliseconds;

TEST(ParseHandlerFlag, BuiltIns) {
  const auto ping = ParseHandlerFlag("ping=noop");
  EXPECT_EQ(ping.job_type, "ping");
  EXPECT_EQ(ping.executor, "noop");
  EXPECT_EQ(ParseHandlerFlag("wait=sleep").executor, "sleep");
}

TEST(ParseHandlerFlag, CommandSplitsArgumentsWithoutAShell) {
  const auto spec = ParseHandlerFlag("resize=command:/usr/local/bin/resize --fast  'x y'");
  EXPECT_EQ(spec.executor, "command");
  EXPECT_EQ(spec.command,
            (std::vector<std::string>{"/usr/local/bin/resize", "--fast", "'x", "y'"}));
  EXPECT_EQ(spec.permanent_exit_codes, std::set<int>{65});
}

TEST(ParseHandlerFlag, HttpKeepsTheWholeUrl) {
  const auto spec = ParseHandlerFlag("hook=http:https://example.com:8443/hook?a=b");
  EXPECT_EQ(spec.executor, "http");
  EXPECT_EQ(spec.url, "https://example.com:8443/hook?a=b");
}

TEST(ParseHandlerFlag, SqlKeepsColonsInTheStatement) {
  const auto spec = ParseHandlerFlag("audit=sql:INSERT INTO t(doc) VALUES ($1::jsonb)");
  EXPECT_EQ(spec.statement, "INSERT INTO t(doc) VALUES ($1::jsonb)");
}

TEST(ParseHandlerFlag, RejectsMalformedFlags) {
  for (const char* bad : {"ping", "=noop", "ping=", "ping=bogus", "x=command:", "x=command:   ",
                          "h=http:", "s=sql:", "p=noop:arg", "w=sleep:3"}) {
    EXPECT_THROW(ParseHandlerFlag(bad), ConfigError) << bad;
  }
}

TEST(ParseHandlerConfig, FullFile) {
  const auto config = nlohmann::json::parse(R"({
    "handlers": {
      "resize": {"executor": "command", "command": ["/bin/echo", "hi"], "timeout": "30s",
                 "permanent_exit_codes": [65, 66], "env": {"A": "b"}, "cwd": "/tmp", "kill_grace": 2},
      "hook": {"executor": "http", "url": "http://127.0.0.1:9/x", "headers": {"Authorization": "Bearer t"},
               "timeout": "1500ms"},
      "audit": {"executor": "sql", "statement": "SELECT $1::jsonb"},
      "ping": {"executor": "noop"},
      "*": {"executor": "sleep"}
    }})");
  auto specs = ParseHandlerConfig(config);
  ASSERT_EQ(specs.size(), 5u);
  std::map<std::string, HandlerSpec> by_type;
  for (auto& spec : specs) by_type[spec.job_type] = spec;
  const auto& resize = by_type.at("resize");
  EXPECT_EQ(resize.command, (std::vector<std::string>{"/bin/echo", "hi"}));
  EXPECT_EQ(resize.timeout, milliseconds(30000));
  EXPECT_EQ(resize.permanent_exit_codes, (std::set<int>{65, 66}));
  EXPECT_EQ(resize.env.at("A"), "b");
  EXPECT_EQ(resize.cwd, "/tmp");
  EXPECT_EQ(resize.kill_grace, milliseconds(2000));
  EXPECT_EQ(by_type.at("hook").headers.at("Authorization"), "Bearer t");
  EXPECT_EQ(by_type.at("hook").timeout, milliseconds(1500));
  EXPECT_EQ(by_type.at("audit").statement, "SELECT $1::jsonb");
  EXPECT_EQ(by_type.at("*").executor, "sleep");
  for (const auto& spec : specs) EXPECT_NO_THROW(MakeHandler(spec)) << spec.job_type;
}

TEST(ParseHandlerConfig, RejectsMistakes) {
  const char* bad[] = {
      R"([])",
      R"({})",
      R"({"handlers": [], "x": 1})",
      R"({"handlers": {"a": "noop"}})",
      R"({"handlers": {"a": {}}})",
      R"({"handlers": {"a": {"executor": "shell"}}})",
      R"({"handlers": {"a": {"executor": "noop", "timeout": "1s"}}})",
      R"({"handlers": {"a": {"executor": "command", "commnd": ["/bin/true"]}}})",
      R"({"handlers": {"a": {"executor": "command", "command": [1]}}})",
      R"({"handlers": {"a": {"executor": "command", "command": ["/bin/true"], "timeout": "soon"}}})",
      R"({"handlers": {"a": {"executor": "command", "command": ["/bin/true"], "timeout": 0}}})",
      R"({"handlers": {"a": {"executor": "command", "command": ["/bin/true"], "permanent_exit_codes": [0]}}})",
      R"({"handlers": {"a": {"executor": "command", "command": ["/bin/true"], "env": {"A": 1}}}})",
      R"({"handlers": {"a": {"executor": "http", "url": 5}}})",
  };
  for (const char* text : bad) {
    EXPECT_THROW(ParseHandlerConfig(nlohmann::json::parse(text)), ConfigError) << text;
  }
}

TEST(ValidateHandlerSpec, ChecksWhatCanBeCheckedAtStartup) {
  EXPECT_THROW(MakeHandler(ParseHandlerFlag("a=command:/nonexistent/program")), ConfigError);
  EXPECT_NO_THROW(
      MakeHandler(ParseHandlerFlag("a=command:sh -c true")));  // PATH lookup at run time
  EXPECT_THROW(MakeHandler(ParseHandlerFlag("a=http:ftp://example.com/")), ConfigError);
  EXPECT_THROW(MakeHandler(ParseHandlerFlag("a=http:http:///path")), ConfigError);
}

TEST(HttpSecret, FromTheFileTheEnvironmentOrASecretFile) {
  const auto literal = ParseHandlerConfig(nlohmann::json::parse(
      R"({"handlers": {"h": {"executor": "http", "url": "http://127.0.0.1:9/", "secret": "0123456789abcdef"}}})"));
  EXPECT_EQ(literal.at(0).secret, "0123456789abcdef");

  setenv("TASKFLOW_TEST_HOOK_SECRET", "from-the-environment-0123", 1);
  const auto env = ParseHandlerConfig(nlohmann::json::parse(
      R"({"handlers": {"h": {"executor": "http", "url": "http://127.0.0.1:9/", "secret_env": "TASKFLOW_TEST_HOOK_SECRET"}}})"));
  EXPECT_EQ(env.at(0).secret, "from-the-environment-0123");
  unsetenv("TASKFLOW_TEST_HOOK_SECRET");
  EXPECT_THROW(
      ParseHandlerConfig(nlohmann::json::parse(
          R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "secret_env": "TASKFLOW_TEST_HOOK_SECRET"}}})")),
      ConfigError);

  const std::string path = ::testing::TempDir() + "/taskflow_secret_test";
  { std::ofstream(path) << "from-a-file-0123456789\n"; }
  nlohmann::json config =
      nlohmann::json::parse(R"({"handlers": {"h": {"executor": "http", "url": "http://x/"}}})");
  config["handlers"]["h"]["secret_file"] = path;
  EXPECT_EQ(ParseHandlerConfig(config).at(0).secret,
            "from-a-file-0123456789");  // without the newline
  std::remove(path.c_str());
  EXPECT_THROW(ParseHandlerConfig(config), ConfigError);

  for (
      const char* bad : {
          R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "secret": "short"}}})",
          R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "secret": ""}}})",
          R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "secret": "0123456789abcdef", "secret_env": "HOME"}}})",
          R"({"handlers": {"h": {"executor": "command", "command": ["true"], "secret": "0123456789abcdef"}}})",
          R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "max_snooze": "10ms"}}})",
      }) {
    EXPECT_THROW(ParseHandlerConfig(nlohmann::json::parse(bad)), ConfigError) << bad;
  }
  EXPECT_EQ(
      ParseHandlerConfig(
          nlohmann::json::parse(
              R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "max_snooze": "10m"}}})"))
          .at(0)
          .max_snooze,
      milliseconds(600000));
}

TEST(HandlerConfig, HttpBodyIsThePayloadOrTheEnvelope) {
  const auto parse = [](const char* text) {
    return ParseHandlerConfig(nlohmann::json::parse(text)).at(0);
  };
  EXPECT_FALSE(parse(R"({"handlers": {"h": {"executor": "http", "url": "http://x/"}}})").envelope);
  EXPECT_FALSE(
      parse(R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "body": "payload"}}})")
          .envelope);
  EXPECT_TRUE(
      parse(R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "body": "envelope"}}})")
          .envelope);
  for (
      const char* bad : {
          R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "body": "json"}}})",
          R"({"handlers": {"h": {"executor": "http", "url": "http://x/", "body": true}}})",
          R"({"handlers": {"h": {"executor": "command", "command": ["true"], "body": "envelope"}}})",
      }) {
    EXPECT_THROW(ParseHandlerConfig(nlohmann::json::parse(bad)), ConfigError) << bad;
  }
}

TEST(HttpSecret, TheWorkerWideSecretFillsOnlyHttpHandlersWithoutOne) {
  std::vector<HandlerSpec> specs = {ParseHandlerFlag("a=http:http://x/"),
                                    ParseHandlerFlag("b=noop"),
                                    ParseHandlerFlag("c=http:http://y/")};
  specs[2].secret = "own-secret-0123456789";
  ApplyDefaultHttpSecret(specs, "worker-wide-secret-0123");
  EXPECT_EQ(specs[0].secret, "worker-wide-secret-0123");
  EXPECT_EQ(specs[1].secret, "");
  EXPECT_EQ(specs[2].secret, "own-secret-0123456789");
  EXPECT_THROW(ApplyDefaultHttpSecret(specs, "short"), ConfigError);
}

TEST(ValidateHandlerSpec, RejectsHeadersThatWouldSplitTheRequest) {
  auto spec = ParseHandlerFlag("a=http:http://x/");
  spec.headers = {{"X-Fine", "value"}};
  EXPECT_NO_THROW(ValidateHandlerSpec(spec));
  spec.headers = {{"X-Bad", "value\r\nX-Injected: 1"}};
  EXPECT_THROW(ValidateHandlerSpec(spec), ConfigError);
  spec.headers = {{"X Bad", "value"}};
  EXPECT_THROW(ValidateHandlerSpec(spec), ConfigError);
  EXPECT_THROW(ValidateHandlerSpec(ParseHandlerFlag("a=http:http://x/a b")), ConfigError);
}

TEST(LoadHandlerFile, ReadsAndReportsThePath) {
  const std::string path = ::testing::TempDir() + "/taskflow_handlers_test.json";
  { std::ofstream(path) << R"({"handlers": {"ping": {"executor": "noop"}}})"; }
  EXPECT_EQ(LoadHandlerFile(path).at(0).job_type, "ping");
  { std::ofstream(path) << R"({"handlers": {"ping": {"executor": "noop"},}})"; }
  try {
    LoadHandlerFile(path);
    FAIL() << "invalid JSON accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  std::remove(path.c_str());
  EXPECT_THROW(LoadHandlerFile(path), ConfigError);
}

TEST(ParseHttpUrl, SplitsHostAndPath) {
  auto url = ParseHttpUrl("http://127.0.0.1:8080/hooks/a?x=1");
  EXPECT_EQ(url.scheme_host_port, "http://127.0.0.1:8080");
  EXPECT_EQ(url.path, "/hooks/a?x=1");
  EXPECT_FALSE(url.https);
  EXPECT_EQ(ParseHttpUrl("http://example.com").path, "/");
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  EXPECT_TRUE(ParseHttpUrl("https://example.com/x").https);
#else
  EXPECT_THROW(ParseHttpUrl("https://example.com/x"), ConfigError);
#endif
}

TEST(EffectiveTimeout, JobTimeoutWinsOverTheExecutors) {
  HandlerSpec spec;
  spec.timeout = milliseconds(5000);
  Job job;
  EXPECT_EQ(EffectiveTimeout(job, spec), milliseconds(5000));
  job.timeout = milliseconds(700);
  EXPECT_EQ(EffectiveTimeout(job, spec), milliseconds(700));
  spec.timeout.reset();
  job.timeout.reset();
  EXPECT_FALSE(EffectiveTimeout(job, spec).has_value());
}

}  // namespace
}  // namespace taskflow
