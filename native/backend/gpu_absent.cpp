// open_cuda() in a build without the CUDA backend (the default, CPU-only addon).
#include "backend/gpu.h"

namespace bgn {

namespace {
const char* kReason = "built without CUDA (rebuild with BGN_CUDA=1 npm install, which needs nvcc)";
}

std::string cuda_unavailable_reason(int) { return kReason; }
std::shared_ptr<Gpu> open_cuda(int) { fail(Code::DeviceUnavailable, "device 'cuda' is not available: ", kReason); }
bool cuda_compiled() { return false; }
bool cuda_emulated() { return false; }

}  // namespace bgn
