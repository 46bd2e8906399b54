#include "fovea/io/image.h"

#include <png.h>
// jpeglib.h needs FILE and size_t declared before it
#include <jerror.h>
#include <jpeglib.h>
#include <cstdio>
#include <cstdlib>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "fovea/core/error.h"
#include "fovea/io/safetensors.h"

namespace fovea::io {

namespace {

constexpr std::string_view kOp = "image";
// Refused before allocating: a corrupt header must not ask for gigabytes (16384 x 16384).
constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 28;
constexpr unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

enum class Format { png, jpeg };

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// State shared with the libpng/libjpeg callbacks. Plain data only: a longjmp out of those
// libraries skips destructors, so nothing that needs one may live in the frames it crosses.
struct Decode {
  std::FILE* file = nullptr;
  bool header_only = false;
  std::uint32_t width = 0, height = 0;
  int channels = 0;                 // the file's colour model with alpha dropped: 1 or 3
  unsigned char* pixels = nullptr;  // malloc'd (H,W,C) interleaved; freed by the caller
  unsigned char** rows = nullptr;   // malloc'd row pointers; freed by the caller
  const char* kind = "PNG";
  char message[JMSG_LENGTH_MAX + 128] = {};
};

bool set_message(Decode* d, const char* msg) {
  std::snprintf(d->message, sizeof d->message, "%s", msg);
  return false;
}

// True when the image is too large, with the reason in msg.
bool too_large(char* msg, std::size_t size, std::uint64_t w, std::uint64_t h) {
  if (w * h <= kMaxPixels) return false;
  std::snprintf(msg, size, "%llux%llu pixels is more than the limit of %llu", static_cast<unsigned long long>(w),
                static_cast<unsigned long long>(h), static_cast<unsigned long long>(kMaxPixels));
  return true;
}

// Allocates the (H,W,C) buffer and its row pointers; false when out of memory.
bool allocate_rows(Decode* d) {
  const std::size_t row = std::size_t{d->width} * static_cast<std::size_t>(d->channels);
  d->pixels = static_cast<unsigned char*>(std::malloc(std::max<std::size_t>(1, row * d->height)));
  d->rows = static_cast<unsigned char**>(std::malloc(std::max<std::size_t>(1, sizeof(unsigned char*) * d->height)));
  if (!d->pixels || !d->rows) return false;
  for (std::uint32_t y = 0; y < d->height; ++y) d->rows[y] = d->pixels + row * y;
  return true;
}

// ---- PNG (http://www.libpng.org/pub/png/libpng-manual.txt) ----

[[noreturn]] void png_error_callback(png_structp png, png_const_charp msg) {
  set_message(static_cast<Decode*>(png_get_error_ptr(png)), msg);
  png_longjmp(png, 1);
}

// Warnings are benign by definition (e.g. a bad ancillary chunk libpng skips).
void png_warning_callback(png_structp, png_const_charp) {}

void png_read_callback(png_structp png, png_bytep out, png_size_t n) {
  auto* d = static_cast<Decode*>(png_get_io_ptr(png));
  if (std::fread(out, 1, n, d->file) != n) png_error(png, "unexpected end of file");
}

bool decode_png(Decode* d) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_error_callback, png_warning_callback);
  if (!png) return set_message(d, "out of memory");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return set_message(d, "out of memory");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, d, png_read_callback);
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &color, nullptr, nullptr, nullptr);
  char size_error[128];  // not d->message: png_error copies its argument there
  if (too_large(size_error, sizeof size_error, w, h)) png_error(png, size_error);
  d->width = w;
  d->height = h;
  d->channels = (color & PNG_COLOR_MASK_COLOR) ? 3 : 1;  // palette images are colour
  if (d->header_only) {
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
  }
  // Everything becomes 8-bit grey or RGB: palettes expand, 16-bit samples are rounded
  // (v * 255 / 65535, not truncated), and alpha (including tRNS) is dropped.
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16) png_set_scale_16(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != d->channels || png_get_bit_depth(png, info) != 8 ||
      png_get_rowbytes(png, info) != std::size_t{w} * static_cast<std::size_t>(d->channels))
    png_error(png, "unexpected pixel layout after conversion to 8 bits");
  if (!allocate_rows(d)) png_error(png, "out of memory");
  png_read_image(png, d->rows);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// ---- JPEG (libjpeg-turbo's libjpeg.txt) ----

struct JpegError {
  jpeg_error_mgr mgr;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  Decode* decode;
};

[[noreturn]] void jpeg_error_callback(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->decode->message);
  std::longjmp(err->jump, 1);
}

