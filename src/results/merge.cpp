#include "results/merge.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"
#include "results/results_db.h"
#include "results/shard.h"

namespace lsc::results {

namespace {

// The merged run's timing_json: the shards' last sessions summed (session and measuring seconds;
// per model its tokens, forward and packing seconds), each model's tok/s from those sums. A shard
// whose timings cannot be read adds nothing.
std::string summed_timings(const std::vector<std::string>& shards) {
  io::Json sum = {{"session_s", 0.0}, {"measure_s", 0.0}, {"models", io::Json::array()}};
  for (const std::string& text : shards) {
    io::Json t;
    try {
      t = io::parse_json(text, "timing_json");
    } catch (const InputError&) {
      continue;
    }
    if (!t.is_object()) continue;
    for (const char* k : {"session_s", "measure_s"}) sum[k] = sum[k].get<double>() + t.value(k, 0.0);
    const io::Json models = t.value("models", io::Json::array());
    for (size_t m = 0; m < models.size(); ++m) {
      if (sum["models"].size() <= m) {
        sum["models"].push_back({{"name", models[m].value("name", "")}, {"forward_tokens", int64_t{0}},
                                 {"forward_s", 0.0}, {"tokens_per_second", 0.0}, {"prepare_s", 0.0}});
      }
      io::Json& s = sum["models"][m];
      s["forward_tokens"] = s["forward_tokens"].get<int64_t>() + models[m].value("forward_tokens", int64_t{0});
      for (const char* k : {"forward_s", "prepare_s"}) s[k] = s[k].get<double>() + models[m].value(k, 0.0);
    }
  }
  for (io::Json& s : sum["models"]) {
    const double f = s["forward_s"].get<double>();
    s["tokens_per_second"] = f > 0 ? double(s["forward_tokens"].get<int64_t>()) / f : 0.0;
  }
  return sum.dump();
}

namespace fs = std::filesystem;

struct ShardInfo {
  std::string dir, db_path;
  RunMeta meta;  // meta.sharded is true: meta.shard says which shard this is
  int64_t n_done = 0;
  std::string models_isa;  // "name:precision:isa,..." to detect mixed hardware
  int index() const { return meta.shard.index; }
  int count() const { return meta.shard.count; }
};

ShardInfo read_shard(const std::string& dir) {
  ShardInfo s;
  s.dir = dir;
  s.db_path = io::join_path(dir, "results.sqlite");
  ResultsDb db(dir, {}, false);
  s.meta = db.run_meta();
  if (!s.meta.sharded) {
    throw InputError(s.db_path, "meta 'shard'", "the database of one shard (written by 'run --shard I/N' or mpirun)",
                     "a database without a shard number");
  }
  s.n_done = db.n_texts_done();
  io::Stmt m(db.db(), "SELECT name, precision, isa FROM models ORDER BY model_idx");
  while (m.step()) s.models_isa += m.col_text(0) + ":" + m.col_text(1) + ":" + m.col_text(2) + " ";
  return s;
}

std::vector<std::string> columns(io::Db& db, const std::string& table) {
  std::vector<std::string> cols;
  io::Stmt s(db, "SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid");
  while (s.step()) cols.push_back(s.col_text(0));
  return cols;
}

// "p.a, p.b, ..." over cols, with `first` in place of the first column when given.
std::string select_list(const std::vector<std::string>& cols, const std::string& prefix, const std::string& first) {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i) {
    out += (i == 0 ? "" : ", ") + (i == 0 && !first.empty() ? first : prefix + "\"" + cols[i] + "\"");
  }
  return out;
}

class Attached {
 public:
  Attached(io::Db& db, const std::string& path) : db_(db) {
    io::Stmt s(db, "ATTACH DATABASE ? AS shard");
    s.bind(1, path).run();
  }
  ~Attached() { sqlite3_exec(db_.handle(), "DETACH DATABASE shard", nullptr, nullptr, nullptr); }
  Attached(const Attached&) = delete;
  Attached& operator=(const Attached&) = delete;

 private:
  io::Db& db_;
};

}  // namespace

