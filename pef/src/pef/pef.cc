// PEF v2 reader and writer (`docs/pef.md`).
//
// Layout written by serialize():
//   header (48 bytes), section table (32 bytes per section),
//   TENSORS, WEIGHTS, SCHEDULE, DEBUG, GRAPH (only when Pef::graph is not empty), META,
//   then one CONFIG section per step of Pef::sections in schedule order; every payload
//   starts 8-aligned (zero padding); file CRC last. The reader accepts any order, at most
//   one section of each type but CONFIG, steps sharing a CONFIG section, and requires
//   every CONFIG section to be run by some step.
#include "openrdu/pef/pef.h"

#include "openrdu/arch/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "openrdu/arch/checked.h"
#include "openrdu/arch/crc32.h"
#include "openrdu/arch/printable.h"

namespace openrdu::pef {

namespace {

constexpr char kMagic[4] = {'P', 'E', 'F', '1'};
constexpr size_t kHeaderBytes = 48;
constexpr size_t kEntryBytes = 32;
constexpr size_t kNameBytes = 32;
constexpr uint32_t kTypeTensors = 1, kTypeConfig = 2, kTypeWeights = 3, kTypeMeta = 4, kTypeSchedule = 5,
                   kTypeDebug = 6, kTypeGraph = 7, kTypeLast = 7;

const char* type_name(uint32_t t) {
  switch (t) {
    case kTypeTensors: return "TENSORS";
    case kTypeConfig: return "CONFIG";
    case kTypeWeights: return "WEIGHTS";
    case kTypeMeta: return "META";
    case kTypeSchedule: return "SCHEDULE";
    case kTypeDebug: return "DEBUG";
    case kTypeGraph: return "GRAPH";
    default: return "unknown";
  }
}

// ---------------------------------------------------------------- writer helpers
struct Writer {
  std::vector<uint8_t> b;
  void u8(uint8_t v) { b.push_back(v); }
  void u16(uint16_t v) { for (int i = 0; i < 2; ++i) b.push_back(uint8_t(v >> (8 * i))); }
  void u32(uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i))); }
  void u64(uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i))); }
  void bytes(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
  }
  void pad8() { while (b.size() % 8) b.push_back(0); }
  void put32(size_t at, uint32_t v) { for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i)); }
  void put64(size_t at, uint64_t v) { for (int i = 0; i < 8; ++i) b[at + i] = uint8_t(v >> (8 * i)); }
};

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
uint64_t rd64(const uint8_t* p) { return uint64_t(rd32(p)) | (uint64_t(rd32(p + 4)) << 32); }

// ---------------------------------------------------------------- parser helpers
class Parser {
 public:
  Parser(const std::vector<uint8_t>& bytes, std::string source) : b_(bytes), src_(std::move(source)) {}

  [[noreturn]] void fail(uint64_t offset, const std::string& field, const std::string& what) const {
    throw PefError(fmt::format("{}: {} at byte {}: {}", src_, field, offset, what));
  }

  Pef run();

 private:
  struct Entry {
    uint32_t type;
    uint64_t offset, size;
    uint32_t crc;
    size_t table_at;  // offset of the entry in the file
  };

  // Reads confined to one section payload: [begin, end).
  struct Cursor {
    const Parser* p;
    std::string section;
    uint64_t pos, end;
    void need(uint64_t n, const std::string& field) const {
      if (n > end - pos)
        p->fail(pos, section + " " + field,
                fmt::format("needs {} bytes but only {} remain in the section (ends at byte {})", n,
                            end - pos, end));
    }
    uint8_t u8(const std::string& f) { need(1, f); return p->b_[pos++]; }
    uint16_t u16(const std::string& f) { need(2, f); auto v = rd16(&p->b_[pos]); pos += 2; return v; }
    uint32_t u32(const std::string& f) { need(4, f); auto v = rd32(&p->b_[pos]); pos += 4; return v; }
    uint64_t u64(const std::string& f) { need(8, f); auto v = rd64(&p->b_[pos]); pos += 8; return v; }
    // u16 length + bytes.
    std::string str(const std::string& f) {
      const uint16_t n = u16(f + " length");
      need(n, f);
      std::string s(reinterpret_cast<const char*>(&p->b_[pos]), n);
      pos += n;
      return s;
    }
  };

