// Schedulers match diffusers: the timestep/sigma tables and every step of the sched-* traces.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <dirent.h>

#include "diffusion/rng.h"
#include "diffusion/schedulers.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "testing.h"

using namespace bgn;

namespace {

std::unique_ptr<Scheduler> from_class(const std::string& cls, const json::Value& config,
                                      const json::Value* extra = nullptr) {
  SchedulerKind kind = scheduler_kind_from_name(cls);
  json::Value merged = config;
  if (extra && extra->is_object() && extra->size()) {
    std::vector<json::Value::Member> m = config.members();
    for (const auto& kv : extra->members()) {
      auto it = std::find_if(m.begin(), m.end(), [&](const json::Value::Member& x) { return x.first == kv.first; });
      if (it != m.end())
        it->second = kv.second;
      else
        m.push_back(kv);
    }
    merged = json::Value::object(m);
  }
  return make_scheduler(kind, SchedulerConfig::from_json(kind, merged, cls));
}

std::vector<float> floats(const Tensor& t) {
  Tensor f = t.to(DType::F32);
  return std::vector<float>(f.data<float>(), f.data<float>() + f.numel());
}

}  // namespace

TEST("scaled_linear betas give the SD alphas_cumprod") {
  auto s = make_scheduler(
      SchedulerKind::DDIM,
      SchedulerConfig::from_json(
          SchedulerKind::DDIM,
          json::parse(R"({"beta_schedule":"scaled_linear","beta_start":0.00085,"beta_end":0.012})", "cfg"), "cfg"));
  // alphas_cumprod[0] = 1 - 0.00085
  CHECK(std::fabs(s->alphas_cumprod()[0] - 0.99915f) < 1e-7f);
  CHECK(s->alphas_cumprod().size() == 1000);
}

TEST("sampler names and diffusers class names both select a scheduler") {
  bool karras = false;
  CHECK(scheduler_kind_from_name("euler_a") == SchedulerKind::EulerAncestral);
  CHECK(scheduler_kind_from_name("diffusers.LMSDiscreteScheduler") == SchedulerKind::LMS);
  CHECK(scheduler_kind_from_name("dpmpp_2m_karras", &karras) == SchedulerKind::DPMSolverMultistep && karras);
  CHECK_THROWS_CODE(scheduler_kind_from_name("heun"), Code::BadInput);
}

TEST("unsupported config options are refused, not ignored") {
  auto cfg = [](const char* j) { return json::parse(j, "cfg"); };
  CHECK_THROWS_CODE(SchedulerConfig::from_json(SchedulerKind::DPMSolverMultistep,
                                               cfg(R"({"algorithm_type":"sde-dpmsolver++"})"), "cfg"),
                    Code::ModelUnsupported);
  CHECK_THROWS_CODE(SchedulerConfig::from_json(SchedulerKind::Euler, cfg(R"({"prediction_type":"flow"})"), "cfg"),
                    Code::ModelUnsupported);
  CHECK_THROWS_CODE(SchedulerConfig::from_json(SchedulerKind::Euler, cfg(R"({"num_train_timesteps":"1000"})"), "cfg"),
                    Code::BadInput);
}

TEST("steps outside [1, num_train_timesteps] are bad input") {
  auto s = make_scheduler(SchedulerKind::Euler, SchedulerConfig::defaults(SchedulerKind::Euler));
  CHECK_THROWS_CODE(s->set_timesteps(0), Code::BadInput);
  CHECK_THROWS_CODE(s->set_timesteps(1001), Code::BadInput);
}

TEST("trailing spacing and v-prediction configs (SD 2.x 768-v) produce a schedule") {
  auto s = make_scheduler(
      SchedulerKind::Euler,
      SchedulerConfig::from_json(
          SchedulerKind::Euler,
          json::parse(
              R"({"beta_schedule":"scaled_linear","beta_start":0.00085,"beta_end":0.012,"prediction_type":"v_prediction","timestep_spacing":"trailing"})",
              "cfg"),
          "cfg"));
  s->set_timesteps(4);
  CHECK(s->timesteps() == std::vector<double>({999, 749, 499, 249}));
}

TEST("img2img strength selects the first step like diffusers get_timesteps") {
  auto s = make_scheduler(SchedulerKind::Euler, SchedulerConfig::defaults(SchedulerKind::Euler));
  s->set_timesteps(5);
  CHECK(s->first_step(0.6) == 2);  // int(5 * 0.6) = 3 steps run
  CHECK(s->first_step(1.0) == 0);
  CHECK(s->first_step(0.0) == 5);
}

TEST("Philox4x32-10 matches the Random123 known answer and noise is reproducible") {
  uint32_t out[4];
  Rng::philox4x32(0, 0, out);
  CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu && out[3] == 0x9b00dbd8u);
  std::vector<float> a(1001), b(1001);
  Rng(42).normal(a.data(), 1001);
  Rng(42).normal(b.data(), 1001);
  CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
  double mean = 0, var = 0;
  for (float v : a) mean += v;
  mean /= a.size();
  for (float v : a) var += (v - mean) * (v - mean);
  var /= a.size();
  CHECK(std::fabs(mean) < 0.1 && std::fabs(var - 1.0) < 0.1);
}

