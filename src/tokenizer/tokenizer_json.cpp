// tokenizer.json -> Tokenizer: reads each pipeline piece, checks it is one this implementation
// supports exactly, and reports anything else as an InputError naming the file and the key.
// Also finds the files of a model folder (tokenizer.json, tokenizer_config.json).
#include <sys/stat.h>

#include <algorithm>

#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace lsc::tok {
namespace {

using io::Json;
using io::json_brief;
using io::json_type_name;

// Token ids index dense tables (8 bytes and two strings per id), so an id is capped well above
// released vocabularies (Qwen 151,665; Gemma 262,144) and far below what would exhaust memory.
constexpr int64_t kMaxTokenId = (int64_t{1} << 22) - 1;
const std::string kIdRange = "an integer id in [0, " + std::to_string(kMaxTokenId) + "]";

std::string type_of(const Json& obj, const std::string& where, const std::string& key) {
  if (!obj.is_object()) throw InputError(where, key, "an object", json_type_name(obj));
  auto it = obj.find("type");
  if (it == obj.end() || !it->is_string()) {
    throw InputError(where, key + ".type", "a string",
                     it == obj.end() ? "nothing" : json_type_name(*it));
  }
  return it->get<std::string>();
}

bool flag(const Json& obj, const char* name, bool fallback, const std::string& where,
          const std::string& key) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean())
    throw InputError(where, key + "." + name, "true or false", json_type_name(*it));
  return it->get<bool>();
}

void require_flag(const Json& obj, const char* name, bool want, bool fallback,
                  const std::string& where, const std::string& key) {
  if (flag(obj, name, fallback, where, key) != want) {
    throw InputError(where, key + "." + name,
                     std::string(want ? "true" : "false") + " (the only value supported)",
                     want ? "false" : "true");
  }
}

void read_normalizer(const Json& n, const std::string& where, const std::string& key, bool* nfc) {
  if (n.is_null()) return;
  const std::string type = type_of(n, where, key);
  if (type == "NFC") {
    *nfc = true;
  } else if (type == "Sequence") {
    const Json& list = io::require_key(n, "normalizers", where);
    if (!list.is_array())
      throw InputError(where, key + ".normalizers", "an array", json_type_name(list));
    for (size_t i = 0; i < list.size(); ++i) {
      read_normalizer(list[i], where, key + ".normalizers[" + std::to_string(i) + "]", nfc);
    }
  } else {
    throw InputError(where, key + ".type", "\"NFC\" or \"Sequence\" (supported normalizers)",
                     "\"" + type + "\"");
  }
}

void read_pre_tokenizer(const Json& pt, const std::string& where, SplitPattern* split) {
  const std::string key = "pre_tokenizer";
  const std::string expected =
      "a Sequence of Split (the Qwen or Llama 3 regex, Isolated) and ByteLevel (use_regex false)";
  if (pt.is_null()) throw InputError(where, key, expected, "null");
  if (type_of(pt, where, key) != "Sequence") throw InputError(where, key, expected, json_brief(pt));
  const Json& list = io::require_key(pt, "pretokenizers", where);
  if (!list.is_array() || list.size() != 2)
    throw InputError(where, key + ".pretokenizers", expected, json_brief(list));
  const std::string k0 = key + ".pretokenizers[0]", k1 = key + ".pretokenizers[1]";
  if (type_of(list[0], where, k0) != "Split")
    throw InputError(where, k0, "a Split pre-tokenizer", json_brief(list[0]));
  const Json& pattern = io::require_key(list[0], "pattern", where);
  if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string()) {
    throw InputError(where, k0 + ".pattern", "{\"Regex\": \"...\"}", json_brief(pattern));
  }
  const std::string regex = pattern["Regex"].get<std::string>();
  if (!parse_split_pattern(regex, split)) {
    throw InputError(where, k0 + ".pattern.Regex",
                     "the Qwen2 split regex (or Llama 3's \\p{N}{1,3} variant)",
                     "\"" + regex + "\"");
  }
  const std::string behavior = io::require_string(list[0], "behavior", where);
  if (behavior != "Isolated")
    throw InputError(where, k0 + ".behavior", "\"Isolated\"", "\"" + behavior + "\"");
  require_flag(list[0], "invert", false, false, where, k0);
  if (type_of(list[1], where, k1) != "ByteLevel")
    throw InputError(where, k1, "a ByteLevel pre-tokenizer", json_brief(list[1]));
  require_flag(list[1], "add_prefix_space", false, true, where, k1);
  require_flag(list[1], "use_regex", false, true, where, k1);
}