  uint32_t parse_header(Pef& pef);
  std::vector<Entry> parse_table(uint32_t n);
  void check_crcs(const std::vector<Entry>& entries) const;
  void parse_contents(const std::vector<Entry>& entries, Pef& pef);
  void parse_tensors(const Entry& e, Pef& pef, uint64_t weights_size);
  void parse_schedule(const Entry& e, const std::vector<Entry>& entries, Pef& pef);
  void parse_debug(const Entry& e, Pef& pef);
  void parse_meta(const Entry& e, Pef& pef);

  const std::vector<uint8_t>& b_;
  std::string src_;

 public:
  bool defer_weights = false;  // leave pef.weights empty: read_file moves them out of the buffer
  std::pair<uint64_t, uint64_t> weights_range{0, 0};  // WEIGHTS payload: offset, size
};

// The first 4 bytes must be "PEF1" (also checked on the first bytes read, read_file).
void check_magic(std::span<const uint8_t> b, const std::string& src) {
  if (b.size() >= 4 && std::memcmp(b.data(), kMagic, 4) != 0)
    throw PefError(fmt::format("{}: magic at byte 0: expected \"PEF1\" (50 45 46 31), found {:02x} {:02x} {:02x} "
                               "{:02x}", src, b[0], b[1], b[2], b[3]));
}

// Header: size, magic, version, fingerprint, section count, configuration name. Returns the
// section count.
uint32_t Parser::parse_header(Pef& pef) {
  const uint64_t size = b_.size();
  if (size < kHeaderBytes + 4)
    fail(size, "header", fmt::format("file is {} bytes, shorter than the {}-byte PEF header and CRC", size,
                                     kHeaderBytes + 4));
  check_magic(b_, src_);
  const uint32_t version = rd32(&b_[4]);
  if (version != kPefVersion)
    fail(4, "version", fmt::format("unsupported PEF version {} (this reader supports {}); recompile the model with "
                                   "sncompile", version, kPefVersion));
  pef.fingerprint = rd32(&b_[8]);
  const uint32_t n = rd32(&b_[12]);
  // Configuration name: NUL-padded, printable.
  size_t len = 0;
  while (len < kNameBytes && b_[16 + len] != 0) ++len;
  for (size_t i = len; i < kNameBytes; ++i)
    if (b_[16 + i] != 0) fail(16 + i, "configuration name", "not NUL-padded after the name");
  for (size_t i = 0; i < len; ++i)
    if (b_[16 + i] < 0x20 || b_[16 + i] > 0x7e) fail(16 + i, "configuration name", "non-printable character");
  if (len == 0) fail(16, "configuration name", "empty");
  pef.config_name.assign(reinterpret_cast<const char*>(&b_[16]), len);
  return n;
}

