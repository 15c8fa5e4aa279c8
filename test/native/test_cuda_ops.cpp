// The non-GEMM CUDA kernels (conversions, elementwise, layout, norms, resize, pooling) against their
// CPU twins in backend/cpu on random data. Shapes are deliberately not multiples of the block,
// tile or vector sizes, and pointers are offset by one float to take the scalar (unaligned) paths.
//
// Tolerances:
//   exact (bitwise)          conversions, relu, add, add_rows, binary, transpose, concat, pooling,
//                            nearest resize / upsampling, bias_act without a transcendental
//   |d| ≤ 1e-5·|ref| + 1e-6  SiLU, GELU, QuickGELU, sigmoid, GEGLU (libm vs device erff/expf ulps)
//   |d| ≤ 1e-5·|ref| + 1e-5  group norm, layer norm, batch norm, bilinear resize (f32 statistics vs
//                            the CPU's double ones; multiply-adds fused on the GPU)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/nn_ops.h"
#include "backend/cpu/ops.h"
#include "backend/cuda/kernels.h"
#include "cuda_testing.h"
#include "tensor/tensor.h"
#include "testing.h"

using bgn::testing::DevVec;
namespace cpu = bgn::cpu;
namespace cuda = bgn::cuda;

namespace {

bgn::ThreadPool& pool() {
  static bgn::ThreadPool p(2);
  return p;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -3.f, float hi = 3.f) {
  return bgn_test::uniform(n, seed, lo, hi);
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Every element bit for bit; prints the first mismatch.
bool exact(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  if (got.size() != want.size()) {
    std::printf("    %s: %zu values, expected %zu\n", what.c_str(), got.size(), want.size());
    return false;
  }
  for (size_t i = 0; i < got.size(); ++i)
    if (!same_bits(got[i], want[i])) {
      std::printf("    %s: [%zu] = %.9g, expected %.9g\n", what.c_str(), i, got[i], want[i]);
      return false;
    }
  return true;
}

// |got − want| ≤ rtol·|want| + atol everywhere; prints the worst error relative to the bound.
bool within(const std::vector<float>& got, const std::vector<float>& want, float rtol, float atol,
            const std::string& what) {
  if (got.size() != want.size()) return false;
  double worst = 0, worst_abs = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(double(got[i]) - double(want[i]));
    const double ratio = d / (rtol * std::fabs(double(want[i])) + atol);
    if (!(ratio <= worst) || std::isnan(got[i])) worst = std::isnan(got[i]) ? INFINITY : ratio, at = i;
    worst_abs = std::max(worst_abs, d);
  }
  if (std::getenv("BGN_TEST_VERBOSE"))  // the measured errors, to see how much room a bound leaves
    std::printf("    %s: max |d| %.3g (%.2f of the bound)\n", what.c_str(), worst_abs, worst);
  if (worst > 1.0) {
    std::printf("    %s: [%zu] = %.9g, expected %.9g (max |d| %.3g)\n", what.c_str(), at, got[at], want[at], worst_abs);
    return false;
  }
  return true;
}

// A device copy of h that starts `offset` floats into its allocation (offset 1: not 16-byte aligned).
struct Shifted {
  DevVec<float> buf;
  size_t offset;
  Shifted(const std::vector<float>& h, size_t off) : buf(h.size() + off), offset(off) {
    std::vector<float> padded(off, 0.f);
    padded.insert(padded.end(), h.begin(), h.end());
    buf.put(padded);
  }
  float* p() const { return buf.p + offset; }
  std::vector<float> get() const {
    std::vector<float> all = buf.get();
    return std::vector<float>(all.begin() + static_cast<std::ptrdiff_t>(offset), all.end());
  }
};

}  // namespace

// ---- helpers and conversions ------------------------------------------------------------------------

