// Fuzzes parse_safetensors_header on whole-file bytes (u64 length, header JSON, data buffer).
// Bad input must end in an InputError; a header that parses must keep every promise it makes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "io/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  lsc::io::SafetensorsHeader h;
  try {
    h = lsc::io::parse_safetensors_header(bytes, "fuzz.safetensors");
  } catch (const lsc::InputError&) {
    return 0;
  } catch (const lsc::UsageError&) {
    return 0;
  }
  // The tensor table is what the checkpoint loader trusts: in range, sized by shape x dtype,
  // sorted and disjoint.
  FUZZ_CHECK(h.data_start >= 8 && h.data_start <= size);
  const uint64_t n_data = size - h.data_start;
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const lsc::io::TensorInfo& t = h.tensors[i];
    FUZZ_CHECK(t.begin <= t.end && t.end <= n_data);
    FUZZ_CHECK(t.end - t.begin ==
               static_cast<uint64_t>(t.n_elements()) * lsc::io::dtype_bytes(t.dtype));
    if (i > 0) FUZZ_CHECK(h.tensors[i - 1].end <= t.begin);
    (void)lsc::io::shape_str(t.shape);
  }
  return 0;
}
