// Fusion rule files: parsing and checks (openrdu/compiler/fusion.h).
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <set>

#include "openrdu/arch/file.h"
#include "openrdu/arch/printable.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/fusion.h"
#include "openrdu/compiler/heuristic.h"

namespace openrdu::compiler {
namespace {

// Errors "FILE:LINE: rule 'R': WHAT".
struct Where {
  const std::string& source;
  std::string rule;
  [[noreturn]] void fail(const YAML::Node& at, const std::string& what) const {
    const int line = at.IsDefined() ? at.Mark().line + 1 : 0;
    const std::string r = rule.empty() ? "" : fmt::format("rule '{}': ", arch::printable(rule));
    throw CompileError(fmt::format("{}:{}: {}{}", source, line, r, what));
  }
};

void check_keys(const Where& w, const YAML::Node& map, const std::set<std::string>& allowed, const std::string& what) {
  if (!map.IsMap()) w.fail(map, fmt::format("{}: expected a mapping", what));
  for (const auto& kv : map) {
    const std::string k = kv.first.Scalar();
    if (!allowed.count(k)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      w.fail(kv.first, fmt::format("{}: unknown field '{}' (fields: {})", what, arch::printable(k), list));
    }
  }
}

FusionEntry parse_entry(const Where& w, const YAML::Node& key, const YAML::Node& e) {
  FusionEntry fe;
  fe.name = key.Scalar();
  fe.line = key.Mark().line + 1;
  const std::string what = fmt::format("pattern entry '{}'", arch::printable(fe.name));
  check_keys(w, e, {"op_type", "child", "children", "optional"}, what);
  if (!e["op_type"] || !e["op_type"].IsScalar()) w.fail(key, what + ": field 'op_type' is missing");
  fe.op_type = e["op_type"].Scalar();
  if (!find_op(fe.op_type))
    w.fail(e["op_type"], fmt::format("{}: field 'op_type': '{}' is not an ONNX operator the compiler knows", what,
                                     arch::printable(fe.op_type)));
  if (e["child"] && e["children"]) w.fail(e["children"], what + ": give 'child' or 'children', not both");
  if (e["child"]) {
    if (!e["child"].IsScalar()) w.fail(e["child"], what + ": field 'child': expected one entry name");
    fe.children.push_back(e["child"].Scalar());
  }
  if (e["children"]) {
    if (!e["children"].IsSequence()) w.fail(e["children"], what + ": field 'children': expected a list of entry names");
    for (const auto& c : e["children"]) fe.children.push_back(c.Scalar());
  }
  if (e["optional"]) {
    try {
      fe.optional = e["optional"].as<bool>();
    } catch (const YAML::Exception&) {
      w.fail(e["optional"], what + ": field 'optional': expected true or false");
    }
  }
  return fe;
}

// Children name entries; the pattern is acyclic and connected; something is required.
void check_pattern(const Where& w, const YAML::Node& pattern, const FusionRule& r) {
  std::map<std::string, const FusionEntry*> by_name;
  for (const auto& e : r.entries) by_name[e.name] = &e;
  for (const auto& e : r.entries)
    for (const auto& c : e.children)
      if (!by_name.count(c)) {
        const YAML::Node entry = pattern[e.name];
        w.fail(entry["child"] ? entry["child"] : entry["children"],
               fmt::format("pattern entry '{}': field '{}': '{}' is not an entry of the pattern", arch::printable(e.name),
                           entry["child"] ? "child" : "children", arch::printable(c)));
      }
  std::map<std::string, int> state;  // 1 visiting, 2 done
  std::function<void(const FusionEntry&)> visit = [&](const FusionEntry& e) {
    state[e.name] = 1;
    for (const auto& c : e.children) {
      if (state[c] == 1)
        w.fail(pattern[e.name], fmt::format("pattern entry '{}': its child '{}' closes a cycle",
                                            arch::printable(e.name), arch::printable(c)));
      if (state[c] == 0) visit(*by_name[c]);
    }
    state[e.name] = 2;
  };
  for (const auto& e : r.entries)
    if (state[e.name] == 0) visit(e);
  std::map<std::string, std::string> comp;  // union-find over the undirected edges
  std::function<std::string(const std::string&)> root = [&](const std::string& x) {
    return comp[x] == x ? x : comp[x] = root(comp[x]);
  };
  for (const auto& e : r.entries) comp[e.name] = e.name;
  for (const auto& e : r.entries)
    for (const auto& c : e.children) comp[root(e.name)] = root(c);
  for (const auto& e : r.entries)
    if (root(e.name) != root(r.entries.front().name))
      w.fail(pattern[e.name], fmt::format("pattern entry '{}' is not connected to entry '{}'", arch::printable(e.name),
                                          arch::printable(r.entries.front().name)));
  if (std::all_of(r.entries.begin(), r.entries.end(), [](const FusionEntry& e) { return e.optional; }))
    w.fail(pattern, "field 'pattern': every entry is optional");
  if (std::count_if(r.entries.begin(), r.entries.end(), [](const FusionEntry& e) { return e.optional; }) > 8)
    w.fail(pattern, "field 'pattern': more than 8 optional entries (each doubles the shapes matched)");
}

FusionRule parse_rule(const std::string& source, const YAML::Node& key, const YAML::Node& body) {
  FusionRule r;
  r.name = key.Scalar();
  r.file = source;
  r.line = key.Mark().line + 1;
  const Where w{source, r.name};
  check_keys(w, body, {"priority", "heuristic", "pattern"}, "the rule");
  if (!body["priority"]) w.fail(key, "field 'priority' is missing");
  try {
    r.priority = body["priority"].as<int>();
  } catch (const YAML::Exception&) {
    w.fail(body["priority"], fmt::format("field 'priority': '{}' is not an integer",
                                         arch::printable(body["priority"].IsScalar() ? body["priority"].Scalar() : "")));
  }
  if (body["heuristic"]) {
    r.heuristic = body["heuristic"].Scalar();
    if (!find_heuristic(r.heuristic)) {
      std::string names;
      for (const auto& h : fusion_heuristic_list()) names += (names.empty() ? "" : ", ") + h->name();
      w.fail(body["heuristic"], fmt::format("field 'heuristic': '{}' is not one of {}", arch::printable(r.heuristic), names));
    }
  }
  const YAML::Node pattern = body["pattern"];
  if (!pattern || !pattern.IsMap() || pattern.size() == 0)
    w.fail(pattern ? pattern : key, "field 'pattern': expected a mapping of entry names to entries");
  for (const auto& kv : pattern) {
    r.entries.push_back(parse_entry(w, kv.first, kv.second));
    for (size_t i = 0; i + 1 < r.entries.size(); ++i)
      if (r.entries[i].name == r.entries.back().name)
        w.fail(kv.first, fmt::format("pattern entry '{}' is defined twice (line {})", arch::printable(r.entries[i].name),
                                     r.entries[i].line));
  }
  check_pattern(w, pattern, r);
  return r;
}

}  // namespace

std::vector<FusionRule> parse_fusion_rules(const std::string& text, const std::string& source) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw CompileError(fmt::format("{}:{}: not valid YAML: {}", source, e.mark.line + 1, e.msg));
  }
  const Where w{source, ""};
  if (!doc.IsMap() || doc.size() == 0) w.fail(doc, "expected a mapping of rule names to rules");
  std::vector<FusionRule> rules;
  for (const auto& kv : doc) {
    rules.push_back(parse_rule(source, kv.first, kv.second));
    for (size_t i = 0; i + 1 < rules.size(); ++i)
      if (rules[i].name == rules.back().name)
        w.fail(kv.first, fmt::format("rule '{}' is defined twice (line {})", arch::printable(rules[i].name),
                                     rules[i].line));
  }
  return rules;
}

std::vector<FusionRule> load_fusion_rules(const std::string& path) {
  const auto bytes = arch::read_file_capped(path, uint64_t(16) << 20);
  return parse_fusion_rules(std::string(bytes.begin(), bytes.end()), path);
}

}  // namespace openrdu::compiler

namespace openrdu::compiler {

namespace detail {
const std::vector<std::pair<std::string, std::string>>& builtin_rule_files();  // builtin_rules.cc (generated)
}  // namespace detail

const std::vector<FusionRule>& builtin_fusion_rules() {
  static const std::vector<FusionRule> rules = [] {
    std::vector<FusionRule> all;
    for (const auto& [file, text] : detail::builtin_rule_files())
      for (auto& r : parse_fusion_rules(text, file)) all.push_back(std::move(r));
    return all;
  }();
  return rules;
}

}  // namespace openrdu::compiler