TEST("CUDA errors become bgn::Error: out of memory as E_OUT_OF_MEMORY, the rest as E_INTERNAL naming the call") {
  cuda::check(cudaSuccess, "nothing");
  CHECK_THROWS_CODE(cuda::check(cudaErrorMemoryAllocation, "alloc"), bgn::Code::OutOfMemory);
  CHECK_THROWS_CODE(cuda::check(cudaErrorInvalidValue, "some launch"), bgn::Code::Internal);
  try {
    cuda::check(cudaErrorInvalidValue, "some launch");
  } catch (const bgn::Error& e) {
    CHECK_MSG(std::string(e.what()).find("some launch") != std::string::npos, "%s", e.what());
    CHECK_MSG(std::string(e.what()).find("cudaErrorInvalidValue") != std::string::npos, "%s", e.what());
  }
}

TEST("grid_for covers n items and stays within one grid dimension") {
  CHECK(cuda::grid_for(1, 256) == 1);
  CHECK(cuda::grid_for(256, 256) == 1);
  CHECK(cuda::grid_for(257, 256) == 2);
  CHECK(cuda::grid_for(0, 256) == 1);
  CHECK(cuda::grid_for(int64_t(1) << 45, 256) == 0x7fffffffu);
}

TEST("f32 → f16 / bf16 rounds to nearest even exactly like the CPU tensors, aligned or not") {
  std::vector<float> x = random_floats(1003, 1, -70000.f, 70000.f);
  const std::vector<float> special = {0.f,        -0.f,        1.f,           65504.f,        65520.f,
                                      65519.f,    1e-8f,       5.96e-8f,      2.98e-8f,       6.1e-5f,
                                      -3.0e-5f,   INFINITY,    -INFINITY,     1.00048828125f, 1.00146484375f,
                                      1.0039062f, 1.01171875f, 3.3895314e38f, 1e-40f,         -7.25f};
  for (size_t i = 0; i < special.size(); ++i) x[i] = special[i];
  for (size_t i = special.size(); i < 400; ++i) x[i] *= 1e-4f;  // small magnitudes and half subnormals
  for (size_t off : {0, 1}) {
    Shifted dx(x, off);
    DevVec<uint16_t> h(x.size() + 1), b(x.size() + 1);
    cuda::to_f16(nullptr, dx.p(), h.p + off, int64_t(x.size()));
    cuda::to_bf16(nullptr, dx.p(), b.p + off, int64_t(x.size()));
    const std::vector<uint16_t> hh = h.get(), bb = b.get();
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (hh[i + off] != bgn::f32_to_f16(x[i]) || bb[i + off] != bgn::f32_to_bf16(x[i])) {
        if (++bad <= 3)
          std::printf("    %.9g → f16 %04x (want %04x), bf16 %04x (want %04x)\n", x[i], hh[i + off],
                      bgn::f32_to_f16(x[i]), bb[i + off], bgn::f32_to_bf16(x[i]));
      }
    }
    CHECK_MSG(bad == 0, "%d mismatches at offset %zu", bad, off);
  }
}

TEST("f16 / bf16 → f32 widens every bit pattern exactly (NaN stays NaN)") {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  for (size_t off : {0, 1}) {
    DevVec<uint16_t> src(all.size() + off);
    std::vector<uint16_t> shifted(off, 0);
    shifted.insert(shifted.end(), all.begin(), all.end());
    src.put(shifted);
    DevVec<float> yh(all.size() + off), yb(all.size() + off);
    cuda::f16_to_f32(nullptr, src.p + off, yh.p + off, int64_t(all.size()));
    cuda::bf16_to_f32(nullptr, src.p + off, yb.p + off, int64_t(all.size()));
    const std::vector<float> h = yh.get(), b = yb.get();
    int bad = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      const float wh = bgn::f16_to_f32(all[i]), wb = bgn::bf16_to_f32(all[i]);
      const bool ok_h = std::isnan(wh) ? std::isnan(h[i + off]) : same_bits(h[i + off], wh);
      const bool ok_b = std::isnan(wb) ? std::isnan(b[i + off]) : same_bits(b[i + off], wb);
      bad += !ok_h + !ok_b;
    }
    CHECK_MSG(bad == 0, "%d mismatches at offset %zu", bad, off);
  }
}

// ---- elementwise -----------------------------------------------------------------------------------------

