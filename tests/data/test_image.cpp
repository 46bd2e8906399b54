// PNG/JPEG decoding and encoding, and image-folder datasets.
#include <gtest/gtest.h>
#include <png.h>
// jpeglib.h needs FILE and size_t declared before it
#include <jpeglib.h>
#include <cstdio>

#include <csetjmp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fovea/core/generator.h"
#include "fovea/data/dataset.h"
#include "fovea/io/image.h"
#include "tests/data/data_test_util.h"

namespace {

namespace fs = std::filesystem;
using fovea::DType;
using fovea::Shape;
using fovea::Tensor;
using fovea::io::read_image;
using fovea::test::error_of;
using fovea::test::fresh_dir;
using fovea::test::raw_bytes;
using Bytes = std::vector<unsigned char>;

// A PNG written by libpng directly, for the colour types and depths write_png never produces.
struct PngSpec {
  std::uint32_t width = 3, height = 2;
  int color_type = PNG_COLOR_TYPE_GRAY;
  int bit_depth = 8;
  Bytes rows;  // packed rows, 16-bit samples big-endian
  std::vector<png_color> palette;
  Bytes trans;  // tRNS alpha per palette entry
  bool interlace = false;
};

void write_png_raw(const fs::path& p, const PngSpec& s) {
  std::FILE* f = std::fopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr) << p;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  const std::size_t stride = s.rows.size() / s.height;
  std::vector<png_bytep> rows(s.height);
  for (std::uint32_t y = 0; y < s.height; ++y) rows[y] = const_cast<png_bytep>(s.rows.data()) + y * stride;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    FAIL() << "libpng could not write " << p;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type,
               s.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty()) png_set_PLTE(png, info, s.palette.data(), static_cast<int>(s.palette.size()));
  if (!s.trans.empty()) png_set_tRNS(png, info, s.trans.data(), static_cast<int>(s.trans.size()), nullptr);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

// pixels: (H,W,C) interleaved, C 1 or 3
void write_jpeg(const fs::path& p, int w, int h, int channels, const Bytes& pixels, int quality = 95) {
  std::FILE* f = std::fopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr) << p;
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data()) + cinfo.next_scanline * static_cast<std::size_t>(w * channels);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(f);
}

// A w x h JPEG of one colour (C = colour.size()).
void write_flat_jpeg(const fs::path& p, int w, int h, const Bytes& colour) {
  Bytes px;
  for (int i = 0; i < w * h; ++i) px.insert(px.end(), colour.begin(), colour.end());
  write_jpeg(p, w, h, static_cast<int>(colour.size()), px);
}

Tensor u8_image(const Shape& s, const Bytes& v) {
  Tensor t = fovea::empty(s, {.dtype = DType::u8});
  std::copy(v.begin(), v.end(), t.data<std::uint8_t>());
  return t;
}

void expect_image(const fs::path& p, const Shape& shape, const Bytes& values, int channels = 0) {
  const Tensor t = read_image(p.string(), channels);
  EXPECT_EQ(t.shape(), shape) << p;
  EXPECT_EQ(t.dtype(), DType::u8);
  EXPECT_EQ(raw_bytes(t), values) << p;
}

