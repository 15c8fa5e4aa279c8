// What runtime.cu (device discovery, open_cuda) and cuda_gpu.cu (the Gpu on one device) share.
#pragma once
#include <memory>
#include <string>

#include "backend/cuda/cuda_kernel.h"
#include "backend/gpu.h"

namespace bgn::cuda {

// Why device `index` cannot be used ("" when it can); fills *prop when it can.
std::string probe_device(int index, cudaDeviceProp* prop);

// The Gpu of one device: its stream, pool, weight cache and GEMM engine (cuda_gpu.cu).
std::shared_ptr<Gpu> make_gpu(int index, const cudaDeviceProp& prop);

}  // namespace bgn::cuda