TEST("SiLU, GELU (erf) and QuickGELU match the CPU within 1e-5, in place and unaligned") {
  const std::vector<float> x = random_floats(1027, 2, -8.f, 8.f);
  for (cpu::Act act : {cpu::Act::SiLU, cpu::Act::GELU, cpu::Act::QuickGELU}) {
    std::vector<float> want(x.size());
    cpu::activation(pool(), act, x.data(), want.data(), int64_t(x.size()));
    const std::string name = "act " + std::to_string(int(act));
    for (size_t off : {0, 1}) {
      Shifted dx(x, off), dy(std::vector<float>(x.size()), off);
      cuda::activation(nullptr, act, dx.p(), dy.p(), int64_t(x.size()));
      CHECK(within(dy.get(), want, 1e-5f, 1e-6f, name + " off " + std::to_string(off)));
      cuda::activation(nullptr, act, dx.p(), dx.p(), int64_t(x.size()));  // y aliases x
      CHECK(within(dx.get(), want, 1e-5f, 1e-6f, name + " in place"));
    }
  }
}

TEST("relu is exact and sigmoid within 1e-5 of the CPU") {
  const std::vector<float> x = random_floats(515, 3, -20.f, 20.f);
  std::vector<float> want_r(x.size()), want_s(x.size());
  cpu::relu(pool(), x.data(), want_r.data(), int64_t(x.size()));
  cpu::sigmoid(pool(), x.data(), want_s.data(), int64_t(x.size()));
  for (size_t off : {0, 1}) {
    Shifted dx(x, off), r(std::vector<float>(x.size()), off), s(std::vector<float>(x.size()), off);
    cuda::relu(nullptr, dx.p(), r.p(), int64_t(x.size()));
    cuda::sigmoid(nullptr, dx.p(), s.p(), int64_t(x.size()));
    CHECK(exact(r.get(), want_r, "relu"));
    CHECK(within(s.get(), want_s, 1e-5f, 1e-6f, "sigmoid"));
  }
}

TEST("GEGLU gates the first half of each row by gelu of the second, for F multiple of 4 or not") {
  for (int64_t F : {12, 7, 1}) {
    const int64_t M = 5;
    const std::vector<float> x = random_floats(size_t(M * 2 * F), 4);
    std::vector<float> want(size_t(M * F));
    cpu::geglu(pool(), x.data(), M, F, want.data());
    for (size_t off : {0, 1}) {
      Shifted dx(x, off), dy(std::vector<float>(want.size()), off);
      cuda::geglu(nullptr, dx.p(), M, F, dy.p());
      CHECK(within(dy.get(), want, 1e-5f, 1e-6f, "geglu F " + std::to_string(F)));
    }
  }
}

TEST("add sums exactly, also into one of its inputs") {
  const std::vector<float> a = random_floats(1031, 5), b = random_floats(1031, 6);
  std::vector<float> want(a.size());
  for (size_t i = 0; i < a.size(); ++i) want[i] = a[i] + b[i];
  for (size_t off : {0, 1}) {
    Shifted da(a, off), db(b, off), dy(std::vector<float>(a.size()), off);
    cuda::add(nullptr, da.p(), db.p(), dy.p(), int64_t(a.size()));
    CHECK(exact(dy.get(), want, "add"));
    cuda::add(nullptr, da.p(), db.p(), db.p(), int64_t(a.size()));
    CHECK(exact(db.get(), want, "add into b"));
  }
}

TEST("add_rows adds one value per row of (R, S), S multiple of 4 or not") {
  for (int64_t S : {13, 16, 1}) {
    const int64_t R = 7;
    const std::vector<float> x = random_floats(size_t(R * S), 7), v = random_floats(size_t(R), 8);
    std::vector<float> want = x;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t s = 0; s < S; ++s) want[size_t(r * S + s)] += v[size_t(r)];
    for (size_t off : {0, 1}) {
      Shifted dx(x, off);
      DevVec<float> dv(v);
      cuda::add_rows(nullptr, dx.p(), dv.p, R, S);
      CHECK(exact(dx.get(), want, "add_rows S " + std::to_string(S)));
    }
  }
}

