// The demo dataset: ~60 short math reasoning traces written for logitscope (levels 1-5, correct
// and incorrect, "wait"/"hmm"/"let me check"/"actually"/"therefore" in the places a reasoning
// model puts them), as JSONL text.
#pragma once

#include <string>

namespace lsc::cli {

std::string demo_dataset_jsonl();

}  // namespace lsc::cli
