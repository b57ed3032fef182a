// Automation rules, the pure parts: triggers, cron schedules, webhook keys and signatures,
// action templates and their filling.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/rules.hpp"
#include "expect_domain_error.hpp"

namespace taskflow::core {
namespace {

using testing::ThrowsDomainError;
using Values = std::vector<std::optional<std::string>>;

// ---- triggers ------------------------------------------------------------------------------

TEST(RuleTrigger, ParsesCronWithForEachTenant) {
  Trigger t = ParseTrigger(R"({"type": "cron", "schedule": "0 7 * * *", "for_each": "tenant"})");
  EXPECT_EQ(t.type, TriggerType::Cron);
  EXPECT_EQ(t.schedule, "0 7 * * *");
  EXPECT_TRUE(t.for_each_tenant);
}

TEST(RuleTrigger, ParsesWebhookKeyAndSecretStates) {
  Trigger generated = ParseTrigger(R"({"type": "webhook"})");
  EXPECT_EQ(generated.type, TriggerType::Webhook);
  EXPECT_FALSE(generated.key.has_value());
  EXPECT_FALSE(generated.secret_given);

  Trigger unsigned_calls = ParseTrigger(R"({"type": "webhook", "secret": null})");
  EXPECT_TRUE(unsigned_calls.secret_given);
  EXPECT_FALSE(unsigned_calls.secret.has_value());

  Trigger given = ParseTrigger(
      R"({"type": "webhook", "key": "abcdefghijklmnopqrstuv", "secret": "0123456789abcdef"})");
  EXPECT_EQ(given.key, "abcdefghijklmnopqrstuv");
  EXPECT_EQ(given.secret, "0123456789abcdef");
}

TEST(RuleTrigger, ParsesEventWithNarrowing) {
  Trigger t = ParseTrigger(
      R"({"type": "event", "on": "job_failed", "job_type": "import", "queue": "etl"})");
  EXPECT_EQ(t.type, TriggerType::Event);
  EXPECT_EQ(t.on, "job_failed");
  EXPECT_EQ(t.job_type, "import");
  EXPECT_EQ(t.queue, "etl");
}

TEST(RuleTrigger, RefusesBadTriggers) {
  const auto E = ErrorCode::InvalidParameterValue;
  EXPECT_TRUE(ThrowsDomainError([] { ParseTrigger("not json"); }, E, "not valid JSON"));
  EXPECT_TRUE(ThrowsDomainError([] { ParseTrigger("[]"); }, E, "must be a JSON object"));
  EXPECT_TRUE(ThrowsDomainError([] { ParseTrigger("{}"); }, E, "trigger.type is required"));
  EXPECT_TRUE(
      ThrowsDomainError([] { ParseTrigger(R"({"type": "sms"})"); }, E, "cron, webhook or event"));
  EXPECT_TRUE(
      ThrowsDomainError([] { ParseTrigger(R"({"type": "cron"})"); }, E, "schedule is required"));
  EXPECT_TRUE(ThrowsDomainError([] { ParseTrigger(R"({"type": "cron", "schedule": 5})"); }, E,
                                "trigger.schedule must be a string"));
  EXPECT_TRUE(ThrowsDomainError(
      [] { ParseTrigger(R"({"type": "cron", "schedule": "* * * * *", "on": "x"})"); }, E,
      "unknown key \"on\""));
  EXPECT_TRUE(ThrowsDomainError(
      [] { ParseTrigger(R"({"type": "cron", "schedule": "* * * * *", "for_each": "queue"})"); }, E,
      "for_each must be \"tenant\""));
  EXPECT_TRUE(
      ThrowsDomainError([] { ParseTrigger(R"({"type": "event"})"); }, E, "trigger.on is required"));
  EXPECT_TRUE(ThrowsDomainError([] { ParseTrigger(R"({"type": "event", "on": "job_started"})"); },
                                E, "trigger.on must be one of"));
  EXPECT_TRUE(ThrowsDomainError(
      [] { ParseTrigger(R"({"type": "event", "on": "job_dead", "for_each": "tenant"})"); }, E,
      "unknown key \"for_each\""));
  EXPECT_TRUE(ThrowsDomainError(
      [] { ParseTrigger(R"({"type": "event", "on": "job_dead", "job_type": "a b"})"); }, E,
      "whitespace"));
  EXPECT_TRUE(ThrowsDomainError([] { ParseTrigger(R"({"type": "webhook", "key": "short"})"); }, E,
                                "trigger.key must be 22 to 200 characters"));
  EXPECT_TRUE(ThrowsDomainError(
      [] { ParseTrigger(R"({"type": "webhook", "key": "abcdefghijklmnopqrstu/"})"); }, E,
      "URL-safe"));
  EXPECT_TRUE(ThrowsDomainError([] { ParseTrigger(R"({"type": "webhook", "secret": "short"})"); },
                                E, "trigger.secret must be 16 to 200"));
}

// ---- cron ----------------------------------------------------------------------------------

TEST(CronSchedule, AcceptsWhatPgCronAccepts) {
  for (const char* s : {"* * * * *", "0 7 * * *", "*/5 * * * *", "0 0 1 jan *", "30 8 * * mon-fri",
                        "0,15,30,45 0-23/2 1-31 1-12 0-7", "@daily", "@hourly", " 0  7 * * * "}) {
    EXPECT_NO_THROW(ValidateCronSchedule(s)) << s;
  }
}

TEST(CronSchedule, RefusesMalformedSchedules) {
  // schedule, a part of the 22023 message
  const std::pair<const char*, const char*> malformed[] = {
      {"* * * *", "expected 5 fields, got 4"},
      {"60 * * * *", "minute field \"60\""},
      {"0 24 * * *", "hour field"},
      {"0 0 0 * *", "day-of-month field"},
      {"0 0 * 13 *", "month field"},
      {"0 0 * * 8", "day-of-week field"},
      {"5-1 * * * *", "start is after its end"},
      {"*/0 * * * *", "invalid step"},
      {"1,,2 * * * *", "empty list item"},
      {"@sometimes", "unknown macro"},
      {"x * * * *", "not a number"},
  };
  for (const auto& [schedule, needle] : malformed) {
    EXPECT_TRUE(ThrowsDomainError([&] { ValidateCronSchedule(schedule); },
                                  ErrorCode::InvalidParameterValue, needle))
        << schedule;
  }
}

TEST(RuleEvents, NamesTerminalStates) {
  EXPECT_EQ(EventNameOf("SUCCEEDED"), "job_succeeded");
  EXPECT_EQ(EventNameOf("CANCELLED"), "job_cancelled");
}

// ---- webhooks ------------------------------------------------------------------------------

TEST(Webhook, Base64UrlMatchesRfc4648Vectors) {
  auto enc = [](const std::string& s) {
    return Base64UrlEncode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg");
  EXPECT_EQ(enc("fo"), "Zm8");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
  const std::uint8_t high[] = {0xfb, 0xff, 0xfe};
  EXPECT_EQ(Base64UrlEncode(high, 3), "-__-");  // '+' and '/' become '-' and '_'
}

TEST(Webhook, GeneratedKeysAreLongEnoughAndValid) {
  std::vector<std::uint8_t> bytes(kGeneratedKeyBytes, 0xAB);
  std::string key = Base64UrlEncode(bytes.data(), bytes.size());
  EXPECT_EQ(key.size(), 32u);
  EXPECT_GE(kGeneratedKeyBytes * 8, 128u);
  EXPECT_NO_THROW(ValidateWebhookKey(key));
}

TEST(Webhook, ParsesSignatures) {
  std::string hex(64, 'a');
  auto d = ParseSha256Signature("sha256=" + hex);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->size(), 32u);
  EXPECT_EQ((*d)[0], 0xAA);
  EXPECT_TRUE(ParseSha256Signature("sha256=" + std::string(64, 'F')).has_value());
  EXPECT_FALSE(ParseSha256Signature("sha1=" + hex).has_value());
  EXPECT_FALSE(ParseSha256Signature("sha256=" + hex.substr(1)).has_value());
  EXPECT_FALSE(ParseSha256Signature("sha256=" + std::string(63, 'a') + "g").has_value());
  EXPECT_FALSE(ParseSha256Signature("").has_value());
}

TEST(Webhook, ConstantTimeEqualsComparesWholeDigests) {
  std::vector<std::uint8_t> a(32, 1), b(32, 1);
  EXPECT_TRUE(ConstantTimeEquals(a, b));
  b[31] = 2;
  EXPECT_FALSE(ConstantTimeEquals(a, b));
  b[31] = 1;
  b[0] = 0;
  EXPECT_FALSE(ConstantTimeEquals(a, b));
  EXPECT_FALSE(ConstantTimeEquals(a, std::vector<std::uint8_t>(31, 1)));
  const std::uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(ToHex(bytes, 4), "000fa5ff");
}

TEST(Webhook, RecognisesJsonBodies) {
  EXPECT_TRUE(IsJson(R"({"a": [1, 2.5e3, null, true]})"));
  EXPECT_TRUE(IsJson("  \"text\"  "));
  EXPECT_FALSE(IsJson(R"({"a": 1} {"b": 2})"));
  EXPECT_FALSE(IsJson("{'a': 1}"));
  EXPECT_FALSE(IsJson(""));
}

// ---- contexts -------------------------------------------------------------------------------

TEST(RuleContext, NowFieldsInUtc) {
  // 2026-11-26 07:05:09.5 UTC, a Thursday.
  NowFields now = NowOf(1795676709500000LL);
  EXPECT_EQ(now.date, "2026-11-26");
  EXPECT_EQ(now.hour, 7);
  EXPECT_EQ(now.minute, 5);
  EXPECT_EQ(now.dow, 4);
  EXPECT_EQ(now.ts, "2026-11-26T07:05:09.5+00:00");
  EXPECT_EQ(NowOf(0).ts, "1970-01-01T00:00:00+00:00");
  EXPECT_EQ(NowOf(0).dow, 4);
  EXPECT_EQ(NowOf(951782400000001LL).ts, "2000-02-29T00:00:00.000001+00:00");  // leap day
  EXPECT_EQ(NowOf(951782400000001LL).dow, 2);
  EXPECT_EQ(NowOf(4107542399999999LL).ts, "2100-02-28T23:59:59.999999+00:00");  // no leap day
  EXPECT_EQ(NowOf(4107542400000000LL).date, "2100-03-01");
}

TEST(RuleContext, BuildsTheDocumentedShape) {
  NowFields now = NowOf(1795676709500000LL);
  std::string ctx =
      ContextJson(R"({"n": 1})", "acme \"x\"", R"({"plan": "pro"})", 7, "billing", now);
  EXPECT_EQ(ctx,
            R"({"event": {"n": 1}, "tenant": {"id": "acme \"x\"", "attributes": {"plan": "pro"}}, )"
            R"("rule": {"id": 7, "name": "billing"}, "now": {"ts": "2026-11-26T07:05:09.5+00:00", )"
            R"("hour": 7, "minute": 5, "dow": 4, "date": "2026-11-26"}})");
  EXPECT_TRUE(IsJson(ctx));
  EXPECT_EQ(WebhookEventJson("[1]", std::nullopt),
            R"({"type": "webhook", "delivery_id": null, "body": [1]})");
  EXPECT_EQ(WebhookEventJson("{}", std::string("d\n1")),
            R"({"type": "webhook", "delivery_id": "d\n1", "body": {}})");
  EXPECT_EQ(JsonString("caf\xc3\xa9 \x01"), "\"caf\xc3\xa9 \\u0001\"");
  EXPECT_EQ(JsonString("bad \xff"), "\"bad \xef\xbf\xbd\"");  // replaced, not thrown
}

