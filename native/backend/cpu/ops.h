// CPU operators on f32 data in NCHW layout. Each function documents its shapes; none allocates
// its output (callers own memory), none throws from inside worker threads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"

namespace bgn::cpu {

// ---- GEMM -------------------------------------------------------------------------------------
// C (M,N) = alpha * op(A) (M,K) @ op(B) (K,N) + beta * C, row-major with leading dimensions.
// Splits the work over the pool; each piece runs on one thread (system BLAS when linked).
void sgemm(ThreadPool& pool, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// The same on the calling thread only.
void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// "openblas", "accelerate", "cblas" or "builtin": what sgemm runs on in this build.
const char* gemm_backend();

// ---- Convolution ------------------------------------------------------------------------------
enum class Activation { None, Relu, Sigmoid };

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  Activation activation = Activation::None;
  // Exact: integer-valued operands whose result must round like a direct sum (ConvInteger);
  // rules out transforms (Winograd) that trade last-bit exactness for speed.
  bool exact = false;
};

// The input of a convolution: one (N,C,H,W) tensor, or several (N,C_i,H,W) tensors whose
// channels are concatenated (a Concat fused into the convolution that reads it).
struct ConvInput {
  std::vector<const float*> parts;
  std::vector<int64_t> channels;  // C_i of each part
  ConvInput(const float* x, int64_t C) : parts{x}, channels{C} {}
  ConvInput(std::vector<const float*> p, std::vector<int64_t> c) : parts(std::move(p)), channels(std::move(c)) {}
  // Plane (n, c) of the concatenated input; HW = H*W.
  const float* plane(int64_t n, int64_t c, int64_t HW) const {
    for (size_t i = 0; i < parts.size(); ++i) {
      if (c < channels[i]) return parts[i] + (n * channels[i] + c) * HW;
      c -= channels[i];
    }
    return nullptr;
  }
};

// Output size of a convolution/pool window along one axis (floor), or -1 if the window never fits.
int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation);

// x (N,C,H,W), w (O,C/groups,KH,KW), bias (O) or null -> y (N,O,OH,OW), activation fused.
void conv2d(ThreadPool& pool, const ConvInput& x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w, int64_t O,
            int64_t KH, int64_t KW, const float* bias, const Conv2dParams& p, float* y, int64_t OH, int64_t OW);

// Winograd F(4x4,3x3) for 3x3 stride-1 convolutions (any equal dilation), groups 1.
bool winograd_applies(int64_t C, int64_t O, int64_t KH, int64_t KW, const Conv2dParams& p, int64_t OH, int64_t OW);
void conv2d_winograd(ThreadPool& pool, const ConvInput& x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w,
                     int64_t O, const float* bias, const Conv2dParams& p, float* y, int64_t OH, int64_t OW);

// ---- Pooling ----------------------------------------------------------------------------------
struct Pool2dParams {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  bool ceil_mode = false;
};
// Output size of a pool along one axis, with ONNX/PyTorch ceil_mode rules
// (the last window must start inside the input or left padding).
int64_t pool_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation,
                      bool ceil_mode);
// x (N*C,H,W) -> y (N*C,OH,OW); padding never wins the max.
void maxpool2d(ThreadPool& pool, const float* x, int64_t NC, int64_t H, int64_t W, const Pool2dParams& p, float* y,
               int64_t OH, int64_t OW);
// Average pool (count_include_pad as ONNX).
void avgpool2d(ThreadPool& pool, const float* x, int64_t NC, int64_t H, int64_t W, const Pool2dParams& p,
               bool count_include_pad, float* y, int64_t OH, int64_t OW);

// ---- Resize -----------------------------------------------------------------------------------
enum class ResizeMode { Nearest, Linear };
enum class CoordMode { HalfPixel, PytorchHalfPixel, AlignCorners, Asymmetric, TfHalfPixelForNn };
enum class NearestMode { RoundPreferFloor, RoundPreferCeil, Floor, Ceil };

struct ResizeParams {
  ResizeMode mode = ResizeMode::Nearest;
  CoordMode coord = CoordMode::HalfPixel;
  NearestMode nearest = NearestMode::RoundPreferFloor;
  // Scale factors out/in per axis as the model gave them; 0 when the model gave output sizes.
  float scale_h = 0.f, scale_w = 0.f;
};
// x (NC,H,W) -> y (NC,OH,OW)
void resize2d(ThreadPool& pool, const float* x, int64_t NC, int64_t H, int64_t W, const ResizeParams& p, float* y,
              int64_t OH, int64_t OW);

// ---- Elementwise ------------------------------------------------------------------------------
void relu(ThreadPool& pool, const float* x, float* y, int64_t n);
void sigmoid(ThreadPool& pool, const float* x, float* y, int64_t n);

enum class BinaryOp { Add, Sub, Mul, Div };
// Numpy-style broadcasting over any rank. Shapes are right-aligned.
void binary(ThreadPool& pool, BinaryOp op, const float* a, const int64_t* a_shape, int a_rank, const float* b,
            const int64_t* b_shape, int b_rank, float* y, const int64_t* y_shape, int y_rank);

// Inference batch-norm over channel axis 1: y = (x - mean) / sqrt(var + eps) * scale + bias.
// x (N,C,S)
void batchnorm(ThreadPool& pool, const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias,
               const float* mean, const float* var, float eps, float* y);

// Concatenate `count` tensors of any dtype along an axis: the shapes agree except on that axis.
// outer = product of dims before the axis; bytes[i] = dim_i(axis) * inner * element size of input i.
void concat(ThreadPool& pool, const void* const* inputs, const int64_t* bytes, int count, int64_t outer, void* y);

}  // namespace bgn::cpu
