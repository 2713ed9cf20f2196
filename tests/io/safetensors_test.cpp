// safetensors header parser: valid files and every malformed header the engine must reject.
// The parser takes bytes, so each case is a crafted byte string.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "io/error.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"

namespace lsc::io {
namespace {

std::string with_header(const std::string& json, size_t n_data_bytes) {
  std::string out(8, '\0');
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json + std::string(n_data_bytes, '\0');
}

SafetensorsHeader parse(const std::string& bytes) {
  return parse_safetensors_header({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "x.safetensors");
}

// Runs parse() and returns the error message ("" if it parsed).
std::string error_of(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, ParsesWrittenFileWithOffsetsAndMetadata) {
  std::vector<TensorData> t = {{"b", DType::BF16, {2, 3}, std::vector<uint8_t>(12, 1)},
                               {"a", DType::F32, {4}, std::vector<uint8_t>(16, 2)}};
  const std::string bytes = safetensors_bytes(t, {{"format", "pt"}});
  const auto h = parse(bytes);
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors[0].name, "a");  // sorted by offset; the writer puts names in order
  EXPECT_EQ(h.tensors[0].dtype, DType::F32);
  EXPECT_EQ(h.tensors[0].begin, 0u);
  EXPECT_EQ(h.tensors[0].end, 16u);
  EXPECT_EQ(h.tensors[1].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(h.metadata.at("format"), "pt");
  EXPECT_EQ(h.data_start % 8, 0u);
  EXPECT_EQ(h.data_start + 28, bytes.size());
}

TEST(Safetensors, AcceptsZeroElementTensorAndEmptyHeader) {
  EXPECT_EQ(error_of(with_header(R"({"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}})", 0)), "");
  EXPECT_EQ(error_of(with_header("{}", 0)), "");
}

TEST(Safetensors, RejectsFileShorterThanLengthPrefix) {
  EXPECT_NE(error_of("abc").find("expected 8 bytes"), std::string::npos);
}

TEST(Safetensors, RejectsHeaderLengthPastEndOfFile) {
  std::string b = with_header("{}", 0);
  b[0] = 100;  // claims 100 header bytes, file has 2
  const std::string e = error_of(b);
  EXPECT_NE(e.find("x.safetensors: header length: expected at most 2 bytes"), std::string::npos) << e;
}

TEST(Safetensors, RejectsHeaderThatIsNotJson) {
  const std::string e = error_of(with_header("{not json", 0));
  EXPECT_NE(e.find("expected valid JSON"), std::string::npos) << e;
}

TEST(Safetensors, RejectsHeaderThatIsNotAnObject) {
  const std::string e = error_of(with_header("[1,2]", 0));
  EXPECT_NE(e.find("header: expected a JSON object, found an array"), std::string::npos) << e;
}

TEST(Safetensors, RejectsUnknownDtype) {
  const std::string e = error_of(with_header(R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", 1));
  EXPECT_NE(e.find("tensor 'w': expected a known dtype"), std::string::npos) << e;
  EXPECT_NE(e.find("\"Q4\""), std::string::npos) << e;
}

TEST(Safetensors, RejectsDataOffsetsPastEndOfData) {
  const std::string e = error_of(with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
  EXPECT_NE(e.find("tensor 'w' data_offsets: expected 0 <= begin <= end <= 8"), std::string::npos) << e;
}

TEST(Safetensors, RejectsOffsetsNotMatchingShapeTimesDtype) {
  const std::string e = error_of(with_header(R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}})", 8));
  EXPECT_NE(e.find("expected 12 bytes for shape [2, 3] BF16, found 8 bytes"), std::string::npos) << e;
}

TEST(Safetensors, RejectsOverlappingTensors) {
  const std::string e = error_of(with_header(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      12));
  EXPECT_NE(e.find("tensor 'b': expected data not overlapping tensor 'a'"), std::string::npos) << e;
}

TEST(Safetensors, RejectsReversedOffsetsNegativeShapesAndMissingFields) {
  EXPECT_NE(error_of(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4)).find("data_offsets"),
            std::string::npos);
  EXPECT_NE(error_of(with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4))
                .find("non-negative integers"),
            std::string::npos);
  EXPECT_NE(error_of(with_header(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4)).find("key 'dtype'"),
            std::string::npos);
  EXPECT_NE(error_of(with_header(R"({"w":{"dtype":"F32","shape":[1]}})", 4)).find("key 'data_offsets'"),
            std::string::npos);
  EXPECT_NE(error_of(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4)).find("[begin, end]"),
            std::string::npos);
  EXPECT_NE(error_of(with_header(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4))
                .find("fits in memory"),
            std::string::npos);
}

}  // namespace
}  // namespace lsc::io
