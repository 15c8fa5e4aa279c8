// Packing a model's layers for the CPU's bf16 GEMM (precision 'bf16'): each matrix and kernel is
// widened from its file dtype (f32, f16, bf16 or GGUF blocks — or a LoRA-merged f32 copy) and
// rounded to bf16 once; the forward functions in nn/layers.h then use the packed copy, and the
// layer lets go of its source tensor (a LoRA-merged f32 copy is freed, a mapped view dropped).
// Only for a model that runs on the CPU and only when cpu::bf16_gemm_supported().
#pragma once
#include <unordered_set>
#include <vector>

#include "backend/cpu/threads.h"
#include "formats/mapped_file.h"
#include "nn/blocks.h"

namespace bgn::nn {

class Bf16Packer {
 public:
  // mapped: the mapped weight ranges of the model being packed (its ResidencyScope's). A packed
  // weight that is one of them has its pages released right after, so the load's peak holds the
  // packed copies plus about one layer's mapped pages, never both whole. Null: nothing released.
  Bf16Packer(ThreadPool& pool, const ResidentRanges* mapped);

  void pack(Linear& l);
  void pack(Conv2d& c);
  void pack(Attention& a);
  void pack(ResBlock& r);
  void pack(SpatialTransformer& t);

 private:
  void release_if_mapped(const Tensor& t) const;
  void trim_if_copy_freed();
  // t as f32: its own data, or a copy in wide_ (a plain buffer reused for every weight: the tensor
  // allocator would keep each freed size in its cache).
  const float* as_f32(const Tensor& t);
  ThreadPool& pool_;
  std::unordered_set<const void*> mapped_;
  std::vector<float> wide_;
  mutable bool released_copy_ = false;
};

}  // namespace bgn::nn