struct PostProcessor {
  std::vector<int32_t> prefix, suffix;
  std::vector<std::string> prefix_tokens, suffix_tokens;
};

void read_post_processor(const Json& pp, const std::string& where, const std::string& key,
                         PostProcessor* out) {
  if (pp.is_null()) return;
  const std::string type = type_of(pp, where, key);
  if (type == "ByteLevel") {
    // trim_offsets would move offsets past surrounding spaces; the files we support leave it off.
    require_flag(pp, "trim_offsets", false, true, where, key);
    return;
  }
  if (type == "Sequence") {
    const Json& list = io::require_key(pp, "processors", where);
    if (!list.is_array())
      throw InputError(where, key + ".processors", "an array", json_type_name(list));
    for (size_t i = 0; i < list.size(); ++i) {
      read_post_processor(list[i], where, key + ".processors[" + std::to_string(i) + "]", out);
    }
    return;
  }
  if (type != "TemplateProcessing") {
    throw InputError(where, key + ".type", "\"TemplateProcessing\", \"ByteLevel\" or \"Sequence\"",
                     "\"" + type + "\"");
  }
  const Json& single = io::require_key(pp, "single", where);
  const Json& specials = io::require_key(pp, "special_tokens", where);
  if (!single.is_array())
    throw InputError(where, key + ".single", "an array", json_type_name(single));
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string ki = key + ".single[" + std::to_string(i) + "]";
    const Json& item = single[i];
    if (item.is_object() && item.contains("Sequence")) {
      const std::string id = io::require_string(item["Sequence"], "id", where);
      if (id != "A" || seen_sequence)
        throw InputError(where, ki, "the sequence \"A\" once", json_brief(item));
      seen_sequence = true;
    } else if (item.is_object() && item.contains("SpecialToken")) {
      const std::string name = io::require_string(item["SpecialToken"], "id", where);
      auto it = specials.is_object() ? specials.find(name) : specials.end();
      if (it == specials.end()) {
        throw InputError(where, ki, "a special token listed in " + key + ".special_tokens",
                         "\"" + name + "\"");
      }
      const Json& ids = io::require_key(*it, "ids", where);
      const Json& toks = io::require_key(*it, "tokens", where);
      if (!ids.is_array() || !toks.is_array() || ids.size() != toks.size()) {
        throw InputError(where, key + ".special_tokens." + name,
                         "arrays \"ids\" and \"tokens\" of equal length", json_brief(*it));
      }
      for (size_t k = 0; k < ids.size(); ++k) {
        if (!ids[k].is_number_integer() || !toks[k].is_string()) {
          throw InputError(where, key + ".special_tokens." + name, "integer ids and string tokens",
                           json_brief(*it));
        }
        // Range first: get<int32_t>() would wrap 2^32 + 260 to 260.
        const int64_t id = ids[k].get<int64_t>();
        if (id < 0 || id > kMaxTokenId) {
          throw InputError(where, key + ".special_tokens." + name + ".ids", kIdRange,
                           std::to_string(id));
        }
        (seen_sequence ? out->suffix : out->prefix).push_back(int32_t(id));
        (seen_sequence ? out->suffix_tokens : out->prefix_tokens)
            .push_back(toks[k].get<std::string>());
      }
    } else {
      throw InputError(where, ki, "{\"SpecialToken\": ...} or {\"Sequence\": ...}",
                       json_brief(item));
    }
  }
  if (!seen_sequence)
    throw InputError(where, key + ".single", "the sequence \"A\"", json_brief(single));
}

