// safetensors serialisation: u64 header length, JSON header (8-byte aligned with spaces), data.
#include "io/safetensors_writer.h"

#include <algorithm>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"

namespace lsc::io {

namespace {

// The 8-byte length and the JSON header (padded to 8 bytes) for tensors laid out in this order.
std::string header_bytes(const std::vector<TensorSpecOut>& order, const std::map<std::string, std::string>& metadata) {
  Json h = Json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const TensorSpecOut& t : order) {
    const auto bytes = static_cast<uint64_t>(t.n_bytes());
    h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header;
}

}  // namespace

int64_t TensorSpecOut::n_bytes() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n * static_cast<int64_t>(dtype_bytes(dtype));
}

std::string safetensors_bytes(const std::vector<TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorData*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->name < b->name; });
  std::vector<TensorSpecOut> layout;
  uint64_t total = 0;
  for (const TensorData* t : order) {
    layout.push_back({t->name, t->dtype, t->shape});
    LSC_CHECK_MSG(t->bytes.size() == static_cast<size_t>(layout.back().n_bytes()), t->name);
    total += t->bytes.size();
  }
  std::string out = header_bytes(layout, metadata);
  out.reserve(out.size() + total);
  for (const TensorData* t : order) out.append(reinterpret_cast<const char*>(t->bytes.data()), t->bytes.size());
  return out;
}

void write_safetensors_streamed(const std::string& path, const std::vector<TensorSpecOut>& tensors,
                                const std::function<void(size_t, std::vector<uint8_t>&)>& fill,
                                const std::map<std::string, std::string>& metadata) {
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors[a].name < tensors[b].name; });
  std::vector<TensorSpecOut> layout;
  for (size_t i : order) layout.push_back(tensors[i]);
  AtomicFile f(path);
  f.write(header_bytes(layout, metadata));
  std::vector<uint8_t> buf;
  for (size_t i : order) {
    buf.assign(static_cast<size_t>(tensors[i].n_bytes()), 0);
    fill(i, buf);
    LSC_CHECK_MSG(buf.size() == static_cast<size_t>(tensors[i].n_bytes()), tensors[i].name);
    f.write(buf.data(), buf.size());
  }
  f.commit();
}

void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, safetensors_bytes(tensors, metadata));
}

}  // namespace lsc::io
