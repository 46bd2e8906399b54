#include "fovea/io/safetensors.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using fovea::DType;
using fovea::Shape;
using fovea::Tensor;
using fovea::io::parse_safetensors;
using fovea::io::SafetensorsFile;
using fovea::test::error_of;
using Bytes = std::vector<std::byte>;
using Named = std::vector<std::pair<std::string, Tensor>>;

// A tensor whose bytes follow a simple pattern; bytes, not values, are compared (NaN patterns included).
Tensor pattern_tensor(const Shape& shape, DType dt, unsigned seed) {
  Tensor t = fovea::empty(shape, {.dtype = dt});
  const std::size_t n = static_cast<std::size_t>(t.numel()) * fovea::dtype_size(dt);
  auto* p = static_cast<unsigned char*>(t.raw_data());
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>((i * 37 + seed * 11 + 5) & 0xFF);
  return t;
}

std::vector<unsigned char> bytes_of(const Tensor& t) {
  const std::size_t n = static_cast<std::size_t>(t.numel()) * fovea::dtype_size(t.dtype());
  std::vector<unsigned char> out(n);
  if (n > 0) std::memcpy(out.data(), t.raw_data(), n);
  return out;
}

std::vector<float> floats_of(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::f32);
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  if (!out.empty()) std::memcpy(out.data(), t.raw_data(), out.size() * sizeof(float));
  return out;
}

void append_u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
}

// 8-byte length (of `header` unless given), the header text, then `data_size` bytes of data.
Bytes make_file(std::string_view header, std::size_t data_size = 0) {
  Bytes b;
  append_u64(b, header.size());
  for (char c : header) b.push_back(static_cast<std::byte>(c));
  b.resize(b.size() + data_size, std::byte{0x5A});
  return b;
}

std::uint64_t header_length(const Bytes& b) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(b[static_cast<std::size_t>(i)]);
  return n;
}

std::string header_text(const Bytes& b) {
  return {reinterpret_cast<const char*>(b.data()) + 8, static_cast<std::size_t>(header_length(b))};
}

// One tensor entry of a hand-written header.
std::string entry(std::string_view name, std::string_view dtype, std::string_view shape, std::string_view offsets) {
  return "\"" + std::string(name) + "\":{\"dtype\":\"" + std::string(dtype) + "\",\"shape\":" + std::string(shape) +
         ",\"data_offsets\":" + std::string(offsets) + "}";
}

void expect_parse_error(const Bytes& b, std::string_view needle, const std::string& source = "bad.safetensors") {
  try {
    parse_safetensors(b, source);
    ADD_FAILURE() << "expected fovea::Error containing '" << needle << "'";
  } catch (const fovea::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("[safetensors] " + source + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nexpected to contain: " << needle;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected fovea::Error, got another exception: " << e.what();
  }
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fovea_safetensors_XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    return out;
  }

 private:
  fs::path path_;
};

Bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes b(c.size());
  if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
  return b;
}

