// Workflows: the pure part of schedule_workflow. A workflow is a graph of jobs named by local
// keys; an edge says "`to` waits for `from`". This checks the graph a tenant sends (sizes, keys,
// edges, cycles) before anything is written. See docs/workflows.md.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "state_machine.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// Longest node key, in bytes.
inline constexpr std::size_t kMaxWorkflowKeyBytes = 200;

struct WorkflowEdgeSpec {
  std::string from;  // the dependency's key
  std::string to;    // the dependent's key
  OnDependencyFailure on_failure = OnDependencyFailure::Cancel;
};

struct WorkflowEdge {
  std::size_t from;  // node index of the dependency
  std::size_t to;    // node index of the dependent
  OnDependencyFailure on_failure;
};

struct WorkflowGraph {
  std::vector<WorkflowEdge> edges;       // in input order, as node indexes
  std::vector<int> dependency_count;     // per node: how many dependencies it waits for
  std::vector<std::string> wait_reason;  // per node: "" or "waiting for 2 dependencies: a, b"
};

// Checks and indexes a workflow graph. Throws DomainError:
//  - 22023 for: no nodes; a key that is empty, longer than kMaxWorkflowKeyBytes or repeated;
//    an edge naming an unknown key; an edge from a node to itself; the same edge twice; a cycle
//    (the message names its keys, "a -> b -> a");
//  - 22023 too for more than `max_nodes` nodes or `max_edges` edges (checked before anything
//    else is looked at, so an oversized graph costs nothing to refuse).
// Works iteratively (Kahn's algorithm), so no shape of graph can exhaust the stack.
WorkflowGraph BuildWorkflowGraph(const std::vector<std::string>& keys,
                                 const std::vector<WorkflowEdgeSpec>& edges, std::size_t max_nodes,
                                 std::size_t max_edges);

// "waiting for 2 dependencies: a, b" with at most `shown` names ("..., and 9998 more").
std::string WaitReason(const std::vector<std::string>& names, std::size_t shown = 10);

}  // namespace taskflow::core
