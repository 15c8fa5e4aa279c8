// The fuzz build's stand-in for backend/cpu/winograd.cpp (GCC vector extensions that clang does
// not compile): convolutions take the direct path.
#include "backend/cpu/ops.h"
#include "tensor/error.h"

namespace bgn::cpu {

bool winograd_applies(int64_t, int64_t, int64_t, int64_t, const Conv2dParams&, int64_t, int64_t) { return false; }

void conv2d_winograd(ThreadPool&, const ConvInput&, int64_t, int64_t, int64_t, int64_t, const float*, int64_t,
                     const float*, const Conv2dParams&, float*, int64_t, int64_t) {
  fail(Code::Internal, "Winograd convolution is not in this build");
}

}  // namespace bgn::cpu
