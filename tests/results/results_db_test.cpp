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

}  // namespace
}  // namespace lsc::results
