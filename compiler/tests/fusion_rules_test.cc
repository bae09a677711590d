// Fusion rules (openrdu/compiler/fusion.h): the file checks, and every shipped rule
// matching a graph that has its module and not a near miss.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/fusion.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::string& text) {
  try {
    parse_fusion_rules(text, "r.yaml");
  } catch (const CompileError& e) {
    return e.what();
  }
  return "";
}

TEST(FusionRuleFile, ErrorsNameTheFileLineRuleAndField) {
  EXPECT_EQ(error_of("r1:\n  priority: 1\n  pattern:\n    a:\n      op_type: Rleu\n"),
            "r.yaml:5: rule 'r1': pattern entry 'a': field 'op_type': 'Rleu' is not an ONNX operator the compiler knows");
  EXPECT_EQ(error_of("r1:\n  priority: 1\n  pattern:\n    a:\n      op_type: Relu\n      child: b\n"),
            "r.yaml:6: rule 'r1': pattern entry 'a': field 'child': 'b' is not an entry of the pattern");
  EXPECT_EQ(error_of("r1:\n  priority: high\n  pattern:\n    a:\n      op_type: Relu\n"),
            "r.yaml:2: rule 'r1': field 'priority': 'high' is not an integer");
  EXPECT_THAT(error_of("r1:\n  priority: 1\n  pattern:\n    a: {op_type: Relu, child: b}\n    b: {op_type: Exp, child: a}\n"),
              HasSubstr("closes a cycle"));
  EXPECT_THAT(error_of("r1:\n  priority: 1\n  heuristic: FAST\n  pattern:\n    a: {op_type: Relu}\n"),
              HasSubstr("r.yaml:3: rule 'r1': field 'heuristic': 'FAST' is not one of default, GEMM, MHA"));
  EXPECT_THAT(error_of("r1:\n  priority: 1\n  pattern:\n    a: {op_type: Relu, kid: b}\n"),
              HasSubstr("r.yaml:4: rule 'r1': pattern entry 'a': unknown field 'kid'"));
  EXPECT_THAT(error_of("r1:\n  priority: 1\n  pattern:\n    a: {op_type: Relu}\n    b: {op_type: Exp}\n"),
              HasSubstr("pattern entry 'b' is not connected to entry 'a'"));
  EXPECT_THAT(error_of("r1:\n  priority: 1\n  pattern:\n    a: {op_type: Relu, optional: true}\n"),
              HasSubstr("every entry is optional"));
  EXPECT_THAT(error_of("r1:\n  pattern:\n    a: {op_type: Relu}\n"), HasSubstr("r.yaml:1: rule 'r1': field 'priority' is missing"));
  EXPECT_THAT(error_of("r1: {priority: 1, pattern: {a: {op_type: Relu}}}\nr1: {priority: 2, pattern: {a: {op_type: Exp}}}\n"),
              HasSubstr("rule 'r1' is defined twice"));
  EXPECT_THAT(error_of("r1: [1, 2"), HasSubstr("r.yaml:1: not valid YAML"));
  std::string many = "r1:\n  priority: 1\n  pattern:\n    a: {op_type: Relu, child: o0}\n";
  for (int k = 0; k < 9; ++k)
    many += "    o" + std::to_string(k) + ": {op_type: Relu, optional: true" +
            (k < 8 ? ", child: o" + std::to_string(k + 1) : std::string()) + "}\n";
  EXPECT_THAT(error_of(many), HasSubstr("more than 8 optional entries"));
}

