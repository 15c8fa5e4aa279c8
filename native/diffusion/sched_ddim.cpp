// DDIM (Song et al. 2020) with eta = 0, as diffusers' DDIMScheduler:
//   x0   = (x - sqrt(1 - ab_t) eps) / sqrt(ab_t)            (epsilon prediction)
//   x'   = sqrt(ab_prev) x0 + sqrt(1 - ab_prev) eps,  prev = t - T / steps
// where ab_prev for prev < 0 is 1 (set_alpha_to_one) or ab_0.
#include <algorithm>
#include <cmath>

#include "diffusion/scheduler_impl.h"
#include "tensor/error.h"

namespace bgn::detail {

namespace {

class DDIMScheduler final : public Scheduler {
 public:
  explicit DDIMScheduler(const SchedulerConfig& cfg) : Scheduler(SchedulerKind::DDIM, cfg) {
    final_alpha_cumprod_ = cfg_.set_alpha_to_one ? 1.0f : alphas_cumprod_[0];
  }

  void set_timesteps(int n) override {
    int_timesteps_ = ddim_timesteps(cfg_, n);
    for (int64_t t : int_timesteps_)
      BGN_CHECK(t >= 0 && t < cfg_.num_train_timesteps, Code::BadInput, "steps_offset ", cfg_.steps_offset,
                " puts timestep ", t, " outside the training schedule");
    timesteps_.assign(int_timesteps_.begin(), int_timesteps_.end());
    sigmas_.clear();
    num_inference_steps_ = n;
    init_noise_sigma_ = 1.0f;
  }

  Tensor step(const Tensor& mo, int i, const Tensor& x, const NoiseFn&, Tensor* pred_original) override {
    check_step(i, mo, x, "step");
    const int64_t t = int_timesteps_[i];
    const int64_t prev = t - cfg_.num_train_timesteps / num_inference_steps_;
    const float ab_t = alphas_cumprod_[t];
    const float ab_prev = prev >= 0 ? alphas_cumprod_[prev] : final_alpha_cumprod_;
    const float beta_t = 1.0f - ab_t;
    const float sa = std::sqrt(ab_t), sb = std::sqrt(beta_t);
    const float sa_prev = std::sqrt(ab_prev), dir = std::sqrt(1.0f - ab_prev - 0.0f);

    Tensor x0 = like(x), out = like(x);
    const float* m = mo.data<float>();
    const float* s = x.data<float>();
    float* p = x0.data<float>();
    float* o = out.data<float>();
    const float r = static_cast<float>(cfg_.clip_sample_range);
    for (int64_t k = 0; k < x.numel(); ++k) {
      float pred_x0, pred_eps;
      switch (cfg_.prediction_type) {
        case PredictionType::Epsilon:
          pred_x0 = (s[k] - sb * m[k]) / sa;
          pred_eps = m[k];
          break;
        case PredictionType::Sample:
          pred_x0 = m[k];
          pred_eps = (s[k] - sa * pred_x0) / sb;
          break;
        default:  // v_prediction
          pred_x0 = sa * s[k] - sb * m[k];
          pred_eps = sa * m[k] + sb * s[k];
          break;
      }
      if (cfg_.clip_sample) pred_x0 = std::min(std::max(pred_x0, -r), r);
      p[k] = pred_x0;
      o[k] = sa_prev * pred_x0 + dir * pred_eps;
    }
    if (pred_original) *pred_original = x0;
    return out;
  }

  // sqrt(ab_t) x + sqrt(1 - ab_t) noise
  Tensor add_noise(const Tensor& original, const Tensor& noise, int i) const override {
    check_step(i, original, noise, "add_noise");
    const float ab = alphas_cumprod_[int_timesteps_[i]];
    const float a = std::sqrt(ab), b = std::sqrt(1.0f - ab);
    Tensor out = like(original);
    const float* x = original.data<float>();
    const float* z = noise.data<float>();
    float* o = out.data<float>();
    for (int64_t k = 0; k < original.numel(); ++k) o[k] = a * x[k] + b * z[k];
    return out;
  }

 private:
  float final_alpha_cumprod_ = 1.0f;
  std::vector<int64_t> int_timesteps_;
};

}  // namespace

std::unique_ptr<Scheduler> make_ddim(const SchedulerConfig& cfg) { return std::make_unique<DDIMScheduler>(cfg); }

}  // namespace bgn::detail
