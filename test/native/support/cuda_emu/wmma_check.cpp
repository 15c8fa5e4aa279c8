// The memory rules of wmma loads and stores, checked on every call.
#include <sstream>

#include "cuda_emu/internal.h"
#include "cuda_emu/wmma.h"

namespace bgn::emu {

void check_wmma_memory(const void* p, unsigned ldm, size_t elem_size, const char* op) {
  // CUDA: "mptr must be a 256-bit aligned pointer"; "ldm must be a multiple of 8 for __half
  // element type or multiple of 4 for float" (16 bytes either way); a tile row fits in ldm.
  std::ostringstream os;
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) {
    os << op << ": pointer " << p << " is not 32-byte aligned";
  } else if ((ldm * elem_size) % 16 != 0) {
    os << op << ": ldm " << ldm << " is not a multiple of " << 16 / elem_size << " elements";
  } else if (ldm < 16) {
    os << op << ": ldm " << ldm << " is smaller than the 16-element tile";
  } else {
    return;
  }
  die(os.str());
}

}  // namespace bgn::emu