std::vector<std::string> find_shard_dirs(const std::string& out_dir) {
  const fs::path root = fs::path(out_dir) / "shards";
  std::map<int, std::vector<std::string>> by_count;
  std::error_code ec;
  if (fs::is_directory(root, ec)) {
    for (const auto& e : fs::directory_iterator(root, ec)) {
      const std::string name = e.path().filename().string();
      results::ShardSpec shard;
      if (!e.is_directory() || !results::parse_shard_dir_name(name, &shard)) continue;
      by_count[shard.count].push_back(e.path().string());
    }
  }
  if (by_count.empty()) {
    throw InputError(root.string(), "", "shard directories <I>-of-<N> (written by 'run --shard I/N' or mpirun)",
                     "none");
  }
  if (by_count.size() > 1) {
    std::string counts;
    for (const auto& [n, dirs] : by_count) counts += (counts.empty() ? "" : ", ") + std::to_string(n);
    throw InputError(root.string(), "", "the shards of one run (one N)",
                     "shards of runs split " + counts + " ways; give the shard directories to merge explicitly");
  }
  auto dirs = by_count.begin()->second;
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

MergeResult merge_shards(const std::vector<std::string>& shard_dirs, const std::string& out_dir, bool force) {
  if (shard_dirs.empty()) throw UsageError("merge: no shard directories given");
  std::vector<ShardInfo> shards;
  for (const auto& d : shard_dirs) shards.push_back(read_shard(d));
  std::sort(shards.begin(), shards.end(), [](const ShardInfo& a, const ShardInfo& b) { return a.index() < b.index(); });
  const ShardInfo& first = shards.front();
  MergeResult result;
  result.n_shards = first.count();
  result.n_texts = first.meta.n_texts;
  for (const ShardInfo& s : shards) {
    const std::string item = "shard " + std::to_string(s.index()) + "/" + std::to_string(s.count());
    if (s.count() != first.count() || s.meta.args_hash != first.meta.args_hash) {
      throw InputError(s.db_path, item, "a shard of the same run as " + first.db_path + " (same arguments, same N)",
                       s.count() != first.count()
                           ? "a run split " + std::to_string(s.count()) + " ways, not " + std::to_string(first.count())
                           : another_run(first.meta.args_json, s.meta.args_json, "shard " + std::to_string(first.index()),
                                         item));
    }
    if (s.n_done != s.meta.shard_texts) {
      throw InputError(s.db_path, item, "a finished shard (" + std::to_string(s.meta.shard_texts) + " texts done)",
                       std::to_string(s.n_done) + " done; run that shard again to finish it, then merge");
    }
    if (s.models_isa != first.models_isa) {
      result.warnings.push_back(item + " ran with " + s.models_isa + "but shard 0 with " + first.models_isa +
                                "(results differ within the documented tolerance between instruction sets)");
    }
  }
  for (size_t i = 0; i < shards.size(); ++i) {
    if (i > 0 && shards[i].index() == shards[i - 1].index()) {
      throw InputError(shards[i].db_path, "shard " + std::to_string(shards[i].index()) + "/" + std::to_string(first.count()),
                       "each shard once", "the same shard also in " + shards[i - 1].dir);
    }
  }
  if (static_cast<int>(shards.size()) != first.count()) {
    std::string missing;
    size_t j = 0;
    for (int i = 0; i < first.count(); ++i) {
      if (j < shards.size() && shards[j].index() == i) {
        ++j;
      } else {
        missing += (missing.empty() ? "" : ", ") + std::to_string(i);
      }
    }
    throw InputError(out_dir, "shards", "all " + std::to_string(first.count()) + " shards of the run",
                     std::to_string(shards.size()) + "; missing shard(s) " + missing);
  }

  // An existing database of another run is not replaced silently.
  const std::string out_path = io::join_path(out_dir, "results.sqlite");
  if (io::file_exists(out_path) && !force) {
    std::string stored, stored_args;
    {
      ResultsDb old(out_dir, {}, false);
      stored = old.args_hash();
      stored_args = old.args_json();
    }
    if (stored != first.meta.args_hash) {
      throw InputError(out_path, "stored run", "the run these shards belong to (to replace it with their merge)",
                       another_run(stored_args, first.meta.args_json, "stored", "the shards") +
                           "; use --force to replace it, or another --out");
    }
  }

  // Build the merged database aside, then rename it into place.
  const std::string tmp_dir = io::join_path(out_dir, ".merging");
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  io::make_dirs(tmp_dir, "the folder the merge is built in");
  {
    std::vector<std::string> families;
    {
      ResultsDb s0(first.dir, {}, false);
      io::Stmt f(s0.db(), "SELECT name FROM families ORDER BY family_idx");
      while (f.step()) families.push_back(f.col_text(0));
    }
    ResultsDb out(tmp_dir, families, true);
    io::Db& db = out.db();
    // Occurrence ids in text order, as one process numbers them (each text lives in one shard).
    db.exec("CREATE TEMP TABLE occ_map(shard INTEGER, old INTEGER, text_idx INTEGER, PRIMARY KEY(shard, old))");
    for (const ShardInfo& s : shards) {
      Attached a(db, s.db_path);
      db.exec("INSERT INTO temp.occ_map SELECT " + std::to_string(s.index()) +
              ", occ_idx, text_idx FROM shard.occurrences");
    }
    db.exec("CREATE TEMP TABLE occ_new AS SELECT shard, old, row_number() OVER (ORDER BY text_idx, shard, old) AS new "
            "FROM temp.occ_map; CREATE INDEX temp.occ_new_key ON occ_new(shard, old)");
    const auto occ_cols = columns(db, "occurrences");
    const auto win_cols = columns(db, "windows");
    std::vector<std::string> timings;  // each shard's last session (meta.timing_json)
    for (const ShardInfo& s : shards) {
      Attached a(db, s.db_path);
      {
        io::Stmt t(db, "SELECT value FROM shard.meta WHERE key = 'timing_json'");
        if (t.step()) timings.push_back(t.col_text(0));
      }
      io::Transaction tx(db);
      const std::string join = " JOIN temp.occ_new m ON m.shard = " + std::to_string(s.index()) + " AND m.old = ";
      if (s.index() == 0) {
        for (const char* t : {"meta", "models", "families"}) {
          db.exec(std::string("INSERT INTO main.") + t + " SELECT * FROM shard." + t);
        }
      }
      db.exec("INSERT OR IGNORE INTO main.skipped SELECT * FROM shard.skipped");
      for (const char* t : {"texts", "text_models", "positions", "pairs", "lens", "layer_similarity", "done"}) {
        db.exec(std::string("INSERT INTO main.") + t + " SELECT * FROM shard." + t);
      }
      db.exec("INSERT INTO main.occurrences SELECT " + select_list(occ_cols, "o.", "m.new") +
              " FROM shard.occurrences o" + join + "o.occ_idx");
      db.exec("INSERT INTO main.windows SELECT " + select_list(win_cols, "w.", "m.new") + " FROM shard.windows w" + join +
              "w.occ_idx");
      tx.commit();
    }
    const int64_t n_texts = db.query_int("SELECT count(*) FROM texts");
    const int64_t n_done = db.query_int("SELECT count(*) FROM done");
    if (n_texts != first.meta.n_texts || n_done != first.meta.n_texts) {
      throw InputError(out_dir, "shards", std::to_string(first.meta.n_texts) + " texts, each done in one shard",
                       std::to_string(n_texts) + " texts, " + std::to_string(n_done) + " done");
    }
    int64_t n_tokens = 0;
    double seconds = 0.0;
    for (const ShardInfo& s : shards) {
      n_tokens += s.meta.n_tokens;
      seconds += s.meta.compute_seconds;
    }
    io::Transaction tx(db);
    db.exec("DELETE FROM meta WHERE key IN ('shard', 'shard_texts')");
    out.mark_finished(n_tokens, seconds, first.count());
    out.set_session_timing(summed_timings(timings));
    tx.commit();
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  // The old database's WAL and shared-memory files belong to it: remove them with it.
  for (const char* f : {"results.sqlite-wal", "results.sqlite-shm"}) fs::remove(io::join_path(out_dir, f), ec);
  fs::rename(io::join_path(tmp_dir, "results.sqlite"), out_path, ec);
  if (ec) throw IoError(out_path + ": cannot move the merged database into place: " + ec.message());
  fs::remove_all(tmp_dir, ec);
  return result;
}

}  // namespace lsc::results