// libjpeg reports a truncated file as a warning and pads the image with grey; that is an
// unreadable image here. Other warnings (stray bytes between markers) are common and harmless.
void jpeg_message_callback(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_error_callback(cinfo);
}

bool decode_jpeg(Decode* d) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  std::memset(&cinfo, 0, sizeof cinfo);  // jpeg_destroy_decompress is safe on a zeroed struct
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_callback;
  err.mgr.emit_message = jpeg_message_callback;
  err.decode = d;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, d->file);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    set_message(d, "CMYK JPEG files are not supported (convert the image to RGB)");
    std::longjmp(err.jump, 1);
  }
  if (too_large(d->message, sizeof d->message, cinfo.image_width, cinfo.image_height)) std::longjmp(err.jump, 1);
  d->width = cinfo.image_width;
  d->height = cinfo.image_height;
  d->channels = cinfo.num_components == 1 ? 1 : 3;
  if (d->header_only) {
    jpeg_destroy_decompress(&cinfo);
    return true;
  }
  cinfo.out_color_space = d->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_components != d->channels || cinfo.output_width != d->width || cinfo.output_height != d->height) {
    set_message(d, "unexpected output layout");
    std::longjmp(err.jump, 1);
  }
  if (!allocate_rows(d)) {
    set_message(d, "out of memory");
    std::longjmp(err.jump, 1);
  }
  while (cinfo.output_scanline < cinfo.output_height)
    jpeg_read_scanlines(&cinfo, d->rows + cinfo.output_scanline, cinfo.output_height - cinfo.output_scanline);
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// ---- shared ----

std::optional<Format> sniff(const unsigned char* sig, std::size_t n) {
  if (n >= 8 && std::memcmp(sig, kPngSignature, 8) == 0) return Format::png;
  if (n >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) return Format::jpeg;
  return std::nullopt;
}

struct Decoded {
  std::uint32_t width = 0, height = 0;
  int channels = 0;
  std::unique_ptr<unsigned char, FreeDeleter> pixels;  // (H,W,C); null when header_only
};

Decoded decode_file(const std::string& path, bool header_only) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) fail(kOp, "cannot open {}: {}", path, std::strerror(errno));
  unsigned char sig[8] = {};
  const std::size_t n = std::fread(sig, 1, sizeof sig, file.get());
  const std::optional<Format> format = sniff(sig, n);
  if (!format) fail(kOp, "{}: not a PNG or JPEG file", path);
  std::rewind(file.get());

  Decode d;
  d.file = file.get();
  d.header_only = header_only;
  d.kind = *format == Format::png ? "PNG" : "JPEG";
  const bool ok = *format == Format::png ? decode_png(&d) : decode_jpeg(&d);
  Decoded out{d.width, d.height, d.channels, std::unique_ptr<unsigned char, FreeDeleter>(d.pixels)};
  std::free(d.rows);
  if (!ok) fail(kOp, "{}: corrupt {} data: {}", path, d.kind, d.message);
  return out;
}

void check_channels(int channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    fail(kOp, "channels must be 0 (keep the file's), 1 (grey) or 3 (RGB), got {}", channels);
}

// (H,W,cin) interleaved -> (cout,H,W) planes. RGB -> grey uses ITU-R 601-2 luma with PIL's
// fixed-point rounding (Pillow, libImaging/Convert.c, L24), as torchvision's Grayscale on PIL.
void to_planes(const unsigned char* src, int cin, std::uint8_t* dst, int cout, std::size_t pixels) {
  if (cin == 3 && cout == 1) {
    for (std::size_t i = 0; i < pixels; ++i) {
      const unsigned char* p = src + 3 * i;
      dst[i] = static_cast<std::uint8_t>((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
    }
    return;
  }
  for (int c = 0; c < cout; ++c) {
    const int from = cin == 1 ? 0 : c;  // grey -> RGB repeats the grey plane
    std::uint8_t* plane = dst + static_cast<std::size_t>(c) * pixels;
    for (std::size_t i = 0; i < pixels; ++i) plane[i] = src[i * static_cast<std::size_t>(cin) + from];
  }
}

// ---- PNG writing ----

// Encoder state: plain data, as for Decode.
struct Encode {
  const unsigned char* const* rows = nullptr;
  std::uint32_t width = 0, height = 0;
  int channels = 0;
  unsigned char* out = nullptr;  // malloc'd; freed by the caller
  std::size_t size = 0, capacity = 0;
  char message[256] = {};
};

void png_write_callback(png_structp png, png_bytep data, png_size_t n) {
  auto* e = static_cast<Encode*>(png_get_io_ptr(png));
  if (e->size + n > e->capacity) {
    const std::size_t cap = std::max(e->size + n, 2 * e->capacity + 4096);
    auto* grown = static_cast<unsigned char*>(std::realloc(e->out, cap));
    if (!grown) png_error(png, "out of memory");
    e->out = grown;
    e->capacity = cap;
  }
  std::memcpy(e->out + e->size, data, n);
  e->size += n;
}

void png_flush_callback(png_structp) {}

[[noreturn]] void png_encode_error_callback(png_structp png, png_const_charp msg) {
  auto* e = static_cast<Encode*>(png_get_error_ptr(png));
  std::snprintf(e->message, sizeof e->message, "%s", msg);
  png_longjmp(png, 1);
}

bool encode_png(Encode* e) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, png_encode_error_callback, png_warning_callback);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, e, png_write_callback, png_flush_callback);
  png_set_IHDR(png, info, e->width, e->height, 8, e->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, const_cast<png_bytepp>(e->rows));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

