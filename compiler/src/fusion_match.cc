// Matching fusion rules on the graph (openrdu/compiler/fusion.h).
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>

#include "openrdu/compiler/fusion.h"

namespace openrdu::compiler {
namespace {

// A rule's pattern with some optional entries absent: the present entries and the edges
// between them (an absent entry's parents feed its children).
struct Shape {
  std::vector<const FusionEntry*> entries;
  std::vector<std::pair<int, int>> edges;  // parent index -> child index
};

Shape contract(const FusionRule& r, uint32_t absent) {
  std::map<std::string, int> index;
  for (size_t i = 0; i < r.entries.size(); ++i) index[r.entries[i].name] = int(i);
  // Present descendants of entry i through absent entries.
  std::function<void(int, std::set<int>&)> reach = [&](int i, std::set<int>& out) {
    for (const auto& c : r.entries[size_t(i)].children) {
      const int k = index.at(c);
      if (absent >> k & 1)
        reach(k, out);
      else
        out.insert(k);
    }
  };
  Shape s;
  std::map<int, int> pos;
  for (size_t i = 0; i < r.entries.size(); ++i)
    if (!(absent >> i & 1)) {
      pos[int(i)] = int(s.entries.size());
      s.entries.push_back(&r.entries[i]);
    }
  for (const auto& [i, p] : pos) {
    std::set<int> kids;
    reach(i, kids);
    for (int k : kids) s.edges.push_back({p, pos.at(k)});
  }
  return s;
}

bool feeds(const Graph& g, int parent, int child) {
  for (int t : g.nodes[size_t(child)].inputs)
    if (g.tensors[size_t(t)].producer == parent) return true;
  return false;
}

// The shape's entries in breadth-first order over its (undirected) edges, so that every
// entry after the first has an edge to an earlier one.
Shape connected_order(const Shape& s) {
  std::vector<int> order = {0}, pos(s.entries.size(), -1);
  pos[0] = 0;
  for (size_t q = 0; q < order.size(); ++q)
    for (const auto& [p, c] : s.edges)
      for (const auto& [a, b] : {std::pair{p, c}, std::pair{c, p}})
        if (a == order[q] && pos[size_t(b)] < 0) {
          pos[size_t(b)] = int(order.size());
          order.push_back(b);
        }
  Shape o;
  for (int i : order) o.entries.push_back(s.entries[size_t(i)]);
  if (o.entries.size() != s.entries.size()) return o;  // not connected
  for (const auto& [p, c] : s.edges) o.edges.push_back({pos[size_t(p)], pos[size_t(c)]});
  return o;
}

// Nodes next to node n: its consumers (down) or the producers of its inputs (up).
std::vector<int> neighbours(const Graph& g, const std::vector<std::vector<int>>& consumers, int n, bool down) {
  std::vector<int> v;
  if (down) {
    for (int t : g.nodes[size_t(n)].outputs)
      for (int c : consumers[size_t(t)]) v.push_back(c);
  } else {
    for (int t : g.nodes[size_t(n)].inputs)
      if (g.tensors[size_t(t)].producer >= 0) v.push_back(g.tensors[size_t(t)].producer);
  }
  return v;
}

struct Matcher {
  const Graph& g;
  const Shape& s;  // connected_order
  std::vector<std::vector<int>> consumers;
  std::vector<std::vector<int>> found;

  // Candidates for entry k: every node for the first, else the neighbours of an earlier
  // entry it has an edge with.
  std::vector<int> candidates(const std::vector<int>& at, size_t k) const {
    if (k == 0) {
      std::vector<int> all(g.nodes.size());
      for (size_t n = 0; n < all.size(); ++n) all[n] = int(n);
      return all;
    }
    for (const auto& [p, c] : s.edges) {
      if (size_t(c) == k && size_t(p) < k) return neighbours(g, consumers, at[size_t(p)], true);
      if (size_t(p) == k && size_t(c) < k) return neighbours(g, consumers, at[size_t(c)], false);
    }
    return {};
  }