void write_all(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// ---- round trips -------------------------------------------------------------------------------

TEST(Safetensors, RoundTripEveryDtypeWithMetadata) {
  const Named in = {
      {"w_f32", pattern_tensor({2, 3}, DType::f32, 1)},  {"w_f64", pattern_tensor({4}, DType::f64, 2)},
      {"labels", pattern_tensor({2, 2}, DType::i64, 3)}, {"image", pattern_tensor({5}, DType::u8, 4)},
      {"half", pattern_tensor({3, 1}, DType::f16, 5)},   {"brain", pattern_tensor({2, 2}, DType::bf16, 6)},
      {"scalar", pattern_tensor({}, DType::f32, 7)},     {"empty", pattern_tensor({0, 3}, DType::f32, 8)},
      {"empty_u8", pattern_tensor({0}, DType::u8, 9)},   {"scalar_i64", pattern_tensor({}, DType::i64, 10)},
  };
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "fovea \xE2\x9C\x93"}};
  const Bytes b = fovea::io::serialize_safetensors(in, meta);

  // Layout: N is a multiple of 8, the header is padded with spaces, and the data fills the rest.
  const std::uint64_t n = header_length(b);
  EXPECT_EQ(n % 8, 0u);
  const std::string text = header_text(b);
  const auto header = nlohmann::json::parse(text);
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_EQ(header["w_f32"]["dtype"], "F32");
  EXPECT_EQ(header["w_f64"]["dtype"], "F64");
  EXPECT_EQ(header["labels"]["dtype"], "I64");
  EXPECT_EQ(header["image"]["dtype"], "U8");
  EXPECT_EQ(header["half"]["dtype"], "F16");
  EXPECT_EQ(header["brain"]["dtype"], "BF16");
  EXPECT_EQ(header["scalar"]["shape"], nlohmann::json::array());
  EXPECT_EQ(header["w_f32"]["data_offsets"], nlohmann::json::array({0, 24}));
  EXPECT_EQ(header["w_f64"]["data_offsets"], nlohmann::json::array({24, 56}));
  const std::size_t json_end = text.find_last_not_of(' ');
  EXPECT_EQ(text[json_end], '}');
  EXPECT_LT(text.size() - json_end - 1, 8u);
  EXPECT_EQ(b.size(), 8 + n + 24 + 32 + 32 + 5 + 6 + 8 + 4 + 0 + 0 + 8);

  const SafetensorsFile f = parse_safetensors(b, "mem");
  EXPECT_EQ(f.metadata, meta);
  ASSERT_EQ(f.tensors.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    SCOPED_TRACE(in[i].first);
    EXPECT_EQ(f.tensors[i].first, in[i].first);  // written order is offset order
    const Tensor& t = f.tensors[i].second;
    EXPECT_EQ(t.dtype(), in[i].second.dtype());
    EXPECT_EQ(t.shape(), in[i].second.shape());
    EXPECT_EQ(t.device(), fovea::kCPU);
    EXPECT_EQ(bytes_of(t), bytes_of(in[i].second));
  }
}

TEST(Safetensors, NoMetadataWritesNoMetadataKey) {
  const Bytes b = fovea::io::serialize_safetensors({{"x", pattern_tensor({2}, DType::u8, 1)}});
  EXPECT_EQ(header_text(b).find("__metadata__"), std::string::npos);
  EXPECT_TRUE(parse_safetensors(b, "mem").metadata.empty());
}

// The exact bytes the reference writer produces for {"a": float32 [1, 2]}.
TEST(Safetensors, MatchesReferenceBytes) {
  std::vector<float> v = {1.0f, 2.0f};
  const Tensor a = fovea::from_blob(v.data(), {2}, DType::f32);
  const Bytes b = fovea::io::serialize_safetensors({{"a", a}});
  const std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";  // 54 bytes
  Bytes expected = make_file(json + "  ");                                               // padded to 56
  const auto* raw = reinterpret_cast<const std::byte*>(v.data());
  expected.insert(expected.end(), raw, raw + 8);
  EXPECT_EQ(b, expected);
  EXPECT_EQ(floats_of(parse_safetensors(expected, "ref").at("a")), v);
}

TEST(Safetensors, HeaderWithWhitespaceAndAnyKeyOrderIsAccepted) {
  // Offsets are not in key order: the reader sorts by offset (older writers sorted by name).
  const std::string h = "  {" + entry("b", "U8", "[2]", "[2,4]") + ", " + entry("a", "U8", "[2]", "[0,2]") +
                        R"(,"__metadata__":null}   )";
  const SafetensorsFile f = parse_safetensors(make_file(h, 4), "mem");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].first, "a");
  EXPECT_EQ(f.tensors[1].first, "b");
  EXPECT_TRUE(f.metadata.empty());
}

TEST(Safetensors, EmptyFileHasNoTensors) {
  const Bytes b = fovea::io::serialize_safetensors({});
  EXPECT_EQ(b.size(), 16u);  // "{}" padded to 8
  const SafetensorsFile f = parse_safetensors(b, "mem");
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_NE(error_of([&] { (void)f.at("x"); }).find("no tensor 'x'"), std::string::npos);
}