TEST(RuleName, Validates) {
  EXPECT_NO_THROW(ValidateRuleName("recalculate billing"));
  const auto E = ErrorCode::InvalidParameterValue;
  EXPECT_TRUE(ThrowsDomainError([] { ValidateRuleName("  "); }, E, "must not be empty"));
  EXPECT_TRUE(ThrowsDomainError([] { ValidateRuleName("a\nb"); }, E, "control characters"));
  EXPECT_TRUE(ThrowsDomainError([] { ValidateRuleName(std::string(201, 'x')); }, E, "too long"));
}

// ---- string templates ---------------------------------------------------------------------------

TEST(StringTemplate, SplitsLiteralsAndPaths) {
  using S = TemplateSegment;
  EXPECT_EQ(ParseStringTemplate("plain", "x"), (std::vector<S>{{false, "plain"}}));
  EXPECT_EQ(ParseStringTemplate("", "x"), (std::vector<S>{{false, ""}}));
  EXPECT_EQ(ParseStringTemplate("{{ $.tenant.id }}", "x"), (std::vector<S>{{true, "$.tenant.id"}}));
  EXPECT_EQ(ParseStringTemplate("{{$.a}}", "x"), (std::vector<S>{{true, "$.a"}}));
  EXPECT_EQ(
      ParseStringTemplate("bill-{{ $.t }}-{{ $.d }}!", "x"),
      (std::vector<S>{{false, "bill-"}, {true, "$.t"}, {false, "-"}, {true, "$.d"}, {false, "!"}}));
  EXPECT_EQ(ParseStringTemplate("a } b }}", "x"), (std::vector<S>{{false, "a } b }}"}}));
}