TEST("binary ops broadcast like numpy over up to 8 dims, exactly as the CPU") {
  struct Case {
    std::vector<int64_t> a, b, y;
  };
  const std::vector<Case> cases = {
      {{2, 3, 5}, {2, 3, 5}, {2, 3, 5}},                                               // same shape
      {{4, 9}, {1}, {4, 9}},                                                           // scalar b
      {{}, {3, 7}, {3, 7}},                                                            // rank-0 a
      {{2, 3, 1, 5}, {3, 4, 1}, {2, 3, 4, 5}},                                         // both sides broadcast
      {{4, 1}, {1, 5}, {4, 5}},                                                        // outer product
      {{2, 1, 3}, {2, 1, 3}, {2, 1, 3}},                                               // size-1 dims, same shape
      {{1, 2, 1, 2, 1, 2, 1, 3}, {2, 1, 2, 1, 2, 1, 3, 1}, {2, 2, 2, 2, 2, 2, 3, 3}},  // 8 dims
      {{}, {}, {}},                                                                    // scalars
      {{6, 1, 1}, {6, 5, 7}, {6, 5, 7}},                                               // per-channel a
  };
  auto numel = [](const std::vector<int64_t>& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
  };
  uint32_t seed = 10;
  for (const Case& c : cases) {
    const std::vector<float> a = random_floats(size_t(numel(c.a)), seed++);
    std::vector<float> b = random_floats(size_t(numel(c.b)), seed++);
    for (float& v : b) v = v >= 0 ? v + 0.5f : v - 0.5f;  // keep divisors away from 0
    for (cpu::BinaryOp op : {cpu::BinaryOp::Add, cpu::BinaryOp::Sub, cpu::BinaryOp::Mul, cpu::BinaryOp::Div}) {
      std::vector<float> want(size_t(numel(c.y)));
      cpu::binary(pool(), op, a.data(), c.a.data(), int(c.a.size()), b.data(), c.b.data(), int(c.b.size()), want.data(),
                  c.y.data(), int(c.y.size()));
      DevVec<float> da(a), db(b), dy(want.size());
      cuda::binary(nullptr, op, da.p, c.a.data(), int(c.a.size()), db.p, c.b.data(), int(c.b.size()), dy.p, c.y.data(),
                   int(c.y.size()));
      CHECK(exact(dy.get(), want, "binary op " + std::to_string(int(op)) + " rank " + std::to_string(c.y.size())));
    }
  }
}

TEST("binary rejects shapes that do not broadcast") {
  const int64_t as[] = {3, 4}, bs[] = {2, 4}, ys[] = {3, 4};
  DevVec<float> a(12), b(8), y(12);
  CHECK_THROWS_CODE(cuda::binary(nullptr, cpu::BinaryOp::Add, a.p, as, 2, b.p, bs, 2, y.p, ys, 2), bgn::Code::BadInput);
}

TEST("batchnorm applies each channel's statistics (N > 1, S multiple of 4 or not)") {
  for (int64_t S : {17, 20}) {
    const int64_t N = 2, C = 3;
    const std::vector<float> x = random_floats(size_t(N * C * S), 20), scale = random_floats(3, 21),
                             bias = random_floats(3, 22), mean = random_floats(3, 23),
                             var = random_floats(3, 24, 0.1f, 2.f);
    std::vector<float> want(x.size());
    cpu::batchnorm(pool(), x.data(), N, C, S, scale.data(), bias.data(), mean.data(), var.data(), 1e-5f, want.data());
    for (size_t off : {0, 1}) {
      Shifted dx(x, off), dy(std::vector<float>(x.size()), off);
      DevVec<float> ds(scale), db(bias), dm(mean), dv(var);
      cuda::batchnorm(nullptr, dx.p(), N, C, S, ds.p, db.p, dm.p, dv.p, 1e-5f, dy.p());
      CHECK(within(dy.get(), want, 1e-5f, 1e-5f, "batchnorm S " + std::to_string(S)));
    }
  }
}