// The section table of n entries: known types, reserved words 0, payloads 8-aligned, after
// the table and inside the data, not overlapping one another.
std::vector<Parser::Entry> Parser::parse_table(uint32_t n) {
  const uint64_t size = b_.size();
  const uint64_t table_end = kHeaderBytes + uint64_t(n) * kEntryBytes;
  if (table_end + 4 > size)
    fail(12, "section count", fmt::format("{} sections need a {}-byte table ending at byte {}, but the file is {} "
                                          "bytes", n, uint64_t(n) * kEntryBytes, table_end, size));
  std::vector<Entry> entries;
  for (uint32_t i = 0; i < n; ++i) {
    const size_t at = kHeaderBytes + size_t(i) * kEntryBytes;
    Entry e{rd32(&b_[at]), rd64(&b_[at + 8]), rd64(&b_[at + 16]), rd32(&b_[at + 24]), at};
    const std::string field = fmt::format("section {}", i);
    if (e.type < kTypeTensors || e.type > kTypeLast)
      fail(at, field + " type", fmt::format("unknown section type {}", e.type));
    if (rd32(&b_[at + 4]) != 0) fail(at + 4, field + " reserved", "must be 0");
    if (rd32(&b_[at + 28]) != 0) fail(at + 28, field + " reserved", "must be 0");
    if (e.offset % 8) fail(at + 8, field + " offset", fmt::format("{} is not 8-aligned", e.offset));
    if (e.offset < table_end)
      fail(at + 8, field + " offset", fmt::format("{} lies inside the header or section table (ends at {})",
                                                  e.offset, table_end));
    if (e.offset > size - 4 || e.size > size - 4 - e.offset)
      fail(at + 16, field + " size",
           fmt::format("payload [{}, {}+{}) runs past the end of the data (byte {} of a {}-byte file)", e.offset,
                       e.offset, e.size, size - 4, size));
    entries.push_back(e);
  }
  // Payloads must not overlap.
  std::vector<const Entry*> sorted;
  for (auto& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* c) { return a->offset < c->offset; });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i - 1]->offset + sorted[i - 1]->size > sorted[i]->offset)
      fail(sorted[i]->table_at + 8, fmt::format("section {} offset", (sorted[i]->table_at - kHeaderBytes) / kEntryBytes),
           "payload overlaps the previous section's payload");
  return entries;
}

// Each section's CRC, then the file CRC (everything before the last 4 bytes).
void Parser::check_crcs(const std::vector<Entry>& entries) const {
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    uint32_t crc = arch::crc32(b_.data() + e.offset, e.size);
    if (crc != e.crc)
      fail(e.table_at + 24, fmt::format("section {} ({}) crc32", i, type_name(e.type)),
           fmt::format("stored 0x{:08x}, payload at byte {} ({} bytes) has 0x{:08x}", e.crc, e.offset, e.size, crc));
  }
  const uint64_t size = b_.size();
  const uint32_t file_crc = rd32(&b_[size - 4]);
  uint32_t crc = arch::crc32(b_.data(), size - 4);
  if (crc != file_crc)
    fail(size - 4, "file crc32", fmt::format("stored 0x{:08x}, the preceding {} bytes have 0x{:08x}", file_crc,
                                             size - 4, crc));
}

// Contents: at most one of each section type except CONFIG; TENSORS and SCHEDULE required.
void Parser::parse_contents(const std::vector<Entry>& entries, Pef& pef) {
  std::map<uint32_t, const Entry*> single;
  for (auto& e : entries) {
    if (e.type == kTypeConfig) continue;
    if (single.count(e.type))
      fail(e.table_at, fmt::format("section {} type", (e.table_at - kHeaderBytes) / kEntryBytes),
           fmt::format("second {} section (at most one allowed)", type_name(e.type)));
    single[e.type] = &e;
  }
  auto get = [&](uint32_t t) -> const Entry* { auto it = single.find(t); return it == single.end() ? nullptr : it->second; };
  const Entry* tensors = get(kTypeTensors);
  const Entry* weights = get(kTypeWeights);
  const Entry* schedule = get(kTypeSchedule);
  if (!tensors) fail(12, "section table", "no TENSORS section");
  if (!schedule) fail(12, "section table", "no SCHEDULE section");
  if (weights) weights_range = {weights->offset, weights->size};
  if (weights && !defer_weights) pef.weights.assign(b_.begin() + weights->offset, b_.begin() + weights->offset + weights->size);
  if (const Entry* g = get(kTypeGraph)) pef.graph.assign(b_.begin() + g->offset, b_.begin() + g->offset + g->size);
  parse_tensors(*tensors, pef, weights ? weights->size : 0);
  parse_schedule(*schedule, entries, pef);
  if (const Entry* d = get(kTypeDebug)) parse_debug(*d, pef);
  if (const Entry* m = get(kTypeMeta)) parse_meta(*m, pef);
}

