// Host tensor dtypes: .npy items and device words (`docs/pef.md` and `docs/runtime.md`).
#include "openrdu/runtime/host_tensor.h"

#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "openrdu/runtime/checks.h"

namespace openrdu::runtime {

namespace {
constexpr uint32_t kTrueWord = 0x3F800000u;  // fp32 1.0f
}  // namespace

uint64_t HostTensor::values() const { return is_integer(dtype) ? idata.size() : data.size(); }

bool is_integer(DType t) { return t == DType::I64 || t == DType::I32; }

const char* npy_descr(DType t) {
  switch (t) {
    case DType::F32: return "<f4";
    case DType::I64: return "<i8";
    case DType::I32: return "<i4";
    case DType::BOOL: return "|b1";
  }
  return "?";
}

std::optional<DType> dtype_of_npy_descr(const std::string& d) {
  for (DType t : {DType::F32, DType::I64, DType::I32, DType::BOOL})
    if (d == npy_descr(t)) return t;
  return std::nullopt;
}

const char* npy_type_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::I64: return "int64";
    case DType::I32: return "int32";
    case DType::BOOL: return "bool";
  }
  return "?";
}

uint64_t npy_itemsize(DType t) { return t == DType::I64 ? 8 : t == DType::BOOL ? 1 : 4; }

std::string dtype_desc(DType t) { return fmt::format("{} ('{}')", pef::dtype_name(t), npy_descr(t)); }

// The host is little-endian (x86, arm64), as the .npy items are.
void decode_npy_values(const uint8_t* p, uint64_t n, HostTensor& t) {
  switch (t.dtype) {
    case DType::F32:
      t.data.resize(n);
      if (n) std::memcpy(t.data.data(), p, 4 * n);
      return;
    case DType::I64:
      t.idata.resize(n);
      if (n) std::memcpy(t.idata.data(), p, 8 * n);
      return;
    case DType::I32:
      t.idata.resize(n);
      for (uint64_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        t.idata[i] = v;
      }
      return;
    case DType::BOOL:
      t.data.resize(n);
      for (uint64_t i = 0; i < n; ++i) t.data[i] = p[i] ? 1.0f : 0.0f;
      return;
  }
}

void append_npy_values(const HostTensor& t, std::vector<uint8_t>& out) {
  switch (t.dtype) {
    case DType::F32: {
      const auto* p = reinterpret_cast<const uint8_t*>(t.data.data());
      out.insert(out.end(), p, p + 4 * t.data.size());
      return;
    }
    case DType::I64: {
      const auto* p = reinterpret_cast<const uint8_t*>(t.idata.data());
      out.insert(out.end(), p, p + 8 * t.idata.size());
      return;
    }
    case DType::I32:
      for (int64_t v : t.idata) {
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
          throw NpyError(fmt::format("int32 tensor of shape {} holds {}, outside int32", shape_str(t.shape), v));
        const auto w = static_cast<uint32_t>(static_cast<int32_t>(v));
        for (int k = 0; k < 4; ++k) out.push_back(uint8_t(w >> (8 * k)));
      }
      return;
    case DType::BOOL:
      for (float v : t.data) out.push_back(v != 0.0f ? 1 : 0);
      return;
  }
}

void append_elements(HostTensor& dst, const HostTensor& src, uint64_t first, uint64_t n) {
  if (is_integer(src.dtype))
    dst.idata.insert(dst.idata.end(), src.idata.begin() + long(first), src.idata.begin() + long(first + n));
  else
    dst.data.insert(dst.data.end(), src.data.begin() + long(first), src.data.begin() + long(first + n));
}

HostTensor convert_dtype(const HostTensor& t, DType d) {
  if (t.dtype == d || (is_integer(t.dtype) && is_integer(d))) {
    HostTensor o = t;
    o.dtype = d;
    return o;
  }
  HostTensor o(t.shape, {}, d, {});
  if (is_integer(d))
    for (float v : t.data) o.idata.push_back(int64_t(v));
  else if (is_integer(t.dtype))
    for (int64_t v : t.idata) o.data.push_back(float(v));
  else  // fp32 <-> bool
    for (float v : t.data) o.data.push_back(d == DType::BOOL ? (v != 0.0f ? 1.0f : 0.0f) : v);
  return o;
}

bool accepts(DType tensor, DType given) {
  return tensor == given || (is_integer(tensor) && is_integer(given));
}

std::vector<uint32_t> to_device_words(const HostTensor& h, const pef::Tensor& t) {
  if (!accepts(t.dtype, h.dtype))
    throw RuntimeError(fmt::format("tensor '{}': {} values given, the model's tensor is {}", t.name,
                                   dtype_desc(h.dtype), dtype_desc(t.dtype)));
  const uint64_t n = t.elements();
  if (h.values() != n)
    throw RuntimeError(fmt::format("tensor '{}': {} values given for shape {} ({} elements)", t.name, h.values(),
                                   shape_str(t.shape), n));
  std::vector<uint32_t> w(n);
  if (t.dtype == DType::F32) {
    if (n) std::memcpy(w.data(), h.data.data(), 4 * n);
  } else if (t.dtype == DType::BOOL) {
    for (uint64_t i = 0; i < n; ++i) w[i] = h.data[i] != 0.0f ? kTrueWord : 0;
  } else {
    for (uint64_t i = 0; i < n; ++i) {
      const int64_t v = h.idata[i];
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        throw RuntimeError(fmt::format("tensor '{}': element {} is {}, outside int32 (the device holds {} as int32)",
                                       t.name, i, v, pef::dtype_name(t.dtype)));
      w[i] = static_cast<uint32_t>(static_cast<int32_t>(v));
    }
  }
  return w;
}

HostTensor from_device_words(const std::vector<uint32_t>& w, const pef::Tensor& t) {
  HostTensor h;
  h.shape = t.shape;
  h.dtype = t.dtype;
  if (t.dtype == DType::F32) {
    h.data.resize(w.size());
    if (!w.empty()) std::memcpy(h.data.data(), w.data(), 4 * w.size());
  } else if (t.dtype == DType::BOOL) {
    h.data.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i) h.data[i] = w[i] != 0 ? 1.0f : 0.0f;
  } else {
    h.idata.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i) h.idata[i] = static_cast<int32_t>(w[i]);
  }
  return h;
}

}  // namespace openrdu::runtime