std::size_t count_files(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(Image, PngRoundTrip) {
  const fs::path dir = fresh_dir();
  const Tensor grey = fovea::test::random_u8_image({1, 5, 7}, 1);
  const Tensor rgb = fovea::test::random_u8_image({3, 4, 6}, 2);
  fovea::io::write_png((dir / "grey.png").string(), grey);
  fovea::io::write_png((dir / "rgb.png").string(), rgb);
  expect_image(dir / "grey.png", {1, 5, 7}, raw_bytes(grey));
  expect_image(dir / "rgb.png", {3, 4, 6}, raw_bytes(rgb));
  EXPECT_EQ(fovea::io::read_image_shape((dir / "rgb.png").string()), (Shape{3, 4, 6}));
  // overwriting goes through a temp file and a rename: no temp file is left behind
  fovea::io::write_png((dir / "rgb.png").string(), grey);
  expect_image(dir / "rgb.png", {1, 5, 7}, raw_bytes(grey));
  EXPECT_EQ(count_files(dir), 2u);
}

TEST(Image, WritePngFromFloatRoundsAndClamps) {
  const fs::path p = fresh_dir() / "f.png";
  const Tensor f = fovea::from_vector<float>({-0.5f, 0.0f, 0.5f, 1.0f, 2.0f, NAN}, {1, 1, 6});
  fovea::io::write_png(p.string(), f);
  expect_image(p, {1, 1, 6}, {0, 0, 128, 255, 255, 0});
}

TEST(Image, WritePngRejectsOtherLayouts) {
  const std::string p = (fresh_dir() / "x.png").string();
  EXPECT_CONTAINS(error_of([&] {
                    fovea::io::write_png(p, fovea::zeros({2, 4, 4}, {.dtype = DType::u8}));
                  }),
                  "[write_png] " + p + ": expected a CPU image (C,H,W) with C 1 or 3, u8 or f32, got u8 (2,4,4)");
  EXPECT_CONTAINS(error_of([&] {
                    fovea::io::write_png(p, fovea::zeros({3, 4}, {.dtype = DType::f64}));
                  }),
                  "got f64 (3,4)");
  EXPECT_CONTAINS(error_of([&] { fovea::io::write_png(p, fovea::zeros({1, 0, 4})); }), "image size 0x4");
  EXPECT_FALSE(fs::exists(p));
}

TEST(Image, ChannelConversion) {
  const fs::path dir = fresh_dir();
  // red, green, blue, white, black
  const Tensor rgb = u8_image({3, 1, 5}, {255, 0, 0, 255, 0, 0, 255, 0, 255, 0, 0, 0, 255, 255, 0});
  fovea::io::write_png((dir / "rgb.png").string(), rgb);
  // ITU-R 601-2 luma with PIL's rounding: what torchvision's Grayscale gives for these pixels
  expect_image(dir / "rgb.png", {1, 1, 5}, {76, 150, 29, 255, 0}, 1);
  expect_image(dir / "rgb.png", {3, 1, 5}, raw_bytes(rgb), 3);
  fovea::io::write_png((dir / "grey.png").string(), u8_image({1, 1, 2}, {7, 200}));
  expect_image(dir / "grey.png", {3, 1, 2}, {7, 200, 7, 200, 7, 200}, 3);
  EXPECT_CONTAINS(error_of([&] { read_image((dir / "grey.png").string(), 2); }),
                  "[image] channels must be 0 (keep the file's), 1 (grey) or 3 (RGB), got 2");
}

TEST(Image, PngColourTypesAndDepths) {
  const fs::path dir = fresh_dir();
  PngSpec s;
  s.rows = {0, 100, 255, 1, 2, 3};
  write_png_raw(dir / "grey8.png", s);
  expect_image(dir / "grey8.png", {1, 2, 3}, s.rows);

  s.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;  // alpha is dropped
  s.rows = {10, 0, 20, 255, 30, 9, 40, 1, 50, 2, 60, 3};
  write_png_raw(dir / "grey_alpha.png", s);
  expect_image(dir / "grey_alpha.png", {1, 2, 3}, {10, 20, 30, 40, 50, 60});

  s.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  s.width = 2;
  s.height = 1;
  s.rows = {1, 2, 3, 0, 4, 5, 6, 255};
  write_png_raw(dir / "rgba.png", s);
  expect_image(dir / "rgba.png", {3, 1, 2}, {1, 4, 2, 5, 3, 6});

  s.color_type = PNG_COLOR_TYPE_PALETTE;  // with tRNS: still RGB, transparency dropped
  s.width = 3;
  s.palette = {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}};
  s.trans = {0, 128};
  s.rows = {2, 0, 1};
  write_png_raw(dir / "palette.png", s);
  expect_image(dir / "palette.png", {3, 1, 3}, {70, 10, 40, 80, 20, 50, 90, 30, 60});
  EXPECT_EQ(fovea::io::read_image_shape((dir / "palette.png").string()), (Shape{3, 1, 3}));
  s.palette.clear();
  s.trans.clear();

  // 16-bit samples are rounded (v * 255 / 65535), not truncated to the high byte: 0x12FF -> 19, not 18
  s.color_type = PNG_COLOR_TYPE_GRAY;
  s.bit_depth = 16;
  s.rows = {0x12, 0xFF, 0xFF, 0xFF, 0x80, 0x80};
  write_png_raw(dir / "grey16.png", s);
  expect_image(dir / "grey16.png", {1, 1, 3}, {19, 255, 128});

  s.color_type = PNG_COLOR_TYPE_RGB;
  s.width = 1;
  s.rows = {0x12, 0xFF, 0x00, 0x00, 0xFF, 0xFF};
  write_png_raw(dir / "rgb16.png", s);
  expect_image(dir / "rgb16.png", {3, 1, 1}, {19, 0, 255});

  // low bit depths scale to the full range: 1-bit 1 -> 255, 4-bit 5 -> 85
  s.color_type = PNG_COLOR_TYPE_GRAY;
  s.width = 3;
  s.bit_depth = 1;
  s.rows = {0b10100000};
  write_png_raw(dir / "grey1.png", s);
  expect_image(dir / "grey1.png", {1, 1, 3}, {255, 0, 255});
  s.bit_depth = 4;
  s.rows = {0x50, 0xF0};
  write_png_raw(dir / "grey4.png", s);
  expect_image(dir / "grey4.png", {1, 1, 3}, {85, 0, 255});

  // Adam7 interlacing decodes to the same pixels
  s.color_type = PNG_COLOR_TYPE_RGB;
  s.bit_depth = 8;
  s.width = s.height = 9;
  const Tensor img = fovea::test::random_u8_image({9, 9, 3}, 3);  // (H,W,C) bytes
  s.rows = raw_bytes(img);
  s.interlace = true;
  write_png_raw(dir / "adam7.png", s);
  expect_image(dir / "adam7.png", {3, 9, 9}, raw_bytes(img.permute({2, 0, 1})));
}

