#include "nn/bf16_weights.h"

#include "tensor/allocator.h"

namespace bgn::nn {

Bf16Packer::Bf16Packer(ThreadPool& pool, const ResidentRanges* mapped) : pool_(pool) {
  if (mapped)
    for (const auto& r : mapped->ranges) mapped_.insert(r.ptr);
}

void Bf16Packer::release_if_mapped(const Tensor& t) const {
  if (mapped_.count(t.raw()) == 0) {
    // A copy of its own (LoRA-merged): once dropped it must leave the process, not wait in the
    // tensor allocator's cache while the rest is packed.
    released_copy_ = true;
    return;
  }
  ResidentRanges one;  // t is alive: its mapping too
  one.ranges.push_back(ResidentRange{t.raw(), t.nbytes(), {}, false});
  one.release();
}

const float* Bf16Packer::as_f32(const Tensor& t) {
  if (t.dtype() == DType::F32) return t.data<float>();
  if (t.dtype() != DType::F16 && t.dtype() != DType::BF16 && !dtype_is_block(t.dtype()))
    fail(Code::Internal, "bf16 packing: unexpected weight dtype ", dtype_name(t.dtype()));
  if (wide_.size() < size_t(t.numel())) {
    std::vector<float>().swap(wide_);
    wide_.resize(size_t(t.numel()));
  }
  widen_into(pool_, t, wide_.data());
  return wide_.data();
}

void Bf16Packer::pack(Linear& l) {
  if (!present(l.w) || l.out <= 0 || l.in <= 0) return;
  l.wb = std::make_shared<const cpu::Bf16Weights>(pool_, cpu::Bf16Weights::Side::Right, as_f32(l.w), l.out, l.in);
  release_if_mapped(l.w);
  l.w = Tensor();
  trim_if_copy_freed();
}

void Bf16Packer::pack(Conv2d& c) {
  if (!present(c.w) || c.out <= 0 || c.in <= 0) return;
  c.wb = std::make_shared<const cpu::Bf16Weights>(pool_, cpu::Bf16Weights::Side::Left, as_f32(c.w), c.out,
                                                  c.in * c.kh * c.kw);
  release_if_mapped(c.w);
  c.w = Tensor();
  trim_if_copy_freed();
}

void Bf16Packer::trim_if_copy_freed() {
  if (!released_copy_) return;
  released_copy_ = false;
  tensor_cache_trim();
}

void Bf16Packer::pack(Attention& a) {
  for (Linear* l : {&a.q, &a.k, &a.v, &a.out}) pack(*l);
}

void Bf16Packer::pack(ResBlock& r) {
  pack(r.conv1);
  pack(r.conv2);
  if (r.has_shortcut) pack(r.shortcut);
  if (r.has_temb) pack(r.temb);
}

void Bf16Packer::pack(SpatialTransformer& t) {
  if (t.linear_proj) {
    pack(t.proj_in_lin);
    pack(t.proj_out_lin);
  } else {
    pack(t.proj_in_conv);
    pack(t.proj_out_conv);
  }
  for (TransformerBlock& b : t.blocks) {
    pack(b.attn1);
    pack(b.attn2);
    pack(b.ff_in);
    pack(b.ff_out);
  }
}

}  // namespace bgn::nn
