// Euler (Karras et al. 2022, Alg. 2 with s_churn = 0) and Euler ancestral (k-diffusion's
// sample_euler_ancestral), as diffusers' EulerDiscreteScheduler / EulerAncestralDiscreteScheduler.
#include <algorithm>
#include <cmath>

#include "diffusion/scheduler_impl.h"
#include "tensor/error.h"

namespace bgn::detail {

namespace {

class EulerScheduler final : public Scheduler {
 public:
  EulerScheduler(const SchedulerConfig& cfg, bool ancestral)
      : Scheduler(ancestral ? SchedulerKind::EulerAncestral : SchedulerKind::Euler, cfg), ancestral_(ancestral) {
    // Zero terminal SNR would make the last sigma infinite; diffusers pins alpha_bar to 2^-24.
    if (cfg_.rescale_betas_zero_snr) alphas_cumprod_.back() = 1.0f / 16777216.0f;
  }

  void set_timesteps(int n) override {
    SigmaSchedule sched = discrete_sigma_schedule(cfg_, alphas_cumprod_, n, cfg_.interpolation_type == "log_linear");
    timesteps_ = std::move(sched.timesteps);
    sigmas_ = std::move(sched.sigmas);
    init_noise_sigma_ = sched.init_noise_sigma;
    num_inference_steps_ = n;
  }

  // x / sqrt(sigma² + 1): the UNet was trained on unit-variance inputs.
  Tensor scale_model_input(const Tensor& x, int i) const override {
    timestep(i);
    BGN_CHECK(x.dtype() == DType::F32, Code::BadInput, "scale_model_input needs a float32 tensor");
    float sigma = sigmas_[i];
    float d = std::sqrt(sigma * sigma + 1.0f);
    Tensor out = like(x);
    const float* s = x.data<float>();
    float* o = out.data<float>();
    for (int64_t k = 0; k < x.numel(); ++k) o[k] = s[k] / d;
    return out;
  }

  // sample, model_output: (B,C,H,W). Euler:   x' = x + (x - x0)/sigma · (sigma_next - sigma)
  // Euler a: steps to sigma_down, then adds fresh noise · sigma_up, where
  //   sigma_up = sqrt(sigma_next² (sigma² - sigma_next²) / sigma²),  sigma_down = sqrt(sigma_next² - sigma_up²).
  Tensor step(const Tensor& mo, int i, const Tensor& x, const NoiseFn& noise, Tensor* pred_original) override {
    check_step(i, mo, x, "step");
    const float sigma = sigmas_[i], sigma_next = sigmas_[i + 1];
    Tensor x0 = pred_original_from_sigma(mo, x, sigma, cfg_.prediction_type);
    float target = sigma_next, sigma_up = 0.0f;
    if (ancestral_) {
      sigma_up = std::sqrt(sigma_next * sigma_next * (sigma * sigma - sigma_next * sigma_next) / (sigma * sigma));
      target = std::sqrt(sigma_next * sigma_next - sigma_up * sigma_up);
    }
    const float dt = target - sigma;
    Tensor out = like(x);
    const float* s = x.data<float>();
    const float* p = x0.data<float>();
    float* o = out.data<float>();
    const int64_t n = x.numel();
    for (int64_t k = 0; k < n; ++k) {
      float derivative = (s[k] - p[k]) / sigma;
      o[k] = s[k] + derivative * dt;
    }
    if (ancestral_) {
      BGN_CHECK(noise != nullptr, Code::BadInput, "Euler ancestral needs a noise source");
      std::vector<float> z(static_cast<size_t>(n));
      noise(z.data(), n);
      for (int64_t k = 0; k < n; ++k) o[k] = o[k] + z[k] * sigma_up;
    }
    if (pred_original) *pred_original = x0;
    return out;
  }

  // original + noise · sigma_i
  Tensor add_noise(const Tensor& original, const Tensor& noise, int i) const override {
    check_step(i, original, noise, "add_noise");
    return add_sigma_noise(original, noise, sigmas_[i]);
  }

 private:
  bool ancestral_;
};

}  // namespace

std::unique_ptr<Scheduler> make_euler(const SchedulerConfig& cfg, bool ancestral) {
  return std::make_unique<EulerScheduler>(cfg, ancestral);
}

}  // namespace bgn::detail