TEST(Image, JpegRgbAndGrey) {
  const fs::path dir = fresh_dir();
  write_flat_jpeg(dir / "rgb.jpg", 16, 8, {200, 100, 50});
  const Tensor rgb = read_image((dir / "rgb.jpg").string());
  ASSERT_EQ(rgb.shape(), (Shape{3, 8, 16}));
  const std::vector<std::uint8_t> v = raw_bytes(rgb);
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], (i < 128 ? 200 : i < 256 ? 100 : 50), 3) << i;
  EXPECT_EQ(fovea::io::read_image_shape((dir / "rgb.jpg").string()), (Shape{3, 8, 16}));
  EXPECT_EQ(read_image((dir / "rgb.jpg").string(), 1).shape(), (Shape{1, 8, 16}));

  write_flat_jpeg(dir / "grey.jpeg", 5, 3, {77});
  const Tensor grey = read_image((dir / "grey.jpeg").string());
  ASSERT_EQ(grey.shape(), (Shape{1, 3, 5}));
  for (std::uint8_t b : raw_bytes(grey)) EXPECT_NEAR(b, 77, 2);
  // the format comes from the signature, not the name
  fs::copy_file(dir / "grey.jpeg", dir / "grey.png");
  EXPECT_EQ(raw_bytes(read_image((dir / "grey.png").string())), raw_bytes(grey));
}