TEST(FusionRuleFile, ShippedRulesLoad) {
  const auto& rules = builtin_fusion_rules();
  std::vector<std::string> names;
  for (const auto& r : rules) names.push_back(r.name);
  for (const char* n : {"gemm_activation", "matmul_bias_activation", "mlp_block", "gelu", "layernorm",
                        "residual_add_norm", "conv_bn_activation", "softmax", "attention"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
}

// The rule that claims `node` in g, or "" when no module holds it.
std::string rule_of(const Graph& g, const std::vector<FusionModule>& ms, const std::string& node) {
  for (const auto& m : ms)
    for (const auto& [e, n] : m.nodes)
      if (g.nodes[size_t(n)].name == node) return m.rule->name;
  return "";
}

Graph yaml(const std::string& body) {
  return load_yaml_string("name: t\nopset: 17\n" + body, "t.yaml");
}

TEST(FusionMatch, LinearBiasActivationWithAndWithoutItsOptionalBias) {
  const Graph g = yaml(R"(inputs: [{name: x, shape: [4, 8]}]
constants:
  - {name: w, shape: [8, 16], fill: 0.5}
  - {name: b, shape: [16], fill: 0.25}
  - {name: w2, shape: [16, 16], fill: 0.5}
nodes:
  - {op: MatMul, name: mm, inputs: [x, w], outputs: [h]}
  - {op: Add, name: bias, inputs: [h, b], outputs: [hb]}
  - {op: Relu, name: act, inputs: [hb], outputs: [y]}
  - {op: MatMul, name: mm2, inputs: [y, w2], outputs: [h2]}
  - {op: Relu, name: act2, inputs: [h2], outputs: [z]}
outputs: [z]
)");
  const auto ms = match_fusion_rules(g, builtin_fusion_rules());
  EXPECT_EQ(rule_of(g, ms, "mm"), "matmul_bias_activation");
  EXPECT_EQ(rule_of(g, ms, "bias"), "matmul_bias_activation");
  EXPECT_EQ(rule_of(g, ms, "act"), "matmul_bias_activation");
  EXPECT_EQ(rule_of(g, ms, "mm2"), "matmul_bias_activation");  // the bias is optional
  EXPECT_EQ(rule_of(g, ms, "act2"), "matmul_bias_activation");
}

TEST(FusionMatch, AGemmAloneAndNotAMatMul) {
  const Graph g = yaml(R"(inputs: [{name: x, shape: [4, 8]}]
constants:
  - {name: w, shape: [8, 16], fill: 0.5}
  - {name: b, shape: [16], fill: 0.25}
nodes:
  - {op: Gemm, name: fc, inputs: [x, w, b], outputs: [h]}
  - {op: MatMul, name: mm, inputs: [x, w], outputs: [y]}
  - {op: Exp, name: e, inputs: [h], outputs: [z]}
outputs: [y, z]
)");
  const auto ms = match_fusion_rules(g, builtin_fusion_rules());
  EXPECT_EQ(rule_of(g, ms, "fc"), "gemm");
  EXPECT_EQ(rule_of(g, ms, "mm"), "");
}

TEST(FusionMatch, NearMissesDoNotMatch) {
  // Relu before the product, and a product feeding an Exp: no linear module; the Add
  // after the Exp does not make a bias.
  const Graph g = yaml(R"(inputs: [{name: x, shape: [4, 8]}]
constants:
  - {name: w, shape: [8, 16], fill: 0.5}
  - {name: b, shape: [16], fill: 0.25}
nodes:
  - {op: Relu, name: act, inputs: [x], outputs: [r]}
  - {op: MatMul, name: mm, inputs: [r, w], outputs: [h]}
  - {op: Exp, name: e, inputs: [h], outputs: [he]}
  - {op: Add, name: bias, inputs: [he, b], outputs: [y]}
outputs: [y]
)");
  const auto ms = match_fusion_rules(g, builtin_fusion_rules());
  EXPECT_EQ(rule_of(g, ms, "act"), "");
  EXPECT_EQ(rule_of(g, ms, "mm"), "");
  EXPECT_EQ(rule_of(g, ms, "bias"), "");
}

TEST(FusionMatch, GeluAndTheMlpBlockWhichOutranksIt) {
  const std::string gelu = R"(
  - {op: Div, name: d, inputs: [h, sqrt2], outputs: [hd]}
  - {op: Erf, name: erf, inputs: [hd], outputs: [he]}
  - {op: Add, name: one, inputs: [he, c1], outputs: [h1]}
  - {op: Mul, name: tx, inputs: [h, h1], outputs: [hx]}
  - {op: Mul, name: half, inputs: [hx, c05], outputs: [g]}
)";
  const std::string consts = R"(constants:
  - {name: w1, shape: [8, 16], fill: 0.5}
  - {name: w2, shape: [16, 8], fill: 0.5}
  - {name: sqrt2, shape: [1], values: [1.4142135]}
  - {name: c1, shape: [1], values: [1]}
  - {name: c05, shape: [1], values: [0.5]}
)";
  const Graph mlp = yaml("inputs: [{name: x, shape: [4, 8]}]\n" + consts +
                         "nodes:\n  - {op: MatMul, name: fc1, inputs: [x, w1], outputs: [h]}" + gelu +
                         "  - {op: MatMul, name: fc2, inputs: [g, w2], outputs: [y]}\noutputs: [y]\n");
  const auto ms = match_fusion_rules(mlp, builtin_fusion_rules());
  for (const char* n : {"fc1", "d", "erf", "one", "tx", "half", "fc2"}) EXPECT_EQ(rule_of(mlp, ms, n), "mlp_block") << n;
  // Without the second product: GELU alone (the first product stays outside it).
  const Graph only = yaml("inputs: [{name: h, shape: [4, 16]}]\n" + consts + "nodes:" + gelu + "outputs: [g]\n");
  const auto mg = match_fusion_rules(only, builtin_fusion_rules());
  for (const char* n : {"d", "erf", "one", "tx", "half"}) EXPECT_EQ(rule_of(only, mg, n), "gelu") << n;
  // A near miss: x * (1 + erf(x / sqrt 2)) multiplied by another tensor than x.
  const Graph miss = yaml("inputs: [{name: h, shape: [4, 16]}, {name: z, shape: [4, 16]}]\n" + consts +
                          R"(nodes:
  - {op: Div, name: d, inputs: [h, sqrt2], outputs: [hd]}
  - {op: Erf, name: erf, inputs: [hd], outputs: [he]}
  - {op: Add, name: one, inputs: [he, c1], outputs: [h1]}
  - {op: Mul, name: tx, inputs: [z, z], outputs: [hx]}
  - {op: Mul, name: half, inputs: [hx, c05], outputs: [g]}
outputs: [g, h1]
)");
  EXPECT_EQ(rule_of(miss, match_fusion_rules(miss, builtin_fusion_rules()), "erf"), "");
}