Tensor read_image(const std::string& path, int channels) {
  check_channels(channels);
  const Decoded d = decode_file(path, false);
  const int cout = channels == 0 ? d.channels : channels;
  Tensor img = empty({cout, d.height, d.width}, {.dtype = DType::u8});
  to_planes(d.pixels.get(), d.channels, img.data<std::uint8_t>(), cout, std::size_t{d.width} * d.height);
  return img;
}

Shape read_image_shape(const std::string& path) {
  const Decoded d = decode_file(path, true);
  return {d.channels, d.height, d.width};
}

namespace {

// img as PNG bytes; errors name `path` (a file, or "image" for bytes kept in memory)
std::string encode_png_bytes(const Tensor& img, const std::string& path) {
  if (!img.defined() || img.device() != kCPU || img.dim() != 3 || (img.size(0) != 1 && img.size(0) != 3) ||
      (img.dtype() != DType::u8 && img.dtype() != DType::f32))
    fail("write_png", "{}: expected a CPU image (C,H,W) with C 1 or 3, u8 or f32, got {}", path,
         img.defined() ? fmt::format("{} {} on {}", dtype_name(img.dtype()), shape_str(img.shape()), img.device().str())
                       : std::string("an undefined tensor"));
  const std::int64_t c = img.size(0), h = img.size(1), w = img.size(2);
  if (h < 1 || w < 1 || h > PNG_UINT_31_MAX || w > PNG_UINT_31_MAX)
    fail("write_png", "{}: image size {}x{} is not storable in a PNG (1 to 2^31-1 pixels per side)", path, h, w);

  // (C,H,W) -> interleaved (H,W,C) rows; f32 in [0,1] -> u8 rounded, NaN as 0
  const Tensor src = img.contiguous();
  const auto plane = static_cast<std::size_t>(h * w);
  std::vector<unsigned char> pixels(plane * static_cast<std::size_t>(c));
  for (std::int64_t ch = 0; ch < c; ++ch) {
    for (std::size_t i = 0; i < plane; ++i) {
      const std::size_t from = static_cast<std::size_t>(ch) * plane + i;
      unsigned char v;
      if (src.dtype() == DType::u8) {
        v = src.data<std::uint8_t>()[from];
      } else {
        const float f = src.data<float>()[from];
        v = f > 0 ? static_cast<unsigned char>(std::lround(std::min(f, 1.0f) * 255.0f)) : 0;
      }
      pixels[i * static_cast<std::size_t>(c) + static_cast<std::size_t>(ch)] = v;
    }
  }
  std::vector<const unsigned char*> rows(static_cast<std::size_t>(h));
  for (std::int64_t y = 0; y < h; ++y) rows[static_cast<std::size_t>(y)] = pixels.data() + y * w * c;

  Encode e;
  e.rows = rows.data();
  e.width = static_cast<std::uint32_t>(w);
  e.height = static_cast<std::uint32_t>(h);
  e.channels = static_cast<int>(c);
  const bool ok = encode_png(&e);
  const std::unique_ptr<unsigned char, FreeDeleter> out(e.out);
  if (!ok) fail("write_png", "{}: cannot encode PNG: {}", path, e.message[0] ? e.message : "out of memory");
  return std::string(reinterpret_cast<const char*>(out.get()), e.size);
}

}  // namespace

std::string png_bytes(const Tensor& img) { return encode_png_bytes(img, "image"); }

void write_png(const std::string& path, const Tensor& img) {
  const std::string bytes = encode_png_bytes(img, path);
  write_file_atomic(path, std::as_bytes(std::span(bytes.data(), bytes.size())));
}

}  // namespace fovea::io
