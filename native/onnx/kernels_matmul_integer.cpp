// MatMulInteger: (..., M, K) uint8/int8 @ (..., K, N) uint8/int8 -> int32, batch dimensions
// broadcast as in MatMul, zero points per tensor, per row of A (M values) or per column of B
// (N values). Exact: operands are shifted by their zero points into int16 and the products
// summed in int32, as the specification defines.
#include <algorithm>
#include <vector>

#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

using Out = std::vector<Tensor>;

// Values of an 8-bit operand minus its zero point (per tensor, or per entry of axis `axis` of a
// 2-D matrix view of `rows` x `cols`), as int16.
std::vector<int16_t> shifted(const Tensor& t, const Tensor* zp, int64_t rows, int64_t cols, bool per_row,
                             const char* what) {
  const char* op = "MatMulInteger";
  if (t.dtype() != DType::U8 && t.dtype() != DType::I8)
    fail(Code::BadInput, op, ": ", what, " must be uint8 or int8, got ", dtype_name(t.dtype()));
  std::vector<int64_t> z{0};
  if (zp) {
    if (zp->dtype() != t.dtype()) fail(Code::BadInput, op, ": the zero point of ", what, " differs from it in dtype");
    if (zp->rank() > 1) fail(Code::BadInput, op, ": the zero point of ", what, " must be a scalar or 1-D");
    z = zp->as_i64();
    const int64_t want = per_row ? rows : cols;
    if (z.size() != 1 && int64_t(z.size()) != want)
      fail(Code::BadInput, op, ": the zero point of ", what, " has ", z.size(), " values, expected 1 or ", want);
  }
  std::vector<int16_t> out(size_t(t.numel()));
  const int64_t mat = rows * cols;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t v = t.dtype() == DType::U8 ? int64_t(t.data<uint8_t>()[i]) : int64_t(t.data<int8_t>()[i]);
    const int64_t e = i % std::max<int64_t>(mat, 1);
    const int64_t zi = z.size() == 1 ? 0 : (per_row ? e / cols : e % cols);
    out[size_t(i)] = int16_t(v - z[size_t(zi)]);
  }
  return out;
}

Out matmul_integer(RunContext& ctx, const Inputs& in) {
  const char* op = "MatMulInteger";
  Tensor a = need(in, 0, op), b = need(in, 1, op);
  const Tensor* azp = in.size() > 2 ? in[2] : nullptr;
  const Tensor* bzp = in.size() > 3 ? in[3] : nullptr;
  const bool a1 = a.rank() == 1, b1 = b.rank() == 1;
  if (a.rank() == 0 || b.rank() == 0) fail(Code::BadInput, op, ": scalar operand");
  if (a1) a = a.reshaped({1, a.dim(0)});
  if (b1) b = b.reshaped({b.dim(0), 1});
  const int64_t M = a.dim(-2), K = a.dim(-1), N = b.dim(-1);
  if (b.dim(-2) != K) fail(Code::BadInput, op, ": ", shape_str(a.shape()), " @ ", shape_str(b.shape()));
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_all({&ab, &bb}, op);
  Shape out = batch;
  out.push_back(M);
  out.push_back(N);
  Tensor y = new_output(DType::I32, out, op);
  std::vector<int16_t> av = shifted(a, azp, M, K, true, "A"), bv = shifted(b, bzp, K, N, false, "B");
  // B transposed per matrix, so that each output is a contiguous dot product.
  const int64_t nbb = shape_numel(bb);
  std::vector<int16_t> bt(bv.size());
  for (int64_t m = 0; m < nbb; ++m)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) bt[size_t(m * K * N + n * K + k)] = bv[size_t(m * K * N + k * N + n)];
  // Matrix index of each batch entry in a and b.
  const std::vector<int64_t> amat = batch_matrix_index(ab, batch), bmat = batch_matrix_index(bb, batch);
  const int64_t nb = int64_t(amat.size());
  int32_t* yp = y.data<int32_t>();
  ctx.pool.parallel_for(nb * M, std::max<int64_t>(1, 4096 / std::max<int64_t>(N * K, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t i = r / M, m = r % M;
      const int16_t* ar = av.data() + (amat[i] * M + m) * K;
      const int16_t* bm = bt.data() + bmat[i] * K * N;
      int32_t* yr = yp + r * N;
      for (int64_t n = 0; n < N; ++n) {
        const int16_t* bc = bm + n * K;
        uint32_t acc = 0;  // wraps around like int32 arithmetic, without undefined overflow
        for (int64_t k = 0; k < K; ++k) acc += uint32_t(int32_t(ar[k]) * int32_t(bc[k]));
        yr[n] = int32_t(acc);
      }
    }
  });
  ctx.flops += 2.0 * double(nb) * double(M) * double(N) * double(K);
  if (a1 || b1) {
    Shape s = batch;
    if (!a1) s.push_back(M);
    if (!b1) s.push_back(N);
    y = y.reshaped(s);
  }
  return {y};
}

}  // namespace

void register_matmul_integer_kernels(std::map<std::string, KernelFactory>& r) {
  r["MatMulInteger"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext& c, const Inputs& in) { return matmul_integer(c, in); });
  };
}

}  // namespace bgn::onnxrt
