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
  int opt_level = 0;  // 0 (one operator per section), 1 (elementwise chains fused), 3 (and pipelines)
  // Streaming (elementwise, copy) sections cut into parallel parts on several AGCUs:
  // 0 as many as the estimate favours, 1 never, N >= 2 exactly N where the section's
  // walk and the grid allow it (for tests and experiments).
  int stream_parts = 0;
  // MatMul/Gemm products: PCUs per drain chain (`docs/compiler.md`): 0 as
  // the estimate favours, N exactly N (an error naming the node when the tile's rows,
  // at most LANES, or the PCUs do not allow it; for tests and experiments).
  int matmul_chain = 0;
  // -O3: a ReduceMax/Min over the last axis whose result is only read by the Add, Sub,
  // Mul, Max or Min starting an elementwise chain runs in that chain's section, its row
  // results sent over the scalar network (`docs/compiler.md`); false keeps
  // them in sections of their own (for comparisons and tests).
  bool scalar_fusion = true;
  // Fusion rule files (fusion.h) used at -O1 and -O3 beside the built-in rules of
  // compiler/rules/ (sncompile --fusion-rules).
  std::vector<std::string> fusion_rules;
  // -O1/-O3: the heuristic of every module instead of its rule's (heuristic.h; sncompile
  // --heuristic), and an O1HD parameter file fixing modules' parameters (sncompile --hd).
  std::string heuristic;
  std::string hd_file;
  // Tiles (`docs/hardware.md` ("Tiles")): 0 compiles for whole devices; N places and
  // routes on the first N tiles of the configuration only, and the PEF (META `tiles`,
  // `tile_shape`) loads onto any N consecutive tiles of one device, relocated at load
  // (`docs/bitstream.md` ("Relocation onto tiles")).
  uint32_t tiles = 0;
};

// Errors name the node (name and op type), tensor or file concerned.
class CompileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a compilation produced, for the tool's summary.
struct SectionStats {
  std::string name;   // the node (O0) or fused nodes it runs
  std::string units;  // e.g. "pcu0 (slot 0,0); agcu0.ld0 agcu1.ld0 agcu0.st0; 3 switches"
  uint64_t vectors = 0;
  uint32_t bitstream_words = 0;
};
struct CompileStats {
  std::vector<SectionStats> sections;
  uint32_t pcus = 0;          // PCU instances over all sections
  uint32_t agcu_streams = 0;  // AGCU load and store streams over all sections
  uint32_t switches = 0;      // configured switches over all sections
  uint64_t dram_bytes = 0;    // end of the DRAM layout (tensors and bitstreams) in bytes
};

pef::Pef compile_onnx_file(const std::string& onnx_path, const arch::Config& cfg, const Options& opts = {},
                           CompileStats* stats = nullptr);

// By extension: .yaml/.yml test graphs (compiler/README.md), anything else ONNX; the whole
// pass pipeline (compile_file), GRAPH for an ONNX model.
pef::Pef compile_model_file(const std::string& path, const arch::Config& cfg, const Options& opts = {},
                            CompileStats* stats = nullptr);

// The compiler's version (PROJECT_VERSION), recorded in the PEF metadata.
const char* version();

// A host tensor: its shape and values in C order: fp32 (and bool, as 0.0f/1.0f) in
// `data`, integers (int64 graph inputs such as class labels) in `idata`.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  std::vector<int64_t> idata = {};
};

// CPU reference: interpret the model (ONNX, or a .yaml/.yml test graph) through the
// compiler's IR on the host.
std::map<std::string, HostTensor> reference_run(const std::string& onnx_path,
                                                const std::map<std::string, HostTensor>& inputs);

// Read a serialized onnx.TensorProto (.pb, as in the ONNX test data): fp32 into data,
// INT64/INT32 into idata.
HostTensor load_tensor_pb(const std::string& path, std::string* name = nullptr);

}  // namespace openrdu::compiler