TEST(StringTemplate, RefusesBrokenPlaceholders) {
  const auto E = ErrorCode::InvalidParameterValue;
  EXPECT_TRUE(ThrowsDomainError([] { ParseStringTemplate("{{ $.a", "payload.x"); }, E,
                                "payload.x: \"{{\" without a closing"));
  EXPECT_TRUE(
      ThrowsDomainError([] { ParseStringTemplate("a {{  }} b", "k"); }, E, "empty placeholder"));
}

// ---- actions ------------------------------------------------------------------------------------

TEST(RuleActions, ParsesAndCollectsDistinctPathsInAStableOrder) {
  RuleActions a = RuleActions::Parse(R"([
    {"job_type": "RecalculateBilling", "queue": "billing", "priority": 5, "delay": "5 minutes",
     "max_attempts": 3, "unique_key": "bill-{{ $.tenant.id }}-{{ $.now.date }}",
     "payload": {"tenant": "{{ $.tenant.id }}", "nested": [{"u": "{{ $.tenant.attributes.usage }}"}]}},
    {"job_type": "Notify", "delay": 30}
  ])");
  EXPECT_EQ(a.size(), 2u);
  // Action by action; within a payload, object keys in sorted order; then unique_key.
  EXPECT_EQ(a.paths(),
            (std::vector<std::string>{"$.tenant.attributes.usage", "$.tenant.id", "$.now.date"}));
  EXPECT_EQ(a.queues(), (std::vector<std::string>{"billing", "default"}));
  EXPECT_EQ(a.delays(), (std::vector<std::string>{"5 minutes", "30 seconds"}));
}

