// Block-quantized weight layouts of the GGUF / ggml format (the byte layouts other runtimes such
// as llama.cpp and stable-diffusion.cpp read and write). Each type stores a row of K values as
// K / block_size(t) consecutive blocks; f16 fields are IEEE half, little-endian, read with memcpy
// (blocks are only 2-byte aligned in files).
//
//   Q8_0  (32 values, 34 B)   d:f16, q:int8[32]                       x = d·q
//   Q4_0  (32, 18 B)          d:f16, qs:u8[16]                         x = d·(q − 8)
//   Q4_1  (32, 20 B)          d:f16, m:f16, qs:u8[16]                  x = d·q + m
//   Q5_0  (32, 22 B)          d:f16, qh:u32, qs:u8[16]                 x = d·(q − 16)
//   Q5_1  (32, 24 B)          d:f16, m:f16, qh:u32, qs:u8[16]          x = d·q + m
//         4-bit fields: value j in the low nibble of qs[j], value j+16 in the high nibble;
//         the fifth bit of value j is bit j of qh.
//   Q4_K  (256, 144 B)        d:f16, dmin:f16, scales:u8[12], qs:u8[128]
//   Q5_K  (256, 176 B)        d:f16, dmin:f16, scales:u8[12], qh:u8[32], qs:u8[128]
//         8 sub-blocks of 32 with 6-bit scale sc_i and min m_i packed in `scales`;
//         x = d·sc_i·q − dmin·m_i. In each 64-value chunk c, qs[32c + l] holds value 64c+l
//         (low nibble) and 64c+32+l (high); Q5_K's fifth bits are bits 2c, 2c+1 of qh[l].
//   Q6_K  (256, 210 B)        ql:u8[128], qh:u8[64], scales:int8[16], d:f16
//         16 sub-blocks of 16, x = d·scales[i]·(q − 32), q six bits (4 in ql, 2 in qh).
//   Q8_K  (256, 292 B)        d:f32, q:int8[256], bsums:int16[16]      x = d·q
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/tensor.h"

namespace bgn::quant {

constexpr int64_t QK = 32;     // block of the legacy types
constexpr int64_t QK_K = 256;  // super-block of the k-quants

// For block types only (dtype_is_block).
int64_t block_size(DType t);
size_t block_bytes(DType t);
const char* type_name(DType t);  // "q8_0", "q4_K", ...

// n values of src (n a multiple of block_size(t)) → dst. Serial, reference code.
void dequantize(DType t, const void* src, float* dst, int64_t n);
// Reference quantizer: n values → blocks of type t (round to nearest, per-block scales).
void quantize(DType t, const float* src, void* dst, int64_t n);

}  // namespace bgn::quant
