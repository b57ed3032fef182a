#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "core/error_context.hpp"

namespace taskflow::core {
namespace {

// What remains of a CONTEXT after TaskFlow's own frames are dropped.
std::string Kept(std::string_view context) {
  return std::string(context.substr(CallerContextStart(context)));
}

TEST(ErrorContext, InnermostFrame) {
  EXPECT_TRUE(InnermostFrameIsTaskFlow(
      "PL/pgSQL function taskflow._set_queue_paused(text,boolean) line 6 at RAISE"));
  EXPECT_FALSE(InnermostFrameIsTaskFlow("PL/pgSQL function my_fn() line 3 at RAISE"));
  EXPECT_FALSE(InnermostFrameIsTaskFlow("PL/pgSQL function taskflowx.f() line 3 at RAISE"));
  EXPECT_FALSE(InnermostFrameIsTaskFlow(""));
}

TEST(ErrorContext, OnlyTaskFlowFramesAreAllDropped) {
  EXPECT_EQ(Kept("PL/pgSQL function taskflow._set_queue_paused(text,boolean) line 6 at RAISE\n"
                 "SQL function \"pause_queue\" statement 1"),
            "");
  EXPECT_EQ(Kept("PL/pgSQL function taskflow._check(text) line 2 at RAISE\n"
                 "SQL statement \"SELECT taskflow._check(name)\"\n"
                 "PL/pgSQL function taskflow.create_queue(text) line 4 at PERFORM"),
            "");
  EXPECT_EQ(Kept("PL/pgSQL function taskflow.f() line 2 at RAISE"), "");
}

TEST(ErrorContext, TheCallersFramesAndItsStatementAreKept) {
  EXPECT_EQ(Kept("PL/pgSQL function taskflow._set_queue_paused(text,boolean) line 6 at RAISE\n"
                 "SQL function \"pause_queue\" statement 1\n"
                 "SQL statement \"SELECT taskflow.pause_queue('nope')\"\n"
                 "PL/pgSQL function my_fn() line 3 at PERFORM\n"
                 "PL/pgSQL function outer_fn() line 1 at PERFORM"),
            "SQL statement \"SELECT taskflow.pause_queue('nope')\"\n"
            "PL/pgSQL function my_fn() line 3 at PERFORM\n"
            "PL/pgSQL function outer_fn() line 1 at PERFORM");
  // a C function called straight from the caller: nothing of TaskFlow's to drop
  EXPECT_EQ(Kept("SQL statement \"SELECT taskflow.schedule('x')\"\n"
                 "PL/pgSQL function inline_code_block line 1 at PERFORM"),
            "SQL statement \"SELECT taskflow.schedule('x')\"\n"
            "PL/pgSQL function inline_code_block line 1 at PERFORM");
  // a frame that is not PL/pgSQL: kept from there
  EXPECT_EQ(Kept("PL/pgSQL function taskflow.f() line 2 at RAISE\nJSON data, line 1: x"),
            "JSON data, line 1: x");
}

TEST(ErrorContext, AStatementSpanningLinesIsOneFrame) {
  // the statement's text holds newlines, and one of its lines even looks like a frame
  EXPECT_EQ(Kept("PL/pgSQL function taskflow.f() line 2 at RAISE\n"
                 "SQL statement \"SELECT taskflow.f()\n"
                 "PL/pgSQL function fake() line 1 at x\n"
                 "  FROM t\"\n"
                 "PL/pgSQL function taskflow.g() line 9 at PERFORM\n"
                 "SQL statement \"SELECT taskflow.g(\n1)\"\n"
                 "PL/pgSQL function mine() line 7 at PERFORM"),
            "SQL statement \"SELECT taskflow.g(\n1)\"\n"
            "PL/pgSQL function mine() line 7 at PERFORM");
}

TEST(ErrorContext, UnterminatedStatementIsDroppedWholeNotOverrun) {
  EXPECT_EQ(Kept("PL/pgSQL function taskflow.f() line 2 at RAISE\nSQL statement \"SELECT 1"), "");
  EXPECT_EQ(Kept("\n\n"), "\n\n");
}

}  // namespace
}  // namespace taskflow::core