TEST(RuleActions, RefusesBadTemplates) {
  const auto E = ErrorCode::InvalidParameterValue;
  auto parse = [](const char* s) { return [s] { RuleActions::Parse(s); }; };
  EXPECT_TRUE(ThrowsDomainError(parse("{}"), E, "actions must be a JSON array"));
  EXPECT_TRUE(ThrowsDomainError(parse("[]"), E, "at least one job template"));
  EXPECT_TRUE(ThrowsDomainError(parse("[1]"), E, "actions[0] must be a JSON object"));
  EXPECT_TRUE(
      ThrowsDomainError(parse(R"([{"queue": "q"}])"), E, "actions[0].job_type is required"));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"job_type": "a"}, {"job_type": "b", "colour": 1}])"), E,
                                "actions[1]: unknown key \"colour\""));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"job_type": ""}])"), E, "job_type must not be empty"));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"job_type": "a", "queue": "bad queue"}])"), E, "queue"));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"job_type": "a", "payload": [1]}])"), E,
                                "actions[0].payload must be a JSON object"));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"job_type": "a", "priority": 1.5}])"), E,
                                "actions[0].priority must be an integer"));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"job_type": "a", "max_attempts": 0}])"), E,
                                "actions[0].max_attempts must be an integer from 1"));
  EXPECT_TRUE(
      ThrowsDomainError(parse(R"([{"job_type": "a", "delay": -1}])"), E, "actions[0].delay"));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"job_type": "a", "unique_key": ""}])"), E,
                                "unique_key must not be empty"));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"job_type": "a", "payload": {"x": ["{{ $.a"]}}])"), E,
                                "actions[0].payload.x[0]: \"{{\" without a closing"));
}

