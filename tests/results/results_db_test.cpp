// The results database refuses one of another schema by name (an older logitscope's run), for
// every reader and for a resume, before any SQL touches its tables.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/error.h"
#include "io/sqlite.h"
#include "results/results_db.h"

namespace lsc::results {
namespace {

namespace fs = std::filesystem;

TEST(ResultsDb, ADatabaseOfAnotherSchemaVersionIsRefusedByName) {
  const fs::path dir = fs::temp_directory_path() / ("lsc_results_db_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    ResultsDb db(dir.string(), {"wait"}, true);
    RunMeta m;
    m.n_texts = 1;
    db.write_new_run(m);
  }
  EXPECT_NO_THROW(ResultsDb(dir.string(), {"wait"}, false));
  {
    ResultsDb db(dir.string(), {"wait"}, false);
    db.db().exec("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
  }
  for (const bool create : {false, true}) {
    try {
      ResultsDb db(dir.string(), {"wait"}, create);
      ADD_FAILURE() << "opened a schema-1 database (create=" << create << ")";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("results.sqlite"), std::string::npos) << what;
      EXPECT_NE(what.find("schema_version"), std::string::npos) << what;
      EXPECT_NE(what.find(std::to_string(kSchemaVersion)), std::string::npos) << what;
    }
  }
  fs::remove_all(dir);
}

// What differs between two runs' canonical arguments, as the refusal to resume says it.
TEST(DescribeArgsChange, NamesEachDifferenceAsTheUserGaveIt) {
  const std::string base =
      R"({"data":{"path":"/d.jsonl","sha256":"aaaaaaaaaaaa"},"keywords":[],"limit":0,"max_tokens":0,"top_k":20,)"
      R"("models":[{"name":"a","path":"/m","config_sha256":"x"}]})";
  EXPECT_EQ(describe_args_change(base, base), "");
  EXPECT_EQ(describe_args_change(base, R"({"data":{"path":"/d.jsonl","sha256":"bbbbbbbbbbbb"},"keywords":["wait"],"limit":5,)"
                                       R"("max_tokens":0,"top_k":20,"device":"cuda",)"
                                       R"("models":[{"name":"a","path":"/m","config_sha256":"y"}]})"),
            "the data file's contents, sha256 (stored aaaaaaaa…, this command bbbbbbbb…); "
            "device (stored cpu, this command cuda); keywords (stored the default families, this command [\"wait\"]); "
            "limit (stored all, this command 5); config.json of model 'a'");
  EXPECT_EQ(describe_args_change(base, R"({"data":{"path":"/d.jsonl","sha256":"aaaaaaaaaaaa"},"keywords":[],"limit":0,)"
                                       R"("max_tokens":0,"top_k":20,"models":[{"name":"b","path":"/m"}]})",
                                 "shard 0", "shard 1/2"),
            "the models (shard 0 a=/m; shard 1/2 b=/m)");
  // Not the canonical arguments: nothing to say, and no exception.
  EXPECT_EQ(describe_args_change("not json", base), "");
  EXPECT_EQ(describe_args_change(R"({"models":[1,2]})", R"({"models":[3,4]})"), "the models (stored 1, 2; this command 3, 4)");
}

}  // namespace
}  // namespace lsc::results
