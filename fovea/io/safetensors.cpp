#include "fovea/io/safetensors.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string_view>
#include <tuple>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fovea/core/error.h"

namespace fovea::io {

// The data section is little-endian; on a big-endian host every element would need a byte swap.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

// ordered_json keeps the header's key order, so zero-byte tensors sharing an offset stay in file order.
using Json = nlohmann::ordered_json;

constexpr std::string_view kOp = "safetensors";
constexpr std::string_view kMetadataKey = "__metadata__";
constexpr int kMaxJsonDepth = 64;  // valid headers nest 3 levels; deeper input is refused early

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin;
  std::uint64_t end;
};

struct Header {
  std::vector<Entry> entries;  // sorted by data offset
  std::map<std::string, std::string> metadata;
};

// Errors about one file or buffer: "[safetensors] SOURCE: message".
template <typename... Args>
[[noreturn]] void bad(const std::string& source, fmt::format_string<Args...> f, Args&&... args) {
  fail(kOp, "{}: {}", source, fmt::format(f, std::forward<Args>(args)...));
}

[[noreturn]] void io_error(std::string_view what, const std::string& path, int err) {
  fail(kOp, "cannot {} {}: {}", what, path, std::strerror(err));
}

std::string_view safetensors_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
  }
  return "?";
}

// Exact names only: the reference rejects "f32" or "float32".
std::optional<DType> dtype_from_safetensors(std::string_view s) {
  for (DType t : {DType::f32, DType::f64, DType::i64, DType::u8, DType::f16, DType::bf16})
    if (s == safetensors_name(t)) return t;
  return std::nullopt;
}

// Valid in the format but without a fovea dtype: reported as unsupported rather than unknown.
bool is_other_safetensors_dtype(std::string_view s) {
  static constexpr std::array<std::string_view, 15> kOthers = {
      "BOOL",    "I8",      "I16",     "U16",     "I32", "U32", "U64",        "F8_E4M3",
      "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",  "C64", "F8_E4M3FNUZ"};
  return std::find(kOthers.begin(), kOthers.end(), s) != kOthers.end();
}

// Names come from the file and may be huge; keep messages readable (cut on a UTF-8 boundary).
std::string shown(std::string_view s) {
  constexpr std::size_t kMax = 120;
  if (s.size() <= kMax) return std::string(s);
  std::size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return fmt::format("{}...", s.substr(0, cut));
}

std::string dims_str(const std::vector<std::uint64_t>& dims) { return fmt::format("({})", fmt::join(dims, ",")); }

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and > U+10FFFF included),
// or nullopt. Table 3-7 of the Unicode standard: https://www.unicode.org/versions/Unicode15.0.0/ch03.pdf
std::optional<std::size_t> invalid_utf8_at(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> as_u64(const Json& j) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(j.get<std::int64_t>());
  return std::nullopt;
}

// A short rendering of a JSON value for messages (never the whole of a large value).
std::string describe(const Json& j) {
  if (j.is_object() || j.is_array()) return fmt::format("an {}", j.type_name());
  return shown(j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

// Checks the 8-byte prefix against the file size and returns the header length N.
std::uint64_t read_header_length(std::span<const std::byte> prefix, std::uint64_t file_size,
                                 const std::string& source) {
  if (file_size < 8)
    bad(source, "file is too small ({} bytes): a safetensors file starts with an 8-byte header length", file_size);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(prefix[static_cast<std::size_t>(i)]);
  if (n > kMaxSafetensorsHeader)
    bad(source, "header length {} is too large (the limit is {} bytes)", n, kMaxSafetensorsHeader);
  if (8 + n > file_size)
    bad(source, "header length {} runs past the end of the file ({} bytes, so at most {} for the header)", n, file_size,
        file_size - 8);
  return n;
}

Json parse_json(std::string_view text, const std::string& source) {
  // nlohmann keeps the last of duplicate keys silently; a duplicate could hide a tensor, so refuse it.
  std::vector<std::unordered_set<std::string>> open_objects;
  Json::parser_callback_t on_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) bad(source, "header JSON is nested deeper than {} levels", kMaxJsonDepth);
        if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end: open_objects.pop_back(); break;
      case Json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!open_objects.back().insert(key).second) {
          if (open_objects.size() == 1) bad(source, "duplicate key '{}' in header", shown(key));
          bad(source, "duplicate key '{}' inside a header entry", shown(key));
        }
        break;
      }
      default: break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), on_event);
  } catch (const Json::exception& e) {
    bad(source, "header is not valid JSON: {}", shown(e.what()));
  }
}

