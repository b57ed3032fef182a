#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/workflow.hpp"
#include "expect_domain_error.hpp"

namespace taskflow::core {
namespace {

using testing::ThrowsDomainError;
constexpr auto k22023 = ErrorCode::InvalidParameterValue;

WorkflowGraph Build(const std::vector<std::string>& keys,
                    const std::vector<WorkflowEdgeSpec>& edges, std::size_t max_nodes = 100,
                    std::size_t max_edges = 100) {
  return BuildWorkflowGraph(keys, edges, max_nodes, max_edges);
}

TEST(WorkflowGraph, DiamondCountsDependenciesAndNamesThem) {
  WorkflowGraph g =
      Build({"a", "b", "c", "d"},
            {{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d", OnDependencyFailure::Run}});
  EXPECT_EQ(g.dependency_count, (std::vector<int>{0, 1, 1, 2}));
  ASSERT_EQ(g.edges.size(), 4u);
  EXPECT_EQ(g.edges[3].from, 2u);
  EXPECT_EQ(g.edges[3].to, 3u);
  EXPECT_EQ(g.edges[3].on_failure, OnDependencyFailure::Run);
  EXPECT_EQ(g.wait_reason[0], "");
  EXPECT_EQ(g.wait_reason[1], "waiting for 1 dependency: a");
  EXPECT_EQ(g.wait_reason[3], "waiting for 2 dependencies: b, c");
}

TEST(WorkflowGraph, RefusesBadKeysAndEdges) {
  EXPECT_TRUE(ThrowsDomainError([] { Build({}, {}); }, k22023, "workflow has no nodes"));
  EXPECT_TRUE(ThrowsDomainError(
      [] {
        Build({"a", ""}, {});
      },
      k22023, "nodes[1]: key must not be empty"));
  EXPECT_TRUE(ThrowsDomainError(
      [] {
        Build({"a", std::string(201, 'k')}, {});
      },
      k22023, "longer than 200 bytes"));
  EXPECT_TRUE(ThrowsDomainError(
      [] {
        Build({"a", "b", "a"}, {});
      },
      k22023, "nodes[2]: key \"a\" is used twice"));
  EXPECT_TRUE(ThrowsDomainError(
      [] {
        Build({"a"}, {{"a", "zz"}});
      },
      k22023, "edges[0]: unknown node key \"zz\" in \"to\""));
  EXPECT_TRUE(ThrowsDomainError(
      [] {
        Build({"a"}, {{"x", "a"}});
      },
      k22023, "unknown node key \"x\" in \"from\""));
  EXPECT_TRUE(ThrowsDomainError(
      [] {
        Build({"a"}, {{"a", "a"}});
      },
      k22023, "cannot depend on itself"));
  EXPECT_TRUE(ThrowsDomainError(
      [] {
        Build({"a", "b"}, {{"a", "b"}, {"a", "b"}});
      },
      k22023, "edges[1]: the edge \"a\" -> \"b\" is given twice"));
}

TEST(WorkflowGraph, RefusesCyclesAndNamesOne) {
  EXPECT_TRUE(ThrowsDomainError(
      [] {
        Build({"a", "b"}, {{"a", "b"}, {"b", "a"}});
      },
      k22023, "workflow has a cycle: "));
  // A cycle behind a valid prefix: x -> a -> b -> c -> a.
  try {
    Build({"x", "a", "b", "c"}, {{"x", "a"}, {"a", "b"}, {"b", "c"}, {"c", "a"}});
    FAIL() << "cycle not refused";
  } catch (const DomainError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("\"a\" -> \"b\" -> \"c\" -> \"a\""), std::string::npos) << m;
    EXPECT_EQ(m.find("\"x\""), std::string::npos) << m;
  }
}

TEST(WorkflowGraph, LimitsAreCheckedFirst) {
  std::vector<std::string> keys(11, "");  // empty keys would be refused, but the limit comes first
  EXPECT_TRUE(ThrowsDomainError([&] { Build(keys, {}, 10, 10); }, k22023,
                                "workflow has 11 nodes, the limit is 10"));
  std::vector<WorkflowEdgeSpec> edges(3, {"a", "b"});
  EXPECT_TRUE(ThrowsDomainError(
      [&] {
        Build({"a", "b"}, edges, 10, 2);
      },
      k22023, "workflow has 3 edges, the limit is 2"));
}

TEST(WorkflowGraph, LongChainAndWideFanInAreIterative) {
  // 200,000 nodes in one chain: a recursive check would exhaust the stack.
  const std::size_t n = 200000;
  std::vector<std::string> keys;
  std::vector<WorkflowEdgeSpec> edges;
  for (std::size_t i = 0; i < n; ++i) keys.push_back("n" + std::to_string(i));
  for (std::size_t i = 1; i < n; ++i) edges.push_back({keys[i - 1], keys[i]});
  WorkflowGraph g = BuildWorkflowGraph(keys, edges, n, n);
  EXPECT_EQ(g.dependency_count[n - 1], 1);
  // A cycle closing the chain is found too.
  edges.push_back({keys[n - 1], keys[0]});
  EXPECT_TRUE(ThrowsDomainError([&] { BuildWorkflowGraph(keys, edges, n, n); }, k22023, "... -> "));
  // Fan-in: the sink's reason names ten and counts the rest.
  std::vector<std::string> fan{"sink"};
  std::vector<WorkflowEdgeSpec> fe;
  for (int i = 0; i < 25; ++i) {
    fan.push_back("p" + std::to_string(i));
    fe.push_back({fan.back(), "sink"});
  }
  WorkflowGraph f = Build(fan, fe);
  EXPECT_EQ(f.dependency_count[0], 25);
  EXPECT_EQ(f.wait_reason[0],
            "waiting for 25 dependencies: p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, and 15 more");
}

}  // namespace
}  // namespace taskflow::core
