// `logitscope tokenize`: encode a text or a JSONL file with a model's tokenizer.json, or decode
// ids, printing ids, token strings and character offsets. Reads only the tokenizer, never weights.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"
#include "tokenizer/tokenizer.h"

namespace lsc::cli {
namespace {

constexpr const char* kUsage =
    R"(usage: logitscope tokenize (--model DIR | --tokenizer FILE) INPUT [options]

Encodes text as the model's own Hugging Face tokenizer does (tokenizer.json), or decodes ids.

tokenizer (one of):
  --model DIR          checkpoint folder holding tokenizer.json (and tokenizer_config.json)
  --tokenizer FILE     a tokenizer.json file
input (one of):
  --text TEXT          one text: prints each token's id, span and string
  --jsonl FILE         one JSON object per line: writes {"ids": [...], "offsets": [[s, e], ...]}
                       per input line, in order, to standard output
  --decode IDS         comma-separated ids (e.g. 151644,8948,198): prints the decoded text
options:
  --json               print --text / --decode results as one JSON object
  --field NAME         the JSONL field to tokenize (default: text)
  --no-special         add_special_tokens off (no begin-of-sentence token for DeepSeek-R1-Distill)
  --skip-special       with --decode: leave special tokens out of the text
  --help               this text

Offsets are [start, end) in Unicode code points of the input. A token holding part of a
multi-byte character reports the whole character's span (so neighbouring spans overlap by
that character); tokens added by the post-processor report [0, 0).
Exit codes: 0 ok, 2 bad command line, 3 bad input (tokenizer file, JSONL, text).
)";

std::string json_string(std::string_view s) {
  return io::Json(std::string(s)).dump(-1, ' ', false, io::Json::error_handler_t::replace);
}

void append_ids_offsets(const tok::Encoding& e, std::string& out) {
  out += "{\"ids\": [";
  for (size_t k = 0; k < e.size(); ++k) {
    if (k > 0) out += ", ";
    out += std::to_string(e.ids[k]);
  }
  out += "], \"offsets\": [";
  for (size_t k = 0; k < e.size(); ++k) {
    if (k > 0) out += ", ";
    out += '[';
    out += std::to_string(e.offsets[k].first);
    out += ", ";
    out += std::to_string(e.offsets[k].second);
    out += ']';
  }
  out += "]";
}

void write_out(const std::string& s) {
  if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size())
    throw IoError("cannot write to standard output");
}

// Each line of `path` is one record; `field` is tokenized; one output line per input line.
void tokenize_jsonl(const tok::Tokenizer& t, const std::string& path, const std::string& field,
                    bool add_special) {
  const std::string text = io::read_text_file(path);
  std::string out;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      throw InputError(where, "", "a JSON object", "an empty line");
    }
    const io::Json rec = io::parse_json(line, where);
    if (!rec.is_object()) throw InputError(where, "", "a JSON object", io::json_type_name(rec));
    const std::string value = io::require_string(rec, field, where);
    tok::Encoding e;
    try {
      e = t.encode(value, add_special);
    } catch (InputError& err) {
      err.add_context(where + ": field '" + field + "'");
      throw;
    }
    append_ids_offsets(e, out);
    out += "}\n";
    if (out.size() > (1u << 20)) {
      write_out(out);
      out.clear();
    }
  }
  write_out(out);
}

void print_text(const tok::Tokenizer& t, const tok::Encoding& e, bool as_json) {
  std::string out;
  if (as_json) {
    append_ids_offsets(e, out);
    out += ", \"tokens\": [";
    for (size_t k = 0; k < e.size(); ++k) {
      if (k > 0) out += ", ";
      out += json_string(e.tokens[k]);
    }
    out += "]}\n";
  } else {
    out += std::to_string(e.size()) + (e.size() == 1 ? " token (" : " tokens (") + t.source() + ")\n";
    char buf[96];
    std::snprintf(buf, sizeof buf, "%6s %8s  %-14s %s\n", "#", "id", "span", "token -> text");
    out += buf;
    for (size_t k = 0; k < e.size(); ++k) {
      std::string span = "[";
      span += std::to_string(e.offsets[k].first);
      span += ',';
      span += std::to_string(e.offsets[k].second);
      span += ')';
      std::snprintf(buf, sizeof buf, "%6zu %8d  %-14s ", k, e.ids[k], span.c_str());
      out += buf;
      out += json_string(e.tokens[k]) + " -> " + json_string(t.decode_token(e.ids[k])) + "\n";
    }
  }
  write_out(out);
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  const Args args(argc, argv, {"model", "tokenizer", "text", "jsonl", "decode", "field"},
                  {"json", "no-special", "skip-special", "help"});
  if (args.has("help")) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (!args.positionals().empty())
    throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
  if (args.has("model") == args.has("tokenizer"))
    throw UsageError("give exactly one of --model DIR or --tokenizer FILE");
  const int n_inputs = int(args.has("text")) + int(args.has("jsonl")) + int(args.has("decode"));
  if (n_inputs != 1) throw UsageError("give exactly one of --text, --jsonl or --decode");
  if (args.has("field") && !args.has("jsonl")) throw UsageError("--field applies to --jsonl only");
  if (args.has("skip-special") && !args.has("decode"))
    throw UsageError("--skip-special applies to --decode only");
  if (args.has("json") && args.has("jsonl"))
    throw UsageError("--json applies to --text and --decode (--jsonl writes JSON lines already)");

  const tok::Tokenizer t =
      tok::load_tokenizer(args.has("model") ? args.require("model") : args.require("tokenizer"));
  const bool add_special = !args.has("no-special");

  if (args.has("jsonl")) {
    tokenize_jsonl(t, args.require("jsonl"), args.get_or("field", "text"), add_special);
  } else if (args.has("text")) {
    tok::Encoding e;
    try {
      e = t.encode(args.require("text"), add_special);
    } catch (InputError& err) {
      err.add_context("--text");
      throw;
    }
    print_text(t, e, args.has("json"));
  } else {
    // Ids on the command line are input, checked here as `logits --ids` checks its own: a bad one
    // is an input error (exit 3) naming its position.
    std::vector<int32_t> ids;
    const std::string list = args.require("decode");
    int64_t position = 0;  // counted from 0, as logits --ids counts
    for (size_t pos = 0; pos <= list.size(); ++position) {
      size_t end = list.find(',', pos);
      if (end == std::string::npos) end = list.size();
      const std::string item_text = list.substr(pos, end - pos);
      pos = end + 1;
      char* stop = nullptr;
      errno = 0;
      const long long id = std::strtoll(item_text.c_str(), &stop, 10);
      if (item_text.empty() || *stop != '\0' || errno != 0 || id < 0 || id >= t.vocab_size() ||
          t.id_to_token(int32_t(id)).empty()) {
        throw InputError("--decode: token id at position " + std::to_string(position) +
                         ": expected a token id in [0, " + std::to_string(t.vocab_size()) +
                         ") that has a token, found \"" + item_text + "\"");
      }
      ids.push_back(int32_t(id));
    }
    const std::string text = t.decode(ids, args.has("skip-special"));
    write_out(args.has("json") ? "{\"text\": " + json_string(text) + "}\n" : text + "\n");
  }
  return kExitOk;
}

}  // namespace lsc::cli
