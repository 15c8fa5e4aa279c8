#include "tensor/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bgn::quant {

int64_t block_size(DType t) {
  switch (t) {
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q8_0:
      return QK;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::Q8_K:
      return QK_K;
    default:
      return 1;
  }
}

size_t block_bytes(DType t) {
  switch (t) {
    case DType::Q4_0:
      return 2 + 16;
    case DType::Q4_1:
      return 4 + 16;
    case DType::Q5_0:
      return 2 + 4 + 16;
    case DType::Q5_1:
      return 4 + 4 + 16;
    case DType::Q8_0:
      return 2 + 32;
    case DType::Q4_K:
      return 4 + 12 + 128;
    case DType::Q5_K:
      return 4 + 12 + 32 + 128;
    case DType::Q6_K:
      return 128 + 64 + 16 + 2;
    case DType::Q8_K:
      return 4 + 256 + 32;
    default:
      return 1;
  }
}

const char* type_name(DType t) {
  switch (t) {
    case DType::Q4_0:
      return "q4_0";
    case DType::Q4_1:
      return "q4_1";
    case DType::Q5_0:
      return "q5_0";
    case DType::Q5_1:
      return "q5_1";
    case DType::Q8_0:
      return "q8_0";
    case DType::Q4_K:
      return "q4_K";
    case DType::Q5_K:
      return "q5_K";
    case DType::Q6_K:
      return "q6_K";
    case DType::Q8_K:
      return "q8_K";
    default:
      return "?";
  }
}

