// .npz reader and writer: the zip container (PKWARE APPNOTE 6.3: local file headers,
// central directory, end of central directory) around .npy members.
#include "openrdu/runtime/npz.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "openrdu/arch/file.h"

namespace openrdu::runtime {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kLocalFixed = 30, kCentralFixed = 46, kEndFixed = 22, kZip64LocatorSize = 20;

// Bounds-checked little-endian reads of the archive; every failure names the file.
class Reader {
 public:
  Reader(const std::vector<uint8_t>& b, const std::string& src) : b_(b), src_(src) {}
  [[noreturn]] void fail(const std::string& what) const { throw NpyError(fmt::format("{}: {}", src_, what)); }
  void need(uint64_t at, uint64_t n, const std::string& what) const {
    if (at > b_.size() || n > b_.size() - at)
      fail(fmt::format("{} at byte {} ({} bytes) lies beyond the end of the {}-byte file", what, at, n, b_.size()));
  }
  uint16_t u16(uint64_t at) const { return uint16_t(b_[at] | b_[at + 1] << 8); }
  uint32_t u32(uint64_t at) const { return uint32_t(u16(at)) | uint32_t(u16(at + 2)) << 16; }
  size_t size() const { return b_.size(); }
  const uint8_t* data(uint64_t at) const { return b_.data() + at; }

 private:
  const std::vector<uint8_t>& b_;
  const std::string& src_;
};

struct End {
  uint64_t at = 0, entries = 0, cd_offset = 0, cd_size = 0;
};

// The end of central directory record: the last signature whose comment reaches exactly
// the end of the file.
End find_end(const Reader& r) {
  if (r.size() < kEndFixed) r.fail("not a .npz (zip) file: too short for an end of central directory record");
  const uint64_t lowest = r.size() >= kEndFixed + 0xFFFF ? r.size() - kEndFixed - 0xFFFF : 0;
  for (uint64_t at = r.size() - kEndFixed + 1; at-- > lowest;) {
    if (r.u32(at) != kEndSig || at + kEndFixed + r.u16(at + 20) != r.size()) continue;
    End e;
    e.at = at;
    if (r.u16(at + 4) != 0 || r.u16(at + 6) != 0) r.fail("multi-disk zip archives are not supported");
    e.entries = r.u16(at + 10);
    e.cd_size = r.u32(at + 12);
    e.cd_offset = r.u32(at + 16);
    const bool zip64 = e.entries == 0xFFFF || e.cd_size == 0xFFFFFFFFu || e.cd_offset == 0xFFFFFFFFu ||
                       (at >= kZip64LocatorSize && r.u32(at - kZip64LocatorSize) == kZip64LocatorSig);
    if (zip64) r.fail("zip64 archives (over 4 GiB or 65535 members) are not supported");
    if (r.u16(at + 8) != e.entries) r.fail("end of central directory: entry counts disagree");
    if (e.cd_offset > at || e.cd_size > at - e.cd_offset)
      r.fail(fmt::format("central directory [{}, {}) overlaps the end record at byte {}", e.cd_offset,
                         e.cd_offset + e.cd_size, at));
    return e;
  }
  r.fail("not a .npz (zip) file: no end of central directory record");
}

struct Member {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t csize = 0, usize = 0, data_at = 0;
};

// Central directory entry at `at` (its size is returned in `len`) and its local header.
Member read_member(const Reader& r, uint64_t at, uint64_t cd_end, uint64_t& len) {
  if (at + kCentralFixed > cd_end || r.u32(at) != kCentralSig)
    r.fail(fmt::format("central directory entry at byte {}: bad signature or truncated", at));
  const uint16_t nlen = r.u16(at + 28), xlen = r.u16(at + 30), clen = r.u16(at + 32);
  len = kCentralFixed + nlen + xlen + clen;
  if (at + len > cd_end) r.fail(fmt::format("central directory entry at byte {}: runs past the directory", at));
  Member m;
  m.name.assign(reinterpret_cast<const char*>(r.data(at + kCentralFixed)), nlen);
  const auto mfail = [&](const std::string& what) { r.fail(fmt::format("member '{}': {}", m.name, what)); };
  const uint16_t flags = r.u16(at + 8);
  m.method = r.u16(at + 10);
  m.crc = r.u32(at + 16);
  m.csize = r.u32(at + 20);
  m.usize = r.u32(at + 24);
  const uint64_t local = r.u32(at + 42);
  if (m.csize == 0xFFFFFFFFu || m.usize == 0xFFFFFFFFu || local == 0xFFFFFFFFu)
    mfail("zip64 sizes or offsets are not supported");
  if (flags & 1) mfail("encrypted members are not supported");
  if (m.method != 0 && m.method != 8)
    mfail(fmt::format("compression method {} is not supported (0 stored, 8 deflate)", m.method));
  r.need(local, kLocalFixed, fmt::format("member '{}': local header", m.name));
  if (r.u32(local) != kLocalSig) mfail(fmt::format("no local header signature at byte {}", local));
  const uint16_t lnlen = r.u16(local + 26), lxlen = r.u16(local + 28);
  r.need(local + kLocalFixed, uint64_t(lnlen) + lxlen, fmt::format("member '{}': local name and extra", m.name));
  if (std::string(reinterpret_cast<const char*>(r.data(local + kLocalFixed)), lnlen) != m.name)
    mfail("local header name differs from the central directory's");
  m.data_at = local + kLocalFixed + lnlen + lxlen;
  r.need(m.data_at, m.csize, fmt::format("member '{}': data", m.name));
  return m;
}

std::vector<uint8_t> inflate_member(const Reader& r, const Member& m) {
  // Deflate expands at most 1032:1: a larger announced size is a corrupt header (and
  // would otherwise allocate up to 4 GiB).
  if (m.usize > 1032 * m.csize + 64)
    r.fail(fmt::format("member '{}': {} bytes announced from {} compressed bytes, more than deflate can produce",
                       m.name, m.usize, m.csize));
  std::vector<uint8_t> out(m.usize);
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) r.fail(fmt::format("member '{}': zlib initialisation failed", m.name));
  z.next_in = const_cast<Bytef*>(r.data(m.data_at));
  z.avail_in = uInt(m.csize);
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const uint64_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != m.usize)
    r.fail(fmt::format("member '{}': corrupt deflate data ({}; {} of {} bytes)", m.name,
                       rc == Z_STREAM_END ? "size mismatch" : rc == Z_BUF_ERROR ? "more data than announced"
                                                                                : "invalid or truncated stream",
                       produced, m.usize));
  return out;
}

