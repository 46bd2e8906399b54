// torch.save zip files read without Python and without running anything (torch_file.h).
#include "fovea/io/torch_file.h"

#include <zip.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>

#include "fovea/core/error.h"
#include "fovea/io/safetensors.h"

namespace fovea::io {

namespace {

constexpr const char* kOp = "torch";

// ---- the archive ------------------------------------------------------------------------------

class Zip {
 public:
  explicit Zip(const std::string& path) : path_(path) {
    int err = 0;
    z_ = zip_open(path.c_str(), ZIP_RDONLY, &err);
    if (!z_) {
      zip_error_t e;
      zip_error_init_with_code(&e, err);
      const std::string why = zip_error_strerror(&e);
      zip_error_fini(&e);
      fail(kOp, "{}: not a readable zip archive ({})", path, why);
    }
    std::error_code ec;
    file_size_ = std::filesystem::file_size(path, ec);
  }
  ~Zip() { zip_discard(z_); }
  Zip(const Zip&) = delete;
  Zip& operator=(const Zip&) = delete;

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    const zip_int64_t n = zip_get_num_entries(z_, 0);
    for (zip_int64_t i = 0; i < n; ++i)
      if (const char* name = zip_get_name(z_, static_cast<zip_uint64_t>(i), 0)) out.emplace_back(name);
    return out;
  }

  // The entry's bytes, or nothing when it is absent. Sizes the archive claims are checked
  // against the file's own before anything is allocated.
  std::optional<std::vector<std::byte>> read(const std::string& name) const {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat(z_, name.c_str(), 0, &st) != 0) return std::nullopt;
    if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
      fail(kOp, "{}: entry {} has no size", path_, name);
    // torch.save stores entries uncompressed; a compressed one may not claim more than a
    // generous ratio of its compressed bytes (no zip bomb)
    if (st.comp_size > file_size_ || st.size > std::max<zip_uint64_t>(st.comp_size, 1) * 1024)
      fail(kOp, "{}: entry {} claims {} bytes, more than the file can hold", path_, name, st.size);
    zip_file_t* f = zip_fopen(z_, name.c_str(), 0);
    if (!f) fail(kOp, "{}: cannot open entry {}: {}", path_, name, zip_strerror(z_));
    std::vector<std::byte> out(static_cast<std::size_t>(st.size));
    const zip_int64_t got = zip_fread(f, out.data(), st.size);
    zip_fclose(f);
    if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
      fail(kOp, "{}: entry {} is truncated or damaged ({} of {} bytes read)", path_, name, got, st.size);
    return out;
  }

 private:
  std::string path_;
  zip_t* z_ = nullptr;
  std::uintmax_t file_size_ = 0;
};

// ---- pickled values ---------------------------------------------------------------------------

// A storage a tensor views: its element type as saved and where its bytes are.
struct StorageRef {
  std::string type;  // "FloatStorage", ...
  std::string key;   // ARCHIVE/data/KEY
  std::int64_t numel = 0;
};

struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Value {
  enum class Kind { none, boolean, integer, floating, string, tuple, list, dict, global, storage, tensor };
  Kind kind = Kind::none;
  std::int64_t i = 0;
  double f = 0;
  std::string s;                                       // string; global: "module.name"
  std::vector<ValuePtr> items;                         // tuple, list
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // dict, in insertion order
  StorageRef storage;
  Tensor tensor;
};

ValuePtr make(Value::Kind k) {
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::none: return "None";
    case Value::Kind::boolean: return "bool";
    case Value::Kind::integer: return "int";
    case Value::Kind::floating: return "float";
    case Value::Kind::string: return "str";
    case Value::Kind::tuple: return "tuple";
    case Value::Kind::list: return "list";
    case Value::Kind::dict: return "dict";
    case Value::Kind::global: return "global";
    case Value::Kind::storage: return "storage";
    case Value::Kind::tensor: return "tensor";
  }
  return "?";
}

