#include "fovea/backend/cpu/dnnl_util.h"

#include <cstdlib>
#include <vector>

#include "fovea/backend/cpu/cpu_backend.h"

namespace fovea::backend::cpu {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

dnnl::memory::data_type dnnl_dtype(DType t, const char* op) {
  switch (t) {
    case DType::f32: return dnnl::memory::data_type::f32;
    case DType::u8: return dnnl::memory::data_type::u8;
    case DType::bf16: return dnnl::memory::data_type::bf16;
    case DType::f16: return dnnl::memory::data_type::f16;
    default: fail(op, "dtype {} not supported by the oneDNN path", dtype_name(t));
  }
}

dnnl::memory::desc plain_desc(const Shape& shape, DType dt, const char* op) {
  const Shape st = contiguous_strides(shape);
  return {dnnl::memory::dims(shape.begin(), shape.end()), dnnl_dtype(dt, op), dnnl::memory::dims(st.begin(), st.end())};
}

dnnl::memory::desc plain_desc(const Tensor& t, const char* op) {
  return {dnnl::memory::dims(t.shape().begin(), t.shape().end()), dnnl_dtype(t.dtype(), op),
          dnnl::memory::dims(t.strides().begin(), t.strides().end())};
}

dnnl::memory make_memory(const dnnl::memory::desc& md, const Tensor& t) { return {md, engine(), t.raw_data()}; }

std::string key_of(const Tensor& t) {
  return shape_str(t.shape()) + shape_str(t.strides()) + std::string(dtype_name(t.dtype()));
}

std::string md_key(const dnnl::memory::desc& md) {
  // built from fields, not raw bytes: the C struct may hold uninitialised padding
  const auto& d = md.data;
  std::string k = fmt::format("{}:{}:{}:", d.ndims, static_cast<int>(d.data_type), static_cast<int>(d.format_kind));
  for (int i = 0; i < d.ndims; ++i) k += fmt::format("{},", d.dims[i]);
  if (d.format_kind == dnnl_blocked) {
    const auto& b = d.format_desc.blocking;
    for (int i = 0; i < d.ndims; ++i) k += fmt::format("s{},", b.strides[i]);
    for (int i = 0; i < b.inner_nblks; ++i) k += fmt::format("b{}x{},", b.inner_idxs[i], b.inner_blks[i]);
  }
  k += fmt::format("o{}e{}", d.offset0, static_cast<int>(d.extra.flags));
  return k;
}

void reorder(const dnnl::memory& src, const dnnl::memory& dst) {
  const std::string key = md_key(src.get_desc()) + "->" + md_key(dst.get_desc());
  auto r = cached<dnnl::reorder>(key, [&] { return std::make_shared<dnnl::reorder>(src, dst); });
  r->execute(stream(), const_cast<dnnl::memory&>(src), const_cast<dnnl::memory&>(dst));
}

namespace {

struct ScratchStack {
  std::vector<std::shared_ptr<std::byte>> buffers;
  int depth = 0;
};
thread_local ScratchStack t_scratch;

}  // namespace

ScratchScope::ScratchScope() : start_(t_scratch.buffers.size()) { ++t_scratch.depth; }

ScratchScope::~ScratchScope() {
  t_scratch.buffers.resize(start_);
  --t_scratch.depth;
}

dnnl::memory scratch_memory(const dnnl::memory::desc& md) {
  if (t_scratch.depth == 0) fail("onednn", "scratch memory asked for outside a ScratchScope");
  auto buf = cpu_backend()->allocate(md.get_size(), kCPU);
  t_scratch.buffers.push_back(buf);
  return dnnl::memory(md, engine(), buf.get());
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void execute(const dnnl::primitive& p, const dnnl::memory::desc& scratchpad,
             std::unordered_map<int, dnnl::memory> args) {
  ScratchScope scope;
  if (scratchpad.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, scratch_memory(scratchpad));
  p.execute(stream(), args);
  stream().wait();
}

dnnl::memory as_layout(const dnnl::memory& plain, const dnnl::memory::desc& want, bool fill) {
  if (plain.get_desc() == want) return plain;
  dnnl::memory m = scratch_memory(want);
  if (fill) reorder(plain, m);
  return m;
}

}  // namespace fovea::backend::cpu