  // Every injective assignment of nodes to the entries (op types equal, edges fed).
  void assign(std::vector<int>& at, size_t k) {
    if (k == s.entries.size()) {
      found.push_back(at);
      return;
    }
    std::vector<int> cand = candidates(at, k);
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
    for (int n : cand) {
      if (g.nodes[size_t(n)].op != s.entries[k]->op_type ||
          std::find(at.begin(), at.begin() + long(k), n) != at.begin() + long(k))
        continue;
      at[k] = n;
      bool ok = true;
      for (const auto& [p, c] : s.edges)
        if (size_t(std::max(p, c)) == k && !feeds(g, at[size_t(p)], at[size_t(c)])) ok = false;
      if (ok) assign(at, k + 1);
    }
  }
};

std::vector<FusionModule> rule_matches(const Graph& g, const FusionRule& r) {
  std::vector<int> opt;
  for (size_t i = 0; i < r.entries.size(); ++i)
    if (r.entries[i].optional) opt.push_back(int(i));
  std::vector<FusionModule> out;
  for (uint32_t m = 0; m < (1u << opt.size()); ++m) {  // at most 8 optional entries (fusion_rules.cc)
    uint32_t absent = 0;
    for (size_t b = 0; b < opt.size(); ++b)
      if (m >> b & 1) absent |= 1u << opt[b];
    const Shape full = contract(r, absent);
    const Shape s = connected_order(full);
    if (s.entries.size() != full.entries.size()) continue;  // the absent entries disconnect it
    Matcher mt{g, s, std::vector<std::vector<int>>(g.tensors.size()), {}};
    for (size_t n = 0; n < g.nodes.size(); ++n)
      for (int t : g.nodes[n].inputs) mt.consumers[size_t(t)].push_back(int(n));
    std::vector<int> at(s.entries.size(), -1);
    mt.assign(at, 0);
    for (const auto& f : mt.found) {
      FusionModule fm;
      fm.rule = &r;
      for (size_t k = 0; k < f.size(); ++k) fm.nodes[s.entries[k]->name] = f[k];
      out.push_back(std::move(fm));
    }
  }
  return out;
}

}  // namespace

std::vector<int> FusionModule::node_ids() const {
  std::vector<int> v;
  for (const auto& [e, n] : nodes) v.push_back(n);
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<FusionModule> match_fusion_rules(const Graph& g, const std::vector<FusionRule>& rules) {
  std::vector<FusionModule> all;
  for (const auto& r : rules)
    for (auto& m : rule_matches(g, r)) all.push_back(std::move(m));
  std::stable_sort(all.begin(), all.end(), [](const FusionModule& a, const FusionModule& b) {
    if (a.rule->priority != b.rule->priority) return a.rule->priority > b.rule->priority;
    if (a.nodes.size() != b.nodes.size()) return a.nodes.size() > b.nodes.size();
    return a.node_ids().front() < b.node_ids().front();
  });
  std::vector<bool> taken(g.nodes.size(), false);
  std::vector<FusionModule> out;
  for (auto& m : all) {
    const auto ids = m.node_ids();
    if (std::any_of(ids.begin(), ids.end(), [&](int n) { return taken[size_t(n)]; })) continue;
    for (int n : ids) taken[size_t(n)] = true;
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const FusionModule& a, const FusionModule& b) { return a.node_ids().front() < b.node_ids().front(); });
  return out;
}

std::string print_modules(const Graph& g, const std::vector<FusionModule>& modules) {
  std::string out;
  for (size_t i = 0; i < modules.size(); ++i) {
    const auto& m = modules[i];
    std::string entries;
    for (const auto& e : m.rule->entries) {
      const auto it = m.nodes.find(e.name);
      if (it == m.nodes.end()) continue;
      const Node& n = g.nodes[size_t(it->second)];
      entries += fmt::format("{}{}={} ({})", entries.empty() ? "" : ", ", e.name, n.name, n.op);
    }
    out += fmt::format("module {}: rule '{}' (heuristic {}): {}\n", i, m.rule->name, m.rule->heuristic, entries);
  }
  return out;
}

}  // namespace openrdu::compiler
