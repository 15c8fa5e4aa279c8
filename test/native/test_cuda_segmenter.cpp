// The ONNX executor on a Gpu: small segmentation-shaped graphs with random weights run on the
// CPU and on open_cuda(0), outputs compared with tolerances for 16-bit convolution operands, and
// the placement checked (GPU-capable nodes computed on the device, shape arithmetic and ops
// without a GPU path on the host, each value crossing at most once).
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/exec.h"
#include "onnx/graph.h"
#include "models/segmenter.h"
#include "testing.h"
// Last: the emulator's CUDA qualifier macros (__noinline__, ...) must not reach the standard
// headers, which use the same names as attributes.
#include "cuda_testing.h"

using namespace bgn;
using onnxrt::Graph;
using onnxrt::RunStats;

namespace {

// Deterministic uniform values in [-scale, scale).
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 2654435761u + 1) {}
  float next(float scale) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (float((s >> 40) & 0xffffff) / float(1 << 24) * 2.f - 1.f) * scale;
  }
};

Tensor random_tensor(Rng& r, Shape shape, float scale, float offset = 0.f) {
  Tensor t = Tensor::empty(DType::F32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = offset + r.next(scale);
  return t;
}

onnx::Attribute attr_int(int64_t v) {
  onnx::Attribute a;
  a.type = onnx::Attribute::Int;
  a.i = v;
  return a;
}
onnx::Attribute attr_ints(std::vector<int64_t> v) {
  onnx::Attribute a;
  a.type = onnx::Attribute::Ints;
  a.ints = std::move(v);
  return a;
}
onnx::Attribute attr_str(std::string v) {
  onnx::Attribute a;
  a.type = onnx::Attribute::String;
  a.s = std::move(v);
  return a;
}

// A model assembled node by node.
struct Builder {
  onnx::Model m;
  Rng rng{7};
  Builder() {
    m.ir_version = 8;
    m.opsets[""] = 13;
  }
  void input(const std::string& name, std::vector<int64_t> dims) { m.inputs.push_back({name, 1, std::move(dims)}); }
  void output(const std::string& name) { m.outputs.push_back({name, 1, {}}); }
  const std::string& init(const std::string& name, Tensor t) {
    m.initializers[name] = std::move(t);
    return name;
  }
  onnx::Node& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
    onnx::Node n;
    n.name = out.empty() ? op : out[0];
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    m.nodes.push_back(std::move(n));
    return m.nodes.back();
  }
  // Weights scaled by 1/sqrt(fan-in) so that activations stay O(1).
  std::string weight(const std::string& name, Shape s, float gain = 1.7f) {
    float fan_in = float(s[1] * s[2] * s[3]);
    return init(name, random_tensor(rng, std::move(s), gain / std::sqrt(fan_in)));
  }
  std::string vec(const std::string& name, int64_t n, float scale, float offset = 0.f) {
    return init(name, random_tensor(rng, {n}, scale, offset));
  }
  // A MaxPool or AveragePool node; empty strides or pads stay ONNX's defaults.
  onnx::Node& pool(const std::string& op, const std::string& in, const std::string& out, std::vector<int64_t> kernel,
                   std::vector<int64_t> strides, std::vector<int64_t> pads) {
    onnx::Node& n = node(op, {in}, {out});
    n.attrs["kernel_shape"] = attr_ints(std::move(kernel));
    if (!strides.empty()) n.attrs["strides"] = attr_ints(std::move(strides));
    if (!pads.empty()) n.attrs["pads"] = attr_ints(std::move(pads));
    return n;
  }
  // BatchNormalization parameters of C channels under `prefix`.
  std::vector<std::string> bn_params(const std::string& prefix, int64_t C) {
    return {vec(prefix + ".scale", C, 0.5f, 1.f), vec(prefix + ".bias", C, 0.3f), vec(prefix + ".mean", C, 0.3f),
            vec(prefix + ".var", C, 0.4f, 0.8f)};
  }
  std::shared_ptr<const Graph> prepare() { return Graph::prepare(m, "test-graph"); }
};

