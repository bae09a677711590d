// pef_edit IN.pef OUT.pef [--graph MODEL.onnx] [--meta KEY=VALUE]... [--dtype TENSOR=DTYPE]...
// Test helper for the CLI tests: replaces a PEF's GRAPH section (the model `snrun --test`
// runs on the CPU), sets META keys (e.g. the train.* keys of a hand-made training PEF),
// sets a tensor's dtype (fp32, int64, int32, bool; the device bytes stay 4 per element).
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "openrdu/pef/pef.h"

namespace {

std::pair<std::string, std::string> split(const std::string& s, const std::string& opt) {
  const auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) throw std::runtime_error(opt + " " + s + ": expected NAME=VALUE");
  return {s.substr(0, eq), s.substr(eq + 1)};
}

openrdu::pef::DType parse_dtype(const std::string& s) {
  using openrdu::pef::DType;
  for (DType d : {DType::F32, DType::I64, DType::I32, DType::BOOL})
    if (s == openrdu::pef::dtype_name(d)) return d;
  throw std::runtime_error("--dtype: unknown dtype '" + s + "' (fp32, int64, int32, bool)");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc % 2 == 0) {
    std::fprintf(stderr, "usage: pef_edit IN.pef OUT.pef [--graph MODEL.onnx] [--meta K=V]... [--dtype T=DTYPE]...\n");
    return 2;
  }
  try {
    auto p = openrdu::pef::read_file(argv[1]);
    for (int i = 3; i + 1 < argc; i += 2) {
      const std::string opt = argv[i], arg = argv[i + 1];
      if (opt == "--graph") {
        std::ifstream in(arg, std::ios::binary);
        if (!in) throw std::runtime_error(arg + ": cannot open");
        p.graph.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      } else if (opt == "--meta") {
        const auto [k, v] = split(arg, opt);
        p.meta[k] = v;
      } else if (opt == "--dtype") {
        const auto [name, dt] = split(arg, opt);
        bool found = false;
        for (auto& t : p.tensors)
          if (t.name == name) t.dtype = parse_dtype(dt), found = true;
        if (!found) throw std::runtime_error("--dtype: no tensor '" + name + "'");
      } else {
        throw std::runtime_error("unknown option " + opt);
      }
    }
    openrdu::pef::write_file(p, argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pef_edit: %s\n", e.what());
    return 1;
  }
  return 0;
}