TEST(Safetensors, NonContiguousInputsAreWrittenRowMajor) {
  std::vector<float> v = {0, 1, 2, 3, 4, 5};
  const Tensor base = fovea::from_blob(v.data(), {2, 3}, DType::f32);  // [[0,1,2],[3,4,5]]
  const Tensor tr = fovea::make_view(base, {3, 2}, {1, 3}, 0);         // transpose
  const Tensor col = fovea::make_view(base, {2}, {3}, 1);              // column 1, offset view
  const Tensor rows = fovea::make_view(base, {2, 2}, {0, 1}, 4);       // [4,5] broadcast (stride 0)
  ASSERT_FALSE(tr.is_contiguous());
  ASSERT_FALSE(col.is_contiguous());

  const SafetensorsFile f = parse_safetensors(
      fovea::io::serialize_safetensors({{"tr", tr}, {"col", col}, {"rows", rows}, {"base", base}}), "mem");
  EXPECT_EQ(f.at("tr").shape(), (Shape{3, 2}));
  EXPECT_EQ(floats_of(f.at("tr")), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(floats_of(f.at("col")), (std::vector<float>{1, 4}));
  EXPECT_EQ(floats_of(f.at("rows")), (std::vector<float>{4, 5, 4, 5}));
  EXPECT_EQ(floats_of(f.at("base")), v);
  EXPECT_TRUE(f.at("tr").is_contiguous());
}

TEST(Safetensors, WriterRejectsDuplicateAndReservedNames) {
  const Tensor t = pattern_tensor({2}, DType::f32, 1);
  EXPECT_NE(error_of([&] {
              fovea::io::serialize_safetensors({{"a", t}, {"b", t}, {"a", t}});
            }).find("duplicate tensor name 'a'"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              fovea::io::serialize_safetensors({{"__metadata__", t}});
            }).find("reserved"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              fovea::io::serialize_safetensors({{"a", Tensor()}});
            }).find("undefined"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fovea::io::serialize_safetensors({{"bad\xFFname", t}}); }).find("UTF-8"), std::string::npos);
}

