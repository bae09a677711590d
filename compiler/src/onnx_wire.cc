// The ModelProto scan of onnx_wire.h: protobuf's wire format (varints, fixed 32/64-bit and
// length-delimited fields) followed down to the initializers' raw_data only; everything
// else is copied as it is, so protobuf still judges it.
#include "onnx_wire.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace openrdu::compiler::detail {

namespace {

// protobuf refuses a length of 2 GiB or more; nothing near that is rewritten here.
constexpr uint64_t kMaxLength = uint64_t(INT32_MAX) - 64;
// The fields followed: ModelProto.graph, GraphProto.initializer, TensorProto.raw_data.
constexpr uint64_t kModelGraph = 7, kGraphInitializer = 5, kTensorRawData = 9;
enum class Level { Model, Graph, Tensor };

// Buffered reads from a WireRead; large reads go straight to their destination.
class Reader {
 public:
  explicit Reader(const WireRead& read) : read_(read), buf_(kBuffer) {}
  uint64_t pos() const { return pos_; }
  bool at_end() { return !fill(); }
  bool byte(uint8_t& b) {
    if (!fill()) return false;
    b = uint8_t(buf_[off_++]);
    ++pos_;
    return true;
  }
  // n bytes into p; false if the input ends first.
  bool take(char* p, uint64_t n) {
    while (n > 0) {
      if (off_ == len_ && n >= kBuffer) {
        const size_t k = read_(p, size_t(std::min<uint64_t>(n, uint64_t(1) << 30)));
        if (k == 0) return false;
        p += k, n -= k, pos_ += k;
        continue;
      }
      if (!fill()) return false;
      const size_t k = size_t(std::min<uint64_t>(n, len_ - off_));
      std::memcpy(p, buf_.data() + off_, k);
      p += k, n -= k, off_ += k, pos_ += k;
    }
    return true;
  }

 private:
  static constexpr size_t kBuffer = size_t(1) << 16;
  bool fill() {
    if (off_ < len_) return true;
    off_ = 0;
    len_ = eof_ ? 0 : read_(buf_.data(), buf_.size());
    eof_ = len_ == 0;
    return !eof_;
  }
  const WireRead& read_;
  std::vector<char> buf_;
  size_t off_ = 0, len_ = 0;
  uint64_t pos_ = 0;
  bool eof_ = false;
};

void put_varint(uint64_t v, std::string& out) {
  for (; v >= 0x80; v >>= 7) out.push_back(char(0x80 | (v & 0x7f)));
  out.push_back(char(v));
}

struct Scan {
  Reader r;
  size_t min_payload;
  StrippedModel result;
  int initializers = 0;  // initializers seen: the index of the next one in the parsed model

  // A varint of at most max_bytes bytes before `end`, copied to out.
  bool varint(uint64_t end, int max_bytes, uint64_t& v, std::string& out) {
    v = 0;
    for (int i = 0; i < max_bytes && r.pos() < end; ++i) {
      uint8_t b;
      if (!r.byte(b)) return false;
      out.push_back(char(b));
      v |= uint64_t(b & 0x7f) << (7 * i);
      if (b < 0x80) return true;
    }
    return false;
  }
  bool copy(uint64_t end, uint64_t n, std::string& out) {
    if (n > end - r.pos()) return false;
    const size_t at = out.size();
    out.resize(at + n);
    return r.take(out.data() + at, n);
  }
  bool message(uint64_t end, Level level, std::string& out, int index);
  bool length_delimited(uint64_t field, uint64_t end, Level level, std::string& out,
                        std::optional<std::string>& pending);
};

// The fields of one message that ends at `end`, copied to out; `index`: the initializer's
// (Level::Tensor), whose last raw_data, if taken out, is recorded at the end.
bool Scan::message(uint64_t end, Level level, std::string& out, int index) {
  std::optional<std::string> pending;  // the raw_data taken out (the last one counts)
  while (r.pos() < end) {
    uint64_t tag;
    if (!varint(end, 5, tag, out) || tag > UINT32_MAX || (tag >> 3) == 0) return false;
    const unsigned wire_type = unsigned(tag & 7);
    bool ok = false;
    if (wire_type == 0) {
      uint64_t v;
      ok = varint(end, 10, v, out);
    } else if (wire_type == 1 || wire_type == 5) {
      ok = copy(end, wire_type == 1 ? 8 : 4, out);
    } else if (wire_type == 2) {
      ok = length_delimited(tag >> 3, end, level, out, pending);
    }  // else a group (3, 4) or no wire type (6, 7): not followed
    if (!ok) return false;
  }
  if (pending) result.raw_data.emplace_back(index, std::move(*pending));
  return r.pos() == end;
}

// A length-delimited field (its tag copied): a graph or an initializer is scanned, a large
// raw_data taken out, anything else copied.
bool Scan::length_delimited(uint64_t field, uint64_t end, Level level, std::string& out,
                            std::optional<std::string>& pending) {
  const size_t length_at = out.size();
  uint64_t n;
  if (!varint(end, 5, n, out) || n > end - r.pos() || n > kMaxLength) return false;
  const bool graph = level == Level::Model && field == kModelGraph;
  const bool initializer = level == Level::Graph && field == kGraphInitializer;
  const bool raw_data = level == Level::Tensor && field == kTensorRawData;
  if (graph || initializer) {
    out.resize(length_at);  // the length is that of the scanned copy
    std::string inner;
    const int index = initializer ? initializers++ : -1;
    if (!message(r.pos() + n, graph ? Level::Graph : Level::Tensor, inner, index)) return false;
    put_varint(inner.size(), out);
    out += inner;
    return true;
  }
  if (raw_data) pending.reset();  // a later raw_data replaces an earlier one
  if (raw_data && n >= min_payload) {
    out.resize(length_at);
    out.push_back(0);  // an empty raw_data in its place
    pending.emplace(size_t(n), '\0');
    return r.take(pending->data(), n);
  }
  return copy(end, n, out);
}

}  // namespace

std::optional<StrippedModel> strip_raw_data(const WireRead& read, uint64_t size, size_t min_payload) {
  if (size > kMaxLength) return std::nullopt;
  Scan s{Reader(read), std::max<size_t>(min_payload, 1), {}, 0};
  std::string wire;
  if (!s.message(size, Level::Model, wire, -1) || !s.r.at_end()) return std::nullopt;
  s.result.wire = std::move(wire);
  return std::move(s.result);
}

bool parse_stripped(onnx::ModelProto& model, StrippedModel&& s) {
  if (!model.ParseFromString(s.wire)) return false;
  s.wire = {};
  if (s.raw_data.empty()) return true;  // (mutable_graph() would give a model without one a graph)
  auto& inits = *model.mutable_graph()->mutable_initializer();
  for (auto& [index, bytes] : s.raw_data) {  // the scan counted the initializers protobuf parsed
    if (index < 0 || index >= inits.size()) throw std::logic_error("parse_stripped: no initializer " + std::to_string(index));
    inits[index].set_raw_data(std::move(bytes));
  }
  return true;
}

}  // namespace openrdu::compiler::detail
