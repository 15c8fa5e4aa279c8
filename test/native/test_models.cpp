// The CLIP text encoder, UNet and VAE match the transformers/diffusers reference outputs of the
// fixture cases (te-*, unet-*, vae-*), from diffusers folders and from LDM single files.
#include <cmath>
#include <cstdio>

#include "formats/json.h"
#include "formats/safetensors.h"
#include "models/clip_text.h"
#include "models/unet.h"
#include "models/vae.h"
#include "models/weight_map.h"
#include "testing.h"

using namespace bgn;

namespace {

std::vector<float> floats(const Tensor& t) {
  Tensor f = t.to(DType::F32);
  return std::vector<float>(f.data<float>(), f.data<float>() + f.numel());
}

// max |got - want| / (atol + rtol |want|) <= 1
bool close(const char* what, const float* got, const std::vector<float>& want, double atol, double rtol) {
  double worst = 0, max_abs = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    double d = std::fabs(double(got[i]) - want[i]);
    if (!(d == d)) d = INFINITY;
    max_abs = std::max(max_abs, d);
    worst = std::max(worst, d / (atol + rtol * std::fabs(want[i])));
  }
  std::printf("    %-28s max abs %.3g, err/tol %.3g\n", what, max_abs, worst);
  return worst <= 1.0;
}

struct Case {
  json::Value m;
  std::shared_ptr<SafetensorsFile> in, out;
  double atol, rtol;
};

bool open_case(const std::string& name, Case* c) {
  std::string dir = bgn_test::fixtures_dir();
  if (dir.empty()) return false;
  c->m = json::parse_file(dir + "/cases/" + name + "/manifest.json");
  c->in = SafetensorsFile::open(dir + "/" + c->m.find("inputs")->find("file")->as_string());
  c->out = SafetensorsFile::open(dir + "/" + c->m.find("expected")->find("file")->as_string());
  c->atol = c->m.find("tolerance")->find("atol")->as_double();
  c->rtol = c->m.find("tolerance")->find("rtol")->as_double();
  return true;
}

std::string model_path(const Case& c, const char* key) {
  return bgn_test::fixtures_dir() + "/" + c.m.find("model")->find("weights")->find(key)->as_string();
}

void run_text_encoder(const std::string& name, const char* weights_key) {
  Case c;
  if (!open_case(name, &c)) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  std::string path = weights_key[0] == 'h'
                         ? bgn_test::fixtures_dir() + "/" + c.m.find("model")->find("folder")->as_string()
                         : model_path(c, weights_key);
  auto te = ClipTextModel::load(path, 2);
  Tensor ids = c.in->tensor("input_ids");
  std::vector<int64_t> v = ids.as_i64();
  std::vector<int32_t> ids32(v.begin(), v.end());
  const int64_t B = ids.dim(0), T = ids.dim(1);
  ClipTextOutput o = te->encode(ids32.data(), B, T, 0, true);
  CHECK(close("hidden_states", o.hidden_states.data(), floats(c.out->tensor("hidden_states")), c.atol, c.rtol));
  CHECK(close("last_hidden_state", o.last.data(), floats(c.out->tensor("last_hidden_state")), c.atol, c.rtol));
  ClipTextOutput p = te->encode(ids32.data(), B, T, 1, false);
  CHECK(close("penultimate_final_ln", p.last.data(), floats(c.out->tensor("penultimate_final_ln")), c.atol, c.rtol));
}

void run_unet(const std::string& name, const char* weights_key, int64_t heads = 0) {
  Case c;
  if (!open_case(name, &c)) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  UnetLoadOptions opts;
  opts.threads = 2;
  opts.attention_heads = heads;
  std::string path = weights_key[0] == 'f'
                         ? bgn_test::fixtures_dir() + "/" + c.m.find("model")->find("folder")->as_string()
                         : model_path(c, weights_key);
  auto unet = UNetModel::load(path, opts);
  Tensor x = c.in->tensor("sample"), ctx = c.in->tensor("encoder_hidden_states");
  std::vector<float> ts = floats(c.in->tensor("timestep"));
  const int64_t N = x.dim(0);
  if (ts.size() == 1) ts.assign(size_t(N), ts[0]);
  // SDXL cases carry the added conditioning (pooled text, time ids).
  std::vector<float> te, ti;
  UnetAddedCond added;
  if (c.in->has("text_embeds")) {
    te = floats(c.in->tensor("text_embeds"));
    ti = floats(c.in->tensor("time_ids"));
    added.text_embeds = te.data();
    added.P = int64_t(te.size()) / N;
    added.time_ids = ti.data();
  }
  std::vector<float> out = unet->forward(floats(x).data(), N, x.dim(2), x.dim(3), ts.data(), floats(ctx).data(),
                                         ctx.dim(1), te.empty() ? nullptr : &added);
  CHECK(close("out", out.data(), floats(c.out->tensor("out")), c.atol, c.rtol));
}