TEST(Safetensors, AtAndContains) {
  Named in;
  for (int i = 0; i < 15; ++i)
    in.emplace_back("layer" + std::to_string(i), pattern_tensor({1}, DType::u8, static_cast<unsigned>(i)));
  const SafetensorsFile f = parse_safetensors(fovea::io::serialize_safetensors(in), "mem");
  EXPECT_TRUE(f.contains("layer3"));
  EXPECT_FALSE(f.contains("layer99"));
  EXPECT_EQ(bytes_of(f.at("layer14")), bytes_of(in[14].second));
  const std::string msg = error_of([&] { (void)f.at("layer99"); });
  EXPECT_EQ(msg.rfind("[safetensors] no tensor 'layer99'", 0), 0u) << msg;
  EXPECT_NE(msg.find("layer0, layer1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("5 more"), std::string::npos) << msg;
}

// ---- malformed buffers: each must raise fovea::Error naming the problem ----------------------------

TEST(SafetensorsMalformed, FileShorterThanEightBytes) {
  expect_parse_error(Bytes{}, "too small");
  expect_parse_error(Bytes(5, std::byte{0}), "too small");
}

TEST(SafetensorsMalformed, TruncatedData) {
  Bytes b = fovea::io::serialize_safetensors({{"a", pattern_tensor({4}, DType::f32, 1)}});
  b.resize(b.size() - 4);
  expect_parse_error(b, "truncated");
}

TEST(SafetensorsMalformed, HeaderLengthPastEndOfFile) {
  Bytes b;
  append_u64(b, 1000);
  b.resize(b.size() + 20, std::byte{' '});
  expect_parse_error(b, "past the end of the file");
}

TEST(SafetensorsMalformed, HeaderTooLarge) {
  Bytes b;
  append_u64(b, fovea::io::kMaxSafetensorsHeader + 1);
  expect_parse_error(b, "too large");
  Bytes huge;
  append_u64(huge, ~std::uint64_t{0});
  expect_parse_error(huge, "too large");
}

TEST(SafetensorsMalformed, InvalidUtf8) {
  // A stray byte, an overlong '/', a UTF-16 surrogate, a code point past U+10FFFF, a cut sequence.
  for (std::string bad : {"\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x9C"}) {
    SCOPED_TRACE(::testing::PrintToString(std::vector<unsigned char>(bad.begin(), bad.end())));
    const std::string h = "{" + entry("a" + bad, "U8", "[1]", "[0,1]") + "}";
    expect_parse_error(make_file(h, 1), "UTF-8");
  }
}

TEST(SafetensorsMalformed, BadJson) {
  expect_parse_error(make_file(R"({"a": {"dtype": "F32",)"), "not valid JSON");
  expect_parse_error(make_file("{} {}"), "not valid JSON");
  expect_parse_error(make_file("{/* comment */}"), "not valid JSON");
  expect_parse_error(make_file(""), "not valid JSON");
}

TEST(SafetensorsMalformed, JsonNotAnObject) {
  expect_parse_error(make_file("[1, 2]"), "JSON object");
  expect_parse_error(make_file("\"tensors\""), "JSON object");
}

TEST(SafetensorsMalformed, UnknownDtype) {
  expect_parse_error(make_file("{" + entry("a", "F33", "[1]", "[0,4]") + "}", 4), "unknown dtype 'F33'");
  // Names are case-sensitive, as in the reference.
  expect_parse_error(make_file("{" + entry("a", "f32", "[1]", "[0,4]") + "}", 4), "unknown dtype 'f32'");
}

TEST(SafetensorsMalformed, KnownButUnsupportedDtype) {
  expect_parse_error(make_file("{" + entry("a", "I32", "[1]", "[0,4]") + "}", 4), "does not support");
}

TEST(SafetensorsMalformed, NegativeOrFractionalShape) {
  expect_parse_error(make_file("{" + entry("a", "F32", "[-1]", "[0,4]") + "}", 4), "not a non-negative integer");
  expect_parse_error(make_file("{" + entry("a", "F32", "[2.0]", "[0,8]") + "}", 8), "not a non-negative integer");
  expect_parse_error(make_file("{" + entry("a", "F32", "4", "[0,16]") + "}", 16), "shape must be an array");
}

TEST(SafetensorsMalformed, WrongSize) {
  const std::string h = "{" + entry("conv1.weight", "F32", "[3,3]", "[0,100]") + "}";
  expect_parse_error(make_file(h, 100),
                     "tensor 'conv1.weight' has data_offsets [0, 100] but shape (3,3) x F32 needs 36 bytes",
                     "model.safetensors");
}

TEST(SafetensorsMalformed, OverlappingOffsets) {
  const std::string h = "{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[4,12]") + "}";
  expect_parse_error(make_file(h, 12), "overlap");
}

TEST(SafetensorsMalformed, GapBetweenOffsets) {
  const std::string h = "{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[12,20]") + "}";
  expect_parse_error(make_file(h, 20), "gap of 4 bytes");
  // The data must also start at offset 0.
  expect_parse_error(make_file("{" + entry("a", "F32", "[2]", "[4,12]") + "}", 12), "gap of 4 bytes at the start");
}

TEST(SafetensorsMalformed, DataNotEndingAtFileEnd) {
  expect_parse_error(make_file("{" + entry("a", "F32", "[2]", "[0,8]") + "}", 12), "4 trailing bytes");
  expect_parse_error(make_file("{}", 3), "3 trailing bytes");
}

TEST(SafetensorsMalformed, DuplicateKeys) {
  const std::string e = entry("a", "U8", "[1]", "[0,1]");
  expect_parse_error(make_file("{" + e + "," + e + "}", 1), "duplicate key 'a'");
  expect_parse_error(make_file(R"({"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1),
                     "duplicate key 'dtype'");
  expect_parse_error(make_file(R"({"__metadata__":{"k":"1","k":"2"}})"), "duplicate key 'k'");
}

TEST(SafetensorsMalformed, HugeShapeOverflows) {
  // 2^32 * 2^32 elements overflows 64 bits; so does a zero dim after the overflow (as in the reference).
  expect_parse_error(make_file("{" + entry("a", "F32", "[4294967296,4294967296]", "[0,0]") + "}"), "overflow");
  expect_parse_error(make_file("{" + entry("a", "U8", "[1099511627776,1099511627776,0]", "[0,0]") + "}"), "overflow");
  // 2^62 elements fit, their 2^64 bytes do not.
  expect_parse_error(make_file("{" + entry("a", "F32", "[4611686018427387904]", "[0,0]") + "}"), "overflow");
}

