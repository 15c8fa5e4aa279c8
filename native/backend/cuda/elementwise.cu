// Elementwise kernels: activations, GEGLU, sums, per-channel affine maps and broadcasting binary ops.
// All are memory-bound: grid-stride loops over 16-byte (four-float) loads when the pointers and
// the plane size allow it, then a scalar tail. Formulas are those of backend/cpu so results agree
// to the last few bits (exactly for relu and the copies).
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "tensor/error.h"

namespace bgn::cuda {

namespace {

constexpr unsigned kThreads = 256;

struct alignas(16) F4 {
  float a, b, c, d;
};

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

void check_size(int64_t n, const char* what) {
  if (n < 0) fail(Code::Internal, what, ": negative size ", n);
}

// ---- activations ----------------------------------------------------------------------------------
// std::max(v, 0) exactly: -0 and NaN pass through as the CPU twin lets them.
struct Relu {
  __device__ __forceinline__ float operator()(float v) const { return v < 0.f ? 0.f : v; }
};
struct Sigmoid {
  __device__ __forceinline__ float operator()(float v) const { return 1.f / (1.f + expf(-v)); }
};
struct Silu {
  __device__ __forceinline__ float operator()(float v) const { return v / (1.f + expf(-v)); }
};
struct Gelu {  // the exact (erf) form
  __device__ __forceinline__ float operator()(float v) const {
    return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
  }
};
struct QuickGelu {
  __device__ __forceinline__ float operator()(float v) const { return v / (1.f + expf(-1.702f * v)); }
};

// y (n) = f(x (n)); y may alias x (each element is read and written by one thread).
template <class F>
__global__ void map_kernel(const float* x, float* y, int64_t n, bool vec, F f) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t start = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t n4 = vec ? n / 4 : 0;
  for (int64_t i = start; i < n4; i += stride) {
    F4 v = reinterpret_cast<const F4*>(x)[i];
    v.a = f(v.a), v.b = f(v.b), v.c = f(v.c), v.d = f(v.d);
    reinterpret_cast<F4*>(y)[i] = v;
  }
  for (int64_t i = 4 * n4 + start; i < n; i += stride) y[i] = f(x[i]);
}

template <class F>
void map(cudaStream_t s, const float* x, float* y, int64_t n, F f, const char* what) {
  check_size(n, what);
  if (n == 0) return;
  const bool vec = aligned16(x) && aligned16(y);
  auto k = map_kernel<F>;
  BGN_LAUNCH(k, grid_for(vec ? (n + 3) / 4 : n, kThreads), kThreads, 0, s)(x, y, n, vec, f);
  check_launch(what);
}

// ---- GEGLU ----------------------------------------------------------------------------------------
// x (M, 2F) → y (M, F): y[m, f] = x[m, f] · gelu(x[m, F + f]). Four outputs per thread when F % 4 == 0
// (then a group of four never straddles a row and every row start stays 16-byte aligned).
__global__ void geglu_kernel(const float* __restrict__ x, int64_t M, int64_t F, float* __restrict__ y, bool vec) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t start = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const Gelu gelu;
  if (vec) {
    const int64_t F4n = F / 4, n4 = M * F4n;
    for (int64_t i = start; i < n4; i += stride) {
      const int64_t m = i / F4n, f4 = i - m * F4n;
      const F4* row = reinterpret_cast<const F4*>(x + m * 2 * F);
      const F4 h = row[f4], g = row[F4n + f4];
      F4 o;
      o.a = h.a * gelu(g.a), o.b = h.b * gelu(g.b), o.c = h.c * gelu(g.c), o.d = h.d * gelu(g.d);
      reinterpret_cast<F4*>(y)[i] = o;
    }
    return;
  }
  const int64_t n = M * F;
  for (int64_t i = start; i < n; i += stride) {
    const int64_t m = i / F, f = i - m * F;
    y[i] = x[m * 2 * F + f] * gelu(x[m * 2 * F + F + f]);
  }
}

// ---- sums -----------------------------------------------------------------------------------------
// y (n) = a (n) + b (n); y may alias a or b.
__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n, bool vec) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t start = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t n4 = vec ? n / 4 : 0;
  for (int64_t i = start; i < n4; i += stride) {
    const F4 u = reinterpret_cast<const F4*>(a)[i], v = reinterpret_cast<const F4*>(b)[i];
    F4 o;
    o.a = u.a + v.a, o.b = u.b + v.b, o.c = u.c + v.c, o.d = u.d + v.d;
    reinterpret_cast<F4*>(y)[i] = o;
  }
  for (int64_t i = 4 * n4 + start; i < n; i += stride) y[i] = a[i] + b[i];
}

