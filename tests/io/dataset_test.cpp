// The JSONL dataset: valid forms of each field, every bad line reported with file:line, field,
// expected and found, and the UTF-8 checks.
#include <gtest/gtest.h>

#include "io/dataset.h"
#include "io/sha256.h"

namespace lsc::io {
namespace {

TEST(Dataset, AcceptsTheDocumentedFieldForms) {
  const std::string text =
      R"({"query": "q1", "answer": "a1", "level": 3, "is_correct": true, "id": "x", "source": "rl"})" "\n"
      R"({"query": "q2", "answer": "a2", "level": "Level 5", "is_correct": 0, "id": 7})" "\n"
      "\n"
      R"({"query": "q3", "answer": "a3"})" "\r\n";
  const Dataset d = parse_dataset(text, "d.jsonl");
  ASSERT_TRUE(d.errors.empty()) << d.errors[0];
  ASSERT_EQ(d.records.size(), 3u);
  EXPECT_EQ(d.records[0].level, 3);
  EXPECT_EQ(d.records[0].is_correct, 1);
  EXPECT_EQ(d.records[0].source, "rl");
  EXPECT_EQ(d.records[1].level, 5);
  EXPECT_EQ(d.records[1].is_correct, 0);
  EXPECT_EQ(d.records[1].id, "7");
  EXPECT_EQ(d.records[2].level, 0);       // missing: kept, left out of level groupings
  EXPECT_EQ(d.records[2].is_correct, -1);
  EXPECT_EQ(d.records[2].id, "line-4");
  EXPECT_EQ(d.records[2].line, 4);
}

// The same values written as other JSON types or case: 1.0 as 1 (as a level's 3.0 is 3), "level 2"
// as "Level 2"; 0.5 and "Levels 2" stay errors.
TEST(Dataset, NumbersAndLevelNamesInTheirOtherSpellings) {
  const std::string text =
      R"({"query": "q1", "answer": "a1", "level": "level 2", "is_correct": 1.0})" "\n"
      R"({"query": "q2", "answer": "a2", "level": 4.0, "is_correct": 0.0})" "\n"
      R"({"query": "q3", "answer": "a3", "is_correct": 0.5})" "\n"
      R"({"query": "q4", "answer": "a4", "level": "Levels 2"})" "\n";
  const Dataset d = parse_dataset(text, "d.jsonl");
  ASSERT_EQ(d.records.size(), 2u);
  EXPECT_EQ(d.records[0].level, 2);
  EXPECT_EQ(d.records[0].is_correct, 1);
  EXPECT_EQ(d.records[1].level, 4);
  EXPECT_EQ(d.records[1].is_correct, 0);
  ASSERT_EQ(d.errors.size(), 2u);
  EXPECT_NE(d.errors[0].find("d.jsonl:3: field \"is_correct\""), std::string::npos) << d.errors[0];
  EXPECT_NE(d.errors[1].find("d.jsonl:4: field \"level\""), std::string::npos) << d.errors[1];
}

TEST(Dataset, ReportsEveryBadLineNotJustTheFirst) {
  const std::string text =
      "not json\n"
      R"({"answer": "a"})" "\n"
      R"({"query": "q", "answer": "a", "level": "hard"})" "\n"
      R"({"query": "q", "answer": 5})" "\n"
      R"({"query": "q", "answer": "  "})" "\n"
      R"({"query": "q", "answer": "a", "level": 0})" "\n"
      R"({"query": "q", "answer": "a", "level": 7})" "\n"
      R"({"query": "q", "answer": "a", "is_correct": "yes"})" "\n"
      "\xEF\xBB\xBF" R"({"query": "q", "answer": "a"})" "\n"
      "{\"query\": \"q\", \"answer\": \"a\xff\"}\n"
      R"([1, 2])" "\n"
      R"({"query": "q", "answer": "fine", "id": "dup"})" "\n"
      R"({"query": "q", "answer": "fine", "id": "dup"})" "\n";
  const Dataset d = parse_dataset(text, "d.jsonl");
  ASSERT_EQ(d.errors.size(), 12u);
  EXPECT_EQ(d.records.size(), 1u);
  const std::vector<std::string> want = {
      "d.jsonl:1: byte",
      "d.jsonl:2: field \"query\": expected a string, found nothing (the field is missing)",
      "d.jsonl:3: field \"level\": expected an integer 1-5 or \"Level N\", found a string \"hard\"",
      "d.jsonl:4: field \"answer\": expected a string, found an integer 5",
      "d.jsonl:5: field \"answer\": expected a non-empty string",
      "d.jsonl:6: field \"level\": expected an integer 1-5",
      "d.jsonl:7: field \"level\": expected an integer 1-5",
      "d.jsonl:8: field \"is_correct\": expected true, false, 0 or 1, found a string \"yes\"",
      "d.jsonl:9: expected a JSON object, found a UTF-8 byte-order mark",
      "d.jsonl:10: expected UTF-8 text, found invalid UTF-8 at byte 28",
      "d.jsonl:11: expected a JSON object, found an array",
      "d.jsonl:13: field \"id\": expected an id not used by an earlier line, found \"dup\" again"};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(d.errors[i].rfind(want[i], 0), 0u) << "error " << i << ": " << d.errors[i];
  }
  EXPECT_EQ(d.bad_lines, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13}));
}

