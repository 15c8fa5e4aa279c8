// Einsum on f32 operands, for the equations exporters write (batched matrix products such as
// "bhwc,hkc->bhwk", "ij,jk->ik", "bij,bjk->bik", transposes, sums over an axis). Operands are
// combined left to right: each pair becomes one batched GEMM after summing the letters only that
// operand has and permuting batch, free and contracted letters together. The equation is parsed
// strictly when the model loads: letters a-z and A-Z only, one term per input, an output letter
// at most once and only if an input has it; an ellipsis or a letter repeated within a term
// (a diagonal) is E_MODEL_UNSUPPORTED naming the equation.
#include <algorithm>
#include <cstring>
#include <string>

#include "backend/cpu/ops.h"
#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

using Out = std::vector<Tensor>;
using Letters = std::string;

struct Equation {
  std::vector<Letters> inputs;
  Letters output;
};

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

Equation parse(const NodeInfo& info, const std::string& eq) {
  auto refuse = [&](const std::string& why) { info.unsupported("equation '" + eq + "': " + why); };
  std::string s;
  for (char c : eq)
    if (c != ' ') s += c;
  if (s.find("...") != std::string::npos) refuse("an ellipsis is not supported");
  Equation e;
  std::string lhs = s, rhs;
  const size_t arrow = s.find("->");
  const bool explicit_out = arrow != std::string::npos;
  if (explicit_out) {
    lhs = s.substr(0, arrow);
    rhs = s.substr(arrow + 2);
  }
  size_t start = 0;
  for (;;) {
    const size_t comma = lhs.find(',', start);
    e.inputs.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  int count[128] = {0};
  for (const Letters& t : e.inputs) {
    bool seen[128] = {false};
    for (char c : t) {
      if (!is_letter(c)) refuse(std::string("unexpected character '") + c + "'");
      if (seen[int(c)]) refuse(std::string("letter '") + c + "' repeats within a term (a diagonal)");
      seen[int(c)] = true;
      ++count[int(c)];
    }
  }
  if (explicit_out) {
    bool seen[128] = {false};
    for (char c : rhs) {
      if (!is_letter(c)) refuse(std::string("unexpected character '") + c + "' in the output");
      if (seen[int(c)]) refuse(std::string("output letter '") + c + "' is repeated");
      if (!count[int(c)]) refuse(std::string("output letter '") + c + "' is in no input");
      seen[int(c)] = true;
    }
    e.output = rhs;
  } else {
    for (int c = 0; c < 128; ++c)
      if (count[c] == 1) e.output += char(c);  // implicit output: letters used once, sorted
  }
  if (e.inputs.size() != info.node.inputs.size())
    refuse(std::to_string(e.inputs.size()) + " terms for " + std::to_string(info.node.inputs.size()) + " inputs");
  return e;
}

// An operand with one letter per axis.
struct Term {
  Tensor t;
  Letters l;
};

// Sums the axes whose letters are not in `keep`.
Term sum_out(const Term& x, const Letters& keep) {
  Letters kept, summed;
  std::vector<int64_t> perm;
  for (size_t d = 0; d < x.l.size(); ++d)
    if (keep.find(x.l[d]) != std::string::npos) {
      kept += x.l[d];
      perm.push_back(int64_t(d));
    }
  if (kept.size() == x.l.size()) return x;
  int64_t R = 1;
  for (size_t d = 0; d < x.l.size(); ++d)
    if (keep.find(x.l[d]) == std::string::npos) {
      perm.push_back(int64_t(d));
      R *= x.t.dim(int(d));
    }
  Tensor p = permute(x.t, perm, "Einsum");
  Shape out;
  for (size_t d = 0; d < kept.size(); ++d) out.push_back(p.dim(int(d)));
  Tensor y = new_output(DType::F32, out, "Einsum");
  const float* s = p.data<float>();
  for (int64_t o = 0; o < y.numel(); ++o) {
    double acc = 0;
    for (int64_t i = 0; i < R; ++i) acc += s[o * R + i];
    y.data<float>()[o] = float(acc);
  }
  return {y, kept};
}

// Permutes x so that its letters read `order` (a permutation of x.l).
Tensor arrange(const Term& x, const Letters& order) {
  std::vector<int64_t> perm;
  for (char c : order) perm.push_back(int64_t(x.l.find(c)));
  return permute(x.t, perm, "Einsum");
}

int64_t product(const Term& x, const Letters& ls) {
  int64_t n = 1;
  for (char c : ls) n *= x.t.dim(int(x.l.find(c)));
  return n;
}

// a (x) b -> the letters of `want` (a subset of a.l + b.l, each letter once).
Term contract(RunContext& ctx, const Term& a0, const Term& b0, const Letters& want) {
  // Letters only one side has and the result does not need are summed first.
  auto needed_by = [&](const Term& self, const Term& other) {
    Letters k;
    for (char c : self.l)
      if (want.find(c) != std::string::npos || other.l.find(c) != std::string::npos) k += c;
    return k;
  };
  const Term a = sum_out(a0, needed_by(a0, b0));
  const Term b = sum_out(b0, needed_by(b0, a0));
  Letters batch, m, n, k;
  for (char c : a.l) {
    const bool in_b = b.l.find(c) != std::string::npos, in_out = want.find(c) != std::string::npos;
    if (in_b && in_out)
      batch += c;
    else if (in_b)
      k += c;
    else
      m += c;
  }
  for (char c : b.l)
    if (a.l.find(c) == std::string::npos) n += c;
  for (char c : batch + k)
    if (a.t.dim(int(a.l.find(c))) != b.t.dim(int(b.l.find(c))))
      fail(Code::BadInput, "Einsum: letter '", c, "' has size ", a.t.dim(int(a.l.find(c))), " in one operand and ",
           b.t.dim(int(b.l.find(c))), " in the other");
  const int64_t NB = product(a, batch), M = product(a, m), N = product(b, n), K = product(a, k);
  Tensor pa = arrange(a, batch + m + k), pb = arrange(b, batch + k + n);
  Shape shape;
  for (char c : batch + m) shape.push_back(a.t.dim(int(a.l.find(c))));
  for (char c : n) shape.push_back(b.t.dim(int(b.l.find(c))));
  check_elements(shape, "Einsum");
  Tensor y = Tensor::zeros(DType::F32, shape);
  if (K > 0 && M > 0 && N > 0)
    for (int64_t i = 0; i < NB; ++i)
      cpu::sgemm(ctx.pool, false, false, M, N, K, 1.f, pa.data<float>() + i * M * K, K, pb.data<float>() + i * K * N, N,
                 0.f, y.data<float>() + i * M * N, N);
  ctx.flops += 2.0 * double(NB) * double(M) * double(N) * double(K);
  Term r{y, batch + m + n};
  return {arrange(r, want), want};
}

Out einsum(RunContext& ctx, const Inputs& in, const Equation& e) {
  std::vector<Term> terms;
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    const Tensor& t = need(in, i, "Einsum");
    if (t.dtype() != DType::F32) fail(Code::BadInput, "Einsum: float operands expected, got ", dtype_name(t.dtype()));
    if (t.rank() != int(e.inputs[i].size()))
      fail(Code::BadInput, "Einsum: operand ", i, " of shape ", shape_str(t.shape()), " for term '", e.inputs[i], "'");
    terms.push_back({t, e.inputs[i]});
  }
  Term acc = terms[0];
  for (size_t i = 1; i < terms.size(); ++i) {
    // Keep the letters the output or a later operand still needs, in first-seen order.
    Letters later = e.output;
    for (size_t j = i + 1; j < terms.size(); ++j) later += terms[j].l;
    Letters want;
    for (char c : acc.l + terms[i].l)
      if (later.find(c) != std::string::npos && want.find(c) == std::string::npos) want += c;
    acc = contract(ctx, acc, terms[i], want);
  }
  acc = sum_out(acc, e.output);
  Tensor y = arrange(acc, e.output);
  if (y.raw() == acc.t.raw() && terms.size() == 1) y = y.clone();  // never alias an input
  return {y};
}

}  // namespace

void register_einsum_kernels(std::map<std::string, KernelFactory>& r) {
  r["Einsum"] = [](const NodeInfo& i) {
    if (!i.node.has("equation")) i.bad("needs an equation");
    const Equation e = parse(i, i.node.attr_string("equation", ""));
    return make_fn_kernel([e](RunContext& c, const Inputs& in) { return einsum(c, in, e); });
  };
}

}  // namespace bgn::onnxrt