// The segmentation-shaped graph: encoder (Conv+BN+Relu, ceil MaxPool, BN, Relu, Conv), decoder
// (Resize to the skip's Shape, Mul by a global average, Concat fused into a Conv), a
// Shape/Gather/Reshape branch with a Tanh between that has no GPU path, a standalone Concat,
// AveragePool and a Conv+Sigmoid head, and a side output through Sub/Div/Sigmoid.
std::shared_ptr<const Graph> unet_graph(int64_t H, int64_t W, uint64_t seed = 7) {
  Builder b;
  b.rng = Rng(seed);
  b.input("x", {1, 3, H, W});
  auto& c1 = b.node("Conv", {"x", b.weight("w1", {8, 3, 3, 3}), b.vec("b1", 8, 0.2f)}, {"c1"});
  c1.attrs["pads"] = attr_ints({1, 1, 1, 1});
  auto bn1 = b.bn_params("bn1", 8);
  b.node("BatchNormalization", {"c1", bn1[0], bn1[1], bn1[2], bn1[3]}, {"b1n"});
  b.node("Relu", {"b1n"}, {"e1"});
  b.pool("MaxPool", "e1", "p1", {2, 2}, {2, 2}, {}).attrs["ceil_mode"] = attr_int(1);
  auto bn2 = b.bn_params("bn2", 8);
  b.node("BatchNormalization", {"p1", bn2[0], bn2[1], bn2[2], bn2[3]}, {"pb"});
  b.node("Relu", {"pb"}, {"pr"});
  auto& c2 = b.node("Conv", {"pr", b.weight("w2", {8, 8, 3, 3}), b.vec("b2", 8, 0.2f)}, {"c2"});
  c2.attrs["pads"] = attr_ints({1, 1, 1, 1});
  b.node("Relu", {"c2"}, {"e2"});
  b.node("GlobalAveragePool", {"e2"}, {"gp"});
  b.node("Shape", {"e1"}, {"s1"});
  auto& rs = b.node("Resize", {"e2", "", "", "s1"}, {"u"});
  rs.attrs["mode"] = attr_str("linear");
  rs.attrs["coordinate_transformation_mode"] = attr_str("half_pixel");
  b.node("Mul", {"u", "gp"}, {"u2"});
  b.node("Concat", {"u2", "e1"}, {"cat"}).attrs["axis"] = attr_int(1);
  auto& c3 = b.node("Conv", {"cat", b.weight("w3", {8, 16, 3, 3}), b.vec("b3", 8, 0.2f)}, {"c3"});
  c3.attrs["pads"] = attr_ints({1, 1, 1, 1});
  b.init("k", random_tensor(b.rng, {1, 8, 1, 1}, 0.5f));
  b.node("Add", {"c3", "k"}, {"a3"});
  b.node("Shape", {"a3"}, {"sh"});
  b.init("idx01", Tensor::from_i64({0, 1}));
  b.node("Gather", {"sh", "idx01"}, {"g"});
  b.init("minus1", Tensor::from_i64({-1}));
  b.node("Concat", {"g", "minus1"}, {"ns"}).attrs["axis"] = attr_int(0);
  b.node("Reshape", {"a3", "ns"}, {"r"});
  b.node("Tanh", {"r"}, {"t"});
  b.node("Reshape", {"t", "sh"}, {"r2"});
  b.node("Mul", {"r2", "a3"}, {"m"});
  b.node("Concat", {"m", "e1"}, {"cat2"}).attrs["axis"] = attr_int(1);
  b.pool("AveragePool", "cat2", "ap", {3, 3}, {}, {1, 1, 1, 1});
  b.node("Conv", {"ap", b.weight("w4", {1, 16, 1, 1}, 8.f), b.vec("b4", 1, 0.2f)}, {"c4"});
  b.node("Sigmoid", {"c4"}, {"out"});
  b.node("Sub", {"u2", "e1"}, {"d"});
  b.init("two", Tensor::scalar_f32(2.f));
  b.node("Div", {"d", "two"}, {"dd"});
  b.node("Sigmoid", {"dd"}, {"side"});
  b.output("out");
  b.output("side");
  return b.prepare();
}

