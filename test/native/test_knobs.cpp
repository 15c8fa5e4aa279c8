// Process-wide knobs (tensor/knobs.h): defaults when unset, the environment's value when set, a
// test's value over both, and E_CONFIG naming the variable for a malformed value.
#include <cstdlib>

#include "tensor/knobs.h"
#include "testing.h"

using namespace bgn;

namespace {
const char* const kAll[] = {"BGN_PROFILE",
                            "BGN_NO_WINOGRAD",
                            "BGN_ALLOC_CACHE_MB",
                            "BGN_KEEP_WEIGHTS_RESIDENT",
                            "BGN_GEMM_KERNEL",
                            "BGN_CUDA_GEMM",
                            "BGN_CUDA_IM2COL_BYTES",
                            "BGN_CUDA_MEMORY_LIMIT_MB",
                            "BGN_CUDA_EMU_MEMORY_MB",
                            "BG_MAX_MODEL_BYTES",
                            "BG_MAX_PROMPT_CHARS"};
}  // namespace

TEST("unset knobs give their defaults") {
  for (const char* name : kAll) knobs::set_for_test(name, nullptr);
  CHECK(knobs::profile() == 0);
  CHECK(!knobs::no_winograd());
  CHECK(knobs::alloc_cache_bytes() == size_t(1024) << 20);
  CHECK(!knobs::keep_weights_resident());
  CHECK(knobs::gemm_kernel().empty());
  CHECK(knobs::cuda_gemm() == knobs::CudaGemm::Auto);
  CHECK(knobs::cuda_im2col_bytes() == int64_t(256) << 20);
  CHECK(knobs::cuda_memory_limit_bytes() == 0);
  CHECK(knobs::cuda_emu_memory_bytes() == size_t(4096) << 20);
  CHECK(knobs::max_model_bytes() == uint64_t(64) << 30);
  CHECK(knobs::max_prompt_chars() == 4000);
  for (const char* name : kAll) knobs::reset_for_test(name);
}

TEST("a knob reads the environment when called, and a test's value wins until reset") {
  setenv("BG_MAX_PROMPT_CHARS", " 12 ", 1);
  knobs::reset_for_test("BG_MAX_PROMPT_CHARS");
  CHECK(knobs::max_prompt_chars() == 12);
  setenv("BG_MAX_PROMPT_CHARS", "13", 1);
  CHECK(knobs::max_prompt_chars() == 13);
  knobs::set_for_test("BG_MAX_PROMPT_CHARS", "7");
  CHECK(knobs::max_prompt_chars() == 7);
  knobs::set_for_test("BG_MAX_PROMPT_CHARS", nullptr);
  CHECK(knobs::max_prompt_chars() == 4000);
  knobs::reset_for_test("BG_MAX_PROMPT_CHARS");
  CHECK(knobs::max_prompt_chars() == 13);
  unsetenv("BG_MAX_PROMPT_CHARS");
}

TEST("values are read as documented") {
  knobs::set_for_test("BGN_PROFILE", "2");
  CHECK(knobs::profile() == 2);
  knobs::set_for_test("BGN_PROFILE", "");
  CHECK(knobs::profile() == 1);
  knobs::set_for_test("BGN_KEEP_WEIGHTS_RESIDENT", "0");
  CHECK(!knobs::keep_weights_resident());
  knobs::set_for_test("BGN_KEEP_WEIGHTS_RESIDENT", "1");
  CHECK(knobs::keep_weights_resident());
  knobs::set_for_test("BGN_ALLOC_CACHE_MB", "-5");
  CHECK(knobs::alloc_cache_bytes() == 0);
  knobs::set_for_test("BGN_CUDA_GEMM", "own");
  CHECK(knobs::cuda_gemm() == knobs::CudaGemm::Own);
  knobs::set_for_test("BGN_CUDA_MEMORY_LIMIT_MB", "8000");
  CHECK(knobs::cuda_memory_limit_bytes() == size_t(8000) << 20);
  for (const char* name :
       {"BGN_PROFILE", "BGN_KEEP_WEIGHTS_RESIDENT", "BGN_ALLOC_CACHE_MB", "BGN_CUDA_GEMM", "BGN_CUDA_MEMORY_LIMIT_MB"})
    knobs::reset_for_test(name);
}

TEST("a malformed value is E_CONFIG") {
  knobs::set_for_test("BG_MAX_MODEL_BYTES", "1e9");
  CHECK_THROWS_CODE(knobs::max_model_bytes(), Code::Config);
  knobs::set_for_test("BG_MAX_PROMPT_CHARS", "0");
  CHECK_THROWS_CODE(knobs::max_prompt_chars(), Code::Config);
  knobs::set_for_test("BGN_CUDA_GEMM", "blas");
  CHECK_THROWS_CODE(knobs::cuda_gemm(), Code::Config);
  knobs::set_for_test("BGN_CUDA_IM2COL_BYTES", "lots");
  CHECK_THROWS_CODE(knobs::cuda_im2col_bytes(), Code::Config);
  knobs::set_for_test("BGN_CUDA_MEMORY_LIMIT_MB", "-1");
  CHECK_THROWS_CODE(knobs::cuda_memory_limit_bytes(), Code::Config);
  knobs::set_for_test("BGN_CUDA_EMU_MEMORY_MB", "0");
  CHECK_THROWS_CODE(knobs::cuda_emu_memory_bytes(), Code::Config);
  for (const char* name : {"BG_MAX_MODEL_BYTES", "BG_MAX_PROMPT_CHARS", "BGN_CUDA_GEMM", "BGN_CUDA_IM2COL_BYTES",
                           "BGN_CUDA_MEMORY_LIMIT_MB", "BGN_CUDA_EMU_MEMORY_MB"})
    knobs::reset_for_test(name);
}

int main() { return bgn_test::run_all(); }