Pef Parser::run() {
  Pef pef;
  const uint32_t n = parse_header(pef);
  const std::vector<Entry> entries = parse_table(n);
  check_crcs(entries);
  parse_contents(entries, pef);
  return pef;
}

void Parser::parse_schedule(const Entry& e, const std::vector<Entry>& entries, Pef& pef) {
  Cursor c{this, "SCHEDULE", e.offset, e.offset + e.size};
  const uint32_t count = c.u32("step count");
  std::vector<bool> used(entries.size(), false);
  for (uint32_t i = 0; i < count; ++i) {
    const std::string f = fmt::format("step {}", i);
    Section s;
    const uint64_t name_at = c.pos;
    s.name = c.str(f + " name");
    if (s.name.empty()) fail(name_at, "SCHEDULE " + f + " name length", "empty name");
    const std::string sf = fmt::format("step {} '{}'", i, arch::printable(s.name));
    uint64_t at = c.pos;
    const uint32_t idx = c.u32(sf + " CONFIG section index");
    if (idx >= entries.size() || entries[idx].type != kTypeConfig)
      fail(at, "SCHEDULE " + sf + " CONFIG section index",
           idx >= entries.size() ? fmt::format("{} is not a section (the table has {})", idx, entries.size())
                                 : fmt::format("section {} is a {} section, not CONFIG", idx, type_name(entries[idx].type)));
    const Entry& ce = entries[idx];
    if (ce.size == 0 || ce.size % 4)
      fail(ce.table_at + 16, fmt::format("section {} (CONFIG) size", idx),
           fmt::format("{} is not a positive multiple of 4", ce.size));
    used[idx] = true;
    at = c.pos;
    if (c.u32(sf + " reserved") != 0) fail(at, "SCHEDULE " + sf + " reserved", "must be 0");
    at = c.pos;
    s.dev_addr = c.u64(sf + " bitstream device address");
    if (s.dev_addr % 4)
      fail(at, "SCHEDULE " + sf + " bitstream device address", fmt::format("0x{:x} is not 4-aligned", s.dev_addr));
    if (s.dev_addr + ce.size < s.dev_addr)
      fail(at, "SCHEDULE " + sf + " bitstream device address", "address + size overflows");
    s.est_cycles = c.u64(sf + " estimated cycles");
    s.bitstream.resize(ce.size / 4);
    for (size_t w = 0; w < s.bitstream.size(); ++w) s.bitstream[w] = rd32(&b_[ce.offset + 4 * w]);
    pef.sections.push_back(std::move(s));
  }
  if (c.pos != c.end)
    fail(c.pos, "SCHEDULE", fmt::format("{} unexpected bytes after the last step", c.end - c.pos));
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].type == kTypeConfig && !used[i])
      fail(entries[i].table_at, fmt::format("section {} (CONFIG)", i), "no SCHEDULE step runs this bitstream");
}

void Parser::parse_debug(const Entry& e, Pef& pef) {
  Cursor c{this, "DEBUG", e.offset, e.offset + e.size};
  uint64_t at = c.pos;
  const uint32_t count = c.u32("step count");
  if (count != pef.sections.size())
    fail(at, "DEBUG step count", fmt::format("{} steps, the SCHEDULE has {}", count, pef.sections.size()));
  for (uint32_t i = 0; i < count; ++i) {
    auto& s = pef.sections[i];
    const std::string f = fmt::format("step {} '{}'", i, arch::printable(s.name));
    const uint32_t units = c.u32(f + " unit count");
    int64_t last = -1;
    for (uint32_t u = 0; u < units; ++u) {
      at = c.pos;
      const uint32_t id = c.u32(f + " unit id");
      if (int64_t(id) <= last)
        fail(at, fmt::format("DEBUG {} unit id", f), fmt::format("{} does not follow {} (ids strictly increasing)", id, last));
      last = id;
      const std::string uf = fmt::format("{} unit {}", f, id);
      const uint16_t nodes = c.u16(uf + " node count");
      std::vector<std::string> names;
      for (uint16_t k = 0; k < nodes; ++k) {
        at = c.pos;
        names.push_back(c.str(fmt::format("{} node {} name", uf, k)));
        if (names.back().empty()) fail(at, fmt::format("DEBUG {} node {} name length", uf, k), "empty name");
      }
      s.debug.emplace(id, std::move(names));
    }
  }
  if (c.pos != c.end) fail(c.pos, "DEBUG", fmt::format("{} unexpected bytes after the last step", c.end - c.pos));
}