// Parameter variants: grouped strided Conv with asymmetric pads and no bias, MaxPool with
// padding (floor mode), AveragePool counting the padding, nearest Resize by scales
// (asymmetric, floor), GlobalMaxPool broadcast back by Add, a dilated Conv as a graph output.
std::shared_ptr<const Graph> variants_graph() {
  Builder b;
  b.input("x", {1, 4, 11, 9});
  auto& g1 = b.node("Conv", {"x", b.weight("wg", {8, 2, 3, 3})}, {"g1"});
  g1.attrs["group"] = attr_int(2);
  g1.attrs["strides"] = attr_ints({2, 2});
  g1.attrs["pads"] = attr_ints({1, 0, 1, 2});
  b.pool("MaxPool", "g1", "mp", {3, 3}, {}, {1, 1, 1, 1});
  b.pool("AveragePool", "mp", "av", {2, 2}, {2, 2}, {0, 0, 1, 1}).attrs["count_include_pad"] = attr_int(1);
  Tensor scales = Tensor::empty(DType::F32, {4});
  const float sc[4] = {1.f, 1.f, 2.f, 3.f};
  std::memcpy(scales.raw(), sc, sizeof sc);
  b.init("scales", scales);
  auto& rs = b.node("Resize", {"av", "", "scales"}, {"rn"});
  rs.attrs["mode"] = attr_str("nearest");
  rs.attrs["coordinate_transformation_mode"] = attr_str("asymmetric");
  rs.attrs["nearest_mode"] = attr_str("floor");
  b.node("GlobalMaxPool", {"rn"}, {"gm"});
  b.node("Add", {"rn", "gm"}, {"o1"});
  auto& d5 = b.node("Conv", {"x", b.weight("w5", {3, 4, 3, 3}), b.vec("b5", 3, 0.2f)}, {"o2"});
  d5.attrs["dilations"] = attr_ints({2, 2});
  d5.attrs["pads"] = attr_ints({2, 2, 2, 2});
  b.output("o1");
  b.output("o2");
  return b.prepare();
}

// Attention-style products: a 1x1 Conv viewed as tokens, Transposes that swap axis blocks (on the
// device) and one that does not (CPU), batched MatMul of two computed values, MatMul by
// constant matrices and by a vector.
std::shared_ptr<const Graph> matmul_graph() {
  Builder b;
  b.input("x", {1, 3, 6, 5});
  b.node("Conv", {"x", b.weight("w", {8, 3, 1, 1}), b.vec("bw", 8, 0.2f)}, {"c"});
  b.init("tok", Tensor::from_i64({1, 8, 30}));
  b.node("Reshape", {"c", "tok"}, {"k"});
  b.node("Transpose", {"k"}, {"q"}).attrs["perm"] = attr_ints({0, 2, 1});
  b.init("wp", random_tensor(b.rng, {8, 12}, 0.5f));
  b.node("MatMul", {"q", "wp"}, {"p"});
  b.node("MatMul", {"q", "k"}, {"s"});
  b.init("wc", random_tensor(b.rng, {30, 4}, 0.2f));
  b.node("MatMul", {"s", "wc"}, {"y"});
  b.node("Transpose", {"y"}, {"r"}).attrs["perm"] = attr_ints({2, 0, 1});
  b.node("Transpose", {"p"}, {"o1"}).attrs["perm"] = attr_ints({1, 0, 2});
  b.init("v", random_tensor(b.rng, {4}, 1.f));
  b.node("MatMul", {"y", "v"}, {"o2"});
  b.output("r");
  b.output("o1");
  b.output("o2");
  return b.prepare();
}

// A projection, LayerNorm written out over the last axis (fused at load into one node, which runs
// on the device), a GELU-free residual Add, then a LayerNormalization over the last two axes (no
// device form: it runs on the host).
std::shared_ptr<const Graph> layer_norm_graph() {
  Builder b;
  b.m.opsets[""] = 17;
  b.input("x", {1, 6, 16});
  b.init("w", random_tensor(b.rng, {16, 16}, 0.4f));
  b.node("MatMul", {"x", "w"}, {"h"});
  b.node("ReduceMean", {"h"}, {"m"}).attrs["axes"] = attr_ints({-1});
  b.node("Sub", {"h", "m"}, {"d"});
  b.init("two", Tensor::scalar_f32(2.f));
  b.node("Pow", {"d", "two"}, {"d2"});
  b.node("ReduceMean", {"d2"}, {"v"}).attrs["axes"] = attr_ints({-1});
  b.init("eps", Tensor::scalar_f32(1e-5f));
  b.node("Add", {"v", "eps"}, {"ve"});
  b.node("Sqrt", {"ve"}, {"sd"});
  b.node("Div", {"d", "sd"}, {"n"});
  b.node("Mul", {"n", b.vec("g", 16, 0.3f, 1.f)}, {"ng"});
  b.node("Add", {"ng", b.vec("beta", 16, 0.2f)}, {"ln"});
  b.node("Add", {"ln", "x"}, {"y"});
  b.init("g2", random_tensor(b.rng, {6, 16}, 0.3f, 1.f));
  b.node("LayerNormalization", {"y", "g2"}, {"y2"}).attrs["axis"] = attr_int(-2);
  b.output("y");
  b.output("y2");
  return b.prepare();
}

