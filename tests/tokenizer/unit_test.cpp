// Tokenizer pieces on crafted input: malformed tokenizer.json files (each with its expected
// error), invalid UTF-8, the lossy decoder, NFC alignment, BPE scan vs heap, added-token flags
// on a tiny tokenizer, and concurrent encode().
#include <dirent.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <thread>

#include "io/error.h"
#include "io/paths.h"
#include "tokenizer/byte_level.h"
#include "tokenizer_test_util.h"

namespace lsc::test {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(BadTokenizerJson, EveryCraftedFileFailsWithItsExpectedError) {
  const std::string dir = test_data("bad/tokenizer");
  const io::Json expected = io::Json::parse(read_file_or_fail(dir + "/expected_errors.json"));
  ASSERT_GE(expected.size(), 15u);
  for (const auto& [name, substring] : expected.items()) {
    const std::string path = dir + "/" + name;
    const std::string msg =
        error_of([&] { tok::parse_tokenizer_json(io::read_text_file(path), path); });
    EXPECT_NE(msg.find(substring.get<std::string>()), std::string::npos) << name << ": " << msg;
    EXPECT_EQ(msg.rfind(path, 0), 0u) << name << ": the message starts with the file: " << msg;
  }
  // Every .json file there has an expectation.
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  for (dirent* e; (e = readdir(d)) != nullptr;) {
    const std::string name = e->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".json" &&
        name != "expected_errors.json") {
      EXPECT_TRUE(expected.contains(name)) << name << " has no expected error";
    }
  }
  closedir(d);
}

TEST(LoadTokenizer, NamesTheFolderWithoutTokenizerJson) {
  const std::string dir = test_data("bad");
  EXPECT_NE(error_of([&] {
              tok::load_tokenizer(dir);
            }).find(dir + ": expected a model folder with tokenizer.json"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              tok::load_tokenizer(dir + "/nope.json");
            }).find("nope.json: expected a readable file"),
            std::string::npos);
}

const tok::Tokenizer& tiny() {
  static const tok::Tokenizer t = tok::load_tokenizer(test_data("tokenizer/tiny_tokenizer.json"));
  return t;
}

// Expected values from Hugging Face tokenizers 0.22.2 (npm @anush008/tokenizers) on the same file.
TEST(TinyTokenizer, MatchesHuggingFace) {
  const tok::Tokenizer& t = tiny();
  EXPECT_EQ(t.vocab_size(), 261);
  EXPECT_EQ(t.bpe().n_merges(), 4u);
  tok::Encoding e = t.encode("abc ab a");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{257, 32, 256, 258}));
  EXPECT_EQ(tokens_of(e), (std::vector<std::string>{"abc", "Ġ", "ab", "Ġa"}));
  EXPECT_EQ(e.offsets, (std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 4}, {4, 6}, {6, 8}}));
  e = t.encode("ab<|end|>abc");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{256, 260, 257}));
  EXPECT_EQ(e.offsets, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 9}, {9, 12}}));
  EXPECT_EQ(t.decode(e.ids, true), "ababc");
  EXPECT_EQ(t.decode(e.ids, false), "ab<|end|>abc");
  EXPECT_EQ(t.encode("xabcab").ids, (std::vector<int32_t>{120, 257, 256}));
  EXPECT_EQ(t.token_to_id("<|end|>"), 260);
  EXPECT_EQ(t.token_to_id("Ġab"), 259);
  EXPECT_EQ(t.token_to_id("zz"), -1);
  EXPECT_TRUE(t.is_special(260));
  EXPECT_FALSE(t.is_special(257));
  EXPECT_EQ(t.id_to_token(258), "Ġa");
  EXPECT_EQ(t.decode_token(258), " a");
  EXPECT_EQ(t.id_to_token(261), "");
}