void Parser::parse_tensors(const Entry& e, Pef& pef, uint64_t weights_size) {
  Cursor c{this, "TENSORS", e.offset, e.offset + e.size};
  const uint32_t count = c.u32("tensor count");
  std::set<std::string> names;
  for (uint32_t t = 0; t < count; ++t) {
    const std::string f = fmt::format("tensor {}", t);
    Tensor ten;
    const uint64_t name_at = c.pos;
    const uint16_t nlen = c.u16(f + " name length");
    if (nlen == 0) fail(name_at, "TENSORS " + f + " name length", "empty name");
    c.need(nlen, f + " name");
    ten.name.assign(reinterpret_cast<const char*>(&b_[c.pos]), nlen);
    c.pos += nlen;
    const std::string tf = fmt::format("tensor {} '{}'", t, arch::printable(ten.name));
    if (!names.insert(ten.name).second) fail(name_at, "TENSORS " + tf, "duplicate tensor name");
    uint64_t at = c.pos;
    const uint8_t dtype = c.u8(tf + " dtype");
    if (dtype < uint8_t(DType::F32) || dtype > uint8_t(DType::BOOL))
      fail(at, "TENSORS " + tf + " dtype",
           fmt::format("unsupported dtype {} (1 = fp32, 2 = int64, 3 = int32, 4 = bool)", dtype));
    ten.dtype = DType(dtype);
    at = c.pos;
    const uint8_t role = c.u8(tf + " role");
    if (role > uint8_t(Role::Activation)) fail(at, "TENSORS " + tf + " role", fmt::format("unknown role {}", role));
    ten.role = Role(role);
    const uint8_t rank = c.u8(tf + " rank");
    const uint64_t shape_at = c.pos;
    for (uint8_t d = 0; d < rank; ++d) {
      at = c.pos;
      const int64_t dim = int64_t(c.u64(fmt::format("{} dim {}", tf, d)));
      if (dim < 0) fail(at, fmt::format("TENSORS {} dim {}", tf, d), fmt::format("negative dimension {}", dim));
      ten.shape.push_back(dim);
    }
    const arch::ShapeSize size = arch::shape_size_of(ten.shape, 4);
    if (!size.ok()) fail(shape_at, "TENSORS " + tf + " shape", size.error);
    at = c.pos;
    ten.dev_addr = c.u64(tf + " device address");
    if (ten.dev_addr % 4) fail(at, "TENSORS " + tf + " device address", fmt::format("0x{:x} is not 4-aligned", ten.dev_addr));
    at = c.pos;
    ten.bytes = c.u64(tf + " byte size");
    if (ten.bytes != size.bytes)
      fail(at, "TENSORS " + tf + " byte size",
           fmt::format("{} does not match 4 x {} elements of the shape", ten.bytes, size.elements));
    if (ten.dev_addr + ten.bytes < ten.dev_addr)
      fail(at, "TENSORS " + tf + " device address", "address + size overflows");
    at = c.pos;
    ten.weight_offset = c.u64(tf + " weights offset");
    if (ten.role == Role::Weight) {
      if (ten.weight_offset > weights_size || ten.bytes > weights_size - ten.weight_offset)
        fail(at, "TENSORS " + tf + " weights offset",
             fmt::format("data [{}, {}) lies outside the {}-byte WEIGHTS section", ten.weight_offset,
                         ten.weight_offset + ten.bytes, weights_size));
    } else if (ten.weight_offset != 0) {
      fail(at, "TENSORS " + tf + " weights offset", "must be 0 for a tensor that is not a weight");
    }
    pef.tensors.push_back(std::move(ten));
  }
  if (c.pos != c.end)
    fail(c.pos, "TENSORS", fmt::format("{} unexpected bytes after the last tensor", c.end - c.pos));
}

