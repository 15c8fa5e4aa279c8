#include "onnx/precision.h"

namespace bgn::onnxrt {

namespace {
thread_local bool t_bf16 = false;
}

PrecisionScope::PrecisionScope(bool bf16) : previous_(t_bf16) { t_bf16 = bf16; }
PrecisionScope::~PrecisionScope() { t_bf16 = previous_; }

bool bf16_runs() { return t_bf16; }

}  // namespace bgn::onnxrt