TEST("bias_act adds the channel bias then applies the activation, like the convolution epilogue") {
  const int64_t N = 2, C = 3;
  for (int64_t S : {10, 12}) {
    const std::vector<float> y0 = random_floats(size_t(N * C * S), 30), bias = random_floats(size_t(C), 31);
    for (cpu::Activation act : {cpu::Activation::None, cpu::Activation::Relu, cpu::Activation::Sigmoid}) {
      for (bool with_bias : {true, false}) {
        std::vector<float> want = y0;
        for (int64_t i = 0; i < N * C * S; ++i) {
          const float v = want[size_t(i)] + (with_bias ? bias[size_t((i / S) % C)] : 0.f);
          want[size_t(i)] = act == cpu::Activation::Relu      ? std::max(v, 0.f)
                            : act == cpu::Activation::Sigmoid ? 1.f / (1.f + std::exp(-v))
                                                              : v;
        }
        for (size_t off : {0, 1}) {
          Shifted dy(y0, off);
          DevVec<float> db(bias);
          cuda::bias_act(nullptr, dy.p(), with_bias ? db.p : nullptr, N, C, S, act);
          const std::string name = "bias_act " + std::to_string(int(act)) + (with_bias ? " bias" : " no bias");
          if (act == cpu::Activation::Sigmoid)
            CHECK(within(dy.get(), want, 1e-5f, 1e-6f, name));
          else
            CHECK(exact(dy.get(), want, name));
        }
      }
    }
  }
}

// ---- layout --------------------------------------------------------------------------------------------

TEST("transpose swaps the last two axes of every batch, for shapes that are not tile multiples") {
  struct Shape {
    int64_t B, R, C;
  };
  for (const Shape& s : {Shape{3, 37, 45}, Shape{1, 1, 70}, Shape{2, 64, 33}, Shape{2, 33, 1}, Shape{1, 32, 32}}) {
    const std::vector<float> x = random_floats(size_t(s.B * s.R * s.C), 40);
    std::vector<float> want(x.size());
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t r = 0; r < s.R; ++r)
        for (int64_t c = 0; c < s.C; ++c) want[size_t((b * s.C + c) * s.R + r)] = x[size_t((b * s.R + r) * s.C + c)];
    DevVec<float> dx(x), dy(x.size());
    cuda::transpose(nullptr, dx.p, s.B, s.R, s.C, dy.p);
    CHECK(exact(dy.get(), want,
                "transpose " + std::to_string(s.B) + "x" + std::to_string(s.R) + "x" + std::to_string(s.C)));
  }
}

TEST("concat joins blocks of any element size byte for byte, like cpu::concat") {
  struct Case {
    std::vector<int64_t> bytes;
    int64_t outer;
    size_t misalign;  // bytes the output and inputs are offset by
  };
  const std::vector<Case> cases = {
      {{2 * 7 * 4, 5 * 7 * 4, 1 * 7 * 4}, 3, 0},  // f32 channel blocks: 4-byte copies
      {{64, 32, 16}, 4, 0},                       // 16-byte copies
      {{3, 5, 1}, 6, 0},                          // bytes: 1-byte copies
      {{16, 0, 32}, 2, 4},                        // an empty input, 4-byte aligned only
      {{48}, 5, 0},                               // one input
  };
  uint32_t seed = 50;
  for (const Case& c : cases) {
    int64_t row = 0;
    for (int64_t b : c.bytes) row += b;
    std::vector<std::vector<uint8_t>> host;
    std::vector<const void*> hptr, dptr;
    std::vector<std::unique_ptr<DevVec<uint8_t>>> dev;
    for (int64_t b : c.bytes) {
      std::mt19937 rng(seed++);
      std::vector<uint8_t> h(size_t(b * c.outer) + c.misalign);
      for (auto& v : h) v = static_cast<uint8_t>(rng());
      dev.push_back(std::make_unique<DevVec<uint8_t>>(h));
      host.push_back(std::move(h));
      hptr.push_back(host.back().data() + c.misalign);
      dptr.push_back(dev.back()->p + c.misalign);
    }
    std::vector<uint8_t> want(size_t(row * c.outer));
    cpu::concat(pool(), hptr.data(), c.bytes.data(), int(c.bytes.size()), c.outer, want.data());
    DevVec<uint8_t> dy(want.size() + c.misalign);
    cuda::concat(nullptr, dptr.data(), c.bytes.data(), int(c.bytes.size()), c.outer, dy.p + c.misalign);
    const std::vector<uint8_t> got = dy.get();
    CHECK_MSG(std::equal(want.begin(), want.end(), got.begin() + std::ptrdiff_t(c.misalign)),
              "concat of %zu inputs, row %lld bytes", c.bytes.size(), static_cast<long long>(row));
  }
}

