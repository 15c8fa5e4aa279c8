// Axis permutation of a dense row-major array of any element size, on the pool.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/cpu/threads.h"

namespace bgn::cpu {

// y = x with its axes permuted: y's axis d is x's axis perm[d]. `dims` are x's dimensions,
// `perm` a permutation of 0..rank-1 (checked by the caller), `elem` the element size in bytes.
// Axes of size 1 are dropped and axes that stay neighbours are merged first, so a permutation
// that keeps the innermost axis copies whole rows and one that moves it transposes in tiles.
void transpose(ThreadPool& pool, const void* x, const std::vector<int64_t>& dims, const std::vector<int64_t>& perm,
               size_t elem, void* y);

}  // namespace bgn::cpu
