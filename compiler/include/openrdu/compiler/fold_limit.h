// The budget of constant folding (fold_constants, ir.h): the host work and memory one
// folded node may take. A node whose inputs are all constants is evaluated on the host
// at import time; a model can make that arbitrarily large (a 260-byte model folding a
// ConstantOfShape [1, 2^29] asks for 2 GiB, a MatMul of two [4096, 4096] constants for
// 69 G multiply-adds). Above the budget the node is refused with a CompileError naming
// it and the figures (such a node cannot run on the device either: its output would
// be a constant of the same size in the PEF).
#pragma once
#include <cstdint>

namespace openrdu::compiler {

// Default: 64 MiB. sncompile --fold-limit MiB sets it.
inline constexpr uint64_t kDefaultFoldLimitBytes = uint64_t(64) << 20;

// The limit on the bytes of one folded output; the work limit is 16 operations per byte
// of it (1 G multiply-adds at the default, about a second on the host). Process-wide:
// the front ends call fold_constants() from load_graph_file() without options.
void set_fold_limit(uint64_t bytes);
uint64_t fold_limit();

}  // namespace openrdu::compiler