// ---- per-channel maps over (N, C, S) planes ------------------------------------------------------------
// y[p, s] = f(c, x[p, s]) for plane p = n·C + c. With S % 4 == 0 four consecutive values share one
// plane, so the channel is computed once per 16-byte load.
template <class F>
__global__ void plane_kernel(const float* x, float* y, int64_t planes, int64_t C, int64_t S, bool vec, F f) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t start = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (vec) {
    const int64_t S4 = S / 4, n4 = planes * S4;
    for (int64_t i = start; i < n4; i += stride) {
      const int64_t c = (i / S4) % C;
      F4 v = reinterpret_cast<const F4*>(x)[i];
      v.a = f(c, v.a), v.b = f(c, v.b), v.c = f(c, v.c), v.d = f(c, v.d);
      reinterpret_cast<F4*>(y)[i] = v;
    }
    return;
  }
  const int64_t n = planes * S;
  for (int64_t i = start; i < n; i += stride) y[i] = f((i / S) % C, x[i]);
}

template <class F>
void per_plane(cudaStream_t s, const float* x, float* y, int64_t planes, int64_t C, int64_t S, F f, const char* what) {
  if (planes < 0 || C <= 0 || S < 0)
    fail(Code::Internal, what, ": bad shape (", planes, " planes, C ", C, ", S ", S, ")");
  if (planes == 0 || S == 0) return;
  const bool vec = S % 4 == 0 && aligned16(x) && aligned16(y);
  const int64_t n = planes * S;
  auto k = plane_kernel<F>;
  BGN_LAUNCH(k, grid_for(vec ? n / 4 : n, kThreads), kThreads, 0, s)(x, y, planes, C, S, vec, f);
  check_launch(what);
}

struct AddRow {  // x[r, :] += v[r]
  const float* v;
  __device__ __forceinline__ float operator()(int64_t r, float u) const { return u + v[r]; }
};

// y = x · k + off, k = scale / sqrt(var + eps), off = bias − mean · k (the CPU twin's two constants).
struct BatchNorm {
  const float *scale, *bias, *mean, *var;
  float eps;
  __device__ __forceinline__ float operator()(int64_t c, float u) const {
    const float k = scale[c] / sqrtf(var[c] + eps);
    const float off = bias[c] - mean[c] * k;
    return u * k + off;
  }
};

// act(y + bias[c]), bias optional; the convolution epilogue of backend/cpu.
template <cpu::Activation A>
struct BiasAct {
  const float* bias;
  __device__ __forceinline__ float operator()(int64_t c, float u) const {
    const float v = bias ? u + bias[c] : u;
    if (A == cpu::Activation::Relu) return v < 0.f ? 0.f : v;
    if (A == cpu::Activation::Sigmoid) return 1.f / (1.f + expf(-v));
    return v;
  }
};

// ---- broadcasting binary ops ------------------------------------------------------------------------
template <cpu::BinaryOp OP>
__device__ __forceinline__ float apply(float u, float v) {
  if (OP == cpu::BinaryOp::Add) return u + v;
  if (OP == cpu::BinaryOp::Sub) return u - v;
  if (OP == cpu::BinaryOp::Mul) return u * v;
  return u / v;
}

// The output's dims (outermost first) with a's and b's element strides along each (0 where broadcast).
struct Broadcast {
  int rank = 0;
  int64_t dims[8] = {0};
  int64_t sa[8] = {0};
  int64_t sb[8] = {0};
};

// a, b and y (n) of one shape, or one side a single value (a_scalar / b_scalar).
template <cpu::BinaryOp OP>
__global__ void binary_flat_kernel(const float* a, const float* b, float* y, int64_t n, bool a_scalar, bool b_scalar,
                                   bool vec) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t start = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const float a0 = a_scalar ? a[0] : 0.f, b0 = b_scalar ? b[0] : 0.f;
  const int64_t n4 = vec ? n / 4 : 0;
  for (int64_t i = start; i < n4; i += stride) {
    F4 u = a_scalar ? F4{a0, a0, a0, a0} : reinterpret_cast<const F4*>(a)[i];
    const F4 v = b_scalar ? F4{b0, b0, b0, b0} : reinterpret_cast<const F4*>(b)[i];
    u.a = apply<OP>(u.a, v.a), u.b = apply<OP>(u.b, v.b), u.c = apply<OP>(u.c, v.c), u.d = apply<OP>(u.d, v.d);
    reinterpret_cast<F4*>(y)[i] = u;
  }
  for (int64_t i = 4 * n4 + start; i < n; i += stride) y[i] = apply<OP>(a_scalar ? a0 : a[i], b_scalar ? b0 : b[i]);
}

