// Aligned allocation for tensor storage, with a cache of freed large blocks.
// A network run allocates and frees the same large activation sizes over and over; handing
// them back to the OS each time costs a page fault per 4 KiB on the next use. Freed blocks of
// 1 MiB and more are kept (up to a cap, BGN_ALLOC_CACHE_MB, default 1024) and reused by size.
#pragma once
#include <cstddef>

namespace bgn {

// 64-byte aligned; nullptr on failure.
void* tensor_alloc(size_t bytes);
void tensor_free(void* p, size_t bytes);
// Returns every cached block to the OS.
void tensor_cache_trim();
size_t tensor_cache_bytes();

}  // namespace bgn
