// Element types of host tensors (`docs/pef.md` and `docs/runtime.md`): their .npy
// spellings, which host dtype a PEF tensor accepts, and the conversion to and from the
// device's one 32-bit word per element.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "openrdu/pef/pef.h"
#include "openrdu/runtime/npy.h"

namespace openrdu::runtime {

// int64 or int32: values in HostTensor::idata.
bool is_integer(DType t);
// The .npy descr of a dtype: '<f4', '<i8', '<i4', '|b1'.
const char* npy_descr(DType t);
// The dtype of a .npy descr, or nullopt for any other.
std::optional<DType> dtype_of_npy_descr(const std::string& descr);
// NumPy's name of a dtype: "float32", "int64", "int32", "bool".
const char* npy_type_name(DType t);
// Bytes per element in a .npy file: 4, 8, 4, 1.
uint64_t npy_itemsize(DType t);
// "fp32 ('<f4')", "int64 ('<i8')", ...: how messages name a dtype.
std::string dtype_desc(DType t);

// Sets t.data / t.idata from n little-endian items of t.dtype at p (bool: any non-zero
// byte is true).
void decode_npy_values(const uint8_t* p, uint64_t n, HostTensor& t);
// Appends t's values as little-endian items of t.dtype (bool as bytes 0 / 1).
void append_npy_values(const HostTensor& t, std::vector<uint8_t>& out);

// Appends n elements of src starting at element `first` to dst (same dtype).
void append_elements(HostTensor& dst, const HostTensor& src, uint64_t first, uint64_t n);

// The same values as dtype d: fp32/bool <-> int64/int32 by value (integers truncated
// toward zero from fp32); int64 <-> int32 and equal dtypes unchanged.
HostTensor convert_dtype(const HostTensor& t, DType d);

// Whether a PEF tensor of dtype `tensor` accepts host values of dtype `given`: the same
// dtype, or int64 <-> int32 (range-checked when converted to device words).
bool accepts(DType tensor, DType given);

// The device words of a host tensor for PEF tensor t (one per element): fp32 bits, int32
// as is, int64 narrowed to int32 (a value outside int32: RuntimeError naming the tensor,
// the element index and the value), bool as 1.0f (0x3F800000) / 0.
std::vector<uint32_t> to_device_words(const HostTensor& h, const pef::Tensor& t);
// The host tensor of PEF tensor t from its device words: int32 words widened for int64
// and int32 tensors, a word != 0 is true for bool.
HostTensor from_device_words(const std::vector<uint32_t>& words, const pef::Tensor& t);

}  // namespace openrdu::runtime
