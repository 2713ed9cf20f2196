// Checkpoint opening: config, shard index, headers, and validation against the tensor table.
#include "model/checkpoint.h"

#include <set>

#include "io/error.h"
#include "io/json.h"
#include "io/sha256.h"
#include "model/tensor_table.h"
#include "io/paths.h"

namespace lsc::model {

namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// Shard file names from the index, in first-appearance order; checks that each name is a plain
// file name (no path components) and that the file exists.
std::vector<std::string> shard_names_from_index(const std::string& dir, const std::string& index_path,
                                                 std::map<std::string, std::string>* weight_map) {
  io::Json j = io::parse_json(io::read_text_file(index_path), index_path);
  const io::Json& wm = io::require_key(j, "weight_map", index_path);
  if (!wm.is_object() || wm.empty()) {
    throw InputError(index_path, "key 'weight_map'", "a non-empty object {tensor: shard file}", io::json_type_name(wm));
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (auto it = wm.begin(); it != wm.end(); ++it) {
    if (!it.value().is_string()) {
      throw InputError(index_path, "weight_map entry '" + it.key() + "'", "a shard file name",
                       io::json_type_name(it.value()));
    }
    std::string f = it.value().get<std::string>();
    if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..") {
      throw InputError(index_path, "weight_map entry '" + it.key() + "'", "a file name inside the folder",
                       "\"" + f + "\"");
    }
    (*weight_map)[it.key()] = f;
    if (seen.insert(f).second) {
      if (!io::file_exists(io::join_path(dir, f))) {
        throw InputError(index_path, "weight_map entry '" + it.key() + "'",
                         "shard '" + f + "' to exist in " + dir, "no such file");
      }
      names.push_back(f);
    }
  }
  return names;
}

}  // namespace

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& dir) {
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  ck->dir_ = dir;
  const std::string config_path = io::join_path(dir, "config.json");
  if (!io::file_exists(dir)) throw InputError(dir, "", "a checkpoint folder", "no such file or directory");
  if (!io::is_directory(dir)) throw InputError(dir, "", "a checkpoint folder", io::file_kind(dir));
  if (!io::file_exists(config_path)) throw InputError(config_path, "", "a config.json in the checkpoint folder", "no such file");
  ck->config_ = parse_config(io::read_text_file(config_path), config_path);

  // Which files hold the tensors.
  std::vector<std::string> shard_names;
  std::map<std::string, std::string> weight_map;
  const std::string index_path = io::join_path(dir, kIndexFile);
  if (io::file_exists(index_path)) {
    shard_names = shard_names_from_index(dir, index_path, &weight_map);
  } else if (io::file_exists(io::join_path(dir, kSingleFile))) {
    shard_names.push_back(kSingleFile);
  } else {
    throw InputError(dir, "", std::string(kSingleFile) + " or " + kIndexFile, "neither");
  }

  // Map every shard and read its header.
  for (size_t i = 0; i < shard_names.size(); ++i) {
    const std::string path = io::join_path(dir, shard_names[i]);
    io::MappedFile f(path);
    io::SafetensorsHeader h = io::parse_safetensors_header(f.bytes(), path);
    const std::byte* base = f.bytes().data() + h.data_start;
    for (const auto& t : h.tensors) {
      if (ck->tensors_.count(t.name)) {
        throw InputError(path, "tensor '" + t.name + "'", "to appear in one shard only",
                         "it also in " + ck->shards_[static_cast<size_t>(ck->tensors_[t.name].i_shard)].path);
      }
      if (!weight_map.empty()) {
        auto it = weight_map.find(t.name);
        if (it != weight_map.end() && it->second != shard_names[i]) {
          throw InputError(index_path, "tensor '" + t.name + "'", "in shard '" + it->second + "' (as the index says)",
                           "it in '" + shard_names[i] + "'");
        }
      }
      ck->tensors_[t.name] = TensorView{t.name, base + t.begin, t.dtype, t.shape, static_cast<int>(i), t.end - t.begin};
    }
    ck->shards_.push_back({path, f.size(), static_cast<int>(h.tensors.size())});
    ck->files_.push_back(std::move(f));
  }
  for (const auto& [name, file] : weight_map) {
    if (!ck->tensors_.count(name)) {
      throw InputError(io::join_path(dir, file), "tensor '" + name + "'", "to be present (the index lists it)",
                       "no such tensor in the shard");
    }
  }

  // Validate against the table: presence, dtype, shape.
  for (auto& [name, view] : ck->tensors_) ck->used_[name] = false;
  for_each_tensor(ck->config_, [&](const TensorSpec& spec) {
    auto it = ck->tensors_.find(spec.name);
    if (spec.need == Need::Ignored) return;
    if (it == ck->tensors_.end()) {
      throw InputError(dir, "tensor '" + spec.name + "'", "present with shape " + io::shape_str(spec.shape),
                       "no such tensor in " + std::to_string(ck->shards_.size()) + " shard(s)");
    }
    const TensorView& t = it->second;
    const std::string& file = ck->shards_[static_cast<size_t>(t.i_shard)].path;
    if (t.dtype != io::DType::F32 && t.dtype != io::DType::BF16 && t.dtype != io::DType::F16) {
      throw InputError(file, "tensor '" + spec.name + "'", "dtype F32, BF16 or F16", io::dtype_name(t.dtype));
    }
    if (t.shape != spec.shape) {
      throw InputError(file, "tensor '" + spec.name + "'", "shape " + io::shape_str(spec.shape), io::shape_str(t.shape));
    }
    ck->used_[spec.name] = true;
  });
  return ck;
}

const TensorView& Checkpoint::get(const std::string& name) const {
  auto it = tensors_.find(name);
  LSC_CHECK_MSG(it != tensors_.end(), name);
  return it->second;
}

std::vector<std::string> Checkpoint::unused_tensors() const {
  std::vector<std::string> out;
  for (const auto& [name, used] : used_) {
    if (!used) out.push_back(name);
  }
  return out;
}

std::map<std::string, uint64_t> Checkpoint::used_bytes_by_dtype() const {
  std::map<std::string, uint64_t> out;
  for (const auto& [name, used] : used_) {
    if (used) {
      const TensorView& t = tensors_.at(name);
      out[io::dtype_name(t.dtype)] += t.n_bytes;
    }
  }
  return out;
}

void Checkpoint::prefetch() const {
  for (const io::MappedFile& f : files_) io::prefetch_pages(f.bytes().data(), f.size());
}

std::string Checkpoint::weights_fingerprint() const {
  constexpr uint64_t kSlice = 4096;
  std::string sample;
  for (const auto& [name, t] : tensors_) {  // (a map: in name order, whatever the files' order)
    sample += name;
    sample += '\0';
    sample += io::dtype_name(t.dtype);
    for (const int64_t d : t.shape) sample += "," + std::to_string(d);
    sample += '\0';
    const char* bytes = static_cast<const char*>(t.data);
    if (t.n_bytes <= 3 * kSlice) {
      sample.append(bytes, t.n_bytes);
    } else {
      for (const uint64_t at : {uint64_t{0}, (t.n_bytes - kSlice) / 2, t.n_bytes - kSlice}) sample.append(bytes + at, kSlice);
    }
  }
  return io::sha256_hex(sample);
}

}  // namespace lsc::model
