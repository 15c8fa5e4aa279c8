// GGUF block types: the byte layouts decode as the format defines them, the reference quantizer
// round-trips within each type's resolution, and the products that read blocks directly
// (vec_dot, matmul on tiles) agree with dequantize-then-multiply.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/quant.h"
#include "backend/cpu/threads.h"
#include "tensor/quant.h"
#include "testing.h"

using namespace bgn;

namespace {

const DType kTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                        DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K};

using bgn_test::randn;

std::vector<uint8_t> quantized(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(dtype_bytes(t, int64_t(x.size())));
  quant::quantize(t, x.data(), q.data(), int64_t(x.size()));
  return q;
}

std::vector<float> dequantized(DType t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  quant::dequantize(t, q.data(), y.data(), n);
  return y;
}

void put_f16(uint8_t* p, float f) {
  uint16_t h = f32_to_f16(f);
  std::memcpy(p, &h, 2);
}

}  // namespace

TEST("block sizes and bytes are those of the GGUF format") {
  CHECK(dtype_block(DType::Q8_0) == 32 && dtype_block_bytes(DType::Q8_0) == 34);
  CHECK(dtype_block(DType::Q4_0) == 32 && dtype_block_bytes(DType::Q4_0) == 18);
  CHECK(dtype_block(DType::Q4_1) == 32 && dtype_block_bytes(DType::Q4_1) == 20);
  CHECK(dtype_block(DType::Q5_0) == 32 && dtype_block_bytes(DType::Q5_0) == 22);
  CHECK(dtype_block(DType::Q5_1) == 32 && dtype_block_bytes(DType::Q5_1) == 24);
  CHECK(dtype_block(DType::Q4_K) == 256 && dtype_block_bytes(DType::Q4_K) == 144);
  CHECK(dtype_block(DType::Q5_K) == 256 && dtype_block_bytes(DType::Q5_K) == 176);
  CHECK(dtype_block(DType::Q6_K) == 256 && dtype_block_bytes(DType::Q6_K) == 210);
  CHECK(dtype_block(DType::Q8_K) == 256 && dtype_block_bytes(DType::Q8_K) == 292);
  CHECK(dtype_bytes(DType::Q4_K, 512) == 288);
  CHECK(Tensor::empty(DType::Q8_0, {3, 64}).nbytes() == 3 * 2 * 34);
  CHECK_THROWS_CODE(Tensor::empty(DType::Q8_0, {3, 40}), Code::BadInput);
}

TEST("hand-built q4_0 and q5_0 blocks decode value j from the low nibble, j+16 from the high") {
  uint8_t b4[18] = {};
  put_f16(b4, 0.5f);
  b4[2] = 0x9F;   // value 0: 15 - 8 = 7, value 16: 9 - 8 = 1
  b4[17] = 0x08;  // value 15: 0, value 31: -8
  float y[32];
  quant::dequantize(DType::Q4_0, b4, y, 32);
  CHECK(y[0] == 3.5f && y[16] == 0.5f && y[15] == 0.f && y[31] == -4.f && y[1] == -4.f);

  uint8_t b5[22] = {};
  put_f16(b5, 1.f);
  const uint32_t qh = (1u << 0) | (1u << 17);  // fifth bit of value 0 and of value 17
  std::memcpy(b5 + 2, &qh, 4);
  b5[6] = 0x21;  // value 0: 1 | 16 = 17 → 1; value 16: 2 → -14
  b5[7] = 0x30;  // value 1: 0 → -16; value 17: 3 | 16 = 19 → 3
  quant::dequantize(DType::Q5_0, b5, y, 32);
  CHECK(y[0] == 1.f && y[16] == -14.f && y[1] == -16.f && y[17] == 3.f);

  uint8_t b51[24] = {};
  put_f16(b51, 2.f);
  put_f16(b51 + 2, -1.f);
  const uint32_t qh1 = 1u << 31;
  std::memcpy(b51 + 4, &qh1, 4);
  b51[8 + 15] = 0xF0;  // value 31: 15 | 16 = 31 → 2·31 − 1
  quant::dequantize(DType::Q5_1, b51, y, 32);
  CHECK(y[31] == 61.f && y[0] == -1.f);
}