TEST("timesteps and sigmas match diffusers' tables for every config and step count") {
  std::string dir = bgn_test::fixtures_dir();
  if (dir.empty()) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  json::Value root = json::parse_file(dir + "/cases/schedulers/tables.json");
  int checked = 0;
  for (const auto& cfg : root.find("tables")->members()) {
    const json::Value& config = *cfg.second.find("config");
    for (const auto& sc : cfg.second.find("schedulers")->members()) {
      const std::string cls = sc.second.find("class")->as_string();
      if (cls == "PNDMScheduler") continue;  // not one of our samplers
      for (const auto& st : sc.second.find("steps")->members()) {
        auto s = from_class(cls, config, sc.second.find("extra_config"));
        int n = std::stoi(st.first);
        s->set_timesteps(n);
        const json::Value& want = st.second;
        const auto& ts = want.find("timesteps")->items();
        bool same = ts.size() == s->timesteps().size();
        for (size_t k = 0; same && k < ts.size(); ++k) same = ts[k].as_double() == s->timesteps()[k];
        CHECK_MSG(same, "%s %s %s: timesteps differ (first %g vs %g)", cfg.first.c_str(), sc.first.c_str(),
                  st.first.c_str(), ts.empty() ? 0.0 : ts[0].as_double(),
                  s->timesteps().empty() ? 0.0 : s->timesteps()[0]);
        double want_init = want.find("init_noise_sigma")->as_double();
        CHECK_MSG(std::fabs(want_init - s->init_noise_sigma()) <= 1e-6 * std::fabs(want_init),
                  "%s %s %s: init_noise_sigma %g vs %g", cfg.first.c_str(), sc.first.c_str(), st.first.c_str(),
                  want_init, s->init_noise_sigma());
        if (const json::Value* sig = want.find("sigmas")) {
          bool ok = sig->size() == s->sigmas().size();
          double worst = 0;
          for (size_t k = 0; ok && k < sig->size(); ++k) {
            double w = sig->items()[k].as_double();
            double rel = std::fabs(w - s->sigmas()[k]) / std::max(std::fabs(w), 1e-30);
            worst = std::max(worst, rel);
          }
          CHECK_MSG(ok && worst <= 1e-6, "%s %s %s: sigmas differ (len %zu vs %zu, worst rel %g)", cfg.first.c_str(),
                    sc.first.c_str(), st.first.c_str(), sig->size(), s->sigmas().size(), worst);
        }
        if (const json::Value* ac = want.find("alphas_cumprod_at_timesteps")) {
          for (size_t k = 0; k < ac->size() && k < s->timesteps().size(); ++k) {
            double w = ac->items()[k].as_double();
            float got = s->alphas_cumprod()[static_cast<size_t>(s->timesteps()[k])];
            CHECK_MSG(std::fabs(w - got) <= 1e-6 * w, "%s ddim %s: alphas_cumprod[%g] %g vs %g", cfg.first.c_str(),
                      st.first.c_str(), s->timesteps()[k], w, got);
          }
        }
        ++checked;
      }
    }
  }
  std::printf("    %d schedules checked\n", checked);
  CHECK(checked > 0);
}