Entry parse_entry(const std::string& name, const Json& v, const std::string& source) {
  const std::string who = shown(name);
  if (!v.is_object())
    bad(source, "tensor '{}': expected an object with dtype, shape and data_offsets, got {}", who, describe(v));
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets")
      bad(source, "tensor '{}' has unexpected key '{}' (expected only dtype, shape, data_offsets)", who,
          shown(it.key()));
  for (const char* k : {"dtype", "shape", "data_offsets"})
    if (!v.contains(k)) bad(source, "tensor '{}' is missing '{}'", who, k);

  Entry e{.name = name, .dtype = DType::f32, .shape = {}, .begin = 0, .end = 0};
  const Json& dt = v["dtype"];
  if (!dt.is_string()) bad(source, "tensor '{}': dtype must be a string, got {}", who, describe(dt));
  const auto& dt_name = dt.get_ref<const std::string&>();
  if (auto t = dtype_from_safetensors(dt_name)) {
    e.dtype = *t;
  } else if (is_other_safetensors_dtype(dt_name)) {
    bad(source, "tensor '{}' has dtype {}, which fovea does not support (supported: F32, F64, I64, U8, F16, BF16)", who,
        dt_name);
  } else {
    bad(source, "tensor '{}' has unknown dtype '{}'", who, shown(dt_name));
  }

  const Json& sh = v["shape"];
  if (!sh.is_array()) bad(source, "tensor '{}': shape must be an array, got {}", who, describe(sh));
  std::vector<std::uint64_t> dims;
  dims.reserve(sh.size());
  for (const Json& d : sh) {
    auto u = as_u64(d);
    if (!u) bad(source, "tensor '{}' has shape entry {} that is not a non-negative integer", who, describe(d));
    dims.push_back(*u);
  }

  const Json& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    bad(source, "tensor '{}': data_offsets must be an array [begin, end], got {}", who, describe(off));
  auto b = as_u64(off[0]);
  auto en = as_u64(off[1]);
  if (!b || !en)
    bad(source, "tensor '{}': data_offsets must be non-negative integers, got [{}, {}]", who, describe(off[0]),
        describe(off[1]));
  e.begin = *b;
  e.end = *en;
  if (e.begin > e.end) bad(source, "tensor '{}' has data_offsets [{}, {}] with begin > end", who, e.begin, e.end);

  // The reference multiplies dims left to right in 64 bits and refuses any overflow, even if a later dim is 0.
  std::uint64_t count = 1;
  for (std::uint64_t d : dims) {
    if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / d)
      bad(source, "tensor '{}' has shape {} whose element count overflows 64 bits", who, dims_str(dims));
    count *= d;
  }
  const std::uint64_t es = dtype_size(e.dtype);
  if (count > std::numeric_limits<std::uint64_t>::max() / es)
    bad(source, "tensor '{}' has shape {} x {} whose byte size overflows 64 bits", who, dims_str(dims), dt_name);
  const std::uint64_t nbytes = count * es;
  if (e.end - e.begin != nbytes)
    bad(source, "tensor '{}' has data_offsets [{}, {}] but shape {} x {} needs {} bytes", who, e.begin, e.end,
        dims_str(dims), dt_name, nbytes);

  // Only a zero-element tensor can pass the size check with such a dim; fovea shapes are int64.
  for (std::uint64_t d : dims) {
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      bad(source, "tensor '{}' has dimension {}, too large for a fovea shape", who, d);
    e.shape.push_back(static_cast<std::int64_t>(d));
  }
  return e;
}