void Parser::parse_meta(const Entry& e, Pef& pef) {
  uint64_t pos = e.offset;
  const uint64_t end = e.offset + e.size;
  while (pos < end) {
    uint64_t nl = pos;
    while (nl < end && b_[nl] != '\n') ++nl;
    if (nl == end) fail(pos, "META line", "not terminated by a newline");
    std::string line(reinterpret_cast<const char*>(&b_[pos]), nl - pos);
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) fail(pos, "META line", fmt::format("'{}' is not key=value", arch::printable(line)));
    std::string key = line.substr(0, eq);
    if (!pef.meta.emplace(key, line.substr(eq + 1)).second) fail(pos, "META key", fmt::format("duplicate key '{}'", arch::printable(key)));
    pos = nl + 1;
  }
}

void check_meta_text(const std::string& s, bool key) {
  if (key && (s.empty() || s.find('=') != std::string::npos))
    throw PefError(fmt::format("PEF META key '{}' is empty or contains '='", s));
  if (s.find('\n') != std::string::npos)
    throw PefError(fmt::format("PEF META {} '{}' contains a newline", key ? "key" : "value", s));
}

}  // namespace

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "fp32";
    case DType::I64: return "int64";
    case DType::I32: return "int32";
    case DType::BOOL: return "bool";
  }
  return "?";
}

const char* role_name(Role r) {
  switch (r) {
    case Role::Input: return "input";
    case Role::Output: return "output";
    case Role::Weight: return "weight";
    case Role::Activation: return "activation";
  }
  return "?";
}

uint64_t Tensor::elements() const {
  uint64_t n = 1;
  for (auto d : shape) n *= uint64_t(d);
  return n;
}

const Tensor* Pef::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

namespace {
// A PEF file as parts to write in order: the header and table, payloads (views of the
// Pef's WEIGHTS and GRAPH, or buffers held here) with their padding, the file CRC.
struct Image {
  Writer head;
  std::vector<uint8_t> tens, sched, dbg;
  std::string meta;
  std::vector<std::vector<uint8_t>> cfg;
  uint8_t tail[4] = {};
  std::vector<std::span<const uint8_t>> parts;
};
}  // namespace

