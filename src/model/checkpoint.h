// A Hugging Face checkpoint folder: config.json plus model.safetensors or shards listed in
// model.safetensors.index.json. Shards are memory-mapped and read in place; every tensor the
// config implies is checked (present, F32/BF16/F16, shape) before any computation starts.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "model/config.h"

namespace lsc::model {

// View into a mmapped shard; valid while the Checkpoint lives.
struct TensorView {
  std::string name;
  const void* data = nullptr;
  io::DType dtype = io::DType::F32;
  std::vector<int64_t> shape;
  int i_shard = 0;
  uint64_t n_bytes = 0;
};

struct ShardInfo {
  std::string path;
  uint64_t file_bytes = 0;
  int n_tensors = 0;
};

class Checkpoint {
 public:
  // Opens and validates `dir`. Throws InputError naming the file and tensor or key at fault.
  static std::unique_ptr<Checkpoint> open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  const std::vector<ShardInfo>& shards() const { return shards_; }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  // A tensor the table marks Required (validated at open; LSC_CHECK otherwise).
  const TensorView& get(const std::string& name) const;
  // Tensors present in the files that the forward pass never reads (warned by `inspect`).
  std::vector<std::string> unused_tensors() const;
  // Bytes of the tensors the forward pass reads, per stored dtype ("BF16" -> bytes).
  std::map<std::string, uint64_t> used_bytes_by_dtype() const;
  // Starts reading the files into the page cache in the background (io::prefetch_pages), so the
  // first pass or packing finds them there.
  void prefetch() const;
  // SHA-256 (hex) of every tensor's name, dtype, shape and a sample of its bytes: all of a tensor
  // up to 12 KiB, else its first, middle and last 4 KiB. Identical files give the same value
  // wherever they lie; retrained or re-exported weights (which change throughout) give another.
  // Reads a few MiB of a 7B checkpoint, so a resume can check it cheaply.
  std::string weights_fingerprint() const;

 private:
  std::string dir_;
  ModelConfig config_;
  std::vector<io::MappedFile> files_;
  std::vector<ShardInfo> shards_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, bool> used_;  // name -> read by the forward pass
};

}  // namespace lsc::model