TEST(SafetensorsMalformed, HugeShapeWithMatchingOffsetsIsNotAllocated) {
  // 2^60 F32 elements with offsets that agree: only the file-size check stands between this and a 4 EiB allocation.
  const std::string h = "{" + entry("a", "F32", "[1152921504606846976]", "[0,4611686018427387904]") + "}";
  expect_parse_error(make_file(h, 16), "run past the end of the data");
}

TEST(SafetensorsMalformed, MetadataWithNonStringValue) {
  expect_parse_error(make_file(R"({"__metadata__":{"epoch":3}})"), "must be a string");
  expect_parse_error(make_file(R"({"__metadata__":{"nested":{"a":"b"}}})"), "must be a string");
  expect_parse_error(make_file(R"({"__metadata__":["a","b"]})"), "must be an object");
}

TEST(SafetensorsMalformed, EntryFields) {
  expect_parse_error(make_file(R"({"a":3})"), "expected an object");
  expect_parse_error(make_file(R"({"a":{"dtype":"U8","shape":[1]}})", 1), "missing 'data_offsets'");
  expect_parse_error(make_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":1}})", 1),
                     "unexpected key 'extra'");
  expect_parse_error(make_file(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,1]}})", 1), "dtype must be a string");
  expect_parse_error(make_file("{" + entry("a", "U8", "[1]", "[0]") + "}", 1), "data_offsets must be an array");
  expect_parse_error(make_file("{" + entry("a", "U8", "[1]", "[0,1,2]") + "}", 1), "data_offsets must be an array");
  expect_parse_error(make_file("{" + entry("a", "U8", "[1]", "[0,-1]") + "}", 1), "non-negative integers");
  expect_parse_error(make_file("{" + entry("a", "U8", "[0]", "[1,0]") + "}", 1), "begin > end");
}

TEST(SafetensorsMalformed, DeeplyNestedJson) {
  const std::string h = R"({"a":)" + std::string(100, '[') + std::string(100, ']') + "}";
  expect_parse_error(make_file(h), "nested deeper");
}

// ---- files -------------------------------------------------------------------------------------

TEST(SafetensorsFileIo, SaveThenLoad) {
  const TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const Named in = {{"conv1.weight", pattern_tensor({4, 3, 3, 3}, DType::f32, 1)},
                    {"fc.bias", pattern_tensor({10}, DType::f64, 2)},
                    {"empty", pattern_tensor({0}, DType::f32, 3)}};
  fovea::io::save_safetensors(path, in, {{"epoch", "3"}});
  EXPECT_EQ(read_all(path), fovea::io::serialize_safetensors(in, {{"epoch", "3"}}));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"model.safetensors"});  // no temp file left behind

  const SafetensorsFile f = fovea::io::load_safetensors(path);
  EXPECT_EQ(f.metadata.at("epoch"), "3");
  ASSERT_EQ(f.tensors.size(), 3u);
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(f.tensors[i].first, in[i].first);
    EXPECT_EQ(f.tensors[i].second.shape(), in[i].second.shape());
    EXPECT_EQ(bytes_of(f.tensors[i].second), bytes_of(in[i].second));
  }

  // Saving again replaces the file.
  fovea::io::save_safetensors(path, {{"x", pattern_tensor({2}, DType::u8, 9)}});
  EXPECT_TRUE(fovea::io::load_safetensors(path).contains("x"));
  EXPECT_EQ(dir.names().size(), 1u);
}