namespace {
void check_config_name(const std::string& name) {
  if (name.empty() || name.size() > kNameBytes)
    throw PefError(fmt::format("PEF configuration name '{}' must be 1..{} characters", name, kNameBytes));
  for (char ch : name)
    if (ch < 0x20 || ch > 0x7e) throw PefError(fmt::format("PEF configuration name '{}' has a non-printable character", name));
}

// A u16 length and the bytes of a 1..65535-byte string.
void str16(Writer& w, const std::string& s, const std::string& what) {
  if (s.empty() || s.size() > 0xFFFF) throw PefError(fmt::format("PEF {} '{}' must be 1..65535 bytes", what, s));
  w.u16(uint16_t(s.size()));
  w.bytes(s.data(), s.size());
}

std::vector<uint8_t> tensors_payload(const Pef& pef) {
  Writer tens;
  tens.u32(uint32_t(pef.tensors.size()));
  for (const auto& t : pef.tensors) {
    if (t.name.empty() || t.name.size() > 0xFFFF) throw PefError(fmt::format("PEF tensor name '{}' must be 1..65535 bytes", t.name));
    if (t.shape.size() > 255) throw PefError(fmt::format("PEF tensor '{}': rank {} > 255", t.name, t.shape.size()));
    for (auto d : t.shape)
      if (d < 0) throw PefError(fmt::format("PEF tensor '{}': negative dimension {}", t.name, d));
    if (t.bytes != 4 * t.elements())
      throw PefError(fmt::format("PEF tensor '{}': byte size {} is not 4 x {} elements", t.name, t.bytes, t.elements()));
    if (t.role == Role::Weight && (t.weight_offset > pef.weights.size() || t.bytes > pef.weights.size() - t.weight_offset))
      throw PefError(fmt::format("PEF tensor '{}': weight data [{}, {}) outside the {}-byte WEIGHTS", t.name,
                                 t.weight_offset, t.weight_offset + t.bytes, pef.weights.size()));
    tens.u16(uint16_t(t.name.size()));
    tens.bytes(t.name.data(), t.name.size());
    tens.u8(uint8_t(t.dtype));
    tens.u8(uint8_t(t.role));
    tens.u8(uint8_t(t.shape.size()));
    for (auto d : t.shape) tens.u64(uint64_t(d));
    tens.u64(t.dev_addr);
    tens.u64(t.bytes);
    tens.u64(t.role == Role::Weight ? t.weight_offset : 0);
  }
  return std::move(tens.b);
}

// SCHEDULE and DEBUG; step i runs CONFIG section first_config + i (they follow the others).
void schedule_and_debug_payloads(const Pef& pef, uint32_t first_config, Image& img) {
  Writer sched, dbg;
  sched.u32(uint32_t(pef.sections.size()));
  dbg.u32(uint32_t(pef.sections.size()));
  for (size_t i = 0; i < pef.sections.size(); ++i) {
    const auto& s = pef.sections[i];
    if (s.bitstream.empty()) throw PefError(fmt::format("PEF step {} ({}): empty bitstream", i, s.name));
    if (s.dev_addr % 4) throw PefError(fmt::format("PEF step {} ({}): bitstream address 0x{:x} is not 4-aligned", i, s.name, s.dev_addr));
    if (s.dev_addr + 4 * uint64_t(s.bitstream.size()) < s.dev_addr)
      throw PefError(fmt::format("PEF step {} ({}): bitstream address + size overflows", i, s.name));
    str16(sched, s.name, fmt::format("step {} name", i));
    sched.u32(first_config + uint32_t(i));
    sched.u32(0);
    sched.u64(s.dev_addr);
    sched.u64(s.est_cycles);
    dbg.u32(uint32_t(s.debug.size()));
    for (const auto& [id, names] : s.debug) {
      if (names.size() > 0xFFFF)
        throw PefError(fmt::format("PEF step {} ({}): unit {} names more than 65535 nodes", i, s.name, id));
      dbg.u32(id);
      dbg.u16(uint16_t(names.size()));
      for (const auto& nm : names) str16(dbg, nm, fmt::format("step {} unit {} node name", i, id));
    }
  }
  img.sched = std::move(sched.b);
  img.dbg = std::move(dbg.b);
}

std::string meta_payload(const Pef& pef) {
  std::string meta;
  for (const auto& [k, v] : pef.meta) {
    check_meta_text(k, true);
    check_meta_text(v, false);
    meta += k + "=" + v + "\n";
  }
  return meta;
}

struct Payload {
  uint32_t type;
  const uint8_t* data;
  size_t size;
};

// Header and table, then the payloads as views (WEIGHTS is not copied), each 8-aligned;
// the file CRC over all of it.
void lay_out(const Pef& pef, const std::vector<Payload>& payloads, Image& img) {
  Writer& f = img.head;
  f.bytes(kMagic, 4);
  f.u32(kPefVersion);
  f.u32(pef.fingerprint);
  f.u32(uint32_t(payloads.size()));
  char name[kNameBytes] = {};
  std::memcpy(name, pef.config_name.data(), pef.config_name.size());
  f.bytes(name, kNameBytes);
  const size_t table = f.b.size();
  f.b.resize(table + payloads.size() * kEntryBytes, 0);
  static constexpr uint8_t kZeros[8] = {};
  uint64_t pos = f.b.size();
  std::vector<std::span<const uint8_t>> body;
  for (size_t i = 0; i < payloads.size(); ++i) {
    body.emplace_back(kZeros, (8 - pos % 8) % 8);
    pos += body.back().size();
    const size_t at = table + i * kEntryBytes;
    f.put32(at, payloads[i].type);
    f.put64(at + 8, pos);
    f.put64(at + 16, payloads[i].size);
    f.put32(at + 24, arch::crc32(payloads[i].data, payloads[i].size));
    body.emplace_back(payloads[i].data, payloads[i].size);
    pos += payloads[i].size;
  }
  body.emplace_back(kZeros, (8 - pos % 8) % 8);
  img.parts.emplace_back(f.b.data(), f.b.size());
  img.parts.insert(img.parts.end(), body.begin(), body.end());
  uint32_t crc = 0;
  for (const auto& part : img.parts) crc = arch::crc32(part.data(), part.size(), crc);
  for (int i = 0; i < 4; ++i) img.tail[i] = uint8_t(crc >> (8 * i));
  img.parts.emplace_back(img.tail, 4);
}
}  // namespace