void read_model(const Json& model, const std::string& where, BpeModel* bpe, int32_t* max_id) {
  if (!model.is_object())
    throw InputError(where, "model", "a BPE model object", json_type_name(model));
  auto t = model.find("type");
  if (t == model.end() || !t->is_string() || t->get<std::string>() != "BPE") {
    throw InputError(where, "model.type", "\"BPE\" (the only model type supported)",
                     t == model.end() ? "nothing" : json_brief(*t));
  }
  auto null_or_empty = [&](const char* name) {
    auto it = model.find(name);
    if (it != model.end() && !it->is_null() &&
        !(it->is_string() && it->get<std::string>().empty())) {
      throw InputError(where, std::string("model.") + name, "null or \"\" (not supported)",
                       json_brief(*it));
    }
  };
  null_or_empty("dropout");
  null_or_empty("continuing_subword_prefix");
  null_or_empty("end_of_word_suffix");
  require_flag(model, "byte_fallback", false, false, where, "model");
  bpe->set_ignore_merges(flag(model, "ignore_merges", false, where, "model"));

  const Json& vocab = io::require_key(model, "vocab", where);
  if (!vocab.is_object())
    throw InputError(where, "model.vocab", "an object {token: id}", json_type_name(vocab));
  bpe->reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > kMaxTokenId) {
      throw InputError(where, "model.vocab[\"" + it.key() + "\"]", kIdRange,
                       json_brief(it.value()));
    }
    const int32_t id = it.value().get<int32_t>();
    if (!bpe->add_token(it.key(), id)) {
      throw InputError(where, "model.vocab", "each token once", "\"" + it.key() + "\" twice");
    }
    *max_id = std::max(*max_id, id);
  }
  const std::string missing = bpe->finish();
  if (!missing.empty()) {
    throw InputError(where, "model.vocab", "all 256 byte-level characters",
                     "no token \"" + missing + "\"");
  }

  const Json& merges = io::require_key(model, "merges", where);
  if (!merges.is_array())
    throw InputError(where, "model.merges", "an array", json_type_name(merges));
  for (size_t i = 0; i < merges.size(); ++i) {
    const Json& m = merges[i];
    const std::string key = "model.merges[" + std::to_string(i) + "]";
    std::string left, right;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        throw InputError(where, key, "\"left right\" (two tokens, one space)", json_brief(m));
      }
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      throw InputError(where, key, "\"left right\" or [\"left\", \"right\"]", json_brief(m));
    }
    const std::string err = bpe->add_merge(left, right, int32_t(i));
    if (!err.empty())
      throw InputError(where, key, "a merge of two vocabulary tokens", json_brief(m) + ": " + err);
  }
}

}  // namespace

