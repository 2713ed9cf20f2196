// The one table of tensors a config implies: name (the checkpoint's own string), shape, and
// whether it is required. Loading, validation, the unused-tensor warning and the shape tests all
// walk this table; there is no second list.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/config.h"

namespace lsc::model {

enum class Need {
  Required,  // must be present with this shape
  Ignored,   // read by nobody (lm_head.weight of a tied model): reported as unused if present
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // row-major, as stored: [out_features, in_features] for Linear
  Need need = Need::Required;
};

// "model.layers.<i>.<suffix>"
std::string layer_tensor_name(int i_layer, const std::string& suffix);

void for_each_tensor(const ModelConfig& cfg, const std::function<void(const TensorSpec&)>& fn);

}  // namespace lsc::model
