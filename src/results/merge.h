// Merging the result databases of the shards of one run (`run --shard I/N`, or the ranks of an
// MPI job) into one results.sqlite with the same rows and values a single-process run writes.
// Occurrence ids are renumbered in text order, as a single uninterrupted run numbers them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lsc::results {

struct MergeResult {
  int n_shards = 0;
  int64_t n_texts = 0;
  std::vector<std::string> warnings;  // e.g. shards computed with different instruction sets
};

// The shard directories under <out_dir>/shards (one run's set: all "<I>-of-<N>" with one N).
// Throws InputError when there are none, or shards of different N.
std::vector<std::string> find_shard_dirs(const std::string& out_dir);

// Checks that shard_dirs are every shard 0..N-1 of one run (same arguments), each finished, then
// writes <out_dir>/results.sqlite (built aside and renamed into place). An existing database of a
// different run is replaced only with force. Throws InputError naming the shard and what is wrong.
MergeResult merge_shards(const std::vector<std::string>& shard_dirs, const std::string& out_dir, bool force);

}  // namespace lsc::results