TEST(Image, NotAnImageFile) {
  const fs::path dir = fresh_dir();
  fovea::test::write_bytes(dir / "notes.png", {'h', 'e', 'l', 'l', 'o', '\n'});
  EXPECT_CONTAINS(error_of([&] { read_image((dir / "notes.png").string()); }),
                  "[image] " + (dir / "notes.png").string() + ": not a PNG or JPEG file");
  fovea::test::write_bytes(dir / "empty.jpg", {});
  EXPECT_CONTAINS(error_of([&] { fovea::io::read_image_shape((dir / "empty.jpg").string()); }),
                  "not a PNG or JPEG file");
  EXPECT_CONTAINS(error_of([&] { read_image((dir / "absent.png").string()); }),
                  "[image] cannot open " + (dir / "absent.png").string());
}

TEST(Image, CorruptPng) {
  const fs::path dir = fresh_dir();
  fovea::io::write_png((dir / "ok.png").string(), fovea::test::random_u8_image({3, 16, 16}, 4));
  const Bytes ok = fovea::test::read_bytes(dir / "ok.png");

  Bytes cut(ok.begin(), ok.begin() + static_cast<std::ptrdiff_t>(ok.size() / 2));
  fovea::test::write_bytes(dir / "cut.png", cut);
  // the header is intact: the shape reads, the pixels do not
  EXPECT_EQ(fovea::io::read_image_shape((dir / "cut.png").string()), (Shape{3, 16, 16}));
  EXPECT_CONTAINS(error_of([&] { read_image((dir / "cut.png").string()); }),
                  "[image] " + (dir / "cut.png").string() + ": corrupt PNG data: ");

  Bytes flipped = ok;
  flipped[ok.size() / 2] ^= 0xFF;  // inside IDAT: the chunk's CRC no longer matches
  fovea::test::write_bytes(dir / "flipped.png", flipped);
  EXPECT_CONTAINS(error_of([&] { read_image((dir / "flipped.png").string()); }),
                  (dir / "flipped.png").string() + ": corrupt PNG data: ");

  Bytes bad_header = ok;
  bad_header[18] ^= 0x01;  // IHDR width
  fovea::test::write_bytes(dir / "header.png", bad_header);
  EXPECT_CONTAINS(error_of([&] { fovea::io::read_image_shape((dir / "header.png").string()); }),
                  (dir / "header.png").string() + ": corrupt PNG data: IHDR: CRC error");
}

TEST(Image, CorruptJpeg) {
  const fs::path dir = fresh_dir();
  Bytes px(24 * 24 * 3);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i * 13);
  write_jpeg(dir / "ok.jpg", 24, 24, 3, px);
  const Bytes ok = fovea::test::read_bytes(dir / "ok.jpg");
  fovea::test::write_bytes(dir / "cut.jpg", Bytes(ok.begin(), ok.end() - static_cast<std::ptrdiff_t>(ok.size() / 3)));
  EXPECT_CONTAINS(error_of([&] { read_image((dir / "cut.jpg").string()); }),
                  "[image] " + (dir / "cut.jpg").string() + ": corrupt JPEG data: Premature end of JPEG file");
  fovea::test::write_bytes(dir / "junk.jpg", {0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02, 0x03});
  EXPECT_CONTAINS(error_of([&] { read_image((dir / "junk.jpg").string()); }),
                  (dir / "junk.jpg").string() + ": corrupt JPEG data: ");
}

// Damaged files must give a fovea::Error, never a crash, a hang or another exception type.
TEST(Image, DamagedFilesNeverCrash) {
  const fs::path dir = fresh_dir();
  fovea::io::write_png((dir / "a.png").string(), fovea::test::random_u8_image({3, 12, 10}, 5));
  Bytes px(20 * 12);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i * 7);
  write_jpeg(dir / "a.jpg", 20, 12, 1, px);
  fovea::Generator g(11);
  int failures = 0;
  for (const char* name : {"a.png", "a.jpg"}) {
    const Bytes original = fovea::test::read_bytes(dir / name);
    for (int trial = 0; trial < 150; ++trial) {
      Bytes b = original;
      if (trial % 3 == 0) {
        b.resize(3 + g.below(b.size() - 3));
      } else {
        for (int k = 0, n = 1 + static_cast<int>(g.below(4)); k < n; ++k)
          b[3 + g.below(b.size() - 3)] = static_cast<unsigned char>(g.below(256));
      }
      const fs::path p = dir / (std::string("damaged_") + name);
      fovea::test::write_bytes(p, b);
      try {
        const Tensor t = read_image(p.string());
        EXPECT_EQ(t.dim(), 3);
      } catch (const fovea::Error& e) {
        ++failures;
        EXPECT_CONTAINS(e.what(), p.string());
      }
    }
  }
  EXPECT_GT(failures, 0);
}

