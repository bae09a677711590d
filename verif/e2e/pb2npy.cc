// e2e_pb2npy IN.pb OUT.npy: convert an ONNX test-data TensorProto to .npy; prints the tensor's name.
#include <cstdio>

#include "openrdu/compiler/compiler.h"
#include "openrdu/runtime/npy.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: e2e_pb2npy IN.pb OUT.npy\n");
    return 2;
  }
  try {
    std::string name;
    auto t = openrdu::compiler::load_tensor_pb(argv[1], &name);
    openrdu::runtime::write_npy({t.shape, t.data}, argv[2]);
    std::printf("%s\n", name.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "e2e_pb2npy: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