// The typed storages: element size as saved, and the dtype fovea holds them in (the integer
// types fovea lacks widen to i64, bool to u8).
struct StorageType {
  std::size_t size;
  DType dtype;
};
const std::map<std::string, StorageType>& storage_types() {
  static const std::map<std::string, StorageType> m{
      {"FloatStorage", {4, DType::f32}},     {"DoubleStorage", {8, DType::f64}}, {"HalfStorage", {2, DType::f16}},
      {"BFloat16Storage", {2, DType::bf16}}, {"LongStorage", {8, DType::i64}},   {"IntStorage", {4, DType::i64}},
      {"ShortStorage", {2, DType::i64}},     {"CharStorage", {1, DType::i64}},   {"ByteStorage", {1, DType::u8}},
      {"BoolStorage", {1, DType::u8}}};
  return m;
}

// What a state dict needs and nothing else (PyTorch's weights_only unpickler allows the same).
bool allowed_global(const std::string& module, const std::string& name) {
  if (module == "collections" && name == "OrderedDict") return true;
  if (module == "torch._utils" && (name == "_rebuild_tensor_v2" || name == "_rebuild_parameter")) return true;
  return module == "torch" && storage_types().count(name) > 0;
}

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> bytes, const Zip& zip, std::string prefix, std::string path)
      : b_(bytes), zip_(zip), prefix_(std::move(prefix)), path_(std::move(path)) {}

  ValuePtr run() {
    while (true) {
      const std::size_t at = pos_;
      const auto op = static_cast<unsigned char>(u8());
      switch (op) {
        case 0x80: u8(); break;        // PROTO
        case 0x95: bytes(8); break;    // FRAME: its length, not needed
        case '.': return pop("STOP");  // STOP
        case '(': marks_.push_back(stack_.size()); break;
        case '}': push(make(Value::Kind::dict)); break;
        case ']': push(make(Value::Kind::list)); break;
        case ')': push(make(Value::Kind::tuple)); break;
        case 'd': push(collect(Value::Kind::dict)); break;
        case 'l': push(collect(Value::Kind::list)); break;
        case 't': push(collect(Value::Kind::tuple)); break;
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          auto t = make(Value::Kind::tuple);
          t->items.resize(op - 0x84);
          for (auto it = t->items.rbegin(); it != t->items.rend(); ++it) *it = pop("TUPLE");
          push(t);
          break;
        }
        case 'q': memo_[u8()] = top("BINPUT"); break;
        case 'r': memo_[u32()] = top("LONG_BINPUT"); break;
        case 0x94: memo_[static_cast<std::uint32_t>(memo_.size())] = top("MEMOIZE"); break;
        case 'h': push(memo(u8())); break;
        case 'j': push(memo(u32())); break;
        case 'J': push(integer(static_cast<std::int32_t>(u32()))); break;
        case 'K': push(integer(u8())); break;
        case 'M': {  // BININT2: two bytes, low first
          const unsigned lo = u8();
          push(integer(lo | u8() << 8));
          break;
        }
        case 0x8a: push(integer(long1())); break;
        case 'G': push(floating()); break;
        case 'N': push(make(Value::Kind::none)); break;
        case 0x88:
        case 0x89: {
          auto v = make(Value::Kind::boolean);
          v->i = op == 0x88;
          push(v);
          break;
        }
        case 'X': push(string(u32())); break;
        case 0x8c: push(string(u8())); break;
        case 0x8d: push(string(u64())); break;
        case 'c': {  // GLOBAL "module\nname\n"
          const std::string module = line(), name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const ValuePtr name = pop("STACK_GLOBAL"), module = pop("STACK_GLOBAL");
          if (name->kind != Value::Kind::string || module->kind != Value::Kind::string)
            bad(at, "STACK_GLOBAL needs two strings");
          push(global(module->s, name->s));
          break;
        }
        case 'Q': push(persistent(pop("BINPERSID"), at)); break;
        case 'R': {
          const ValuePtr args = pop("REDUCE"), callable = pop("REDUCE");
          push(reduce(callable, args, at));
          break;
        }
        case 'b': {  // BUILD: a state for the object below; dicts' attributes (_metadata) are dropped
          const ValuePtr state = pop("BUILD");
          const ValuePtr obj = top("BUILD");
          if (obj->kind != Value::Kind::dict) bad(at, fmt::format("BUILD on a {}", kind_name(obj->kind)));
          (void)state;
          break;
        }
        case 's': {
          const ValuePtr v = pop("SETITEM"), k = pop("SETITEM");
          dict_below("SETITEM", at)->entries.emplace_back(k, v);
          break;
        }
        case 'u': {
          const ValuePtr items = collect(Value::Kind::list);
          if (items->items.size() % 2) bad(at, "SETITEMS with an odd number of items");
          const ValuePtr d = dict_below("SETITEMS", at);
          for (std::size_t k = 0; k < items->items.size(); k += 2)
            d->entries.emplace_back(items->items[k], items->items[k + 1]);
          break;
        }
        case 'a': {
          const ValuePtr v = pop("APPEND");
          list_below("APPEND", at)->items.push_back(v);
          break;
        }
        case 'e': {
          const ValuePtr items = collect(Value::Kind::list);
          const ValuePtr l = list_below("APPENDS", at);
          l->items.insert(l->items.end(), items->items.begin(), items->items.end());
          break;
        }
        default:
          bad(at, fmt::format("pickle opcode 0x{:02x} ('{}') is not one a state dict uses", op,
                              op >= 32 && op < 127 ? std::string(1, static_cast<char>(op)) : std::string("?")));
      }
    }
  }

 private:
  [[noreturn]] void bad(std::size_t at, const std::string& what) const {
    fail(kOp, "{}: data.pkl byte {}: {}", path_, at, what);
  }
  std::byte next() {
    if (pos_ >= b_.size()) bad(pos_, "the pickle ends early (truncated file)");
    return b_[pos_++];
  }
  unsigned u8() { return static_cast<unsigned>(next()); }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v |= static_cast<std::uint32_t>(u8()) << (8 * k);
    return v;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v |= static_cast<std::uint64_t>(u8()) << (8 * k);
    return v;
  }
  std::span<const std::byte> bytes(std::uint64_t n) {
    if (n > b_.size() - pos_) bad(pos_, "the pickle ends early (truncated file)");
    auto s = b_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  std::string line() {
    std::string s;
    for (char c; (c = static_cast<char>(u8())) != '\n';) s += c;
    return s;
  }
  std::int64_t long1() {  // LONG1: n bytes of little-endian two's complement
    const unsigned n = u8();
    if (n > 8) bad(pos_, fmt::format("an integer of {} bytes", n));
    std::uint64_t v = 0;
    for (unsigned k = 0; k < n; ++k) v |= static_cast<std::uint64_t>(u8()) << (8 * k);
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~std::uint64_t{0} << (8 * n);
    return static_cast<std::int64_t>(v);
  }
  static ValuePtr integer(std::int64_t i) {
    auto v = make(Value::Kind::integer);
    v->i = i;
    return v;
  }
  ValuePtr floating() {  // BINFLOAT: big-endian double
    std::uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = bits << 8 | u8();
    auto v = make(Value::Kind::floating);
    std::memcpy(&v->f, &bits, sizeof bits);
    return v;
  }
  ValuePtr string(std::uint64_t n) {
    const auto s = bytes(n);
    auto v = make(Value::Kind::string);
    v->s.assign(reinterpret_cast<const char*>(s.data()), s.size());
    return v;
  }
  ValuePtr global(const std::string& module, const std::string& name) {
    if (!allowed_global(module, name))
      fail(kOp,
           "{}: the pickle refers to {}.{}, which a state dict never needs; refused (nothing in the file was run). "
           "fovea reads state dicts of tensors, numbers and strings",
           path_, module, name);
    auto v = make(Value::Kind::global);
    v->s = module + "." + name;
    return v;
  }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop(const char* op) {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) bad(pos_, fmt::format("{} on an empty stack", op));
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr top(const char* op) {
    if (stack_.empty()) bad(pos_, fmt::format("{} on an empty stack", op));
    return stack_.back();
  }
  ValuePtr memo(std::uint32_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) bad(pos_, fmt::format("memo {} was never stored", k));
    return it->second;
  }
  // The items since the last MARK, as a new container.
  ValuePtr collect(Value::Kind k) {
    if (marks_.empty()) bad(pos_, "a container without its MARK");
    const std::size_t from = marks_.back();
    marks_.pop_back();
    auto v = make(k);
    if (k == Value::Kind::dict) {
      if ((stack_.size() - from) % 2) bad(pos_, "DICT with an odd number of items");
      for (std::size_t j = from; j < stack_.size(); j += 2) v->entries.emplace_back(stack_[j], stack_[j + 1]);
    } else {
      v->items.assign(stack_.begin() + static_cast<std::ptrdiff_t>(from), stack_.end());
    }
    stack_.resize(from);
    return v;
  }
  ValuePtr dict_below(const char* op, std::size_t at) {
    ValuePtr d = top(op);
    if (d->kind != Value::Kind::dict) bad(at, fmt::format("{} on a {}", op, kind_name(d->kind)));
    return d;
  }
  ValuePtr list_below(const char* op, std::size_t at) {
    ValuePtr l = top(op);
    if (l->kind != Value::Kind::list) bad(at, fmt::format("{} on a {}", op, kind_name(l->kind)));
    return l;
  }
  // ('storage', torch.XStorage, key, location, numel)
  ValuePtr persistent(const ValuePtr& pid, std::size_t at) {
    const auto& t = pid->items;
    if (pid->kind != Value::Kind::tuple || t.size() != 5 || t[0]->kind != Value::Kind::string || t[0]->s != "storage" ||
        t[1]->kind != Value::Kind::global || t[2]->kind != Value::Kind::string || t[4]->kind != Value::Kind::integer ||
        t[4]->i < 0)
      bad(at, "a persistent id that is not ('storage', type, key, location, size)");
    auto v = make(Value::Kind::storage);
    v->storage = {t[1]->s.substr(t[1]->s.rfind('.') + 1), t[2]->s, t[4]->i};
    return v;
  }
  static std::int64_t int_of(const ValuePtr& v, const char* what, const Unpickler& u, std::size_t at) {
    if (v->kind != Value::Kind::integer) u.bad(at, fmt::format("{} must be an int, got {}", what, kind_name(v->kind)));
    return v->i;
  }
  static std::vector<std::int64_t> ints_of(const ValuePtr& v, const char* what, const Unpickler& u, std::size_t at) {
    if (v->kind != Value::Kind::tuple) u.bad(at, fmt::format("{} must be a tuple, got {}", what, kind_name(v->kind)));
    std::vector<std::int64_t> out;
    for (const auto& x : v->items) out.push_back(int_of(x, what, u, at));
    return out;
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args, std::size_t at) {
    if (callable->kind != Value::Kind::global) bad(at, fmt::format("REDUCE calls a {}", kind_name(callable->kind)));
    if (args->kind != Value::Kind::tuple) bad(at, "REDUCE without an argument tuple");
    const std::string& f = callable->s;
    const auto& a = args->items;
    if (f == "collections.OrderedDict") {
      if (!a.empty()) bad(at, "OrderedDict with arguments");
      return make(Value::Kind::dict);
    }
    if (f == "torch._utils._rebuild_parameter") {
      if (a.empty() || a[0]->kind != Value::Kind::tensor) bad(at, "_rebuild_parameter without a tensor");
      return a[0];
    }
    if (f == "torch._utils._rebuild_tensor_v2") {
      if (a.size() < 4 || a[0]->kind != Value::Kind::storage) bad(at, "_rebuild_tensor_v2 without a storage");
      auto v = make(Value::Kind::tensor);
      v->tensor = rebuild(a[0]->storage, int_of(a[1], "the storage offset", *this, at),
                          ints_of(a[2], "the size", *this, at), ints_of(a[3], "the stride", *this, at), at);
      return v;
    }
    bad(at, fmt::format("REDUCE calls {}, which is not a constructor", f));
  }

  // A tensor of `size` viewing the storage at `offset` with `stride`, copied out contiguous.
  Tensor rebuild(const StorageRef& s, std::int64_t offset, const std::vector<std::int64_t>& size,
                 const std::vector<std::int64_t>& stride, std::size_t at) {
    const auto type = storage_types().find(s.type);
    if (type == storage_types().end()) bad(at, fmt::format("unknown storage type {}", s.type));
    if (size.size() != stride.size()) bad(at, "a tensor whose size and stride differ in length");
    const std::vector<std::byte>& data = storage_bytes(s, type->second.size, at);
    std::int64_t numel = 1, last = offset;  // the largest element index the view reaches
    for (std::size_t d = 0; d < size.size(); ++d) {
      if (size[d] < 0 || stride[d] < 0) bad(at, "a negative size or stride");
      if (size[d] == 0) numel = 0;
      if (numel && size[d] > std::numeric_limits<std::int64_t>::max() / std::max<std::int64_t>(numel, 1))
        bad(at, fmt::format("a tensor of shape {} has more elements than any storage holds",
                            shape_str(Shape(size.begin(), size.end()))));
      numel *= size[d];
    }
    if (offset < 0) bad(at, "a negative storage offset");
    if (numel > 0) {
      for (std::size_t d = 0; d < size.size(); ++d) {
        if (stride[d] && (size[d] - 1) > (s.numel - last) / stride[d])
          bad(at, fmt::format("a tensor of shape {} reaches past the end of storage {} ({} elements)",
                              shape_str(Shape(size.begin(), size.end())), s.key, s.numel));
        last += (size[d] - 1) * stride[d];
      }
      if (last >= s.numel)
        bad(at, fmt::format("a tensor at offset {} reaches past the end of storage {} ({} elements)", offset, s.key,
                            s.numel));
    }
    const DType dt = type->second.dtype;
    const std::size_t in_size = type->second.size, out_size = dtype_size(dt);
    Tensor t = empty(Shape(size.begin(), size.end()), {.dtype = dt});
    auto* out = static_cast<std::byte*>(t.raw_data());
    // what torch.save writes almost always: a row-major tensor of a type fovea holds as is, one copy
    bool row_major = in_size == out_size;
    for (std::int64_t d = static_cast<std::int64_t>(size.size()) - 1, want = 1; row_major && d >= 0; --d) {
      row_major = size[d] == 1 || stride[d] == want;
      want *= size[d];
    }
    if (row_major) {
      if (numel > 0) std::memcpy(out, data.data() + offset * static_cast<std::int64_t>(in_size), numel * in_size);
      return t;
    }
    std::vector<std::int64_t> idx(size.size(), 0);
    for (std::int64_t k = 0; k < numel; ++k) {
      std::int64_t src = offset;
      for (std::size_t d = 0; d < size.size(); ++d) src += idx[d] * stride[d];
      const std::byte* p = data.data() + src * static_cast<std::int64_t>(in_size);
      if (in_size == out_size) {
        std::memcpy(out + k * static_cast<std::int64_t>(out_size), p, out_size);
      } else {  // Int, Short, Char -> i64
        std::int64_t v = 0;
        if (in_size == 4) {
          std::int32_t x;
          std::memcpy(&x, p, 4);
          v = x;
        } else if (in_size == 2) {
          std::int16_t x;
          std::memcpy(&x, p, 2);
          v = x;
        } else {
          std::int8_t x;
          std::memcpy(&x, p, 1);
          v = x;
        }
        std::memcpy(out + k * 8, &v, 8);
      }
      for (std::size_t d = size.size(); d-- > 0;) {
        if (++idx[d] < size[d]) break;
        idx[d] = 0;
      }
    }
    return t;
  }

  const std::vector<std::byte>& storage_bytes(const StorageRef& s, std::size_t esize, std::size_t at) {
    auto it = storages_.find(s.key);
    if (it == storages_.end()) {
      auto bytes = zip_.read(prefix_ + "data/" + s.key);
      if (!bytes) bad(at, fmt::format("storage {} is not in the archive ({}data/{})", s.key, prefix_, s.key));
      it = storages_.emplace(s.key, std::move(*bytes)).first;
    }
    // checked at every reference: two references to one storage may claim different lengths or types
    if (static_cast<std::uint64_t>(s.numel) > it->second.size() / esize)
      bad(at, fmt::format("storage {} holds {} bytes, less than its {} elements of {} bytes", s.key, it->second.size(),
                          s.numel, esize));
    return it->second;
  }

  std::span<const std::byte> b_;
  std::size_t pos_ = 0;
  const Zip& zip_;
  std::string prefix_, path_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::map<std::uint32_t, ValuePtr> memo_;
  std::map<std::string, std::vector<std::byte>> storages_;
};