struct Diff {
  double max = 0, mean = 0;
};
Diff compare(const Tensor& ref, const Tensor& got) {
  Diff d;
  if (ref.shape() != got.shape() || got.on_device()) return Diff{1e9, 1e9};
  for (int64_t i = 0; i < ref.numel(); ++i) {
    double e = std::fabs(double(ref.data<float>()[i]) - double(got.data<float>()[i]));
    d.max = std::max(d.max, e);
    d.mean += e;
  }
  d.mean /= double(std::max<int64_t>(ref.numel(), 1));
  return d;
}

// Standard deviation, to make sure an output is not a constant a broken kernel could also give.
double spread(const Tensor& t) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s += t.data<float>()[i];
    s2 += double(t.data<float>()[i]) * t.data<float>()[i];
  }
  double n = double(t.numel());
  return std::sqrt(std::max(0.0, s2 / n - (s / n) * (s / n)));
}

Tensor image(int64_t H, int64_t W, uint64_t seed) {
  Rng r(seed);
  return random_tensor(r, {1, 3, H, W}, 1.f);
}

}  // namespace

TEST("a device tensor wraps a DeviceBuffer and host code cannot read it") {
  auto gpu = open_cuda(0);
  Tensor d = device_empty(*gpu, DType::F32, {2, 3});
  CHECK(d.on_device());
  CHECK(d.numel() == 6);
  CHECK(d.reshaped({3, 2}).on_device());
  CHECK(!Tensor::empty(DType::F32, {2}).on_device());
  CHECK_THROWS_CODE(d.to(DType::F16), Code::Internal);
  CHECK_THROWS_CODE(d.as_i64(), Code::Internal);
  CHECK_THROWS_CODE(Tensor::device(DType::F32, {100}, std::make_shared<DeviceBuffer>(gpu->alloc(16))), Code::Internal);
  Tensor h = Tensor::from_i64({1, -2, 3});
  Tensor back = to_host(*gpu, to_device(*gpu, h));
  CHECK(!back.on_device());
  CHECK(back.as_i64() == std::vector<int64_t>({1, -2, 3}));
}

// Tolerances: 16-bit convolution operands round x and w to 2^-11 relative; through four convs
// that moves sigmoid outputs by ~2e-4 (measured), far below what a wrong index, stride or
// missing sync does (≥ 1e-2 here, where outputs spread by 0.05-0.1).
TEST("the segmentation graph on the GPU matches the CPU (sigmoid outputs: max |d| <= 2e-3, mean <= 3e-4)") {
  auto gpu = open_cuda(0);
  ThreadPool pool(1);
  for (auto [H, W] : {std::pair<int64_t, int64_t>{13, 10}, {8, 8}}) {
    auto g = unet_graph(H, W);
    Tensor x = image(H, W, uint64_t(H * 100 + W));
    auto ref = g->run(Exec{pool}, {x}, {0, 1});
    RunStats st;
    auto got = g->run(Exec{pool, gpu.get()}, {x}, {0, 1}, nullptr, &st);
    CHECK(got.size() == 2);
    Diff d0 = compare(ref[0], got[0]), d1 = compare(ref[1], got[1]);
    std::printf("    %ldx%ld: out max %.2e mean %.2e (spread %.3f); side max %.2e mean %.2e (spread %.3f)\n", long(H),
                long(W), d0.max, d0.mean, spread(ref[0]), d1.max, d1.mean, spread(ref[1]));
    CHECK(d0.max <= 2e-3 && d0.mean <= 3e-4);
    CHECK(d1.max <= 2e-3 && d1.mean <= 3e-4);
    CHECK(spread(ref[0]) > 0.04 && spread(ref[1]) > 0.04);
    // Placement: 4 Conv, MaxPool, BN, Relu, GlobalAveragePool, Resize, 2 Mul, Add, Concat,
    // AveragePool, Sub, Div, Sigmoid on the device; Shape×2 and Reshape(a3) view device values;
    // Gather, the i64 Concat, Tanh and Reshape(t) on the host.
    std::printf("    device %d view %d host %d uploads %d downloads %d\n", st.device_nodes, st.view_nodes,
                st.host_nodes, st.uploads, st.downloads);
    CHECK(st.device_nodes == 17);
    CHECK(st.device_ops["Conv"] == 4);
    CHECK(st.device_ops["Resize"] == 1 && st.device_ops["MaxPool"] == 1 && st.device_ops["AveragePool"] == 1);
    CHECK(st.device_ops["BatchNormalization"] == 1 && st.device_ops["Relu"] == 1 && st.device_ops["Sigmoid"] == 1);
    CHECK(st.device_ops["Mul"] == 2 && st.device_ops["Add"] == 1 && st.device_ops["Sub"] == 1 &&
          st.device_ops["Div"] == 1);
    CHECK(st.device_ops["Concat"] == 1 && st.device_ops["GlobalAveragePool"] == 1);
    CHECK(st.view_nodes == 3);
    CHECK(st.host_nodes == 4);
    // Uploads: x, the Add constant, the Div scalar, the Tanh result; downloads: the Tanh input
    // and the two outputs.
    CHECK(st.uploads == 4);
    CHECK(st.downloads == 3);
    CHECK(st.download_bytes == size_t(8 * H * W + H * W + 8 * H * W) * 4);
  }
}

