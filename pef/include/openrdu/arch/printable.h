// Text taken from a file (tensor, node and configuration names, header text) made safe
// for a one-line message: control characters, DEL, backslash and bytes >= 0x80 escaped
// (\n, \t, \r, \0, \\, \xHH) and the result capped at `max` characters ("..." marks a
// cut). Every reader formats such names through printable(); log_error applies the
// same escaping to the whole message as a last line of defence.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace openrdu::arch {

inline std::string printable(std::string_view s, size_t max = 128) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c == '\0') out += "\\0";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out;
}

}  // namespace openrdu::arch