// y (dims) = a ⊕ b with the index of each output element decomposed over the (coalesced) dims.
template <cpu::BinaryOp OP>
__global__ void binary_bcast_kernel(const float* a, const float* b, float* y, int64_t n, Broadcast sh) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int d = sh.rank - 1; d >= 0; --d) {
      const int64_t idx = rem % sh.dims[d];
      rem /= sh.dims[d];
      oa += idx * sh.sa[d];
      ob += idx * sh.sb[d];
    }
    y[i] = apply<OP>(a[oa], b[ob]);
  }
}

// Output dims with a's and b's strides, size-1 dims dropped and neighbours that stay contiguous in
// both inputs merged, so the kernel divides by as few dims as the broadcast needs.
Broadcast make_broadcast(const int64_t* as, int ar, const int64_t* bs, int br, const int64_t* ys, int yr) {
  int64_t dims[8], sa[8], sb[8];
  int64_t stride_a = 1, stride_b = 1;
  for (int i = yr - 1; i >= 0; --i) {
    const int ia = i - (yr - ar), ib = i - (yr - br);
    const int64_t da = ia >= 0 ? as[ia] : 1, db = ib >= 0 ? bs[ib] : 1;
    if ((da != ys[i] && da != 1) || (db != ys[i] && db != 1))
      fail(Code::BadInput, "binary: shapes do not broadcast on axis ", i, " (", da, " and ", db, " to ", ys[i], ")");
    dims[i] = ys[i];
    sa[i] = da == 1 ? 0 : stride_a;
    sb[i] = db == 1 ? 0 : stride_b;
    stride_a *= da;
    stride_b *= db;
  }
  Broadcast sh;
  for (int i = 0; i < yr; ++i) {
    if (dims[i] == 1) continue;
    const int r = sh.rank;
    if (r > 0 && sh.sa[r - 1] == sa[i] * dims[i] && sh.sb[r - 1] == sb[i] * dims[i]) {
      sh.dims[r - 1] *= dims[i];  // the outer dim continues into this one in both inputs
      sh.sa[r - 1] = sa[i];
      sh.sb[r - 1] = sb[i];
      continue;
    }
    sh.dims[r] = dims[i], sh.sa[r] = sa[i], sh.sb[r] = sb[i];
    sh.rank = r + 1;
  }
  return sh;
}

template <cpu::BinaryOp OP>
void binary_op(cudaStream_t s, const float* a, const int64_t* as, int ar, const float* b, const int64_t* bs, int br,
               float* y, const int64_t* ys, int yr) {
  int64_t n = 1, na = 1, nb = 1;
  for (int i = 0; i < yr; ++i) n *= ys[i];
  for (int i = 0; i < ar; ++i) na *= as[i];
  for (int i = 0; i < br; ++i) nb *= bs[i];
  const Broadcast sh = make_broadcast(as, ar, bs, br, ys, yr);  // validates the shapes
  if (n == 0) return;
  if ((na == n || na == 1) && (nb == n || nb == 1)) {
    // Same shape (broadcastable with equal counts means equal up to size-1 dims) or a scalar side.
    const bool a_scalar = na != n || n == 1, b_scalar = nb != n || n == 1;
    const bool vec = (a_scalar || aligned16(a)) && (b_scalar || aligned16(b)) && aligned16(y);
    auto k = binary_flat_kernel<OP>;
    BGN_LAUNCH(k, grid_for(vec ? (n + 3) / 4 : n, kThreads), kThreads, 0, s)(a, b, y, n, a_scalar, b_scalar, vec);
    check_launch("binary");
    return;
  }
  auto k = binary_bcast_kernel<OP>;
  BGN_LAUNCH(k, grid_for(n, kThreads), kThreads, 0, s)(a, b, y, n, sh);
  check_launch("binary");
}

}  // namespace

void activation(cudaStream_t s, cpu::Act act, const float* x, float* y, int64_t n) {
  switch (act) {
    case cpu::Act::SiLU:
      return map(s, x, y, n, Silu{}, "activation (SiLU)");
    case cpu::Act::GELU:
      return map(s, x, y, n, Gelu{}, "activation (GELU)");
    case cpu::Act::QuickGELU:
      return map(s, x, y, n, QuickGelu{}, "activation (QuickGELU)");
  }
  fail(Code::Internal, "activation: unknown kind ", static_cast<int>(act));
}