// te-sdxl: encoder `which` (1 or 2) from its folder or LDM file; penultimate raw states and the
// pooled output (encoder 2: projected), as StableDiffusionXLPipeline.encode_prompt reads them.
void run_text_encoder_sdxl(int which, bool ldm) {
  Case c;
  if (!open_case("te-sdxl", &c)) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  const json::Value* mod = c.m.find("models")->find(which == 1 ? "text_encoder" : "text_encoder_2");
  const std::string path = bgn_test::fixtures_dir() + "/" +
                           (ldm ? mod->find("weights")->find("ldm")->as_string() : mod->find("folder")->as_string());
  const int64_t heads = mod->find("config")->find("num_attention_heads")->as_int();
  auto te = ClipTextModel::from_weights(
      load_component(path, which == 1 ? Component::TextEncoder : Component::TextEncoder2), 2, ldm ? heads : 0);
  Tensor ids = c.in->tensor(which == 1 ? "input_ids_1" : "input_ids_2");
  std::vector<int64_t> v = ids.as_i64();
  std::vector<int32_t> ids32(v.begin(), v.end());
  ClipEncodeOptions o;
  o.clip_skip = 1;
  o.final_norm = false;
  o.pooled = true;
  ClipTextOutput r = te->encode(ids32.data(), ids.dim(0), ids.dim(1), o);
  const std::string pre = which == 1 ? "te1_" : "te2_";
  CHECK(close("penultimate_raw", r.last.data(), floats(c.out->tensor(pre + "penultimate_raw")), c.atol, c.rtol));
  CHECK(close("pooled", r.pooled.data(), floats(c.out->tensor(pre + (which == 1 ? "pooler_output" : "text_embeds"))),
              c.atol, c.rtol));
}

void run_vae(const std::string& name, bool ldm) {
  Case c;
  if (!open_case(name, &c)) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  std::string path =
      ldm ? model_path(c, "ldm") : bgn_test::fixtures_dir() + "/" + c.m.find("model")->find("folder")->as_string();
  auto vae = VaeModel::load(path, 2);
  Tensor img = c.in->tensor("image"), lat = c.in->tensor("latents");
  std::vector<float> moments = vae->encode(floats(img).data(), 1, img.dim(2), img.dim(3));
  CHECK(close("moments", moments.data(), floats(c.out->tensor("moments")), c.atol, c.rtol));
  std::vector<float> dec = vae->decode(floats(lat).data(), 1, lat.dim(2), lat.dim(3));
  CHECK(close("decoded", dec.data(), floats(c.out->tensor("decoded")), c.atol, c.rtol));
}

}  // namespace

TEST("te-sd1: CLIP text encoder (quick-GELU) from the transformers folder") { run_text_encoder("te-sd1", "hf"); }
TEST("te-sd2: CLIP text encoder (GELU) from the transformers folder") { run_text_encoder("te-sd2", "hf"); }
TEST("te-sd2: OpenCLIP LDM layout (fused in_proj, penultimate layer) gives the same") {
  Case c;
  if (!open_case("te-sd2", &c)) return;
  // heads are not visible in OpenCLIP shapes; the tiny model has 4 heads of 8 (real ones: 64-wide)
  auto cw = load_component(model_path(c, "ldm"), Component::TextEncoder);
  CHECK(cw.layout == "openclip");
  CHECK(cw.weights.has("encoder.layers.0.self_attn.q_proj.weight"));
  CHECK(!cw.weights.has("encoder.layers.3.self_attn.q_proj.weight"));
}
TEST("unet-sd1: 8x8 latent, int64 timesteps") { run_unet("unet-sd1", "f"); }
TEST("unet-sd1-8x12: non-square latent, float timesteps") { run_unet("unet-sd1-8x12", "f"); }
TEST("unet-sd1-inpaint: 9-channel input") { run_unet("unet-sd1-inpaint", "f"); }
TEST("unet-sd2: linear projections, per-level heads") { run_unet("unet-sd2", "f"); }
TEST("unet-sd1 from the LDM single file (8 heads, SD 1.x convention)") { run_unet("unet-sd1", "ldm"); }
TEST("unet-sd2 from its LDM file with heads given") { run_unet("unet-sd2", "ldm", 4); }
TEST("unet-sd1-inpaint from its LDM file") { run_unet("unet-sd1-inpaint", "ldm"); }
TEST("unet-sdxl: text_time added conditioning, transformer depth per level") { run_unet("unet-sdxl", "f"); }
TEST("unet-sdxl from its LDM file (label_emb)") { run_unet("unet-sdxl", "ldm", 2); }
TEST("te-sdxl encoder 1 (CLIP-L shaped) from the folder and from conditioner.embedders.0") {
  run_text_encoder_sdxl(1, false);
  run_text_encoder_sdxl(1, true);
}
TEST("te-sdxl encoder 2 (OpenCLIP-bigG shaped) from the folder and from conditioner.embedders.1 (fused in_proj)") {
  run_text_encoder_sdxl(2, false);
  run_text_encoder_sdxl(2, true);
}
TEST("vae-64x64: encode moments and decode") { run_vae("vae-64x64", false); }
TEST("vae-64x96: non-square") { run_vae("vae-64x96", false); }
TEST("vae-64x64 from the LDM single file") { run_vae("vae-64x64", true); }

TEST("a .ckpt is refused with how to convert it") {
  try {
    load_component("model.ckpt", Component::Unet);
    CHECK(false);
  } catch (const Error& e) {
    CHECK(e.code() == Code::ModelUnsupported);
    CHECK(std::string(e.what()).find("safetensors") != std::string::npos);
  }
}

TEST("a VAE file asked for a UNet lists what was looked for") {
  std::string dir = bgn_test::fixtures_dir();
  if (dir.empty()) return;
  try {
    load_component(dir + "/models/vae/diffusion_pytorch_model.safetensors", Component::Unet);
    CHECK(false);
  } catch (const Error& e) {
    CHECK(e.code() == Code::ModelUnsupported);
    CHECK(std::string(e.what()).find("down_blocks") != std::string::npos);
  }
}

int main() { return bgn_test::run_all(); }