TEST(
    "parameter variants (groups, strides, dilation, padding, nearest resize, global max) match the CPU (max |d| <= "
    "5e-3)") {
  auto gpu = open_cuda(0);
  ThreadPool pool(1);
  auto g = variants_graph();
  Rng r(99);
  Tensor x = random_tensor(r, {1, 4, 11, 9}, 1.f);
  auto ref = g->run(Exec{pool}, {x}, {0, 1});
  RunStats st;
  auto got = g->run(Exec{pool, gpu.get()}, {x}, {0, 1}, nullptr, &st);
  CHECK(ref[0].shape() == Shape({1, 8, 6, 9}));
  Diff d0 = compare(ref[0], got[0]), d1 = compare(ref[1], got[1]);
  std::printf("    o1 max %.2e mean %.2e (spread %.3f); o2 max %.2e mean %.2e (spread %.3f)\n", d0.max, d0.mean,
              spread(ref[0]), d1.max, d1.mean, spread(ref[1]));
  // Unbounded outputs spreading by ~0.5: one 16-bit conv each, measured ~1e-3 at most.
  CHECK(d0.max <= 5e-3 && d0.mean <= 1e-3);
  CHECK(d1.max <= 5e-3 && d1.mean <= 1e-3);
  CHECK(spread(ref[0]) > 0.1 && spread(ref[1]) > 0.1);
  CHECK(st.device_nodes == 7 && st.host_nodes == 0 && st.view_nodes == 0);
  CHECK(st.uploads == 1 && st.downloads == 2);
}

TEST("MatMul and block-swapping Transposes run on the device (max |d| <= 1e-2 of the largest output)") {
  auto gpu = open_cuda(0);
  ThreadPool pool(1);
  auto g = matmul_graph();
  Rng r(3);
  Tensor x = random_tensor(r, {1, 3, 6, 5}, 1.f);
  auto ref = g->run(Exec{pool}, {x}, {0, 1, 2});
  RunStats st;
  auto got = g->run(Exec{pool, gpu.get()}, {x}, {0, 1, 2}, nullptr, &st);
  CHECK(ref[0].shape() == Shape({4, 1, 30}) && ref[1].shape() == Shape({30, 1, 12}) &&
        ref[2].shape() == Shape({1, 30}));
  for (int k = 0; k < 3; ++k) {
    double big = 0;
    for (int64_t i = 0; i < ref[k].numel(); ++i) big = std::max(big, std::fabs(double(ref[k].data<float>()[i])));
    Diff d = compare(ref[k], got[k]);
    std::printf("    output %d: max %.2e mean %.2e (largest |value| %.2f, spread %.3f)\n", k, d.max, d.mean, big,
                spread(ref[k]));
    CHECK(d.max <= 1e-2 * big);
    CHECK(spread(ref[k]) > 0.1);
  }
  // Conv, Transpose [0,2,1] and [2,0,1], four MatMuls on the device; the Reshape views; the
  // Transpose [1,0,2] (not a block swap) on the CPU.
  CHECK(st.device_nodes == 7 && st.device_ops["MatMul"] == 4 && st.device_ops["Transpose"] == 2);
  CHECK(st.view_nodes == 1 && st.host_nodes == 1);
  CHECK(st.uploads == 4 && st.downloads == 3);
}