TEST("hand-built q4_K / q5_K / q6_K blocks use the packed 6-bit scales and chunk order") {
  // q4_K: sub-block 1 (values 32..63) scale 5, min 3; sub-block 6 (values 192..223) scale 33, min 17.
  uint8_t b[176] = {};
  put_f16(b, 1.f);
  put_f16(b + 2, 0.5f);
  uint8_t* sc = b + 4;
  sc[1] = 5;                                // scale 1 (low 6 bits)
  sc[5] = 3;                                // min 1
  sc[10] = (33 & 0xF) | ((17 & 0xF) << 4);  // scale 6 / min 6 low nibbles
  sc[2] |= (33 >> 4) << 6;                  // scale 6 high bits in byte 6-4
  sc[6] |= (17 >> 4) << 6;                  // min 6 high bits in byte 6
  b[16 + 0] = 0x70;                         // chunk 0: value 0 (sub-block 0) = 0, value 32 (sub-block 1) = 7
  b[16 + 96 + 4] = 0x09;                    // chunk 3: value 196 (sub-block 6) = 9
  float y[256];
  quant::dequantize(DType::Q4_K, b, y, 256);
  CHECK(y[32] == 5.f * 7 - 0.5f * 3);
  CHECK(y[196] == 33.f * 9 - 0.5f * 17);
  CHECK(y[0] == 0.f);

  // q5_K: the same scales; the fifth bit of value 32 is bit 1 of qh[0], of value 196 bit 6 of qh[4].
  uint8_t c[176] = {};
  std::memcpy(c, b, 16);
  c[16 + 0] = 0x02;
  c[16 + 4] = 0x40;
  c[48 + 0] = 0x70;
  c[48 + 96 + 4] = 0x09;
  quant::dequantize(DType::Q5_K, c, y, 256);
  CHECK(y[32] == 5.f * (7 + 16) - 0.5f * 3);
  CHECK(y[196] == 33.f * (9 + 16) - 0.5f * 17);

  // q6_K: value 200 is in half 1, l = 8, group 2 (l+64): low nibble of ql[64+8] high half,
  // bits 4-5 of qh[32+8], scale index 200/16 = 12.
  uint8_t q6[210] = {};
  put_f16(q6 + 208, 0.25f);
  reinterpret_cast<int8_t*>(q6 + 192)[12] = -3;
  q6[64 + 8] = 0x50;           // 5 in the high nibble
  q6[128 + 32 + 8] = 2u << 4;  // high bits 2 → q = 5 | 32 = 37 → 37 − 32 = 5
  quant::dequantize(DType::Q6_K, q6, y, 256);
  CHECK(y[200] == 0.25f * -3 * 5);
  CHECK(y[0] == 0.25f * 0 * -32);
}

TEST("every block type round-trips random weights within its resolution") {
  const int64_t n = 4096;
  auto x = randn(size_t(n), 7);
  // RMS error relative to the RMS of the data.
  struct Want {
    DType t;
    double max_rel_rms;
  };
  const Want wants[] = {{DType::Q8_0, 0.006}, {DType::Q8_K, 0.008}, {DType::Q6_K, 0.02},
                        {DType::Q5_0, 0.05},  {DType::Q5_1, 0.05},  {DType::Q5_K, 0.05},
                        {DType::Q4_0, 0.1},   {DType::Q4_1, 0.1},   {DType::Q4_K, 0.1}};
  for (const auto& w : wants) {
    auto y = dequantized(w.t, quantized(w.t, x), n);
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; ++i) e += double(y[i] - x[i]) * (y[i] - x[i]), s += double(x[i]) * x[i];
    const double rel = std::sqrt(e / s);
    CHECK_MSG(rel <= w.max_rel_rms, "%s: relative RMS error %.4f > %.4f", dtype_name(w.t), rel, w.max_rel_rms);
  }
}