TEST(InvalidUtf8, ErrorNamesTheByteOffset) {
  const tok::Tokenizer& t = tiny();
  struct Case {
    std::string text, want;
  };
  const Case cases[] = {
      {"ab\xff",
       "input text: byte 3: expected valid UTF-8, found byte 0xFF (not a UTF-8 lead byte)"},
      {"a\x80",
       "byte 2: expected valid UTF-8, found byte 0x80 (a continuation byte where a character "
       "starts)"},
      {"ok \xe4\xb8",
       "byte 4: expected valid UTF-8, found byte 0xE4 (a multi-byte sequence cut off"},
      {"\xe4\xb8x",
       "byte 1: expected valid UTF-8, found byte 0xE4 (a multi-byte sequence with a missing"},
      {"12345678\xc0\xaf", "byte 9: expected valid UTF-8, found byte 0xC0 (not a UTF-8 lead byte)"},
      {"\xe0\x80\xaf", "byte 1: expected valid UTF-8, found byte 0xE0 (an overlong encoding)"},
      {"x\xed\xa0\x80", "byte 2: expected valid UTF-8, found byte 0xED (an encoded surrogate"},
      {"\xf4\x90\x80\x80",
       "byte 1: expected valid UTF-8, found byte 0xF4 (a value above U+10FFFF)"},
  };
  for (const Case& c : cases) {
    const std::string msg = error_of([&] { t.encode(c.text); });
    EXPECT_NE(msg.find(c.want), std::string::npos) << msg;
  }
  EXPECT_EQ(tok::find_invalid_utf8("h\xc3\xa9 \xf0\x9f\x98\x80 \xe4\xb8\xad", nullptr),
            std::string_view::npos);
}