TEST("LayerNorm over the last axis runs on the device, other axes on the host (max |d| <= 2e-3)") {
  auto gpu = open_cuda(0);
  ThreadPool pool(1);
  auto g = layer_norm_graph();
  Rng r(5);
  Tensor x = random_tensor(r, {1, 6, 16}, 1.f);
  auto ref = g->run(Exec{pool}, {x}, {0, 1});
  RunStats st;
  auto got = g->run(Exec{pool, gpu.get()}, {x}, {0, 1}, nullptr, &st);
  for (int k = 0; k < 2; ++k) {
    Diff d = compare(ref[k], got[k]);
    std::printf("    output %d: max %.2e mean %.2e (spread %.3f)\n", k, d.max, d.mean, spread(ref[k]));
    CHECK(d.max <= 2e-3);  // the device GEMM before it rounds its operands to 16 bits
    CHECK(spread(ref[k]) > 0.1);
  }
  CHECK(st.device_ops["LayerNormalization"] == 1);
  CHECK(st.device_ops["MatMul"] == 1);
}

TEST("a Segmenter on cuda reports its device and gives the CPU's mask") {
  auto gpu = open_cuda(0);
  auto g = unet_graph(12, 12);
  auto cpu = Segmenter::from_graph(g, "unet", 1);
  auto dev = Segmenter::from_graph(g, "unet", 1, gpu);
  CHECK(std::string(cpu->device()) == "cpu");
  CHECK(std::string(dev->device()) == "cuda");
  Tensor x = image(12, 12, 5);
  auto ref = cpu->run(x, true);
  RunStats st;
  auto got = dev->run(x, true, nullptr, &st);
  CHECK(got.size() == 2 && ref.size() == 2);
  CHECK(compare(ref[0], got[0]).max <= 2e-3);
  CHECK(compare(ref[1], got[1]).max <= 2e-3);
  CHECK(st.device_nodes == 17);
  // Only the first output when not asked for all: the side branch does not run.
  RunStats first;
  auto one = dev->run(x, false, nullptr, &first);
  CHECK(one.size() == 1 && compare(ref[0], one[0]).max <= 2e-3);
  CHECK(first.device_nodes == 14);
}

TEST("on the GPU a wrong input shape and a cancel fail as on the CPU, and runs free their memory") {
  auto gpu = open_cuda(0);
  ThreadPool pool(1);
  auto g = unet_graph(13, 10);
  Tensor bad = image(12, 10, 1);
  CHECK_THROWS_CODE(g->run(Exec{pool, gpu.get()}, {bad}, {0}), Code::BadInput);
  std::atomic<bool> cancel{true};
  CHECK_THROWS_CODE(g->run(Exec{pool, gpu.get()}, {image(13, 10, 1)}, {0}, &cancel), Code::Cancelled);
  // Runs free every activation they allocate: repeated runs do not grow the device memory in use.
  (void)g->run(Exec{pool, gpu.get()}, {image(13, 10, 1)}, {0});
  size_t after_one = gpu->bytes_in_use();
  (void)g->run(Exec{pool, gpu.get()}, {image(13, 10, 2)}, {0});
  std::printf("    in use after one run %zu, after two %zu (weights %zu)\n", after_one, gpu->bytes_in_use(),
              gpu->weight_bytes());
  CHECK(gpu->bytes_in_use() == after_one);
}

TEST("a graph loaded after another is freed runs with its own weights on the GPU") {
  auto gpu = open_cuda(0);
  ThreadPool pool(1);
  Tensor x = image(13, 10, 11);
  for (uint64_t seed : {1u, 2u, 3u}) {
    // Same shapes, different weights: the freed graph's memory is likely reused by the next.
    auto g = unet_graph(13, 10, seed);
    auto ref = g->run(Exec{pool}, {x}, {0});
    auto got = g->run(Exec{pool, gpu.get()}, {x}, {0});
    Diff d = compare(ref[0], got[0]);
    std::printf("    weights seed %lu: max %.2e\n", (unsigned long)seed, d.max);
    CHECK(d.max <= 2e-3);
  }
}

