#include "workflow.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <utility>

#include "errors.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {
namespace {

[[noreturn]] void Refuse(std::string message, std::string hint = {}) {
  throw DomainError(ErrorCode::InvalidParameterValue, std::move(message), std::move(hint));
}

// A key as it appears in a message: quoted, and cut at 40 bytes.
std::string Quote(const std::string& key) {
  if (key.size() <= 40) return "\"" + key + "\"";
  return "\"" + key.substr(0, 40) + "...\"";
}

}  // namespace

std::string WaitReason(const std::vector<std::string>& names, std::size_t shown) {
  std::string out = "waiting for " + std::to_string(names.size()) +
                    (names.size() == 1 ? " dependency: " : " dependencies: ");
  for (std::size_t i = 0; i < names.size() && i < shown; ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  if (names.size() > shown) out += ", and " + std::to_string(names.size() - shown) + " more";
  return out;
}

namespace {

void CheckSizes(std::size_t nodes, std::size_t edges, std::size_t max_nodes,
                std::size_t max_edges) {
  const std::string limits_hint =
      "taskflow.max_workflow_nodes and taskflow.max_workflow_edges set the limits.";
  if (nodes > max_nodes) {
    Refuse("workflow has " + std::to_string(nodes) + " nodes, the limit is " +
               std::to_string(max_nodes),
           limits_hint);
  }
  if (edges > max_edges) {
    Refuse("workflow has " + std::to_string(edges) + " edges, the limit is " +
               std::to_string(max_edges),
           limits_hint);
  }
  if (nodes == 0) Refuse("workflow has no nodes");
}

// Each key's node number; refuses empty, overlong and repeated keys.
std::unordered_map<std::string, std::size_t> IndexKeys(const std::vector<std::string>& keys) {
  std::unordered_map<std::string, std::size_t> index;
  index.reserve(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string& k = keys[i];
    if (k.empty()) Refuse("nodes[" + std::to_string(i) + "]: key must not be empty");
    if (k.size() > kMaxWorkflowKeyBytes) {
      Refuse("nodes[" + std::to_string(i) + "]: key is longer than " +
             std::to_string(kMaxWorkflowKeyBytes) + " bytes");
    }
    if (!index.emplace(k, i).second) {
      Refuse("nodes[" + std::to_string(i) + "]: key " + Quote(k) + " is used twice");
    }
  }
  return index;
}

// The edges by node number into g (and each node's dependency count); refuses unknown keys,
// self-dependencies and repeated edges.
void AddEdges(const std::unordered_map<std::string, std::size_t>& index,
              const std::vector<WorkflowEdgeSpec>& edges, WorkflowGraph& g) {
  g.edges.reserve(edges.size());
  g.dependency_count.assign(index.size(), 0);
  std::set<std::pair<std::size_t, std::size_t>> seen;
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const WorkflowEdgeSpec& e = edges[i];
    const std::string where = "edges[" + std::to_string(i) + "]: ";
    auto from = index.find(e.from);
    if (from == index.end()) Refuse(where + "unknown node key " + Quote(e.from) + " in \"from\"");
    auto to = index.find(e.to);
    if (to == index.end()) Refuse(where + "unknown node key " + Quote(e.to) + " in \"to\"");
    if (from->second == to->second) {
      Refuse(where + "node " + Quote(e.from) + " cannot depend on itself");
    }
    if (!seen.emplace(from->second, to->second).second) {
      Refuse(where + "the edge " + Quote(e.from) + " -> " + Quote(e.to) + " is given twice");
    }
    g.edges.push_back({from->second, to->second, e.on_failure});
    g.dependency_count[to->second]++;
  }
}

// Refuses the graph with one of its cycles, found from the nodes Kahn's walk could not visit
// (indegree > 0): walk back along unvisited dependencies from one until a node repeats (every
// unvisited node has an unvisited dependency).
[[noreturn]] void RefuseCycle(const std::vector<std::string>& keys,
                              const std::vector<std::vector<std::size_t>>& in,
                              const std::vector<int>& indegree) {
  std::size_t start = 0;
  while (indegree[start] == 0) ++start;
  std::vector<std::size_t> path;
  std::vector<long> pos(keys.size(), -1);
  std::size_t n = start;
  while (pos[n] < 0) {
    pos[n] = static_cast<long>(path.size());
    path.push_back(n);
    for (std::size_t p : in[n]) {
      if (indegree[p] > 0) {
        n = p;
        break;
      }
    }
  }
  // path[pos[n]..] walked dependencies backwards; print it in dependency order.
  std::vector<std::size_t> cycle(path.begin() + pos[n], path.end());
  std::reverse(cycle.begin(), cycle.end());
  // Start at the node given first, so the message does not depend on where the walk began.
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
  std::string text;
  for (std::size_t i = 0; i < cycle.size() && i < 10; ++i) text += Quote(keys[cycle[i]]) + " -> ";
  if (cycle.size() > 10) text += "... -> ";
  text += Quote(keys[cycle[0]]);
  Refuse("workflow has a cycle: " + text, "A workflow must be a directed acyclic graph.");
}

// Kahn: repeatedly take the nodes with no unvisited dependency. Whatever remains is on, or
// behind, a cycle, which is refused.
void CheckAcyclic(const std::vector<std::string>& keys, const WorkflowGraph& g) {
  std::vector<std::vector<std::size_t>> out(keys.size());
  std::vector<std::vector<std::size_t>> in(keys.size());
  for (const WorkflowEdge& e : g.edges) {
    out[e.from].push_back(e.to);
    in[e.to].push_back(e.from);
  }
  std::vector<int> indegree = g.dependency_count;
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (indegree[i] == 0) ready.push_back(i);
  }
  std::size_t visited = 0;
  while (!ready.empty()) {
    std::size_t n = ready.back();
    ready.pop_back();
    ++visited;
    for (std::size_t m : out[n]) {
      if (--indegree[m] == 0) ready.push_back(m);
    }
  }
  if (visited != keys.size()) RefuseCycle(keys, in, indegree);
}

// Each node's wait reason (empty for a node without dependencies).
std::vector<std::string> WaitReasons(const std::vector<std::string>& keys, const WorkflowGraph& g) {
  std::vector<std::string> reasons(keys.size());
  std::vector<std::vector<std::string>> names(keys.size());
  for (const WorkflowEdge& e : g.edges) {
    if (names[e.to].size() <= 10) names[e.to].push_back(keys[e.from]);
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (g.dependency_count[i] == 0) continue;
    std::vector<std::string>& v = names[i];
    // WaitReason counts the names; pad the count with placeholders beyond the shown ones.
    std::string reason = WaitReason(v, 10);
    if (static_cast<std::size_t>(g.dependency_count[i]) != v.size()) {
      std::vector<std::string> all(v.begin(), v.end());
      all.resize(static_cast<std::size_t>(g.dependency_count[i]));
      reason = WaitReason(all, 10);
    }
    reasons[i] = std::move(reason);
  }
  return reasons;
}

}  // namespace

WorkflowGraph BuildWorkflowGraph(const std::vector<std::string>& keys,
                                 const std::vector<WorkflowEdgeSpec>& edges, std::size_t max_nodes,
                                 std::size_t max_edges) {
  CheckSizes(keys.size(), edges.size(), max_nodes, max_edges);
  const std::unordered_map<std::string, std::size_t> index = IndexKeys(keys);
  WorkflowGraph g;
  AddEdges(index, edges, g);
  CheckAcyclic(keys, g);
  g.wait_reason = WaitReasons(keys, g);
  return g;
}

}  // namespace taskflow::core
