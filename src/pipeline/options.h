// What a run is asked to do: the models, the data, the output folder and every option that shapes
// the results (part of the run's argument hash) or only its speed and memory (not part of it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "io/dataset.h"
#include "model/model.h"
#include "results/shard.h"

namespace lsc::pipeline {

struct RunOptions {
  // ---- what is computed (recorded in the argument hash: a changed one refuses a resume) ----
  std::vector<std::pair<std::string, std::string>> models;  // (name, checkpoint folder), in order
  std::string data_path;
  std::string out_dir;
  std::vector<std::string> keywords;       // families; default_keywords() when empty
  std::string template_spec = "notebook";  // "notebook", "chat", or a pattern
  int64_t max_tokens = 0;                  // cut texts longer than this; 0 = no cut below the models' context
  int top_k = 20;
  int window = 10;
  int64_t limit = 0;  // 0 = all records
  bool skip_invalid = false;
  io::FieldMap fields;
  model::Precision precision = model::Precision::Exact;  // model.h: Precision; README: --precision
  // The logit lens (lens.h): its layers ("none", "all", "every:K" or a list "0,7,14") and where
  // it is read ("keywords": the rows predicting each occurrence's first token ± window; "answer":
  // every answer row).
  std::string lens_spec = "none";
  std::string lens_at = "keywords";
  // Where the passes run: "cpu", or "cuda", "cuda:N", "cuda:auto" (gpu.h: the GPU backend; "auto"
  // = one GPU per MPI rank). A CUDA run records "cuda" in the argument hash, not the GPU's number.
  std::string device = "cpu";
  // Shard I of N: this process runs only its share of the texts (balanced by tokens) into
  // <out>/shards/<I>-of-<N>/results.sqlite; `merge` joins the shards. Count 1 = the whole run.
  results::ShardSpec shard;

  // ---- how it is computed (speed, memory, output; never the results) ----
  int threads = 0;  // 0 = OpenMP default
  // Texts are grouped so that all models' final hidden states of a group fit in this many bytes
  // (kept between the forward passes and the measuring step).
  int64_t group_bytes = int64_t{1} << 30;
  // Rows of one forward pass when consecutive short texts share it (1 = one text per pass).
  int64_t batch_tokens = 512;
  double max_memory_gib = 0;      // plan for at most this much memory; 0 = what the machine has available
  // The models' packed bf16 copies (model::Model::prepare): kept together for the whole run, or
  // one model's at a time (the others' released before a model packs, so each model packs again
  // in each group of texts). Auto: together when they fit in the memory available with 2 GiB to
  // spare, else one at a time.
  enum class PackResidency { Auto, AllModels, OneModel };
  PackResidency pack_residency = PackResidency::Auto;
  // The lens's final rows computed again for its KL (lens_of_model), as a GPU run must, instead of
  // taken from the measuring step's chunks: the same bits, slower (tests compare the two).
  bool lens_recompute_final = false;
  bool force = false;             // replace a results directory that holds another run
  bool quiet = false;             // no progress output
  double progress_interval = 10;  // seconds between progress lines when stderr is not a terminal
  bool shard_by_rank = false;     // the shard is this MPI rank's (rank 0 merges; no merge hint printed)
  // Set (by a signal handler, or a test) to stop the run: the forward pass under way stops at its
  // next layer (dropped), no other starts, and the texts whose passes every model has done are
  // measured and committed. Null: the run installs its own SIGINT/SIGTERM handler.
  const std::atomic<bool>* interrupt = nullptr;
  // Called after each text is committed with the number committed in this session (tests).
  std::function<void(int64_t)> on_text_committed;
  // Called after each layer of a forward pass with the model's index and the layers done (tests).
  std::function<void(size_t model, int layers_done)> on_layer;
};

}  // namespace lsc::pipeline
