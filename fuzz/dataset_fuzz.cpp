// Fuzzes parse_dataset on JSONL bytes. It reports each bad line as an error and never throws, so
// any exception is a finding here, InputError included; every non-blank line ends up either as a
// record or as exactly one error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "io/dataset.h"
#include "io/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The default field names, and a --field mapping (answer=response, id=uid) like the CLI's.
  for (const lsc::io::FieldMap& fields :
       {lsc::io::FieldMap{}, lsc::io::FieldMap{{"answer", "response"}, {"id", "uid"}}}) {
    const lsc::io::Dataset d = lsc::io::parse_dataset(bytes, "fuzz.jsonl", fields);
    FUZZ_CHECK(d.errors.size() == d.bad_lines.size());
    FUZZ_CHECK(int64_t(d.records.size() + d.errors.size()) == d.n_lines);
    for (const lsc::io::Record& r : d.records) {
      FUZZ_CHECK(r.level >= 0 && r.level <= 5);
      FUZZ_CHECK(r.is_correct >= -1 && r.is_correct <= 1);
      FUZZ_CHECK(!r.id.empty() && r.line >= 1);
      FUZZ_CHECK(lsc::io::utf8_error(r.query).empty() && lsc::io::utf8_error(r.answer).empty());
    }
    for (const std::string& e : d.errors) FUZZ_CHECK(!e.empty());
  }
  return 0;
}