Tokenizer parse_tokenizer_json(std::string_view json, const std::string& where) {
  const Json root = io::parse_json(json, where);
  if (!root.is_object())
    throw InputError(where, "", "a JSON object (tokenizer.json)", json_type_name(root));
  Tokenizer t;
  t.source_ = where;
  auto model = root.find("model");
  if (model == root.end()) throw InputError(where, "key 'model'", "a BPE model object", "nothing");
  int32_t max_id = -1;
  read_model(*model, where, &t.bpe_, &max_id);

  if (auto n = root.find("normalizer"); n != root.end())
    read_normalizer(*n, where, "normalizer", &t.nfc_);
  auto pt = root.find("pre_tokenizer");
  read_pre_tokenizer(pt == root.end() ? Json() : *pt, where, &t.split_);
  PostProcessor post;
  if (auto pp = root.find("post_processor"); pp != root.end())
    read_post_processor(*pp, where, "post_processor", &post);
  if (auto d = root.find("decoder"); d != root.end() && !d->is_null()) {
    const std::string type = type_of(*d, where, "decoder");
    if (type != "ByteLevel")
      throw InputError(where, "decoder.type", "\"ByteLevel\" or null", "\"" + type + "\"");
  } else {
    t.byte_level_decoder_ = false;
  }

  if (auto at = root.find("added_tokens"); at != root.end() && !at->is_null()) {
    if (!at->is_array()) throw InputError(where, "added_tokens", "an array", json_type_name(*at));
    for (size_t i = 0; i < at->size(); ++i) {
      const Json& a = (*at)[i];
      const std::string key = "added_tokens[" + std::to_string(i) + "]";
      if (!a.is_object()) throw InputError(where, key, "an object", json_type_name(a));
      AddedToken tok;
      const int64_t id = io::require_int(a, "id", where + ": " + key);
      if (id < 0 || id > kMaxTokenId)
        throw InputError(where, key + ".id", kIdRange, std::to_string(id));
      tok.id = int32_t(id);
      tok.content = io::require_string(a, "content", where + ": " + key);
      if (tok.content.empty())
        throw InputError(where, key + ".content", "a non-empty string", "\"\"");
      tok.single_word = flag(a, "single_word", false, where, key);
      tok.lstrip = flag(a, "lstrip", false, where, key);
      tok.rstrip = flag(a, "rstrip", false, where, key);
      tok.normalized = flag(a, "normalized", false, where, key);
      tok.special = flag(a, "special", false, where, key);
      max_id = std::max(max_id, tok.id);
      t.added_.push_back(std::move(tok));
    }
  }

  // Id tables over the BPE vocabulary and the added tokens. Each id stands for one string: the
  // encoder advances through the text by the byte length of each BPE id it emits, so a second
  // string under the same id would leave ids and text out of step.
  t.tokens_.assign(size_t(max_id + 1), std::string());
  t.token_bytes_.assign(size_t(max_id + 1), std::string());
  t.special_.assign(size_t(max_id + 1), 0);
  std::vector<uint8_t> taken(size_t(max_id + 1), 0);
  for (const auto& [token, id] : t.bpe_.vocab()) {
    if (taken[size_t(id)]) {
      throw InputError(where, "model.vocab", "each id once",
                       "id " + std::to_string(id) + " for both \"" + t.tokens_[size_t(id)] +
                           "\" and \"" + token + "\"");
    }
    taken[size_t(id)] = 1;
    t.tokens_[size_t(id)] = token;
    std::string bytes;
    if (!byte_level_to_bytes(token, bytes)) bytes = token;
    t.token_bytes_[size_t(id)] = std::move(bytes);
  }
  for (size_t i = 0; i < t.added_.size(); ++i) {
    const AddedToken& a = t.added_[i];
    // An added token may repeat a vocabulary entry (same id, same string), not replace one.
    if (taken[size_t(a.id)] && t.tokens_[size_t(a.id)] != a.content) {
      throw InputError(
          where, "added_tokens[" + std::to_string(i) + "].id",
          "an id that no other token uses (or the vocabulary's id of \"" + a.content + "\")",
          std::to_string(a.id) + ", already the token \"" + t.tokens_[size_t(a.id)] + "\"");
    }
    taken[size_t(a.id)] = 1;
    t.tokens_[size_t(a.id)] = a.content;
    // The ByteLevel decoder maps a token through the byte alphabet when every character is in
    // it and keeps the token's own UTF-8 otherwise (e.g. "<｜User｜>").
    std::string bytes;
    if (!byte_level_to_bytes(a.content, bytes)) bytes = a.content;
    t.token_bytes_[size_t(a.id)] = std::move(bytes);
    t.special_[size_t(a.id)] = a.special ? 1 : 0;
    (a.normalized ? t.has_normalized_added_ : t.has_plain_added_) = true;
    t.added_first_byte_[a.normalized ? 1 : 0][static_cast<uint8_t>(a.content[0])] = true;
  }
  size_t pool_size = 0;
  for (const std::string& tok : t.tokens_) pool_size += tok.size();
  if (pool_size > UINT32_MAX)
    throw InputError(where, "", "token strings under 4 GB in total", "more");
  t.token_pool_.reserve(pool_size);
  t.info_.resize(t.tokens_.size());
  for (size_t id = 0; id < t.tokens_.size(); ++id) {
    const std::string& tok = t.tokens_[id];
    if (tok.size() > UINT16_MAX || t.token_bytes_[id].size() > UINT16_MAX) {
      throw InputError(where, "token " + std::to_string(id), "at most 65535 bytes",
                       std::to_string(tok.size()));
    }
    t.info_[id] = {uint32_t(t.token_pool_.size()), uint16_t(tok.size()),
                   uint16_t(t.token_bytes_[id].size())};
    t.token_pool_ += tok;
  }
  // Longest first, so the first hit at a position is the longest match there.
  std::stable_sort(t.added_.begin(), t.added_.end(), [](const AddedToken& x, const AddedToken& y) {
    return x.content.size() > y.content.size();
  });
  for (size_t k = 0; k < post.prefix.size() + post.suffix.size(); ++k) {
    const bool pre = k < post.prefix.size();
    const int32_t id = pre ? post.prefix[k] : post.suffix[k - post.prefix.size()];
    if (id < 0 || id > max_id || t.tokens_[size_t(id)].empty()) {
      throw InputError(where, "post_processor", "special token ids that exist", std::to_string(id));
    }
  }
  t.prefix_ids_ = post.prefix;
  t.suffix_ids_ = post.suffix;
  t.prefix_tokens_ = post.prefix_tokens;
  t.suffix_tokens_ = post.suffix_tokens;
  return t;
}

