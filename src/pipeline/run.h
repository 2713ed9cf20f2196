// `logitscope run` as a library: the whole job from a JSONL file and checkpoint folders to a
// results database, summary, statistics and report. Steps, each in its own file:
//   plan      models, length cut, keyword families, every text tokenized under every model
//   schedule  groups of texts, forward passes over stacked texts, the memory check
//   (models)  forward passes keep each text's final hidden states (src/model)
//   measure   LM-head rows side by side, metrics, pairs, occurrences, windows; one commit per text
// Interrupting loses nothing: texts are committed one by one, and the same call resumes.
#pragma once

#include <string>

#include "pipeline/options.h"

namespace lsc::pipeline {

// Returns kExitOk (done; for a shard: its part done) or, stopped by a signal with what it
// finished kept, kExitInterrupted (SIGINT, or the caller's flag) or 143 (SIGTERM). Throws InputError,
// UsageError or IoError (io/error.h) on bad input, before any forward pass where it can be seen then.
int run(const RunOptions& opt);

// After the results are complete: summary.json, stats (json, md, table) and report.html in out_dir.
// A report that cannot be built is a warning (the results are already safe); returns whether
// report.html was written.
bool write_outputs(const std::string& out_dir, bool quiet);

}  // namespace lsc::pipeline