// Found by fuzz/dataset_fuzz.cpp: a number beyond double's range ended the program instead of
// being reported as a bad line.
TEST(Dataset, NumberOutOfDoubleRangeIsABadLine) {
  const std::string text =
      R"({"query": "q", "answer": "a", "level": 1e999})" "\n"
      R"({"query": "q", "answer": "a"})" "\n";
  const Dataset d = parse_dataset(text, "d.jsonl");
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0], "d.jsonl:1: expected valid JSON, found number overflow parsing '1e999'");
  EXPECT_EQ(d.records.size(), 1u);
}

// Found by fuzz/dataset_fuzz.cpp: an empty string id was kept as the record's id (ids name
// texts in the results; an empty one is not a name).
TEST(Dataset, EmptyIdIsABadLine) {
  const std::string text =
      R"({"query": "q", "answer": "a", "id": ""})" "\n"
      R"({"query": "q", "answer": "a", "id": 0})" "\n";
  const Dataset d = parse_dataset(text, "d.jsonl");
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0],
            "d.jsonl:1: field \"id\": expected a non-empty string or an integer, found an empty string");
  ASSERT_EQ(d.records.size(), 1u);
  EXPECT_EQ(d.records[0].id, "0");
}

TEST(Dataset, FieldMappingRenamesKeys) {
  const Dataset d = parse_dataset(R"({"problem": "q", "response": "a", "difficulty": 2})", "d.jsonl",
                                  {{"query", "problem"}, {"answer", "response"}, {"level", "difficulty"}});
  ASSERT_TRUE(d.errors.empty()) << d.errors[0];
  EXPECT_EQ(d.records[0].answer, "a");
  EXPECT_EQ(d.records[0].level, 2);
}

TEST(Utf8, RejectsOverlongSurrogatesAndTruncation) {
  EXPECT_EQ(utf8_error("plain ascii, é, 中文, 😀"), "");
  EXPECT_EQ(utf8_error("\xC0\xAF"), "invalid UTF-8 at byte 1");        // overlong '/'
  EXPECT_EQ(utf8_error("ab\xED\xA0\x80"), "invalid UTF-8 at byte 3");  // UTF-16 surrogate
  EXPECT_NE(utf8_error("ab\xE4\xB8"), "");                             // truncated
  EXPECT_EQ(utf8_error("\xF4\x90\x80\x80"), "invalid UTF-8 at byte 1");  // > U+10FFFF
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

}  // namespace
}  // namespace lsc::io