// ---- norms ---------------------------------------------------------------------------------------------

TEST("group_norm normalises each (n, group) with optional affine and SiLU, in place too") {
  struct Shape {
    int64_t N, C, S, groups;
  };
  // Groups of 34 … 2400 values: blocks of one warp up to ten.
  const Shape shapes[] = {{2, 6, 17, 3}, {2, 8, 20, 4}, {1, 4, 1, 1}, {3, 32, 9, 32}, {1, 16, 300, 2}};
  uint32_t seed = 60;
  for (const Shape& s : shapes) {
    const std::vector<float> x = random_floats(size_t(s.N * s.C * s.S), seed++);
    const std::vector<float> gamma = random_floats(size_t(s.C), seed++), beta = random_floats(size_t(s.C), seed++);
    for (bool affine : {true, false}) {
      for (bool silu : {false, true}) {
        std::vector<float> want(x.size());
        cpu::group_norm(pool(), x.data(), s.N, s.C, s.S, s.groups, affine ? gamma.data() : nullptr,
                        affine ? beta.data() : nullptr, 1e-5f, silu, want.data());
        DevVec<float> dg(gamma), db(beta);
        const std::string name = "group_norm " + std::to_string(s.N) + "x" + std::to_string(s.C) + "x" +
                                 std::to_string(s.S) + "/" + std::to_string(s.groups) + (affine ? " affine" : "") +
                                 (silu ? " silu" : "");
        for (size_t off : {0, 1}) {
          Shifted dx(x, off), dy(std::vector<float>(x.size()), off);
          cuda::group_norm(nullptr, dx.p(), s.N, s.C, s.S, s.groups, affine ? dg.p : nullptr, affine ? db.p : nullptr,
                           1e-5f, silu, dy.p());
          CHECK(within(dy.get(), want, 1e-5f, 1e-5f, name));
          cuda::group_norm(nullptr, dx.p(), s.N, s.C, s.S, s.groups, affine ? dg.p : nullptr, affine ? db.p : nullptr,
                           1e-5f, silu, dx.p());
          CHECK(within(dx.get(), want, 1e-5f, 1e-5f, name + " in place"));
        }
      }
    }
  }
}

TEST("group_norm of a group large enough for a full block (512 threads) with affine and SiLU") {
  const int64_t N = 1, C = 4, S = 2052, groups = 2;  // 4104 values per group
  const std::vector<float> x = random_floats(size_t(N * C * S), 65), gamma = random_floats(size_t(C), 66),
                           beta = random_floats(size_t(C), 67);
  std::vector<float> want(x.size());
  cpu::group_norm(pool(), x.data(), N, C, S, groups, gamma.data(), beta.data(), 1e-6f, true, want.data());
  DevVec<float> dg(gamma), db(beta);
  for (size_t off : {0, 1}) {
    Shifted dx(x, off), dy(std::vector<float>(x.size()), off);
    cuda::group_norm(nullptr, dx.p(), N, C, S, groups, dg.p, db.p, 1e-6f, true, dy.p());
    CHECK(within(dy.get(), want, 1e-5f, 1e-5f, "group_norm 4104 values"));
  }
}

TEST("group_norm keeps its precision when the mean is large against the spread") {
  // x = 1000 + U(-3, 3): E[x²] − E[x]² in f32 would lose the variance (relative error ~10%). The
  // CPU twin itself applies the result as x·a + b with b ≈ −1000·a, so both sides carry a few
  // 1e-5 of cancellation: bound 1e-3.
  const int64_t N = 2, C = 4, S = 257, groups = 2;
  std::vector<float> x = random_floats(size_t(N * C * S), 70);
  for (float& v : x) v += 1000.f;
  std::vector<float> want(x.size());
  cpu::group_norm(pool(), x.data(), N, C, S, groups, nullptr, nullptr, 1e-6f, false, want.data());
  DevVec<float> dx(x), dy(x.size());
  cuda::group_norm(nullptr, dx.p, N, C, S, groups, nullptr, nullptr, 1e-6f, false, dy.p);
  CHECK(within(dy.get(), want, 0.f, 1e-3f, "group_norm offset 1000"));
}

