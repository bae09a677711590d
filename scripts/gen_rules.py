#!/usr/bin/env python3
"""builtin_rules.cc from the fusion rule files (compiler/rules/*.yaml): each file's text as
a string, for builtin_fusion_rules() (compiler/src/fusion_rules.cc). Used by
compiler/CMakeLists.txt and scripts/fuzz-readers.sh.

usage: gen_rules.py OUT.cc RULES.yaml...
"""
import os
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out, files = sys.argv[1], sorted(sys.argv[2:])
    text = ["// Generated from compiler/rules/*.yaml by scripts/gen_rules.py: do not edit.",
            "#include <string>", "#include <utility>", "#include <vector>",
            "namespace openrdu::compiler::detail {",
            "const std::vector<std::pair<std::string, std::string>>& builtin_rule_files() {",
            "  static const std::vector<std::pair<std::string, std::string>> f = {"]
    for path in files:
        body = open(path).read()
        if ")OPENRDU_RULES\"" in body:
            sys.exit(f"{path}: holds the raw-string delimiter )OPENRDU_RULES\"")
        text.append(f'    {{"compiler/rules/{os.path.basename(path)}", R"OPENRDU_RULES({body})OPENRDU_RULES"}},')
    text += ["  };", "  return f;", "}", "}  // namespace openrdu::compiler::detail", ""]
    new = "\n".join(text)
    if not os.path.exists(out) or open(out).read() != new:  # unchanged: no rebuild
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with open(out + ".tmp", "w") as f:
            f.write(new)
        os.replace(out + ".tmp", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