TEST(SafetensorsFileIo, LoadRejectsMalformedFiles) {
  const TempDir dir;
  Bytes b = fovea::io::serialize_safetensors({{"a", pattern_tensor({8}, DType::f32, 1)}});
  b.resize(b.size() - 1);
  const std::string truncated = dir.file("truncated.safetensors");
  write_all(truncated, b);
  const std::string msg = error_of([&] { fovea::io::load_safetensors(truncated); });
  EXPECT_EQ(msg.rfind("[safetensors] " + truncated + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  const std::string tiny = dir.file("tiny.safetensors");
  write_all(tiny, Bytes(3, std::byte{0}));
  EXPECT_NE(error_of([&] { fovea::io::load_safetensors(tiny); }).find("too small"), std::string::npos);

  const std::string past = dir.file("past.safetensors");
  Bytes short_header;
  append_u64(short_header, 64);
  short_header.resize(20, std::byte{' '});
  write_all(past, short_header);
  EXPECT_NE(error_of([&] { fovea::io::load_safetensors(past); }).find("past the end of the file"), std::string::npos);
}

TEST(SafetensorsFileIo, LoadReportsMissingFileAndDirectory) {
  const TempDir dir;
  const std::string missing = dir.file("missing.safetensors");
  const std::string msg = error_of([&] { fovea::io::load_safetensors(missing); });
  EXPECT_EQ(msg.rfind("[safetensors] cannot read " + missing + ": ", 0), 0u) << msg;
  EXPECT_NE(error_of([&] { fovea::io::load_safetensors(dir.path().string()); }).find("not a regular file"),
            std::string::npos);
}

TEST(SafetensorsFileIo, SaveIntoMissingDirectoryFails) {
  const TempDir dir;
  const std::string path = dir.file("no/such/dir/model.safetensors");
  const std::string msg = error_of([&] {
    fovea::io::save_safetensors(path, {{"a", pattern_tensor({1}, DType::u8, 1)}});
  });
  EXPECT_EQ(msg.rfind("[safetensors] cannot write " + path + ": ", 0), 0u) << msg;
  EXPECT_TRUE(dir.names().empty());
}

TEST(SafetensorsFileIo, UnwritableDirectoryKeepsOldFile) {
  const TempDir dir;
  const std::string path = dir.file("model.safetensors");
  fovea::io::save_safetensors(path, {{"old", pattern_tensor({4}, DType::f32, 1)}});
  const Bytes before = read_all(path);
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec, fs::perm_options::replace);
  if (::access(dir.path().c_str(), W_OK) == 0) {
    fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::replace);
    GTEST_SKIP() << "directory permissions are not enforced for this user (root?); see "
                    "SafetensorsFileIo.FailedWriteKeepsOldFile";
  }
  const std::string msg = error_of([&] {
    fovea::io::save_safetensors(path, {{"new", pattern_tensor({4}, DType::f32, 2)}});
  });
  fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::replace);
  EXPECT_EQ(msg.rfind("[safetensors] cannot write " + path + ": ", 0), 0u) << msg;
  EXPECT_EQ(read_all(path), before);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"model.safetensors"});
}

// A write that fails half-way (here: the file-size limit, which binds root too) must leave the old
// file as it was and remove the temp file.
TEST(SafetensorsFileIo, FailedWriteKeepsOldFile) {
  const TempDir dir;
  const std::string path = dir.file("model.safetensors");
  fovea::io::save_safetensors(path, {{"old", pattern_tensor({4}, DType::f32, 1)}});
  const Bytes before = read_all(path);
  const Named big = {{"big", pattern_tensor({64 * 1024}, DType::f32, 2)}};  // 256 KiB

  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 64 * 1024;
  if (old_limit.rlim_max != RLIM_INFINITY && old_limit.rlim_max < small.rlim_cur)
    GTEST_SKIP() << "RLIMIT_FSIZE too low";
  struct sigaction ignore {
  }, old_action{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  // Nothing may be printed until the limit is restored: stdout could be a file past the limit.
  const std::string msg = error_of([&] { fovea::io::save_safetensors(path, big); });
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::sigaction(SIGXFSZ, &old_action, nullptr);

  EXPECT_EQ(msg.rfind("[safetensors] cannot write " + path + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find(std::strerror(EFBIG)), std::string::npos) << msg;
  EXPECT_EQ(read_all(path), before);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"model.safetensors"});
}

TEST(SafetensorsFileIo, WriteFileAtomicWritesExactBytes) {
  const TempDir dir;
  const std::string path = dir.file("blob.bin");
  Bytes b(1000);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::byte>(i * 7);
  fovea::io::write_file_atomic(path, b);
  EXPECT_EQ(read_all(path), b);
  fovea::io::write_file_atomic(path, Bytes{});
  EXPECT_TRUE(read_all(path).empty());
  EXPECT_EQ(dir.names(), std::vector<std::string>{"blob.bin"});
}

}  // namespace
