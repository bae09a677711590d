// NumPy .npy reader and writer (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
#include "openrdu/runtime/npy.h"

#include "openrdu/runtime/host_tensor.h"

#include "openrdu/arch/checked.h"
#include "openrdu/arch/file.h"
#include "openrdu/arch/printable.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>

namespace openrdu::runtime {

namespace {

constexpr char kMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

// A tiny parser for the header's Python dict literal:
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(const std::string& h, const std::string& src) : h_(h), src_(src) {}

  void run(std::string& descr, bool& fortran, std::vector<int64_t>& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    ws();
    expect('{');
    for (;;) {
      ws();
      if (peek() == '}') { ++p_; break; }
      std::string key = str();
      ws();
      expect(':');
      ws();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"') fail("'descr' is not a simple type string (structured dtypes are not supported)");
        descr = str();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        fail(fmt::format("unexpected key '{}'", key));
      }
      ws();
      if (peek() == ',') { ++p_; continue; }
      ws();
      expect('}');
      break;
    }
    ws();
    if (p_ != h_.size()) fail("trailing characters after the dict");
    if (!have_descr) fail("missing key 'descr'");
    if (!have_fortran) fail("missing key 'fortran_order'");
    if (!have_shape) fail("missing key 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    const size_t end = h_.find_last_not_of(" \n");  // the padding, not the dict
    throw NpyError(fmt::format("{}: bad .npy header: {} (header: {})", src_, what,
                               arch::printable(h_.substr(0, end == std::string::npos ? 0 : end + 1), 200)));
  }
  char peek() const { return p_ < h_.size() ? h_[p_] : '\0'; }
  void ws() { while (p_ < h_.size() && (h_[p_] == ' ' || h_[p_] == '\n' || h_[p_] == '\t')) ++p_; }
  void expect(char c) {
    if (peek() != c) fail(fmt::format("expected '{}' at column {}", c, p_));
    ++p_;
  }
  std::string str() {
    char q = peek();
    if (q != '\'' && q != '"') fail(fmt::format("expected a string at column {}", p_));
    ++p_;
    size_t e = h_.find(q, p_);
    if (e == std::string::npos) fail("unterminated string");
    std::string s = h_.substr(p_, e - p_);
    p_ = e + 1;
    return s;
  }
  bool boolean() {
    if (h_.compare(p_, 4, "True") == 0) { p_ += 4; return true; }
    if (h_.compare(p_, 5, "False") == 0) { p_ += 5; return false; }
    fail(fmt::format("expected True or False at column {}", p_));
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> v;
    expect('(');
    for (;;) {
      ws();
      if (peek() == ')') { ++p_; break; }
      size_t s = p_;
      while (p_ < h_.size() && h_[p_] >= '0' && h_[p_] <= '9') ++p_;
      if (p_ == s) fail(fmt::format("expected a non-negative integer dimension at column {}", s));
      if (p_ - s > 15) fail("dimension too large");
      v.push_back(std::stoll(h_.substr(s, p_ - s)));
      // Python's long suffix in old headers.
      if (peek() == 'L') ++p_;
      ws();
      if (peek() == ',') { ++p_; continue; }
      ws();
      expect(')');
      break;
    }
    return v;
  }

  const std::string& h_;
  const std::string& src_;
  size_t p_ = 0;
};

std::string dtype_hint(const std::string& d) {
  if (d == ">f4") return " (big-endian fp32; convert with a.astype('<f4'))";
  if (d == "<f8") return " (float64; convert with a.astype(np.float32))";
  return "";
}

}  // namespace

