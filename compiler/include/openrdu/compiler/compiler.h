// sncompile as a library: ONNX (or the IR) in, PEF out.
#pragma once
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/pef/pef.h"

namespace openrdu::compiler {

struct Options {
  int opt_level = 0;  // 0, 1, 3 (only O0 lowering exists so far: one operator per section)
};

// Errors name the node (name and op type), tensor or file concerned.
class CompileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

pef::Pef compile_onnx_file(const std::string& onnx_path, const arch::Config& cfg, const Options& opts = {});

// A host tensor: fp32 data and shape.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// CPU reference: interpret the ONNX graph (through the compiler's IR) on the host.
std::map<std::string, HostTensor> reference_run(const std::string& onnx_path,
                                                const std::map<std::string, HostTensor>& inputs);

// Read a serialized onnx.TensorProto (.pb, as in the ONNX test data), fp32 only.
HostTensor load_tensor_pb(const std::string& path, std::string* name = nullptr);

}  // namespace openrdu::compiler