TEST(RuleActions, FillsWholePlaceholdersWithTypedValuesAndEmbeddedOnesAsText) {
  RuleActions a = RuleActions::Parse(R"([{"job_type": "J",
    "payload": {"tenant": "{{ $.tenant.id }}", "usage": "{{ $.u }}", "attrs": "{{ $.attrs }}",
                "note": "usage {{ $.u }} for {{ $.tenant.id }}", "fixed": [1, true, null, "x"]},
    "unique_key": "{{ $.u }}"}])");
  ASSERT_EQ(a.paths(), (std::vector<std::string>{"$.attrs", "$.u", "$.tenant.id"}));
  // Context values arrive as PostgreSQL's JSON text: big numbers keep their precision.
  auto filled = a.Fill(Values{R"({"plan": "pro"})", "123456789012345678901234.5", "\"acme\""});
  ASSERT_EQ(filled.size(), 1u);
  EXPECT_EQ(filled[0].job_type, "J");
  EXPECT_EQ(filled[0].queue, "default");
  EXPECT_EQ(filled[0].payload_json,
            R"({"attrs":{"plan": "pro"},"fixed":[1,true,null,"x"],)"
            R"("note":"usage 123456789012345678901234.5 for acme","tenant":"acme",)"
            R"("usage":123456789012345678901234.5})");
  EXPECT_EQ(filled[0].unique_key, "123456789012345678901234.5");
}

TEST(RuleActions, FillsTemplatesWithoutPlaceholdersUnchanged) {
  RuleActions a =
      RuleActions::Parse(R"([{"job_type": "J", "payload": {"a": {"b": "{c}"}}, "priority": -3}])");
  auto filled = a.Fill({});
  EXPECT_EQ(filled[0].payload_json, R"({"a":{"b":"{c}"}})");
  EXPECT_EQ(filled[0].priority, -3);
  EXPECT_FALSE(filled[0].unique_key.has_value());
}

TEST(RuleActions, ParsesAWorkflowActionAndFillsItsSpec) {
  RuleActions a = RuleActions::Parse(R"([{"workflow": {"name": "report-{{ $.m }}",
    "nodes": [{"key": "p1", "job_type": "render", "queue": "pages", "payload": {"m": "{{ $.m }}", "page": 1}},
              {"key": "merge", "job_type": "merge", "priority": 2, "max_attempts": 3}],
    "edges": [{"from": "p1", "to": "merge", "on_failure": "run"}]}}])");
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(a.paths(), (std::vector<std::string>{"$.m"}));
  // The nodes' queues are checked at create_rule like a job action's (absent: default).
  EXPECT_EQ(a.queues(), (std::vector<std::string>{"pages", "default"}));
  auto filled = a.Fill(Values{"\"2026-11\""});
  ASSERT_EQ(filled.size(), 1u);
  ASSERT_TRUE(filled[0].workflow_json.has_value());
  EXPECT_EQ(
      *filled[0].workflow_json,
      R"({"name":"report-2026-11","nodes":[)"
      R"({"key":"p1","job_type":"render","queue":"pages","payload":{"m":"2026-11","page":1}},)"
      R"({"key":"merge","job_type":"merge","priority":2,"max_attempts":3,"payload":{}}],)"
      R"("edges":[{"from":"p1","on_failure":"run","to":"merge"}]})");
  // A job action next to it still fills as a job.
  RuleActions both = RuleActions::Parse(
      R"([{"job_type": "J"}, {"workflow": {"nodes": [{"key": "a", "job_type": "x"}]}}])");
  auto two = both.Fill({});
  EXPECT_FALSE(two[0].workflow_json.has_value());
  EXPECT_EQ(*two[1].workflow_json,
            R"({"nodes":[{"key":"a","job_type":"x","payload":{}}],"edges":[]})");
}

