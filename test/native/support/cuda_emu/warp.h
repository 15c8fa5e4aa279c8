// Block and warp synchronisation of the emulator: __syncthreads, __syncwarp and the shuffles.
// Calls must be uniform over the block (__syncthreads) or over the warp's live lanes (the rest);
// a thread that returns while others wait, or threads waiting at different barriers, abort the
// program with the launch named (on a GPU that is a hang or undefined behaviour).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda_emu/qualifiers.h"

namespace bgn::emu {

void block_sync();
void warp_sync(const char* op);
// Publishes `bits` as this lane's value and returns the value of lane `src` of the same warp
// (0xFF..FF bytes — NaN, -1 — when `src` is not a live lane: undefined on a GPU).
uint64_t warp_exchange(uint64_t bits, unsigned src, const char* op);
// Aborts unless all 32 lanes of the calling warp exist (wmma needs a full warp).
void require_full_warp(const char* op);

template <class T>
inline T shuffle(T v, unsigned src, const char* op) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "shuffle of a type CUDA cannot shuffle");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  bits = warp_exchange(bits, src, op);
  T out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

}  // namespace bgn::emu

inline void __syncthreads() { ::bgn::emu::block_sync(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  (void)mask;
  ::bgn::emu::warp_sync("__syncwarp");
}

namespace bgn::emu {
// The value of `v` in the lane that `source(lane, width)` names for this lane; width: sub-warp
// segments of `width` lanes (a power of two <= 32), as in CUDA.
template <class T, class Source>
inline T shuffle_from(T v, int width, const char* op, Source source) {
  return shuffle(v, source(tl_ctx.lane, static_cast<unsigned>(width)), op);
}
}  // namespace bgn::emu

// The masks are not emulated: every live lane of the warp must take part (see above).
template <class T>
inline T __shfl_sync(unsigned /*mask*/, T v, int src_lane, int width = warpSize) {
  return ::bgn::emu::shuffle_from(v, width, "__shfl_sync", [=](unsigned lane, unsigned w) {
    return (lane / w) * w + static_cast<unsigned>(src_lane) % w;
  });
}
template <class T>
inline T __shfl_xor_sync(unsigned /*mask*/, T v, int lane_mask, int width = warpSize) {
  return ::bgn::emu::shuffle_from(v, width, "__shfl_xor_sync", [=](unsigned lane, unsigned w) {
    const unsigned src = lane ^ static_cast<unsigned>(lane_mask);
    return src / w == lane / w ? src : lane;  // outside the segment: own value
  });
}
template <class T>
inline T __shfl_down_sync(unsigned /*mask*/, T v, unsigned delta, int width = warpSize) {
  return ::bgn::emu::shuffle_from(v, width, "__shfl_down_sync", [=](unsigned lane, unsigned w) {
    return (lane % w) + delta < w ? lane + delta : lane;
  });
}
template <class T>
inline T __shfl_up_sync(unsigned /*mask*/, T v, unsigned delta, int width = warpSize) {
  return ::bgn::emu::shuffle_from(v, width, "__shfl_up_sync",
                                  [=](unsigned lane, unsigned w) { return (lane % w) >= delta ? lane - delta : lane; });
}