// A dict whose keys are strings and whose values are all tensors (none: not a state dict).
std::optional<std::vector<std::pair<std::string, Tensor>>> as_state_dict(const ValuePtr& v) {
  if (v->kind != Value::Kind::dict || v->entries.empty()) return std::nullopt;
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [k, x] : v->entries) {
    if (k->kind != Value::Kind::string || x->kind != Value::Kind::tensor) return std::nullopt;
    out.emplace_back(k->s, x->tensor);
  }
  return out;
}

}  // namespace

bool is_zip_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, 4> m{};
  return in.read(m.data(), 4) && std::memcmp(m.data(), "PK\x03\x04", 4) == 0;
}

TorchFile load_torch(const std::string& path) {
  if (!std::filesystem::exists(path)) fail(kOp, "{} not found", path);
  if (!is_zip_file(path))
    fail(kOp,
         "{} is not a zip-format torch file (PyTorch 1.6 and later write those); an older file can be re-saved with "
         "torch.save(torch.load(f), f) or converted with tools/torch2safetensors.py",
         path);
  Zip zip(path);
  std::string pkl;
  for (const auto& n : zip.names())
    if (n.size() >= 8 && n.compare(n.size() - 8, 8, "data.pkl") == 0 && std::count(n.begin(), n.end(), '/') == 1) {
      if (!pkl.empty()) fail(kOp, "{}: two pickles ({} and {})", path, pkl, n);
      pkl = n;
    }
  if (pkl.empty()) fail(kOp, "{}: a zip archive without ARCHIVE/data.pkl, not a torch.save file", path);
  const auto bytes = zip.read(pkl);
  Unpickler u(*bytes, zip, pkl.substr(0, pkl.size() - 8), path);
  const ValuePtr root = u.run();
  TorchFile out;
  if (auto sd = as_state_dict(root)) {
    out.tensors = std::move(*sd);
    return out;
  }
  // a training checkpoint: {"state_dict": {...}, "epoch": ..., "optimizer": {...}}
  if (root->kind == Value::Kind::dict)
    for (const char* key : {"state_dict", "model_state_dict", "model", "net", "module"})
      for (const auto& [k, v] : root->entries)
        if (k->kind == Value::Kind::string && k->s == key)
          if (auto sd = as_state_dict(v)) {
            out.tensors = std::move(*sd);
            out.found_at = key;
            return out;
          }
  std::string keys;
  if (root->kind == Value::Kind::dict)
    for (const auto& [k, v] : root->entries)
      if (k->kind == Value::Kind::string) keys += (keys.empty() ? "" : ", ") + k->s;
  fail(kOp, "{}: no state dict (a dict of tensors) in the file: it holds a {}{}", path, kind_name(root->kind),
       keys.empty() ? "" : " with keys " + keys);
}

