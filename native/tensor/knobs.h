// Process-wide tuning knobs: the one file of the core that reads the environment.
//
// A knob changes how the core works, never what a call means: settings a caller chooses (the
// device, model, tokenizer and tiny-autoencoder paths) arrive as arguments and are never read
// here. Each accessor reads its variable when called, so a process (or a test) that changes it
// sees the new value; the callers that size something once (the allocator's cache, the
// emulator's memory, the profiler switch) ask once. A malformed value is E_CONFIG naming the
// variable.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace bgn::knobs {

// BGN_PROFILE: set, the ONNX executor prints the time per op type to stderr after each run; 2 also per node.
int profile();
// BGN_NO_WINOGRAD: set (to anything), 3×3 CPU convolutions run through im2col + GEMM, never Winograd.
bool no_winograd();
// BGN_GEMM_KERNEL: avx512, blas or portable forces the CPU GEMM kernel; "" when unset (the best one there is).
std::string gemm_kernel();
// BGN_NO_BF16: set (to anything), the CPU is taken to lack AVX512-BF16: precision 'auto' runs f32 and
// 'bf16' is E_DEVICE_UNAVAILABLE, as on such a CPU.
bool no_bf16();
// BGN_BF16_KERNEL: avx512, amx or amx-emulated forces the kernel of the bf16 GEMMs and convolutions
// (amx-emulated: the AMX kernel over a software model of the tile instructions, for tests); "" when
// unset (AMX where the CPU and the OS allow it, else AVX512-BF16).
std::string bf16_kernel();
// BGN_ALLOC_CACHE_MB: MiB of freed large host blocks the tensor allocator keeps for reuse (default 1024).
size_t alloc_cache_bytes();
// BGN_BAND_MB: MiB of one band where a layer runs in bands of rows (the tiny autoencoder's blocks at
// full resolution, when a whole activation would be 4× that or more; default 8). 0: the thinnest
// bands, at every size.
size_t band_bytes();
// BGN_KEEP_WEIGHTS_RESIDENT: not empty and not 0, mapped weight pages are never dropped between phases.
bool keep_weights_resident();

// BGN_CUDA_GEMM: the GPU GEMM path: auto (default: cuBLAS when it loads), own (never cuBLAS) or cublas.
enum class CudaGemm { Auto, Own, Cublas };
CudaGemm cuda_gemm();
// BGN_CUDA_IM2COL_BYTES: byte budget of the GPU convolution's column matrix (default 256 MiB).
int64_t cuda_im2col_bytes();
// BGN_CUDA_MEMORY_LIMIT_MB: cap on bg-native's GPU memory pool, in bytes here; 0 when unset (no cap).
size_t cuda_memory_limit_bytes();
// BGN_CUDA_EMU_MEMORY_MB: device memory of the CPU emulation of CUDA the tests run on (default 4096 MiB).
size_t cuda_emu_memory_bytes();

// BG_MAX_MODEL_BYTES: largest model file mapped (default 64 GiB, tensor/limits.h); above it is E_MODEL_FORMAT.
uint64_t max_model_bytes();
// BG_MAX_PROMPT_CHARS: longest prompt, in Unicode characters (default 4000); above it is E_BAD_INPUT.
uint64_t max_prompt_chars();

// Tests: `name` reads as `value` (null: as unset) in this process, whatever the environment says,
// until reset_for_test(name).
void set_for_test(const char* name, const char* value);
void reset_for_test(const char* name);

}  // namespace bgn::knobs