void relu(cudaStream_t s, const float* x, float* y, int64_t n) { map(s, x, y, n, Relu{}, "relu"); }
void sigmoid(cudaStream_t s, const float* x, float* y, int64_t n) { map(s, x, y, n, Sigmoid{}, "sigmoid"); }

void geglu(cudaStream_t s, const float* x, int64_t M, int64_t F, float* y) {
  if (M < 0 || F < 0) fail(Code::Internal, "geglu: bad shape (", M, ", ", F, ")");
  if (M == 0 || F == 0) return;
  const bool vec = F % 4 == 0 && aligned16(x) && aligned16(y);
  const int64_t n = M * F;
  BGN_LAUNCH(geglu_kernel, grid_for(vec ? n / 4 : n, kThreads), kThreads, 0, s)(x, M, F, y, vec);
  check_launch("geglu");
}

void add(cudaStream_t s, const float* a, const float* b, float* y, int64_t n) {
  check_size(n, "add");
  if (n == 0) return;
  const bool vec = aligned16(a) && aligned16(b) && aligned16(y);
  BGN_LAUNCH(add_kernel, grid_for(vec ? (n + 3) / 4 : n, kThreads), kThreads, 0, s)(a, b, y, n, vec);
  check_launch("add");
}

void add_rows(cudaStream_t s, float* x, const float* v, int64_t R, int64_t S) {
  if (R == 0) return;
  per_plane(s, x, x, R, R, S, AddRow{v}, "add_rows");
}

void batchnorm(cudaStream_t s, const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias,
               const float* mean, const float* var, float eps, float* y) {
  if (N < 0 || C <= 0) fail(Code::Internal, "batchnorm: bad shape (", N, ", ", C, ", ", S, ")");
  per_plane(s, x, y, N * C, C, S, BatchNorm{scale, bias, mean, var, eps}, "batchnorm");
}

void bias_act(cudaStream_t s, float* y, const float* bias, int64_t N, int64_t C, int64_t S, cpu::Activation act) {
  if (N < 0 || C <= 0) fail(Code::Internal, "bias_act: bad shape (", N, ", ", C, ", ", S, ")");
  switch (act) {
    case cpu::Activation::None:
      if (!bias) return;  // nothing to do
      return per_plane(s, y, y, N * C, C, S, BiasAct<cpu::Activation::None>{bias}, "bias_act");
    case cpu::Activation::Relu:
      return per_plane(s, y, y, N * C, C, S, BiasAct<cpu::Activation::Relu>{bias}, "bias_act (relu)");
    case cpu::Activation::Sigmoid:
      return per_plane(s, y, y, N * C, C, S, BiasAct<cpu::Activation::Sigmoid>{bias}, "bias_act (sigmoid)");
  }
  fail(Code::Internal, "bias_act: unknown activation ", static_cast<int>(act));
}

void binary(cudaStream_t s, cpu::BinaryOp op, const float* a, const int64_t* a_shape, int a_rank, const float* b,
            const int64_t* b_shape, int b_rank, float* y, const int64_t* y_shape, int y_rank) {
  if (a_rank < 0 || b_rank < 0 || y_rank < 0 || a_rank > 8 || b_rank > 8 || y_rank > 8)
    fail(Code::BadInput, "binary: ranks ", a_rank, ", ", b_rank, " → ", y_rank, " (at most 8 dims)");
  if (a_rank > y_rank || b_rank > y_rank)
    fail(Code::BadInput, "binary: an input has more dims (", a_rank > b_rank ? a_rank : b_rank, ") than the output (",
         y_rank, ")");
  for (int i = 0; i < y_rank; ++i)
    if (y_shape[i] < 0) fail(Code::BadInput, "binary: negative output dim ", y_shape[i]);
  using Impl = void (*)(cudaStream_t, const float*, const int64_t*, int, const float*, const int64_t*, int, float*,
                        const int64_t*, int);
  Impl impl = nullptr;
  switch (op) {
    case cpu::BinaryOp::Add:
      impl = binary_op<cpu::BinaryOp::Add>;
      break;
    case cpu::BinaryOp::Sub:
      impl = binary_op<cpu::BinaryOp::Sub>;
      break;
    case cpu::BinaryOp::Mul:
      impl = binary_op<cpu::BinaryOp::Mul>;
      break;
    case cpu::BinaryOp::Div:
      impl = binary_op<cpu::BinaryOp::Div>;
      break;
  }
  if (!impl) fail(Code::Internal, "binary: unknown op ", static_cast<int>(op));
  impl(s, a, a_shape, a_rank, b, b_shape, b_rank, y, y_shape, y_rank);
}

}  // namespace bgn::cuda