TEST(FusionMatch, AttentionNormalisationConvSoftmax) {
  const Graph g = yaml(R"(inputs: [{name: q, shape: [2, 4, 8]}, {name: k, shape: [2, 8, 4]}, {name: v, shape: [2, 4, 8]},
         {name: r, shape: [2, 4, 8]}]
constants:
  - {name: s, shape: [1], values: [2.828427]}
  - {name: gamma, shape: [8], fill: 1}
  - {name: beta, shape: [8], fill: 0}
nodes:
  - {op: MatMul, name: qk, inputs: [q, k], outputs: [sc]}
  - {op: Div, name: scale, inputs: [sc, s], outputs: [ss]}
  - {op: Softmax, name: sm, inputs: [ss], outputs: [p], attrs: {axis: -1}}
  - {op: MatMul, name: pv, inputs: [p, v], outputs: [c]}
  - {op: Add, name: res, inputs: [c, r], outputs: [cr]}
  - {op: LayerNormalization, name: ln, inputs: [cr, gamma, beta], outputs: [y], attrs: {axis: -1}}
  - {op: Softmax, name: sm2, inputs: [y], outputs: [z], attrs: {axis: -1}}
outputs: [z]
)");
  const auto ms = match_fusion_rules(g, builtin_fusion_rules());
  for (const char* n : {"qk", "scale", "sm", "pv"}) EXPECT_EQ(rule_of(g, ms, n), "attention") << n;
  EXPECT_EQ(rule_of(g, ms, "res"), "residual_add_norm");
  EXPECT_EQ(rule_of(g, ms, "ln"), "residual_add_norm");
  EXPECT_EQ(rule_of(g, ms, "sm2"), "softmax");
}

TEST(FusionMatch, TheCausalAttentionExportFromPyTorch) {
  // examples/attention: Div by sqrt(d), masked_fill as Where, Softmax, the context product.
  const Graph g = import_onnx_file(std::string(OPENRDU_EXAMPLES_DIR) + "/attention/model.onnx");
  const auto ms = match_fusion_rules(g, builtin_fusion_rules());
  for (const char* n : {"/MatMul", "/Div", "/Where", "/Softmax", "/MatMul_1"}) EXPECT_EQ(rule_of(g, ms, n), "attention") << n;
  EXPECT_EQ(rule_of(g, ms, "/q/MatMul"), "matmul_bias");
  EXPECT_EQ(rule_of(g, ms, "/q/Add"), "matmul_bias");
}

TEST(FusionMatch, UserRulesAndPriorities) {
  const Graph g = yaml(R"(inputs: [{name: x, shape: [4, 8]}]
nodes:
  - {op: Exp, name: e, inputs: [x], outputs: [h]}
  - {op: Relu, name: r, inputs: [h], outputs: [y]}
outputs: [y]
)");
  auto rules = parse_fusion_rules(R"(
exp_relu:
  priority: 5
  pattern:
    e: {op_type: Exp, child: r}
    r: {op_type: Relu}
relu_only:
  priority: 9
  pattern:
    r: {op_type: Relu}
)", "user.yaml");
  auto ms = match_fusion_rules(g, rules);
  EXPECT_EQ(rule_of(g, ms, "r"), "relu_only");  // the higher priority wins
  EXPECT_EQ(rule_of(g, ms, "e"), "");
  rules[1].priority = 1;
  ms = match_fusion_rules(g, rules);
  EXPECT_EQ(rule_of(g, ms, "r"), "exp_relu");
  EXPECT_EQ(rule_of(g, ms, "e"), "exp_relu");
  EXPECT_THAT(print_modules(g, ms), HasSubstr("module 0: rule 'exp_relu' (heuristic default): e=e (Exp), r=r (Relu)"));
}

}  // namespace
}  // namespace openrdu::compiler
