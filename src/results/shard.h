// Sharding a run over processes: `run --shard I/N` (job arrays) and MPI ranks (`mpirun -np N
// logitscope run`) both take shard I of N. Texts are assigned to shards balanced by token count,
// deterministically, so every process computes the same assignment from the same dataset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lsc::results {

struct ShardSpec {
  int index = 0;  // 0-based
  int count = 1;  // 1 = no sharding
  bool sharded() const { return count > 1; }
};

// "I/N" with 0 ≤ I < N ≤ 65536. Throws UsageError naming the flag.
ShardSpec parse_shard(const std::string& text, const std::string& flag);
// The same without an error: false unless text is "I/N" with 0 ≤ I < N ≤ 65536 (a shard's meta).
bool try_parse_shard(const std::string& text, ShardSpec* out);

// shard of each text: longest texts first, each to the least-loaded shard (ties: lower index),
// so shard loads differ by at most the longest text. Texts keep their order within a shard.
std::vector<int> assign_shards(const std::vector<int64_t>& tokens_per_text, int n_shards);

// Where shard I of N keeps its results: <out>/shards/<I>-of-<N> (merge looks there).
std::string shard_dir(const std::string& out_dir, const ShardSpec& s);
// The folder of shard_dir() back to the shard: "<I>-of-<N>" → I/N; false for any other name.
bool parse_shard_dir_name(const std::string& name, ShardSpec* out);
// As stored in a shard's meta: "I/N".
std::string shard_meta(const ShardSpec& s);

}  // namespace lsc::results