TEST(Utf8Lossy, ReplacesEachMaximalInvalidSubpart) {
  EXPECT_EQ(tok::utf8_lossy("a\xf0\x9f\x98"), "a\xef\xbf\xbd");        // cut-off emoji: one U+FFFD
  EXPECT_EQ(tok::utf8_lossy("\xe0\x80"), "\xef\xbf\xbd\xef\xbf\xbd");  // E0 80: two
  EXPECT_EQ(tok::utf8_lossy("\xff\xfe"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(tok::utf8_lossy("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(tok::utf8_lossy("\xe4\xb8\xad\xe4"), "\xe4\xb8\xad\xef\xbf\xbd");
  // One token holding part of a character decodes to U+FFFD, as HF decode([id]) does.
  const tok::Tokenizer& q = fixture_tokenizer("qwen2.5");
  EXPECT_EQ(q.decode_token(236), "\xef\xbf\xbd");
  EXPECT_EQ(q.token_bytes(236), "\x8e");
}

TEST(CharClass, AsciiTableAgreesWithUtf8procAndWhiteSpaceIsUnicodes) {
  for (uint32_t c = 0; c < 128; ++c)
    EXPECT_EQ(tok::char_class(c), tok::char_class_from_utf8proc(c)) << c;
  EXPECT_EQ(tok::char_class(0x4E2D), tok::kLetter);  // 中 Lo
  EXPECT_EQ(tok::char_class(0x0663), tok::kNumber);  // ٣ Nd
  EXPECT_EQ(tok::char_class(0x00BD), tok::kNumber);  // ½ No
  EXPECT_EQ(tok::char_class(0x2167), tok::kNumber);  // Ⅷ Nl
  EXPECT_EQ(tok::char_class(0x02B0), tok::kLetter);  // ʰ Lm
  EXPECT_EQ(tok::char_class(0x0301), 0);             // combining acute: Mn, not a letter
  EXPECT_EQ(tok::char_class(0x3000), tok::kSpace);   // ideographic space
  EXPECT_EQ(tok::char_class(0x0085), tok::kSpace);   // NEL is White_Space
  EXPECT_EQ(tok::char_class(0x001F), 0);             // unit separator is not
  EXPECT_EQ(tok::char_class(0x200B), 0);             // zero-width space is not (Cf)
}

TEST(ByteLevel, AlphabetIsABijectionOnBytes) {
  std::set<uint32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const uint32_t c = tok::byte_to_char(uint8_t(b));
    EXPECT_TRUE(seen.insert(c).second);
    EXPECT_EQ(tok::char_to_byte(c), b);
  }
  EXPECT_EQ(tok::byte_to_char(' '), 0x120u);   // Ġ
  EXPECT_EQ(tok::byte_to_char('\n'), 0x10Au);  // Ċ
  EXPECT_EQ(tok::bytes_to_byte_level("a b"), "aĠb");
}

TEST(Nfc, AlignsComposedCharactersToAllTheirSources) {
  tok::NormalizedText n = tok::nfc_with_alignment("cafe\xcc\x81!");  // e + U+0301
  EXPECT_EQ(n.text, "caf\xc3\xa9!");
  ASSERT_FALSE(n.identity);
  EXPECT_EQ(n.orig_begin[3], 3u);  // é <- bytes [3, 6) of the input
  EXPECT_EQ(n.orig_end[4], 6u);
  EXPECT_EQ(n.orig_begin[5], 6u);  // !
  n = tok::nfc_with_alignment("plain ascii \xe4\xb8\xad");
  EXPECT_TRUE(n.identity);
  EXPECT_TRUE(n.text.empty());
  EXPECT_EQ(tok::nfc("\xe2\x84\xab"), "\xc3\x85");  // U+212B ANGSTROM SIGN -> U+00C5
  EXPECT_EQ(tok::nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"), "\xea\xb0\x81");  // jamo -> 각
}

TEST(Bpe, ScanAndHeapMergeLoopsAgree) {
  const tok::Tokenizer& q = fixture_tokenizer("qwen2.5");
  std::mt19937 rng(7);
  const std::string alphabet[] = {
      "a", "b", "e", "t", "h", " ", "1", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\n", "'"};
  for (int i = 0; i < 2000; ++i) {
    std::string w;
    const size_t n = 1 + rng() % 40;
    while (w.size() < n) w += alphabet[rng() % std::size(alphabet)];
    std::vector<int32_t> scan, heap;
    q.bpe().encode_word(w, scan);
    q.bpe().encode_word(w, heap, 0);
    ASSERT_EQ(scan, heap) << w;
  }
}

TEST(Encode, ConcurrentCallsGiveTheSameIds) {
  const tok::Tokenizer& q = fixture_tokenizer("qwen3");
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) {
    texts.push_back("Wait, step " + std::to_string(i) + ": let me check \\frac{" +
                    std::to_string(i * 7) + "}{2} \xe7\xad\x89\xe4\xb8\x80\xe4\xb8\x8b <think>");
  }
  std::vector<std::vector<int32_t>> want;
  for (const auto& s : texts) want.push_back(q.encode(s).ids);
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int rep = 0; rep < 20; ++rep) {
        for (size_t i = 0; i < texts.size(); ++i)
          bad[size_t(k)] += q.encode(texts[i]).ids != want[i];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

TEST(Encode, PostProcessorTokensHaveEmptySpans) {
  const tok::Tokenizer& r1 = fixture_tokenizer("r1");
  EXPECT_EQ(r1.prefix_ids(), std::vector<int32_t>{151646});
  const tok::Encoding e = r1.encode("Hi");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e.ids[0], 151646);
  EXPECT_EQ(e.offsets[0], (std::pair<int64_t, int64_t>{0, 0}));
  EXPECT_EQ(e.offsets[1], (std::pair<int64_t, int64_t>{0, 2}));
  EXPECT_EQ(r1.encode("Hi", false).ids.size(), 1u);
  EXPECT_TRUE(r1.config().present);
  EXPECT_EQ(r1.config().add_bos_token, true);
  EXPECT_EQ(r1.config().bos_token,
            "<\xef\xbd\x9c"
            "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>");
}

}  // namespace
}  // namespace lsc::test
