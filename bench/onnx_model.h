// The benchmarks' ONNX models, built in memory (IR 8, opset 17): one way to declare a
// model, a node and a tensor's type.
#pragma once
#include <onnx/onnx_pb.h>

#include <initializer_list>
#include <string>

namespace openrdu::bench {

// Starts m as a model by `producer` of one graph named `graph`; returns the graph.
inline onnx::GraphProto* start_model(onnx::ModelProto& m, const std::string& producer, const std::string& graph) {
  m.set_ir_version(8);
  m.set_producer_name(producer);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name(graph);
  return g;
}

// Node `name` of type `op` in g.
inline onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::string& name,
                                 std::initializer_list<std::string> inputs, std::initializer_list<std::string> outputs) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

// v: an fp32 tensor `name` of shape dims.
inline void value_info(onnx::ValueInfoProto* v, const std::string& name, std::initializer_list<int64_t> dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

}  // namespace openrdu::bench
