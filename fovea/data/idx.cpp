// IDX reader: http://yann.lecun.com/exdb/mnist/ ("THE IDX FILE FORMAT").
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string_view>
#include <system_error>

#include "fovea/core/error.h"
#include "fovea/data/dataset.h"

namespace fovea::data {

namespace {

constexpr std::string_view kOp = "idx";
// deflate's best case is about 1032:1 (zlib technical details), so a gzip file of n bytes
// cannot hold more than 1032 n: dims that claim more are refused before allocating.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

template <typename... Args>
[[noreturn]] void bad(const std::string& path, fmt::format_string<Args...> f, Args&&... args) {
  fail(kOp, "{}: {}", path, fmt::format(f, std::forward<Args>(args)...));
}

// Reads up to n bytes; fewer only at the end of the (decompressed) stream.
std::uint64_t read_up_to(gzFile gz, void* buf, std::uint64_t n, const std::string& path) {
  std::uint64_t done = 0;
  while (done < n) {
    const auto chunk = static_cast<unsigned>(std::min<std::uint64_t>(n - done, 1u << 30));
    const int got = gzread(gz, static_cast<char*>(buf) + done, chunk);
    if (got < 0) {
      int code = 0;
      std::string_view msg = gzerror(gz, &code);
      // zlib prefixes its message with the path, which bad() already gives
      if (msg.starts_with(path + ": ")) msg.remove_prefix(path.size() + 2);
      bad(path, "{}", code == Z_ERRNO ? std::strerror(errno) : fmt::format("corrupt gzip data: {}", msg));
    }
    if (got == 0) break;
    done += static_cast<std::uint64_t>(got);
  }
  return done;
}

// A gzip stream that ends early reports Z_BUF_ERROR: say so beside the byte counts.
std::string_view gzip_note(gzFile gz) {
  int code = 0;
  gzerror(gz, &code);
  return code == Z_BUF_ERROR ? " (the gzip stream is cut short)" : "";
}

std::string_view type_name(unsigned code) {
  switch (code) {
    case 0x08: return "u8";
    case 0x09: return "i8";
    case 0x0B: return "i16";
    case 0x0C: return "i32";
    case 0x0D: return "f32";
    case 0x0E: return "f64";
    default: return "";
  }
}

}  // namespace

Tensor read_idx(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::uint64_t file_size = fs::file_size(path, ec);
  if (ec) fail(kOp, "cannot open {}: {}", path, ec.message());

  // gzip by its magic bytes (RFC 1952), not by the file name
  bool gzip = false;
  {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) fail(kOp, "cannot open {}: {}", path, std::strerror(errno));
    unsigned char m[2] = {};
    gzip = std::fread(m, 1, 2, f.get()) == 2 && m[0] == 0x1F && m[1] == 0x8B;
  }
  // gzread also reads uncompressed files (transparently), so both take one path
  GzFile gz(gzopen(path.c_str(), "rb"));
  if (!gz) fail(kOp, "cannot open {}: {}", path, errno ? std::strerror(errno) : "out of memory");
  gzbuffer(gz.get(), 1u << 17);

  unsigned char magic[4] = {};
  const std::uint64_t got_magic = read_up_to(gz.get(), magic, 4, path);
  if (got_magic < 4)
    bad(path, "header cut short: {} bytes, expected at least the 4-byte magic number{}", got_magic,
        gzip_note(gz.get()));
  if (magic[0] != 0 || magic[1] != 0)
    bad(path, "bad magic number {:02X} {:02X} {:02X} {:02X}: expected 00 00, a type code and ndim (not an IDX file?)",
        magic[0], magic[1], magic[2], magic[3]);
  const unsigned type = magic[2], ndim = magic[3];
  if (type != 0x08) {
    if (type_name(type).empty())
      bad(path, "unknown type code 0x{:02X}: IDX defines 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64",
          type);
    bad(path, "type code 0x{:02X} ({}) is not supported: expected 0x08 (u8)", type, type_name(type));
  }
  if (ndim == 0) bad(path, "ndim is 0: expected at least one dimension");

  unsigned char dim_bytes[4 * 255];
  const std::uint64_t header = 4 + 4 * std::uint64_t{ndim};
  const std::uint64_t got_dims = read_up_to(gz.get(), dim_bytes, 4 * ndim, path);
  if (got_dims < 4 * ndim)
    bad(path, "header cut short: {} dims need {} bytes after the magic number, got {}{}", ndim, 4 * ndim, got_dims,
        gzip_note(gz.get()));
  Shape shape(ndim);
  std::uint64_t count = 1, extent = 1;  // extent: the product without zeros, which bounds the strides
  bool overflow = false, extent_overflow = false;
  for (unsigned d = 0; d < ndim; ++d) {
    const unsigned char* b = dim_bytes + 4 * d;
    const std::uint64_t v =
        (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) | (std::uint64_t{b[2]} << 8) | b[3];
    shape[d] = static_cast<std::int64_t>(v);
    overflow = overflow || __builtin_mul_overflow(count, v, &count);
    extent_overflow = extent_overflow || __builtin_mul_overflow(extent, std::max<std::uint64_t>(v, 1), &extent);
  }
  // the header was read whole, so a raw file holds at least `header` bytes
  const std::string dims = shape_str(shape);
  if (gzip) {
    if (overflow || count > file_size * kMaxDeflateRatio)
      bad(path, "dims {} need {} bytes of data, more than a gzip file of {} bytes can hold", dims,
          overflow ? std::string("over 2^64") : std::to_string(count), file_size);
  } else if (const std::uint64_t data_bytes = file_size - header; overflow || count > data_bytes) {
    bad(path, "truncated: dims {} need {} data bytes after the {}-byte header, the file has {}", dims,
        overflow ? std::string("over 2^64") : std::to_string(count), header, data_bytes);
  } else if (count < data_bytes) {
    bad(path, "{} extra bytes after the data: dims {} need {} data bytes after the {}-byte header, the file has {}",
        data_bytes - count, dims, count, header, data_bytes);
  }

  // only a shape holding a zero passes the checks above with such dims
  if (extent_overflow || extent > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    bad(path, "dims {} are absurd: even without their zeros they multiply past 2^63", dims);
  Tensor out = empty(shape, {.dtype = DType::u8});
  const std::uint64_t got = read_up_to(gz.get(), out.raw_data(), count, path);
  if (got < count)
    bad(path, "truncated: dims {} need {} data bytes after the {}-byte header, got {}{}", dims, count, header, got,
        gzip_note(gz.get()));
  std::uint64_t extra = 0;
  unsigned char rest[1 << 16];
  while (const std::uint64_t n = read_up_to(gz.get(), rest, sizeof rest, path)) extra += n;
  if (extra > 0)
    bad(path, "{} extra bytes after the data: dims {} need {} data bytes after the {}-byte header, got {}", extra, dims,
        count, header, count + extra);
  return out;
}

}  // namespace fovea::data