TEST("vec_dot on encoded rows equals the dot of the dequantized row") {
  const int64_t K = 1024;
  auto w = randn(size_t(K), 11, 0.05f);
  auto x = randn(size_t(K), 12);
  for (DType t : kTypes) {
    auto q = quantized(t, w);
    auto d = dequantized(t, q, K);
    double ref = 0, mag = 0;
    for (int64_t k = 0; k < K; ++k) ref += double(d[k]) * x[k], mag += std::fabs(double(d[k]) * x[k]);
    const float got = cpu::vec_dot(t, q.data(), x.data(), K);
    CHECK_MSG(std::fabs(got - ref) <= 1e-5 * mag, "%s: %g vs %g", dtype_name(t), got, ref);
  }
  // f16 and bf16 rows too.
  std::vector<uint16_t> h(static_cast<size_t>(K)), bh(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) h[k] = f32_to_f16(w[k]), bh[k] = f32_to_bf16(w[k]);
  double rh = 0, rb = 0, mag = 0;
  for (int64_t k = 0; k < K; ++k)
    rh += double(f16_to_f32(h[k])) * x[k], rb += double(bf16_to_f32(bh[k])) * x[k], mag += std::fabs(w[k] * x[k]);
  CHECK(std::fabs(cpu::vec_dot(DType::F16, h.data(), x.data(), K) - rh) <= 1e-5 * mag);
  CHECK(std::fabs(cpu::vec_dot(DType::BF16, bh.data(), x.data(), K) - rb) <= 1e-5 * mag);
}

TEST("matmul on quantized weights matches dequantize-then-multiply (dot path, tile path, beta)") {
  ThreadPool pool(2);
  const int64_t K = 512, N = 70;
  auto w = randn(size_t(N * K), 21, 0.05f);
  for (DType t : kTypes) {
    auto q = quantized(t, w);
    auto d = dequantized(t, q, N * K);
    for (int64_t M : {1, 3, 37}) {
      auto x = randn(size_t(M * K), 30 + uint32_t(M));
      for (float beta : {0.f, 1.f}) {
        std::vector<float> y(size_t(M * N), 0.5f), ref(size_t(M * N)), mag(size_t(M * N));
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            double s = beta * 0.5, a = 0.5 * beta;
            for (int64_t k = 0; k < K; ++k)
              s += double(d[n * K + k]) * x[m * K + k], a += std::fabs(double(d[n * K + k]) * x[m * K + k]);
            ref[m * N + n] = float(s);
            mag[m * N + n] = float(a);
          }
        cpu::matmul(pool, t, q.data(), N, K, x.data(), M, beta, y.data());
        double worst = 0;
        for (size_t i = 0; i < y.size(); ++i)
          worst = std::max(worst, std::fabs(double(y[i]) - ref[i]) / (mag[i] + 1e-12));
        CHECK_MSG(worst <= 2e-5, "%s M=%lld beta=%g: worst relative error %g", dtype_name(t), (long long)M, beta,
                  worst);
      }
    }
  }
}

TEST("a quantized tensor widens to f32 through Tensor::to") {
  auto x = randn(256, 5);
  Tensor t = Tensor::empty(DType::Q4_K, {1, 256});
  quant::quantize(DType::Q4_K, x.data(), t.raw(), 256);
  Tensor f = t.to(DType::F32);
  auto ref = dequantized(
      DType::Q4_K,
      std::vector<uint8_t>(static_cast<const uint8_t*>(t.raw()), static_cast<const uint8_t*>(t.raw()) + t.nbytes()),
      256);
  CHECK(f.shape() == Shape({1, 256}));
  CHECK(std::memcmp(f.raw(), ref.data(), 256 * 4) == 0);
}

int main() { return bgn_test::run_all(); }