TEST(RuleActions, RefusesBadWorkflowActions) {
  const auto E = ErrorCode::InvalidParameterValue;
  auto parse = [](const char* s) { return [s] { RuleActions::Parse(s, 3, 3); }; };
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"workflow": []}])"), E,
                                "actions[0].workflow must be a JSON object"));
  EXPECT_TRUE(ThrowsDomainError(
      parse(R"([{"workflow": {"nodes": [{"key": "a", "job_type": "x"}]}, "queue": "q"}])"), E,
      "actions[0]: unknown key \"queue\""));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"workflow": {"tenant_id": "t", "nodes": []}}])"), E,
                                "actions[0].workflow: unknown key \"tenant_id\""));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"workflow": {"edges": []}}])"), E,
                                "actions[0].workflow.nodes must be a JSON array"));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"workflow": {"nodes": [{"job_type": "x"}]}}])"), E,
                                "actions[0].workflow.nodes[0].key is required"));
  EXPECT_TRUE(ThrowsDomainError(
      parse(R"([{"workflow": {"nodes": [{"key": "a", "job_type": "x", "delay": 5}]}}])"), E,
      "actions[0].workflow.nodes[0]: unknown key \"delay\""));
  EXPECT_TRUE(ThrowsDomainError(
      parse(
          R"([{"workflow": {"nodes": [{"key": "a", "job_type": "x"}, {"key": "b", "job_type": "x"}],
      "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}}])"),
      E, "actions[0].workflow: workflow has a cycle: \"a\" -> \"b\" -> \"a\""));
  EXPECT_TRUE(ThrowsDomainError(parse(R"([{"workflow": {"nodes": [{"key": "a", "job_type": "x"}],
      "edges": [{"from": "a", "to": "b"}]}}])"),
                                E, "unknown node key \"b\""));
  EXPECT_TRUE(ThrowsDomainError(
      parse(R"([{"workflow": {"nodes": [{"key": "a", "job_type": "x"}],
      "edges": [{"from": "a", "to": "a", "on_failure": "ignore"}]}}])"),
      E, "actions[0].workflow.edges[0].on_failure must be \"cancel\" or \"run\""));
  EXPECT_TRUE(ThrowsDomainError(
      parse(
          R"([{"workflow": {"nodes": [{"key": "a", "job_type": "x"}, {"key": "b", "job_type": "x"},
      {"key": "c", "job_type": "x"}, {"key": "d", "job_type": "x"}]}}])"),
      E, "actions[0].workflow has 4 nodes, the limit is 3"));
}

TEST(RuleActions, RefusesToFillWhatIsMissingOrUnfit) {
  const auto E = ErrorCode::InvalidParameterValue;
  RuleActions a = RuleActions::Parse(
      R"([{"job_type": "A"}, {"job_type": "B", "payload": {"t": "{{ $.tenant.plan }}"}}])");
  EXPECT_TRUE(
      ThrowsDomainError([&] { a.Fill(Values{std::nullopt}); }, E,
                        "actions[1].payload.t: {{ $.tenant.plan }} has no value in the context"));
  // A JSON null found in the context is a value.
  EXPECT_EQ(a.Fill(Values{"null"})[1].payload_json, R"({"t":null})");

  RuleActions embedded =
      RuleActions::Parse(R"([{"job_type": "A", "payload": {"t": "x-{{ $.o }}"}}])");
  EXPECT_TRUE(ThrowsDomainError([&] { embedded.Fill(Values{R"({"a": 1})"}); }, E,
                                "is object and cannot be part of a string"));
  EXPECT_TRUE(ThrowsDomainError([&] { embedded.Fill(Values{"null"}); }, E, "is null"));

  RuleActions key = RuleActions::Parse(R"([{"job_type": "A", "unique_key": "{{ $.k }}"}])");
  EXPECT_TRUE(ThrowsDomainError([&] { key.Fill(Values{"[1]"}); }, E, "actions[0].unique_key"));
  EXPECT_TRUE(ThrowsDomainError([&] { key.Fill(Values{"\"\""}); }, E, "empty after filling"));
  EXPECT_EQ(key.Fill(Values{"42"})[0].unique_key, "42");
}

// ---- bounded rendering (issue 10, section 3) ----------------------------------------------------