std::vector<std::pair<std::string, Tensor>> load_named_tensors(const std::string& path) {
  if (is_zip_file(path)) return load_torch(path).tensors;
  return load_safetensors(path).tensors;
}

StateDictFile read_state_dict(const std::string& path) {
  StateDictFile f;
  if (is_zip_file(path)) {
    TorchFile t = load_torch(path);
    f.tensors = std::move(t.tensors);
    f.found_at = std::move(t.found_at);
  } else {
    auto st = load_safetensors(path);
    if (st.metadata.count("config")) {  // a fovea train checkpoint: its "model." tensors
      const std::string model = "model.";
      for (auto& [k, t] : st.tensors)
        if (k.starts_with(model)) f.tensors.emplace_back(k.substr(model.size()), std::move(t));
      f.found_at = "model";
      f.fovea_checkpoint = true;
      return f;
    }
    f.tensors = std::move(st.tensors);
  }
  const std::string prefix = "module.";
  const bool all = !f.tensors.empty() && std::all_of(f.tensors.begin(), f.tensors.end(), [&](const auto& kv) {
    return kv.first.size() > prefix.size() && kv.first.rfind(prefix, 0) == 0;
  });
  if (all) {
    for (auto& [k, t] : f.tensors) k.erase(0, prefix.size());
    f.dropped = prefix;
  }
  return f;
}

std::string StateDictFile::note() const {
  std::string s;
  if (fovea_checkpoint) return "the model's weights of the fovea checkpoint";
  if (!found_at.empty()) s = fmt::format("the state dict under '{}' of the checkpoint", found_at);
  if (!dropped.empty()) s += fmt::format("{}prefix '{}' dropped from every key", s.empty() ? "" : ", ", dropped);
  return s;
}

}  // namespace fovea::io