TEST("layer_norm normalises each row, rows not a multiple of the block's, in place too") {
  uint32_t seed = 80;
  for (int64_t C : {37, 48, 300, 1}) {
    for (int64_t M : {11, 1}) {
      const std::vector<float> x = random_floats(size_t(M * C), seed++);
      const std::vector<float> gamma = random_floats(size_t(C), seed++), beta = random_floats(size_t(C), seed++);
      for (bool affine : {true, false}) {
        std::vector<float> want(x.size());
        cpu::layer_norm(pool(), x.data(), M, C, affine ? gamma.data() : nullptr, affine ? beta.data() : nullptr, 1e-5f,
                        want.data());
        DevVec<float> dg(gamma), db(beta);
        const std::string name = "layer_norm " + std::to_string(M) + "x" + std::to_string(C);
        for (size_t off : {0, 1}) {
          Shifted dx(x, off), dy(std::vector<float>(x.size()), off);
          cuda::layer_norm(nullptr, dx.p(), M, C, affine ? dg.p : nullptr, affine ? db.p : nullptr, 1e-5f, dy.p());
          CHECK(within(dy.get(), want, 1e-5f, 1e-5f, name));
          cuda::layer_norm(nullptr, dx.p(), M, C, affine ? dg.p : nullptr, affine ? db.p : nullptr, 1e-5f, dx.p());
          CHECK(within(dx.get(), want, 1e-5f, 1e-5f, name + " in place"));
        }
      }
    }
  }
}

// ---- resize and pooling ------------------------------------------------------------------------------

TEST("upsample_nearest picks floor(dst · in / out) exactly, up and down, integer ratios or not") {
  struct Shape {
    int64_t H, W, OH, OW;
  };
  for (const Shape& s : {Shape{5, 7, 10, 14}, Shape{5, 7, 13, 9}, Shape{9, 11, 4, 5}, Shape{1, 1, 3, 2}}) {
    const int64_t NC = 3;
    const std::vector<float> x = random_floats(size_t(NC * s.H * s.W), 90);
    std::vector<float> want(size_t(NC * s.OH * s.OW));
    cpu::upsample_nearest(pool(), x.data(), NC, s.H, s.W, want.data(), s.OH, s.OW);
    DevVec<float> dx(x), dy(want.size());
    cuda::upsample_nearest(nullptr, dx.p, NC, s.H, s.W, dy.p, s.OH, s.OW);
    CHECK(exact(dy.get(), want, "upsample_nearest " + std::to_string(s.OH) + "x" + std::to_string(s.OW)));
  }
}

TEST("resize2d matches every coordinate mode, nearest rounding mode and bilinear, from sizes or scales") {
  struct Shape {
    int64_t H, W, OH, OW;
    float sh, sw;  // scales as a model gives them, 0 = from sizes
  };
  const Shape shapes[] = {{7, 7, 4, 4, 0.f, 0.f},  {5, 6, 13, 9, 0.f, 0.f},  {6, 6, 6, 6, 0.f, 0.f},
                          {4, 5, 8, 10, 2.f, 2.f}, {7, 9, 3, 4, 0.5f, 0.5f}, {1, 3, 2, 1, 0.f, 0.f},
                          {5, 5, 5, 5, 1.f, 1.f}};
  const cpu::CoordMode coords[] = {cpu::CoordMode::HalfPixel, cpu::CoordMode::PytorchHalfPixel,
                                   cpu::CoordMode::AlignCorners, cpu::CoordMode::Asymmetric,
                                   cpu::CoordMode::TfHalfPixelForNn};
  const cpu::NearestMode nearests[] = {cpu::NearestMode::RoundPreferFloor, cpu::NearestMode::RoundPreferCeil,
                                       cpu::NearestMode::Floor, cpu::NearestMode::Ceil};
  const int64_t NC = 2;
  for (const Shape& s : shapes) {
    const std::vector<float> x = random_floats(size_t(NC * s.H * s.W), 100);
    DevVec<float> dx(x), dy(size_t(NC * s.OH * s.OW));
    for (cpu::CoordMode coord : coords) {
      for (int m = 0; m < 5; ++m) {  // four nearest modes, then bilinear
        cpu::ResizeParams p;
        p.mode = m < 4 ? cpu::ResizeMode::Nearest : cpu::ResizeMode::Linear;
        p.nearest = nearests[m < 4 ? m : 0];
        p.coord = coord;
        p.scale_h = s.sh;
        p.scale_w = s.sw;
        std::vector<float> want(size_t(NC * s.OH * s.OW));
        cpu::resize2d(pool(), x.data(), NC, s.H, s.W, p, want.data(), s.OH, s.OW);
        cuda::resize2d(nullptr, dx.p, NC, s.H, s.W, p, dy.p, s.OH, s.OW);
        const std::string name = "resize " + std::to_string(s.H) + "x" + std::to_string(s.W) + "→" +
                                 std::to_string(s.OH) + "x" + std::to_string(s.OW) + " coord " +
                                 std::to_string(int(coord)) + " mode " + std::to_string(m);
        if (m < 4)
          CHECK(exact(dy.get(), want, name));
        else
          CHECK(within(dy.get(), want, 1e-5f, 1e-5f, name));
      }
    }
  }
}

