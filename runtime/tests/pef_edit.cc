// pef_edit IN.pef OUT.pef --graph MODEL.onnx: replace a PEF's GRAPH section (the model
// `snrun --test` runs on the CPU), for the CLI tests of a failing --test.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "openrdu/pef/pef.h"

int main(int argc, char** argv) {
  if (argc != 5 || std::string(argv[3]) != "--graph") {
    std::fprintf(stderr, "usage: pef_edit IN.pef OUT.pef --graph MODEL.onnx\n");
    return 2;
  }
  try {
    auto p = openrdu::pef::read_file(argv[1]);
    std::ifstream in(argv[4], std::ios::binary);
    if (!in) throw std::runtime_error(std::string(argv[4]) + ": cannot open");
    p.graph.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    openrdu::pef::write_file(p, argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pef_edit: %s\n", e.what());
    return 1;
  }
  return 0;
}
