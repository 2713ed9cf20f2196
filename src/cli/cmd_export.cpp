// `logitscope export DIR --table NAME --format csv|jsonl`: any results table to stdout (or --out).
// BLOB columns (top-k ids and log-probs) are expanded into JSON arrays.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"
#include "results/results_db.h"

namespace lsc::cli {

namespace {

constexpr const char* kHelp =
    "usage: logitscope export DIR --table NAME [--format csv|jsonl] [--out FILE]\n"
    "  Writes a table of DIR/results.sqlite as CSV (header row, RFC 4180 quoting) or JSON Lines\n"
    "  (one object per row, keys in column order).\n"
    "  Tables: meta models families texts skipped text_models positions occurrences windows pairs\n"
    "          lens layer_similarity (run --lens) stats_tests (the statistics of stats.json) done\n";

const char* kTables[] = {"meta",  "models", "families", "texts",          "skipped",    "text_models", "positions",
                         "occurrences", "windows", "pairs", "lens", "layer_similarity", "stats_tests", "done"};

// Rows as JSON objects keep the table's column order.
using Row = nlohmann::ordered_json;

// RFC 4180 quoting where needed; an empty string is written "" so it differs from NULL (nothing).
std::string csv_quote(const std::string& s) {
  if (s.empty()) return "\"\"";
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// BLOBs are little-endian int32 ids (topk_ids) or float32 log-probs (topk_logprobs).
Row blob_json(const std::string& column, const std::vector<uint8_t>& b) {
  Row a = Row::array();
  for (size_t i = 0; i + 4 <= b.size(); i += 4) {
    if (column == "topk_ids") {
      int32_t v;
      std::memcpy(&v, &b[i], 4);
      a.push_back(v);
    } else {
      float v;
      std::memcpy(&v, &b[i], 4);
      a.push_back(v);
    }
  }
  return a;
}

}  // namespace

int cmd_export(int argc, char** argv) {
  Args args(argc, argv, {"table", "format", "out"}, {"help"});
  if (args.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.positionals().size() != 1) throw UsageError("export takes one results directory\n" + std::string(kHelp));
  const std::string table = args.require("table");
  bool known = false;
  for (const char* t : kTables) known = known || table == t;
  if (!known) throw UsageError("--table: unknown table '" + table + "'\n" + kHelp);
  const std::string format = args.get_or("format", "csv");
  if (format != "csv" && format != "jsonl") throw UsageError("--format: expected csv or jsonl, found \"" + format + "\"");
  results::ResultsDb db(args.positionals()[0], {}, false);
  {
    io::Stmt q(db.db(), "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    q.bind(1, table);
    if (q.step() && q.col_int(0) == 0) {
      throw InputError(db.path(), "table '" + table + "'", "a table of a finished run",
                       table == "stats_tests" ? "no such table yet (run 'logitscope stats " + args.positionals()[0] +
                                                    "' first)"
                                              : "no such table");
    }
  }
  // --out FILE is written as FILE.tmp and renamed when complete: a failed export leaves no partial
  // FILE (and no FILE.tmp) behind, and an earlier FILE stays as it was.
  std::unique_ptr<io::AtomicFile> file;
  if (const std::string out_path = args.get_or("out", ""); !out_path.empty()) {
    file = std::make_unique<io::AtomicFile>(out_path);
  }
  auto emit = [&](const std::string& text) {
    if (file) {
      file->write(text);
    } else if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
      throw IoError(std::string("export: cannot write to standard output: ") +
                    std::strerror(errno));
    }
  };
  // Rows in primary-key order, so a table exports to the same bytes however its rows were written
  // (a merged run inserts text_models shard by shard). Tables without one: in insertion order.
  std::vector<std::pair<int64_t, std::string>> key;
  {
    io::Stmt k(db.db(), "SELECT pk, name FROM pragma_table_info(?) WHERE pk > 0");
    k.bind(1, table);
    while (k.step()) key.emplace_back(k.col_int(0), k.col_text(1));
  }
  std::sort(key.begin(), key.end());
  std::string order;
  for (const auto& [i, name] : key) order += (order.empty() ? " ORDER BY \"" : ", \"") + name + "\"";
  io::Stmt s(db.db(), "SELECT * FROM " + table + order);
  const int n = s.n_columns();
  if (format == "csv") {
    std::string header;
    for (int i = 0; i < n; ++i) header += (i ? "," : "") + s.col_name(i);
    emit(header + "\n");
  }
  while (s.step()) {
    Row row = Row::object();
    std::string line;
    for (int i = 0; i < n; ++i) {
      const std::string name = s.col_name(i);
      Row v;
      switch (s.col_type(i)) {
        case SQLITE_INTEGER: v = s.col_int(i); break;
        case SQLITE_FLOAT: v = s.col_double(i); break;
        case SQLITE_TEXT: v = s.col_text(i); break;
        case SQLITE_BLOB: v = blob_json(name, s.col_blob(i)); break;
        default: v = nullptr;
      }
      if (format == "jsonl") {
        row[name] = v;
      } else {
        if (i) line += ',';
        if (v.is_string()) {
          line += csv_quote(v.get<std::string>());
        } else if (!v.is_null()) {
          line += v.is_array() ? csv_quote(v.dump()) : v.dump();
        }
      }
    }
    if (format == "jsonl") line = row.dump(-1, ' ', false, Row::error_handler_t::replace);
    line += '\n';
    emit(line);
  }
  if (file) {
    file->commit();
  } else if (std::fflush(stdout) != 0) {
    throw IoError(std::string("export: cannot write to standard output: ") + std::strerror(errno));
  }
  return 0;
}

}  // namespace lsc::cli