namespace {

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string token_string(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return {};
}

TokenizerConfig read_config(const std::string& path) {
  TokenizerConfig c;
  const Json j = io::parse_json(io::read_text_file(path), path);
  if (!j.is_object()) throw InputError(path, "", "a JSON object", json_type_name(j));
  c.present = true;
  if (auto it = j.find("tokenizer_class"); it != j.end() && it->is_string())
    c.tokenizer_class = it->get<std::string>();
  if (auto it = j.find("bos_token"); it != j.end()) c.bos_token = token_string(*it);
  if (auto it = j.find("eos_token"); it != j.end()) c.eos_token = token_string(*it);
  if (auto it = j.find("pad_token"); it != j.end()) c.pad_token = token_string(*it);
  if (auto it = j.find("add_bos_token"); it != j.end() && it->is_boolean())
    c.add_bos_token = it->get<bool>();
  if (auto it = j.find("add_eos_token"); it != j.end() && it->is_boolean())
    c.add_eos_token = it->get<bool>();
  if (auto it = j.find("chat_template"); it != j.end() && it->is_string())
    c.chat_template = it->get<std::string>();
  return c;
}

}  // namespace

Tokenizer load_tokenizer(const std::string& path_or_model_dir) {
  std::string dir, file;
  if (is_directory(path_or_model_dir)) {
    dir = path_or_model_dir;
    file = io::join_path(dir, "tokenizer.json");
    if (!io::file_exists(file)) {
      throw InputError(path_or_model_dir, "", "a model folder with tokenizer.json",
                       "no tokenizer.json");
    }
  } else {
    file = path_or_model_dir;
    const size_t slash = file.find_last_of('/');
    dir = slash == std::string::npos ? "." : file.substr(0, slash);
  }
  Tokenizer t = parse_tokenizer_json(io::read_text_file(file), file);
  const std::string config = io::join_path(dir, "tokenizer_config.json");
  if (io::file_exists(config)) t.config_ = read_config(config);
  // Newer checkpoints keep the chat template in a file of its own.
  const std::string jinja = io::join_path(dir, "chat_template.jinja");
  if (t.config_.chat_template.empty() && io::file_exists(jinja)) t.config_.chat_template = io::read_text_file(jinja);
  return t;
}

}  // namespace lsc::tok