TEST("maxpool2d and avgpool2d match the CPU exactly for padding, dilation, ceil_mode and count_include_pad") {
  struct Case {
    int64_t H, W;
    cpu::Pool2dParams p;
  };
  auto params = [](int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb, int64_t pr,
                   int64_t dh, int64_t dw, bool ceil) {
    cpu::Pool2dParams p;
    p.kernel_h = kh, p.kernel_w = kw, p.stride_h = sh, p.stride_w = sw;
    p.pad_top = pt, p.pad_left = pl, p.pad_bottom = pb, p.pad_right = pr;
    p.dilation_h = dh, p.dilation_w = dw, p.ceil_mode = ceil;
    return p;
  };
  const Case cases[] = {
      {9, 11, params(2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false)},  // the CPU's 2x2 fast path
      {9, 11, params(2, 2, 2, 2, 0, 0, 0, 0, 1, 1, true)},   // … with a half last window
      {10, 7, params(3, 2, 2, 1, 1, 0, 1, 1, 1, 1, false)},
      {10, 7, params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true)},  // ceil_mode reaching past the padding
      {12, 9, params(3, 2, 2, 3, 2, 1, 0, 2, 2, 1, true)},  // dilation
      {5, 5, params(5, 5, 1, 1, 2, 2, 2, 2, 1, 1, false)},
      {6, 8, params(1, 1, 3, 2, 0, 0, 0, 0, 1, 1, true)},
  };
  const int64_t NC = 3;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
    const Case& c = cases[k];
    const int64_t OH =
        cpu::pool_out_size(c.H, c.p.kernel_h, c.p.stride_h, c.p.pad_top, c.p.pad_bottom, c.p.dilation_h, c.p.ceil_mode);
    const int64_t OW =
        cpu::pool_out_size(c.W, c.p.kernel_w, c.p.stride_w, c.p.pad_left, c.p.pad_right, c.p.dilation_w, c.p.ceil_mode);
    const std::vector<float> x = random_floats(size_t(NC * c.H * c.W), uint32_t(110 + k));
    DevVec<float> dx(x), dy(size_t(NC * OH * OW));
    std::vector<float> want(size_t(NC * OH * OW));
    cpu::maxpool2d(pool(), x.data(), NC, c.H, c.W, c.p, want.data(), OH, OW);
    cuda::maxpool2d(nullptr, dx.p, NC, c.H, c.W, c.p, dy.p, OH, OW);
    CHECK(exact(dy.get(), want, "maxpool case " + std::to_string(k)));
    for (bool include_pad : {false, true}) {
      cpu::avgpool2d(pool(), x.data(), NC, c.H, c.W, c.p, include_pad, want.data(), OH, OW);
      cuda::avgpool2d(nullptr, dx.p, NC, c.H, c.W, c.p, include_pad, dy.p, OH, OW);
      CHECK(exact(dy.get(), want, "avgpool case " + std::to_string(k) + (include_pad ? " include pad" : "")));
    }
  }
}

int main() {
  bgn::testing::require_cuda_device("test_cuda_ops");
  return bgn_test::run_all();
}