// Validates the JSON header against a data section of `data_size` bytes (everything after 8 + N).
Header parse_header(std::string_view text, std::uint64_t data_size, const std::string& source) {
  if (auto at = invalid_utf8_at(text)) bad(source, "header is not valid UTF-8 (bad byte at header offset {})", *at);
  const Json root = parse_json(text, source);
  if (!root.is_object()) bad(source, "header must be a JSON object, got {}", describe(root));

  Header h;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == kMetadataKey) {
      const Json& m = it.value();
      if (m.is_null()) continue;  // the reference reads __metadata__ as an optional map
      if (!m.is_object()) bad(source, "__metadata__ must be an object of strings, got {}", describe(m));
      for (auto kv = m.begin(); kv != m.end(); ++kv) {
        if (!kv.value().is_string())
          bad(source, "__metadata__ value for key '{}' must be a string, got {}", shown(kv.key()),
              describe(kv.value()));
        h.metadata.emplace(kv.key(), kv.value().get<std::string>());
      }
      continue;
    }
    h.entries.push_back(parse_entry(it.key(), it.value(), source));
  }

  // Sorting by (begin, end) puts zero-byte tensors before a tensor starting at the same offset.
  std::stable_sort(h.entries.begin(), h.entries.end(),
                   [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  std::uint64_t pos = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : h.entries) {
    if (e.begin < pos)
      bad(source, "tensor '{}' data_offsets [{}, {}] overlap tensor '{}' [{}, {}]", shown(e.name), e.begin, e.end,
          shown(prev->name), prev->begin, prev->end);
    if (e.begin > pos) {
      if (!prev)
        bad(source, "gap of {} bytes at the start of the data: first tensor '{}' begins at {}", e.begin, shown(e.name),
            e.begin);
      bad(source, "gap of {} bytes between tensor '{}' (ends at {}) and tensor '{}' (begins at {})", e.begin - pos,
          shown(prev->name), pos, shown(e.name), e.begin);
    }
    if (e.end > data_size)
      bad(source, "tensor '{}' data_offsets [{}, {}] run past the end of the data section ({} bytes): file truncated?",
          shown(e.name), e.begin, e.end, data_size);
    pos = e.end;
    prev = &e;
  }
  if (pos != data_size)
    bad(source, "tensors cover {} bytes but the data section has {}: {} trailing bytes belong to no tensor", pos,
        data_size, data_size - pos);
  return h;
}

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Reads exactly `n` bytes at `offset`; a short read means the file shrank after fstat.
void read_exact(int fd, void* dst, std::uint64_t n, std::uint64_t offset, const std::string& path) {
  auto* out = static_cast<char*>(dst);
  while (n > 0) {
    const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(n, 1u << 30));
    const ssize_t r = ::pread(fd, out, chunk, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      io_error("read", path, errno);
    }
    if (r == 0) bad(path, "file ended early (truncated while reading?)");
    out += r;
    offset += static_cast<std::uint64_t>(r);
    n -= static_cast<std::uint64_t>(r);
  }
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Copies the elements of a CPU tensor in row-major order; strides are in elements and may be 0.
void gather_bytes(const Tensor& t, std::byte* out) {
  const std::size_t es = dtype_size(t.dtype());
  const std::int64_t n = t.numel();
  if (n == 0) return;
  const auto* base = static_cast<const std::byte*>(t.raw_data());
  if (t.is_contiguous()) {
    std::memcpy(out, base, static_cast<std::size_t>(n) * es);
    return;
  }
  const Shape& shape = t.shape();
  const Shape& strides = t.strides();
  std::vector<std::int64_t> idx(shape.size(), 0);
  std::int64_t off = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::memcpy(out + static_cast<std::size_t>(i) * es, base + off * static_cast<std::int64_t>(es), es);
    for (std::size_t d = shape.size(); d-- > 0;) {  // odometer step over the index
      if (++idx[d] < shape[d]) {
        off += strides[d];
        break;
      }
      off -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

// Removes the temp file so that a failed write leaves nothing behind; the target is untouched.
[[noreturn]] void abandon_write(int fd, const std::string& tmp, const std::string& path, int err) {
  if (fd >= 0) ::close(fd);
  ::unlink(tmp.c_str());
  io_error("write", path, err);
}

void check_utf8(std::string_view s, std::string_view what) {
  if (invalid_utf8_at(s)) fail(kOp, "{} '{}' is not valid UTF-8", what, shown(s));
}

}  // namespace

bool SafetensorsFile::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& p) { return p.first == name; });
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  constexpr std::size_t kShow = 10;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < tensors.size() && i < kShow; ++i) names.push_back(shown(tensors[i].first));
  std::string more = tensors.size() > kShow ? fmt::format(", ... ({} more)", tensors.size() - kShow) : "";
  if (tensors.empty()) fail(kOp, "no tensor '{}' (the file holds no tensors)", shown(name));
  fail(kOp, "no tensor '{}'; available: {}{}", shown(name), fmt::join(names, ", "), more);
}

SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, const std::string& source) {
  const std::uint64_t n = read_header_length(bytes, bytes.size(), source);
  const std::uint64_t data_start = 8 + n;
  Header h = parse_header(as_text(bytes.subspan(8, n)), bytes.size() - data_start, source);

  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  out.tensors.reserve(h.entries.size());
  for (Entry& e : h.entries) {
    Tensor t = empty(e.shape, {.dtype = e.dtype});
    if (e.end > e.begin) std::memcpy(t.raw_data(), bytes.data() + data_start + e.begin, e.end - e.begin);
    out.tensors.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
}

// Reads each tensor straight into its own allocation, so peak memory is one copy of the weights.
SafetensorsFile load_safetensors(const std::string& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) io_error("read", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) io_error("read", path, errno);
  if (!S_ISREG(st.st_mode)) fail(kOp, "cannot read {}: not a regular file", path);
  const auto file_size = static_cast<std::uint64_t>(st.st_size);

  std::array<std::byte, 8> prefix{};
  read_exact(fd.get(), prefix.data(), std::min<std::uint64_t>(8, file_size), 0, path);
  const std::uint64_t n = read_header_length(prefix, file_size, path);
  std::string text(static_cast<std::size_t>(n), '\0');
  read_exact(fd.get(), text.data(), n, 8, path);
  const std::uint64_t data_start = 8 + n;
  Header h = parse_header(text, file_size - data_start, path);

  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  out.tensors.reserve(h.entries.size());
  for (Entry& e : h.entries) {
    Tensor t = empty(e.shape, {.dtype = e.dtype});
    if (e.end > e.begin) read_exact(fd.get(), t.raw_data(), e.end - e.begin, data_start + e.begin, path);
    out.tensors.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
}

std::vector<std::byte> serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                             const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json m = Json::object();
    for (const auto& [k, v] : metadata) {
      check_utf8(k, "metadata key");
      check_utf8(v, "metadata value");
      m[k] = v;
    }
    header[std::string(kMetadataKey)] = std::move(m);
  }

  std::vector<Tensor> cpu;
  cpu.reserve(tensors.size());
  std::unordered_set<std::string_view> seen;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == kMetadataKey) fail(kOp, "'{}' is reserved and cannot name a tensor", kMetadataKey);
    check_utf8(name, "tensor name");
    if (!seen.insert(name).second) fail(kOp, "duplicate tensor name '{}'", shown(name));
    if (!t.defined()) fail(kOp, "tensor '{}' is undefined", shown(name));
    if (t.is_meta()) fail(kOp, "tensor '{}' is on the meta device and has no data to save", shown(name));
    Tensor c = t.device().type == DeviceType::cpu ? t : t.to(kCPU);
    const std::uint64_t nbytes = static_cast<std::uint64_t>(c.numel()) * dtype_size(c.dtype());

    Json entry = Json::object();
    entry["dtype"] = std::string(safetensors_name(c.dtype()));
    entry["shape"] = Json::array();
    for (std::int64_t d : c.shape()) entry["shape"].push_back(static_cast<std::uint64_t>(d));
    entry["data_offsets"] = Json::array({offset, offset + nbytes});
    header[name] = std::move(entry);
    offset += nbytes;
    cpu.push_back(std::move(c));
  }

  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the reference pads so the data starts 8-byte aligned
  const std::uint64_t n = text.size();

  std::vector<std::byte> out(8 + n + offset);
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((n >> (8 * i)) & 0xFF);
  std::memcpy(out.data() + 8, text.data(), n);
  std::byte* data = out.data() + 8 + n;
  for (const Tensor& c : cpu) {
    gather_bytes(c, data);
    data += static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype());
  }
  return out;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

int remove_stale_temporaries(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int removed = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < 6 || name[0] != '.' || !name.ends_with(".tmp")) continue;
    // .NAME.PID.STAMP.N.tmp: the PID is the third field from the end
    std::vector<std::string> parts;
    for (std::size_t at = 0, dot; at <= name.size(); at = dot + 1) {
      dot = name.find('.', at);
      if (dot == std::string::npos) dot = name.size();
      parts.push_back(name.substr(at, dot - at));
    }
    if (parts.size() < 6) continue;
    const std::string& pid_text = parts[parts.size() - 4];
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // its writer may still run
    if (fs::remove(it->path(), ec)) ++removed;
  }
  return removed;
}

void write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  if (!target.has_filename()) io_error("write", path, EISDIR);

  // The temp file must be in the target's folder so that rename() is atomic (same filesystem).
  static std::atomic<std::uint64_t> counter{0};
  const std::string stem = target.filename().string().substr(0, 64);  // keeps the temp name under NAME_MAX
  const auto stamp = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp = (dir / fmt::format(".{}.{}.{:x}.{}.tmp", stem, ::getpid(), stamp, counter++)).string();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) io_error("write", path, errno);

  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::size_t chunk = std::min<std::size_t>(bytes.size() - done, std::size_t{1} << 30);
    const ssize_t w = ::write(fd, bytes.data() + done, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      abandon_write(fd, tmp, path, errno);
    }
    if (w == 0) abandon_write(fd, tmp, path, ENOSPC);
    done += static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0) abandon_write(fd, tmp, path, errno);
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) abandon_write(fd, tmp, path, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) abandon_write(fd, tmp, path, errno);

  // Make the rename itself durable; the data is already safe, so a failure here is not reported.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace fovea::io
