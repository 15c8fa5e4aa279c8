#include "tensor/error.h"

namespace bgn {

const char* code_name(Code c) {
  switch (c) {
    case Code::ModelFormat:
      return "E_MODEL_FORMAT";
    case Code::ModelUnsupported:
      return "E_MODEL_UNSUPPORTED";
    case Code::ModelNotFound:
      return "E_MODEL_NOT_FOUND";
    case Code::BadInput:
      return "E_BAD_INPUT";
    case Code::OutOfMemory:
      return "E_OUT_OF_MEMORY";
    case Code::Cancelled:
      return "E_CANCELLED";
    case Code::Numeric:
      return "E_NUMERIC";
    case Code::Io:
      return "E_IO";
    case Code::Internal:
      return "E_INTERNAL";
    case Code::Config:
      return "E_CONFIG";
    case Code::DeviceUnavailable:
      return "E_DEVICE_UNAVAILABLE";
  }
  return "E_INTERNAL";
}

}  // namespace bgn