std::vector<uint8_t> member_bytes(const Reader& r, const Member& m) {
  std::vector<uint8_t> out;
  if (m.method == 0) {
    if (m.csize != m.usize)
      r.fail(fmt::format("member '{}': stored with {} bytes but {} announced", m.name, m.csize, m.usize));
    out.assign(r.data(m.data_at), r.data(m.data_at) + m.csize);
  } else {
    out = inflate_member(r, m);
  }
  const uint32_t crc = uint32_t(crc32(0L, out.data(), uInt(out.size())));
  if (crc != m.crc) r.fail(fmt::format("member '{}': CRC-32 0x{:08x} but 0x{:08x} stored", m.name, crc, m.crc));
  return out;
}

void put16(std::vector<uint8_t>& b, uint32_t v) {
  b.push_back(uint8_t(v));
  b.push_back(uint8_t(v >> 8));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, v & 0xFFFF);
  put16(b, v >> 16);
}

}  // namespace

std::map<std::string, HostTensor> parse_npz(const std::vector<uint8_t>& bytes, const std::string& src) {
  const Reader r(bytes, src);
  const End e = find_end(r);
  std::map<std::string, HostTensor> out;
  uint64_t at = e.cd_offset;
  const uint64_t cd_end = e.cd_offset + e.cd_size;
  for (uint64_t i = 0; i < e.entries; ++i) {
    uint64_t len = 0;
    const Member m = read_member(r, at, cd_end, len);
    at += len;
    if (m.name.size() <= 4 || m.name.compare(m.name.size() - 4, 4, ".npy") != 0)
      r.fail(fmt::format("member '{}' is not a .npy file", m.name));
    const std::string key = m.name.substr(0, m.name.size() - 4);
    if (out.count(key)) r.fail(fmt::format("member '{}' appears twice", m.name));
    out.emplace(key, parse_npy(member_bytes(r, m), fmt::format("{}: member '{}'", src, m.name)));
  }
  if (at != cd_end) r.fail(fmt::format("central directory: {} bytes after the last of {} entries", cd_end - at, e.entries));
  return out;
}