// Each Segmenter owns the device copies of the weights it uploads: two handles on one graph share
// one copy (uploaded once), destroying one keeps it for the other, and destroying a handle on
// another graph leaves these untouched; the last handle destroyed frees them.
TEST("Segmenters on one graph share device weights; destroying one keeps the others' resident") {
  auto gpu = open_cuda(0);
  gpu->drop_weights();
  auto g = unet_graph(12, 12), g2 = unet_graph(12, 12, 2);
  auto cpu = Segmenter::from_graph(g, "unet", 1);
  auto a = Segmenter::from_graph(g, "unet", 1, gpu), b = Segmenter::from_graph(g, "unet", 1, gpu);
  auto c = Segmenter::from_graph(g2, "unet2", 1, gpu);
  Tensor x = image(12, 12, 21);
  const Tensor ref = cpu->run(x, false)[0];
  CHECK(compare(ref, a->run(x, false)[0]).max <= 2e-3);
  const size_t wa = gpu->weight_bytes(a.get());
  CHECK(wa > 0 && gpu->weight_bytes() == wa);
  (void)b->run(x, false);
  CHECK(gpu->weight_bytes(b.get()) == wa);
  CHECK(gpu->weight_bytes() == wa);  // shared, not uploaded again
  (void)c->run(x, false);
  const size_t wc = gpu->weight_bytes(c.get());
  CHECK(wc > 0 && gpu->weight_bytes() == wa + wc);
  std::printf("    weights: graph 1 %zu bytes (two handles), graph 2 %zu bytes\n", wa, wc);

  a.reset();
  CHECK(gpu->weight_bytes(b.get()) == wa && gpu->weight_bytes(c.get()) == wc);
  CHECK(gpu->weight_bytes() == wa + wc);
  CHECK(compare(ref, b->run(x, false)[0]).max <= 2e-3);
  CHECK(gpu->weight_bytes() == wa + wc);  // b ran on the resident copies

  c.reset();  // another model's handle: b's weights stay
  CHECK(gpu->weight_bytes() == wa && gpu->weight_bytes(b.get()) == wa);
  CHECK(compare(ref, b->run(x, false)[0]).max <= 2e-3);
  b.reset();
  CHECK(gpu->weight_bytes() == 0);
}

// SAM-style global attention on 4 x 4 tokens: scale on Q, Kᵀ by a Transpose, the scores viewed as
// (h, w, h, w) for a rel_h term, Softmax, times V. The graph fuses it into one #ScoredAttention
// node: blocked on the CPU, the original nodes' kernels on the Gpu.
TEST("fused attention gives the CPU's result on the device (max |d| <= 2e-3, as the device GEMM rounds)") {
  auto gpu = open_cuda(0);
  ThreadPool pool(2);
  Builder b;
  b.input("x", {2, 16, 8});
  b.init("c", Tensor::scalar_f32(0.35f));
  b.node("Mul", {"x", "c"}, {"q"});
  b.node("Transpose", {"x"}, {"kt"}).attrs["perm"] = attr_ints({0, 2, 1});
  b.node("MatMul", {"q", "kt"}, {"s"});
  b.init("view", Tensor::from_i64({2, 4, 4, 4, 4}));
  b.node("Reshape", {"s", "view"}, {"s5"});
  b.init("rel_h", random_tensor(b.rng, {2, 4, 4, 4, 1}, 1.f));
  b.node("Add", {"s5", "rel_h"}, {"sb"});
  b.init("back", Tensor::from_i64({2, 16, 16}));
  b.node("Reshape", {"sb", "back"}, {"s3"});
  b.node("Softmax", {"s3"}, {"p"}).attrs["axis"] = attr_int(-1);
  b.node("MatMul", {"p", "x"}, {"y"});
  b.output("y");
  auto g = b.prepare();
  CHECK(g->node_count() == 1);  // the whole chain, the Mul on Q and the Transpose of K included
  Rng r(5);
  Tensor x = random_tensor(r, {2, 16, 8}, 1.f);
  auto ref = g->run(Exec{pool}, {x}, {0});
  auto got = g->run(Exec{pool, gpu.get()}, {x}, {0});
  CHECK(ref[0].shape() == Shape({2, 16, 8}));
  const Diff d = compare(ref[0], got[0]);
  std::printf("    max %.2e mean %.2e (spread %.3f)\n", d.max, d.mean, spread(ref[0]));
  CHECK(d.max <= 2e-3 && spread(ref[0]) > 0.1);
}

int main() {
  bgn::testing::require_cuda_device("test_cuda_segmenter");
  return bgn_test::run_all();
}