namespace {

inline float h2f(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}
inline void f2h(uint8_t* p, float f) {
  uint16_t h = f32_to_f16(f);
  std::memcpy(p, &h, 2);
}
inline uint32_t u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Scale and min of sub-block j (0..7) from the 12 packed bytes of a Q4_K / Q5_K block.
inline void scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
// The inverse: 8 scales and 8 mins (each 0..63) into 12 bytes.
void pack_scale_min_k4(const int* sc, const int* m, uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = uint8_t((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    q[j + 8] = uint8_t((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

// ---- dequantize one block ------------------------------------------------------------------------

void dq_q8_0(const uint8_t* b, float* y) {
  const float d = h2f(b);
  const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
  for (int i = 0; i < 32; ++i) y[i] = d * q[i];
}
void dq_q4_0(const uint8_t* b, float* y) {
  const float d = h2f(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * (int(qs[j] & 0xF) - 8);
    y[j + 16] = d * (int(qs[j] >> 4) - 8);
  }
}
void dq_q4_1(const uint8_t* b, float* y) {
  const float d = h2f(b), m = h2f(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * (qs[j] & 0xF) + m;
    y[j + 16] = d * (qs[j] >> 4) + m;
  }
}
void dq_q5_0(const uint8_t* b, float* y) {
  const float d = h2f(b);
  const uint32_t qh = u32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0xF) | int(((qh >> j) & 1) << 4);
    const int hi = (qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
    y[j] = d * (lo - 16);
    y[j + 16] = d * (hi - 16);
  }
}
void dq_q5_1(const uint8_t* b, float* y) {
  const float d = h2f(b), m = h2f(b + 2);
  const uint32_t qh = u32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0xF) | int(((qh >> j) & 1) << 4);
    const int hi = (qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
    y[j] = d * lo + m;
    y[j + 16] = d * hi + m;
  }
}
// q4_K and q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; q5_K adds a fifth bit per
// value from qh (null for q4_K).
void dq_k_4or5(const uint8_t* b, const uint8_t* qh, const uint8_t* qs, float* y) {
  const float d = h2f(b), dmin = h2f(b + 2);
  const uint8_t* scales = b + 4;
  for (int c = 0; c < 4; ++c) {
    int sc0, m0, sc1, m1;
    scale_min_k4(2 * c, scales, &sc0, &m0);
    scale_min_k4(2 * c + 1, scales, &sc1, &m1);
    const float d0 = d * sc0, o0 = dmin * m0, d1 = d * sc1, o1 = dmin * m1;
    const uint8_t* q = qs + 32 * c;
    for (int l = 0; l < 32; ++l) {
      int lo = q[l] & 0xF, hi = q[l] >> 4;
      if (qh) {
        lo |= ((qh[l] >> (2 * c)) & 1) << 4;
        hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
      }
      y[64 * c + l] = d0 * lo - o0;
      y[64 * c + 32 + l] = d1 * hi - o1;
    }
  }
}
void dq_q4_K(const uint8_t* b, float* y) { dq_k_4or5(b, nullptr, b + 16, y); }
void dq_q5_K(const uint8_t* b, float* y) { dq_k_4or5(b, b + 16, b + 48, y); }
void dq_q6_K(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = h2f(b + 208);
  for (int n = 0; n < 2; ++n) {
    const uint8_t* L = ql + 64 * n;
    const uint8_t* H = qh + 32 * n;
    const int8_t* S = sc + 8 * n;
    float* Y = y + 128 * n;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((L[l] & 0xF) | (((H[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((L[l + 32] & 0xF) | (((H[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32;
      Y[l] = d * S[is] * q1;
      Y[l + 32] = d * S[is + 2] * q2;
      Y[l + 64] = d * S[is + 4] * q3;
      Y[l + 96] = d * S[is + 6] * q4;
    }
  }
}
void dq_q8_K(const uint8_t* b, float* y) {
  float d;
  std::memcpy(&d, b, 4);
  const int8_t* q = reinterpret_cast<const int8_t*>(b + 4);
  for (int i = 0; i < 256; ++i) y[i] = d * q[i];
}

using DqFn = void (*)(const uint8_t*, float*);
DqFn dq_fn(DType t) {
  switch (t) {
    case DType::Q8_0:
      return dq_q8_0;
    case DType::Q4_0:
      return dq_q4_0;
    case DType::Q4_1:
      return dq_q4_1;
    case DType::Q5_0:
      return dq_q5_0;
    case DType::Q5_1:
      return dq_q5_1;
    case DType::Q4_K:
      return dq_q4_K;
    case DType::Q5_K:
      return dq_q5_K;
    case DType::Q6_K:
      return dq_q6_K;
    case DType::Q8_K:
      return dq_q8_K;
    default:
      return nullptr;
  }
}

// ---- quantize one block (reference) --------------------------------------------------------------

inline int nearest(float v) { return int(std::lrintf(v)); }
inline int clampi(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// Symmetric: the value of largest magnitude maps to -levels (so the range is [-levels, levels-1]).
float signed_max(const float* x, int n) {
  float amax = 0, v = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      v = x[i];
    }
  return v;
}

void q_q8_0(const float* x, uint8_t* b) {
  float amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  f2h(b, amax / 127.f);
  const float d = h2f(b), id = d ? 1.f / d : 0.f;
  int8_t* q = reinterpret_cast<int8_t*>(b + 2);
  for (int i = 0; i < 32; ++i) q[i] = int8_t(clampi(nearest(x[i] * id), -127, 127));
}
// Legacy 4/5-bit: symmetric (bits4=true: 16 levels around 8 / 32 around 16) or offset (min/max).
void q_legacy(const float* x, uint8_t* b, int bits, bool offset) {
  const int levels = 1 << bits;
  float d, m = 0;
  uint8_t* p = b;
  if (offset) {
    float mn = x[0], mx = x[0];
    for (int i = 1; i < 32; ++i) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
    f2h(p, (mx - mn) / float(levels - 1));
    f2h(p + 2, mn);
    d = h2f(p);
    m = h2f(p + 2);
    p += 4;
  } else {
    f2h(p, signed_max(x, 32) / -float(levels / 2));
    d = h2f(p);
    p += 2;
  }
  const float id = d ? 1.f / d : 0.f;
  int q[32];
  for (int i = 0; i < 32; ++i)
    q[i] = offset ? clampi(nearest((x[i] - m) * id), 0, levels - 1)
                  : clampi(nearest(x[i] * id) + levels / 2, 0, levels - 1);
  if (bits == 5) {
    uint32_t qh = 0;
    for (int j = 0; j < 32; ++j) qh |= uint32_t((q[j] >> 4) & 1) << j;
    std::memcpy(p, &qh, 4);
    p += 4;
  }
  for (int j = 0; j < 16; ++j) p[j] = uint8_t((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
}
// Q4_K / Q5_K: per 32 an affine range [min(0, lo), hi], 6-bit scales and mins under f16 d, dmin.
void q_k_affine(const float* x, uint8_t* b, int bits) {
  const int top = (1 << bits) - 1;
  float scale[8], mins[8], dmax = 0, mmax = 0;
  for (int s = 0; s < 8; ++s) {
    float lo = 0, hi = x[32 * s];
    for (int i = 0; i < 32; ++i) lo = std::min(lo, x[32 * s + i]), hi = std::max(hi, x[32 * s + i]);
    hi = std::max(hi, lo);
    scale[s] = (hi - lo) / float(top);
    mins[s] = -lo;
    dmax = std::max(dmax, scale[s]);
    mmax = std::max(mmax, mins[s]);
  }
  f2h(b, dmax / 63.f);
  f2h(b + 2, mmax / 63.f);
  const float d = h2f(b), dmin = h2f(b + 2);
  int sc[8], mq[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = d ? clampi(nearest(scale[s] / d), 0, 63) : 0;
    mq[s] = dmin ? clampi(nearest(mins[s] / dmin), 0, 63) : 0;
  }
  pack_scale_min_k4(sc, mq, b + 4);
  int q[256];
  for (int s = 0; s < 8; ++s) {
    const float ed = d * sc[s], em = dmin * mq[s];
    for (int i = 0; i < 32; ++i) q[32 * s + i] = ed ? clampi(nearest((x[32 * s + i] + em) / ed), 0, top) : 0;
  }
  uint8_t* qh = bits == 5 ? b + 16 : nullptr;
  uint8_t* qs = bits == 5 ? b + 48 : b + 16;
  if (qh) std::memset(qh, 0, 32);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
      qs[32 * c + l] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
      if (qh) qh[l] = uint8_t(qh[l] | (((lo >> 4) & 1) << (2 * c)) | (((hi >> 4) & 1) << (2 * c + 1)));
    }
}
void q_q6_K(const float* x, uint8_t* b) {
  float scale[16], amax = 0;
  for (int s = 0; s < 16; ++s) {
    scale[s] = signed_max(x + 16 * s, 16) / -32.f;
    amax = std::max(amax, std::fabs(scale[s]));
  }
  f2h(b + 208, amax / 127.f);
  const float d = h2f(b + 208);
  int8_t* sc = reinterpret_cast<int8_t*>(b + 192);
  int q[256];
  for (int s = 0; s < 16; ++s) {
    sc[s] = int8_t(d ? clampi(nearest(scale[s] / d), -128, 127) : 0);
    const float ed = d * sc[s];
    for (int i = 0; i < 16; ++i) q[16 * s + i] = (ed ? clampi(nearest(x[16 * s + i] / ed), -32, 31) : 0) + 32;
  }
  uint8_t* ql = b;
  uint8_t* qh = b + 128;
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const int* Q = q + 128 * n;
      ql[64 * n + l] = uint8_t((Q[l] & 0xF) | ((Q[l + 64] & 0xF) << 4));
      ql[64 * n + l + 32] = uint8_t((Q[l + 32] & 0xF) | ((Q[l + 96] & 0xF) << 4));
      qh[32 * n + l] =
          uint8_t((Q[l] >> 4) | ((Q[l + 32] >> 4) << 2) | ((Q[l + 64] >> 4) << 4) | ((Q[l + 96] >> 4) << 6));
    }
}
void q_q8_K(const float* x, uint8_t* b) {
  float amax = 0;
  for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.f, id = d ? 1.f / d : 0.f;
  std::memcpy(b, &d, 4);
  int8_t* q = reinterpret_cast<int8_t*>(b + 4);
  for (int i = 0; i < 256; ++i) q[i] = int8_t(clampi(nearest(x[i] * id), -127, 127));
  for (int j = 0; j < 16; ++j) {
    int16_t s = 0;
    for (int i = 0; i < 16; ++i) s = int16_t(s + q[16 * j + i]);
    std::memcpy(b + 260 + 2 * j, &s, 2);
  }
}

}  // namespace

void dequantize(DType t, const void* src, float* dst, int64_t n) {
  DqFn fn = dq_fn(t);
  if (!fn) fail(Code::Internal, "dequantize: ", dtype_name(t), " is not a block type");
  const int64_t bs = block_size(t);
  const size_t bb = block_bytes(t);
  if (n % bs) fail(Code::Internal, "dequantize: ", n, " values are not whole ", type_name(t), " blocks");
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n / bs; ++i) fn(p + size_t(i) * bb, dst + i * bs);
}

void quantize(DType t, const float* src, void* dst, int64_t n) {
  const int64_t bs = block_size(t);
  const size_t bb = block_bytes(t);
  if (!dtype_is_block(t)) fail(Code::Internal, "quantize: ", dtype_name(t), " is not a block type");
  if (n % bs) fail(Code::Internal, "quantize: ", n, " values are not whole ", type_name(t), " blocks");
  uint8_t* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n / bs; ++i) {
    const float* x = src + i * bs;
    uint8_t* b = p + size_t(i) * bb;
    switch (t) {
      case DType::Q8_0:
        q_q8_0(x, b);
        break;
      case DType::Q4_0:
        q_legacy(x, b, 4, false);
        break;
      case DType::Q4_1:
        q_legacy(x, b, 4, true);
        break;
      case DType::Q5_0:
        q_legacy(x, b, 5, false);
        break;
      case DType::Q5_1:
        q_legacy(x, b, 5, true);
        break;
      case DType::Q4_K:
        q_k_affine(x, b, 4);
        break;
      case DType::Q5_K:
        q_k_affine(x, b, 5);
        break;
      case DType::Q6_K:
        q_q6_K(x, b);
        break;
      case DType::Q8_K:
        q_q8_K(x, b);
        break;
      default:
        break;
    }
  }
}

}  // namespace bgn::quant