static void build_image(const Pef& pef, Image& img) {
  check_config_name(pef.config_name);
  const bool has_graph = !pef.graph.empty();
  img.tens = tensors_payload(pef);
  schedule_and_debug_payloads(pef, has_graph ? 6 : 5, img);
  img.meta = meta_payload(pef);

  std::vector<Payload> payloads;
  payloads.push_back({kTypeTensors, img.tens.data(), img.tens.size()});
  payloads.push_back({kTypeWeights, pef.weights.data(), pef.weights.size()});
  payloads.push_back({kTypeSchedule, img.sched.data(), img.sched.size()});
  payloads.push_back({kTypeDebug, img.dbg.data(), img.dbg.size()});
  if (has_graph) payloads.push_back({kTypeGraph, pef.graph.data(), pef.graph.size()});
  payloads.push_back({kTypeMeta, reinterpret_cast<const uint8_t*>(img.meta.data()), img.meta.size()});
  img.cfg.reserve(pef.sections.size());
  for (const auto& s : pef.sections) {
    Writer w;
    for (auto word : s.bitstream) w.u32(word);
    img.cfg.push_back(std::move(w.b));
    payloads.push_back({kTypeConfig, img.cfg.back().data(), img.cfg.back().size()});
  }
  lay_out(pef, payloads, img);
}

std::vector<uint8_t> serialize(const Pef& pef) {
  Image img;
  build_image(pef, img);
  std::vector<uint8_t> out;
  for (const auto& part : img.parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

Pef parse(const std::vector<uint8_t>& bytes, const std::string& source_name) {
  return Parser(bytes, source_name).run();
}

Pef read_file(const std::string& path) {
  std::vector<uint8_t> bytes;
  try {
    bytes = arch::read_file_capped(path, arch::kMaxTensorBytes, 4,
                                   [&](std::span<const uint8_t> b) { check_magic(b, path); });
  } catch (const PefError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw PefError(e.what());
  }
  // The weights are moved to the front of the file's buffer, which becomes pef.weights:
  // one copy of them in memory, not two.
  Parser parser(bytes, path);
  parser.defer_weights = true;
  Pef pef = parser.run();
  const auto [offset, size] = parser.weights_range;
  std::memmove(bytes.data(), bytes.data() + offset, size);
  bytes.resize(size);
  pef.weights = std::move(bytes);
  return pef;
}

void write_file(const Pef& pef, const std::string& path) {
  try {
    Image img;
    build_image(pef, img);
    arch::write_file_atomic_parts(path, img.parts);
  } catch (const std::runtime_error& e) {
    throw PefError(e.what());
  }
}

}  // namespace openrdu::pef