TEST("every sched-* trace matches diffusers step by step within its tolerance") {
  std::string dir = bgn_test::fixtures_dir();
  if (dir.empty()) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  std::string cases = dir + "/cases";
  DIR* d = opendir(cases.c_str());
  CHECK(d != nullptr);
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  int ran = 0;
  for (const auto& name : names) {
    std::string mpath = cases + "/" + name + "/manifest.json";
    struct stat st;
    if (::stat(mpath.c_str(), &st) != 0) continue;
    json::Value m = json::parse_file(mpath);
    if (m.find("kind")->as_string() != "scheduler_trace") continue;
    const json::Value& sch = *m.find("scheduler");
    auto s = from_class(sch.find("class")->as_string(), *sch.find("config"));
    int n = static_cast<int>(sch.find("num_inference_steps")->as_int());
    double atol = m.find("tolerance")->find("atol")->as_double(), rtol = m.find("tolerance")->find("rtol")->as_double();
    auto in = SafetensorsFile::open(dir + "/" + m.find("inputs")->find("file")->as_string());
    auto ex = SafetensorsFile::open(dir + "/" + m.find("expected")->find("file")->as_string());

    s->set_timesteps(n);
    Tensor noise = in->tensor("noise").to(DType::F32);
    Tensor outs = in->tensor("model_outputs").to(DType::F32);
    const int64_t per = noise.numel();
    Tensor anc = in->has("ancestral_noise") ? in->tensor("ancestral_noise").to(DType::F32) : Tensor();

    double worst = 0;  // max |got - want| / (atol + rtol |want|): pass when <= 1
    double max_abs = 0;
    auto compare = [&](const float* got, const float* want, int64_t count) {
      for (int64_t k = 0; k < count; ++k) {
        double diff = std::fabs(static_cast<double>(got[k]) - want[k]);
        max_abs = std::max(max_abs, diff);
        worst = std::max(worst, diff / (atol + rtol * std::fabs(want[k])));
      }
    };
    std::vector<float> ts = floats(ex->tensor("timesteps"));
    CHECK_MSG(ts.size() == s->timesteps().size(), "%s: %zu timesteps vs %d", name.c_str(), ts.size(), s->num_steps());
    for (size_t k = 0; k < ts.size() && k < s->timesteps().size(); ++k)
      CHECK_MSG(ts[k] == static_cast<float>(s->timesteps()[k]), "%s: timestep %zu %g vs %g", name.c_str(), k, ts[k],
                s->timesteps()[k]);

    Tensor x = Tensor::empty(DType::F32, noise.shape());
    for (int64_t k = 0; k < per; ++k) x.data<float>()[k] = noise.data<float>()[k] * s->init_noise_sigma();
    compare(x.data<float>(), floats(ex->tensor("initial_sample")).data(), per);
    std::vector<float> want_in = floats(ex->tensor("scaled_model_inputs"));
    std::vector<float> want_out = floats(ex->tensor("samples"));
    std::vector<float> want_x0 =
        ex->has("pred_original_samples") ? floats(ex->tensor("pred_original_samples")) : std::vector<float>();
    for (int i = 0; i < s->num_steps(); ++i) {
      Tensor xin = s->scale_model_input(x, i);
      compare(xin.data<float>(), want_in.data() + i * per, per);
      Tensor mo = Tensor::view(DType::F32, noise.shape(), outs.data<float>() + i * per, nullptr);
      int calls = 0;
      NoiseFn nf = [&](float* out, int64_t cnt) {
        CHECK(anc.numel() >= (i + 1) * per && cnt == per);
        if (anc.numel() >= (i + 1) * per) std::memcpy(out, anc.data<float>() + i * per, cnt * 4);
        ++calls;
      };
      Tensor x0;
      x = s->step(mo, i, x, nf, &x0);
      compare(x.data<float>(), want_out.data() + i * per, per);
      if (!want_x0.empty()) compare(x0.data<float>(), want_x0.data() + i * per, per);
    }
    std::printf("    %-44s max_abs_err %.3g  (err/tol %.3g)\n", name.c_str(), max_abs, worst);
    CHECK_MSG(worst <= 1.0, "%s exceeds tolerance", name.c_str());
    ++ran;
  }
  CHECK(ran > 0);
}

TEST("img2img: strength picks the first step and add_noise gives the pipeline's first UNet input") {
  std::string dir = bgn_test::fixtures_dir();
  if (dir.empty()) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  std::string mpath = dir + "/cases/img2img-sd1-euler/manifest.json";
  struct stat st;
  if (::stat(mpath.c_str(), &st) != 0) {
    std::printf("    (img2img fixture not found; skipped)\n");
    return;
  }
  json::Value m = json::parse_file(mpath);
  const json::Value& p = *m.find("pipeline");
  const json::Value& params = *p.find("params");
  auto s = from_class(p.find("scheduler")->find("class")->as_string(), *p.find("scheduler")->find("config"));
  s->set_timesteps(static_cast<int>(params.find("steps")->as_int()));
  int i0 = s->first_step(params.find("strength")->as_double());
  auto in = SafetensorsFile::open(dir + "/" + m.find("inputs")->find("file")->as_string());
  auto ex = SafetensorsFile::open(dir + "/" + m.find("expected")->find("file")->as_string());
  std::vector<float> ut = floats(ex->tensor("unet_timesteps"));
  CHECK(static_cast<float>(s->timestep(i0)) == ut[0]);
  CHECK(s->num_steps() - i0 == static_cast<int>(ut.size()));
  Tensor init = ex->tensor("init_latents").to(DType::F32);
  Tensor noise = in->tensor("rng_1_pipeline_stable_diffusion_img2img").to(DType::F32);
  Tensor xin = s->scale_model_input(s->add_noise(init, noise, i0), i0);
  std::vector<float> want = floats(ex->tensor("unet_inputs"));  // (steps, 2 [uncond, cond], 4, h, w)
  double worst = 0;
  for (int64_t k = 0; k < xin.numel(); ++k)
    worst = std::max(
        worst, std::fabs(static_cast<double>(xin.data<float>()[k]) - want[k]) / (2e-3 + 1e-3 * std::fabs(want[k])));
  std::printf("    img2img first UNet input: err/tol %.3g\n", worst);
  CHECK(worst <= 1.0);
}

int main() { return bgn_test::run_all(); }