// ---- image folders ----

// root/cat: b.png, a.png (+ a hidden file); root/dog: c.jpg, d.png; root/.cache (hidden) is skipped
fs::path make_folder(int size_of_d = 8, const std::string& tag = "") {
  const fs::path root = fresh_dir(tag);
  fs::create_directories(root / "cat");
  fs::create_directories(root / "dog");
  fs::create_directories(root / ".cache");
  fovea::io::write_png((root / "cat" / "b.png").string(), u8_image({1, 8, 8}, Bytes(64, 20)));
  fovea::io::write_png((root / "cat" / "a.png").string(), u8_image({3, 8, 8}, Bytes(192, 10)));
  fovea::test::write_bytes(root / "cat" / ".DS_Store", {'x'});
  fovea::test::write_bytes(root / ".cache" / "junk.txt", {'x'});
  write_flat_jpeg(root / "dog" / "c.jpg", 8, 8, {100, 150, 200});
  fovea::io::write_png((root / "dog" / "d.png").string(),
                       u8_image({3, 8, static_cast<std::int64_t>(size_of_d)}, Bytes(24 * size_of_d, 40)));
  return root;
}

TEST(ImageFolder, ListsClassesAndFilesInOrder) {
  const fs::path root = make_folder();
  const fovea::data::DatasetPtr ds = fovea::data::image_folder(root.string());
  EXPECT_EQ(ds->classes(), (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(ds->size(), 4);
  EXPECT_EQ(ds->name(), "folder:" + root.string());
  // channels 0: the first image's (a.png, RGB); the grey b.png becomes RGB
  EXPECT_EQ(ds->image_shape(), (Shape{3, 8, 8}));
  const std::vector<std::int64_t> labels = {0, 0, 1, 1};
  const std::vector<int> first_value = {10, 20, -1, 40};  // -1: the JPEG, checked approximately
  for (std::int64_t i = 0; i < 4; ++i) {
    const fovea::data::Example ex = ds->get(i);
    EXPECT_EQ(ex.label, labels[static_cast<std::size_t>(i)]);
    EXPECT_EQ(ex.image.shape(), (Shape{3, 8, 8}));
    if (first_value[static_cast<std::size_t>(i)] >= 0) {
      EXPECT_EQ(raw_bytes(ex.image), Bytes(192, static_cast<unsigned char>(first_value[static_cast<std::size_t>(i)])));
    }
  }
  const std::vector<std::uint8_t> jpeg = raw_bytes(ds->get(2).image);
  EXPECT_NEAR(jpeg[0], 100, 3);
  EXPECT_NEAR(jpeg[64], 150, 3);
  EXPECT_NEAR(jpeg[128], 200, 3);

  const fovea::data::DatasetPtr grey = fovea::data::image_folder(root.string(), {.channels = 1});
  EXPECT_EQ(grey->image_shape(), (Shape{1, 8, 8}));
  EXPECT_EQ(grey->get(3).image.shape(), (Shape{1, 8, 8}));
  EXPECT_EQ(raw_bytes(grey->get(1).image), Bytes(64, 20));
}

TEST(ImageFolder, OpenedByItsDataString) {
  const fs::path root = make_folder();
  const fovea::data::Splits s = fovea::data::open("folder:" + root.string(), {.val_fraction = 0.25, .seed = 3});
  EXPECT_EQ(s.train->size(), 3);
  EXPECT_EQ(s.test->size(), 1);
  EXPECT_EQ(s.train->classes(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_CONTAINS(error_of([] { fovea::data::open("cifar10"); }),
                  "[data] unknown data 'cifar10' (expected fashion-mnist, fashion-mnist:DIR, mnist:DIR or folder:DIR)");
  EXPECT_CONTAINS(error_of([] { fovea::data::open("mnist:/nonexistent/mnist"); }), "/nonexistent/mnist not found");
}

// The fingerprint distributed ranks compare: the same for the same files wherever the folder
// lies, another when a file's size differs.
TEST(ImageFolder, FingerprintFollowsTheFilesNotTheirPlace) {
  const fs::path a = make_folder(8, "_a"), b = make_folder(8, "_b"), c = make_folder(8, "_c");
  fovea::io::write_png((c / "dog" / "e.png").string(), u8_image({3, 8, 8}, Bytes(192, 50)));  // one more file
  const auto print = [](const fs::path& root) { return fovea::data::image_folder(root.string())->fingerprint(); };
  EXPECT_NE(a, b);
  EXPECT_EQ(print(a), print(b));
  EXPECT_NE(print(a), print(c));
  const fovea::data::Splits sa = fovea::data::open("folder:" + a.string()),
                            sb = fovea::data::open("folder:" + b.string());
  EXPECT_EQ(sa.train->fingerprint(), sb.train->fingerprint());
  EXPECT_NE(sa.train->fingerprint(), sa.test->fingerprint());
}

TEST(ImageFolder, MixedSizesHaveNoCommonShape) {
  const fs::path root = make_folder(9);
  const fovea::data::DatasetPtr ds = fovea::data::image_folder(root.string());
  EXPECT_EQ(ds->image_shape(), Shape{});
  EXPECT_EQ(ds->get(3).image.shape(), (Shape{3, 8, 9}));
}

TEST(ImageFolder, NonImageFileIsAnErrorNamingIt) {
  const fs::path root = make_folder();
  fovea::test::write_bytes(root / "dog" / "notes.txt", {'h', 'i'});
  EXPECT_CONTAINS(error_of([&] { fovea::data::image_folder(root.string()); }),
                  (root / "dog" / "notes.txt").string() + ": not a PNG or JPEG file");
}

TEST(ImageFolder, CorruptPngIsAnErrorNamingIt) {
  const fs::path root = make_folder();
  const Bytes ok = fovea::test::read_bytes(root / "dog" / "d.png");
  // signature, IHDR and the start of IDAT intact, the rest cut: found when the image is read
  fovea::test::write_bytes(root / "dog" / "d.png", Bytes(ok.begin(), ok.begin() + 45));
  const fovea::data::DatasetPtr ds = fovea::data::image_folder(root.string());
  EXPECT_CONTAINS(error_of([&] { ds->get(3); }), (root / "dog" / "d.png").string() + ": corrupt PNG data");
  // header damaged: found when the folder is listed
  Bytes bad = ok;
  bad[20] ^= 0x40;
  fovea::test::write_bytes(root / "dog" / "d.png", bad);
  EXPECT_CONTAINS(error_of([&] { fovea::data::image_folder(root.string()); }),
                  (root / "dog" / "d.png").string() + ": corrupt PNG data");
}

TEST(ImageFolder, BadFolders) {
  const fs::path root = fresh_dir();
  EXPECT_CONTAINS(error_of([&] { fovea::data::image_folder((root / "absent").string()); }),
                  "[image-folder] folder " + (root / "absent").string() + " not found");
  EXPECT_CONTAINS(error_of([&] { fovea::data::image_folder(root.string()); }), "has no class sub-folders");
  fs::create_directories(root / "empty_class");
  EXPECT_CONTAINS(error_of([&] { fovea::data::image_folder(root.string()); }),
                  "class folder " + (root / "empty_class").string() + " has no images");
  EXPECT_CONTAINS(error_of([&] { fovea::data::image_folder(root.string(), {.channels = 4}); }),
                  "[image-folder] channels must be 0");
}

}  // namespace