// 200 placeholders of one 1,000-byte value: with a 5,000-byte limit rendering stops at the sixth
// copy, before it is appended, instead of building 200,000 bytes and refusing them afterwards.
TEST(RuleActions, StopsRenderingAsSoonAsThePayloadPassesTheLimit) {
  std::string payload = "{";
  for (int i = 0; i < 200; ++i)
    payload += (i ? "," : "") + ("\"k" + std::to_string(i) + "\": \"{{ $.event.body }}\"");
  payload += "}";
  RuleActions a = RuleActions::Parse(R"([{"job_type": "A", "payload": )" + payload + "}]");
  Values body{"\"" + std::string(998, 'x') + "\""};
  std::size_t budget = 1000000;
  EXPECT_TRUE(ThrowsDomainError([&] { a.Fill(body, 5000, &budget); },
                                ErrorCode::ProgramLimitExceeded,
                                "would be larger than 5000 bytes (taskflow.max_payload_bytes)"));
  // Only what fits under the limit was ever rendered: the budget shows every byte written.
  EXPECT_LE(1000000 - budget, 5000u);
  EXPECT_GE(1000000 - budget, 4000u);
  // Without a limit the same template renders all 200 copies.
  EXPECT_GT(a.Fill(body)[0].payload_json.size(), 200000u);
}

TEST(RuleActions, StopsWhenTheCallsRenderBudgetRunsOut) {
  RuleActions a = RuleActions::Parse(
      R"([{"job_type": "A", "payload": {"b": "{{ $.b }}"}}, {"job_type": "B", "payload": {"b": "{{ $.b }}"}}])");
  Values big{"\"" + std::string(1500, 'y') + "\""};
  std::size_t budget = 2500;  // one payload fits, the second does not
  EXPECT_TRUE(ThrowsDomainError([&] { a.Fill(big, 1u << 20, &budget); },
                                ErrorCode::ProgramLimitExceeded,
                                "actions[1].payload.b: this call has rendered as much as it may"));
  EXPECT_LT(budget, 1000u);
  // Embedded values and unique keys count too.
  RuleActions key =
      RuleActions::Parse(R"([{"job_type": "A", "unique_key": "k-{{ $.b }}-{{ $.b }}"}])");
  EXPECT_TRUE(ThrowsDomainError([&] { key.Fill(big, 2000); }, ErrorCode::ProgramLimitExceeded,
                                "actions[0].unique_key"));
}

TEST(RuleActions, RendersDeepTemplatesWithoutRecursion) {
  std::string deep;
  for (int i = 0; i < 50; ++i) deep += "{\"a\": [";
  deep += "\"{{ $.v }}\"";
  for (int i = 0; i < 50; ++i) deep += "]}";
  RuleActions a = RuleActions::Parse(R"([{"job_type": "A", "payload": )" + deep + "}]");
  std::string expected;
  for (int i = 0; i < 50; ++i) expected += "{\"a\":[";
  expected += "7";
  for (int i = 0; i < 50; ++i) expected += "]}";
  EXPECT_EQ(a.Fill(Values{"7"})[0].payload_json, expected);
}

// ---- jsonpath variables (issue 10, section 1) ---------------------------------------------------

TEST(JsonpathVariables, FindsVariablesOutsideStringLiterals) {
  EXPECT_EQ(JsonpathVariables(R"($"x" == 1)"), (std::vector<std::string>{"x"}));
  EXPECT_EQ(JsonpathVariables(R"($."a"?(@ > $"min" && @ < $"max" || @ == $"min"))"),
            (std::vector<std::string>{"min", "max"}));
  EXPECT_EQ(JsonpathVariables("$x == $y_2"), (std::vector<std::string>{"x", "y_2"}));
  EXPECT_EQ(JsonpathVariables(R"($"we\"ird" == 1)"), (std::vector<std::string>{"we\"ird"}));
  // The root, keys and strings that merely contain "$" are not variables.
  EXPECT_TRUE(JsonpathVariables(R"($."tenant"."id" == "$x")").empty());
  EXPECT_TRUE(JsonpathVariables(R"($."a\"$b" == "\"$c")").empty());
  EXPECT_TRUE(JsonpathVariables(R"($[*]?(@."k" like_regex "^\\$z" flag "i"))").empty());
  EXPECT_TRUE(JsonpathVariables(R"($ ? (@ == 1))").empty());
  EXPECT_TRUE(JsonpathVariables(R"($."d".datetime("YYYY"))").empty());
}

}  // namespace
}  // namespace taskflow::core