std::map<std::string, HostTensor> read_npz(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NpyError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw NpyError(fmt::format("{}: read error", path));
  return parse_npz(bytes, path);
}

std::vector<uint8_t> serialize_npz(const std::map<std::string, HostTensor>& tensors) {
  if (tensors.size() >= 0xFFFF) throw NpyError(fmt::format(".npz of {} members: zip64 would be needed", tensors.size()));
  std::vector<uint8_t> b, cd;
  for (const auto& [key, t] : tensors) {
    const std::string name = key + ".npy";
    if (key.empty() || name.size() > 0xFFFF) throw NpyError(fmt::format(".npz member name '{}' is not valid", key));
    const std::vector<uint8_t> data = serialize_npy(t);
    const uint64_t offset = b.size();
    if (data.size() >= 0xFFFFFFFFu || offset >= 0xFFFFFFFFu)
      throw NpyError(fmt::format(".npz member '{}': over 4 GiB, zip64 would be needed", name));
    const uint32_t crc = uint32_t(crc32(0L, data.data(), uInt(data.size())));
    // Local header: version 2.0, no flags, stored, time 00:00 date 1980-01-01.
    put32(b, kLocalSig), put16(b, 20), put16(b, 0), put16(b, 0), put16(b, 0), put16(b, 0x21);
    put32(b, crc), put32(b, uint32_t(data.size())), put32(b, uint32_t(data.size()));
    put16(b, uint32_t(name.size())), put16(b, 0);
    b.insert(b.end(), name.begin(), name.end());
    b.insert(b.end(), data.begin(), data.end());
    // Central directory entry: made by 2.0 (MS-DOS), needs 2.0, same fields, then the
    // comment length, disk, internal and external attributes and the local header offset.
    put32(cd, kCentralSig), put16(cd, 20), put16(cd, 20), put16(cd, 0), put16(cd, 0), put16(cd, 0), put16(cd, 0x21);
    put32(cd, crc), put32(cd, uint32_t(data.size())), put32(cd, uint32_t(data.size()));
    put16(cd, uint32_t(name.size())), put16(cd, 0), put16(cd, 0), put16(cd, 0), put16(cd, 0), put32(cd, 0);
    put32(cd, uint32_t(offset));
    cd.insert(cd.end(), name.begin(), name.end());
  }
  const uint64_t cd_offset = b.size();
  if (cd_offset + cd.size() >= 0xFFFFFFFFu) throw NpyError(".npz over 4 GiB: zip64 would be needed");
  b.insert(b.end(), cd.begin(), cd.end());
  put32(b, kEndSig), put16(b, 0), put16(b, 0), put16(b, uint32_t(tensors.size())), put16(b, uint32_t(tensors.size()));
  put32(b, uint32_t(cd.size())), put32(b, uint32_t(cd_offset)), put16(b, 0);
  return b;
}

void write_npz(const std::map<std::string, HostTensor>& tensors, const std::string& path) {
  std::vector<uint8_t> bytes;
  try {
    bytes = serialize_npz(tensors);
  } catch (const NpyError& e) {
    throw NpyError(fmt::format("{}: {}", path, e.what()));
  }
  try {
    arch::write_file_atomic(path, bytes);
  } catch (const std::runtime_error& e) {
    throw NpyError(e.what());
  }
}

}  // namespace openrdu::runtime