uint64_t HostTensor::elements() const {
  uint64_t n = 1;
  for (auto d : shape) n *= uint64_t(d);
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

std::string npy_file_name(const std::string& name) {
  std::string f = name;
  for (char& c : f)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      c = '_';
  if (f.empty() || f == "." || f == "..") f = "_" + f;
  return f + ".npy";
}

HostTensor parse_npy(const std::vector<uint8_t>& b, const std::string& src) {
  if (b.size() < 10 || std::memcmp(b.data(), kMagic, 6) != 0)
    throw NpyError(fmt::format("{}: not a NumPy .npy file (no \\x93NUMPY magic)", src));
  const uint8_t major = b[6], minor = b[7];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = size_t(b[8]) | size_t(b[9]) << 8;
    hstart = 10;
  } else if (major == 2) {
    if (b.size() < 12) throw NpyError(fmt::format("{}: truncated .npy header", src));
    hlen = size_t(b[8]) | size_t(b[9]) << 8 | size_t(b[10]) << 16 | size_t(b[11]) << 24;
    hstart = 12;
  } else {
    throw NpyError(fmt::format("{}: unsupported .npy format version {}.{} (supported: 1.0, 2.0)", src, major, minor));
  }
  if (minor != 0)
    throw NpyError(fmt::format("{}: unsupported .npy format version {}.{} (supported: 1.0, 2.0)", src, major, minor));
  if (hlen > b.size() - hstart)
    throw NpyError(fmt::format("{}: truncated .npy header ({} header bytes announced, {} present)", src, hlen,
                               b.size() - hstart));
  std::string header(reinterpret_cast<const char*>(b.data() + hstart), hlen);
  std::string descr;
  bool fortran = false;
  HostTensor t;
  HeaderParser(header, src).run(descr, fortran, t.shape);
  const auto dtype = dtype_of_npy_descr(descr);
  if (!dtype)
    throw NpyError(fmt::format("{}: unsupported dtype '{}': supported are '<f4' (float32), '<i8' (int64), '<i4' "
                               "(int32) and '|b1' (bool){}",
                               src, descr, dtype_hint(descr)));
  t.dtype = *dtype;
  const uint64_t item = npy_itemsize(t.dtype);
  if (fortran) throw NpyError(fmt::format("{}: Fortran-order arrays are not supported (save a C-order array: np.ascontiguousarray)", src));
  const arch::ShapeSize size = arch::shape_size_of(t.shape, item);
  if (!size.ok()) throw NpyError(fmt::format("{}: {}", src, size.error));
  const uint64_t n = size.elements;
  const size_t data_at = hstart + hlen;
  const uint64_t have = b.size() - data_at;
  if (have != item * n)
    throw NpyError(fmt::format("{}: data is {} bytes but shape {} of {} needs {} bytes{}", src, have,
                               shape_str(t.shape), npy_type_name(t.dtype), item * n, have < item * n ? " (file truncated?)" : ""));
  decode_npy_values(b.data() + data_at, n, t);
  return t;
}

HostTensor read_npy(const std::string& path) {
  std::vector<uint8_t> bytes;
  try {  // capped, and refused after 6 bytes when the magic is not there (/dev/zero)
    bytes = arch::read_file_capped(path, arch::kMaxTensorBytes + (1 << 20), sizeof kMagic,
                                   [&](std::span<const uint8_t> b) {
                                     if (b.size() < sizeof kMagic || std::memcmp(b.data(), kMagic, sizeof kMagic))
                                       parse_npy(std::vector<uint8_t>(b.begin(), b.end()), path);
                                   });
  } catch (const NpyError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw NpyError(e.what());
  }
  return parse_npy(bytes, path);
}

std::vector<uint8_t> serialize_npy(const HostTensor& t) {
  if (t.values() != t.elements())
    throw NpyError(fmt::format("tensor of shape {} has {} values, expected {}", shape_str(t.shape), t.values(),
                               t.elements()));
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", npy_descr(t.dtype),
                                 shape_str(t.shape));
  int major = dict.size() + 1 + 10 > 65535 ? 2 : 1;
  size_t pre = major == 1 ? 10 : 12;
  size_t total = pre + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  std::vector<uint8_t> b(kMagic, kMagic + 6);
  b.push_back(uint8_t(major));
  b.push_back(0);
  size_t hlen = dict.size();
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) b.push_back(uint8_t(hlen >> (8 * i)));
  b.insert(b.end(), dict.begin(), dict.end());
  append_npy_values(t, b);
  return b;
}

void write_npy(const HostTensor& t, const std::string& path) {
  try {
    arch::write_file_atomic(path, serialize_npy(t));
  } catch (const std::runtime_error& e) {
    throw NpyError(e.what());
  }
}

std::map<std::string, HostTensor> read_named_npy(const std::vector<std::string>& specs, const std::string& option,
                                                 std::map<std::string, std::string>* files) {
  std::map<std::string, HostTensor> out;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw std::runtime_error(fmt::format("{} '{}': expected NAME=FILE.npy", option, arch::printable(spec)));
    const std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
    if (out.count(name)) throw std::runtime_error(fmt::format("{}: '{}' given twice", option, arch::printable(name)));
    if (files) (*files)[name] = file;
    out[name] = read_npy(file);
  }
  return out;
}

}  // namespace openrdu::runtime
