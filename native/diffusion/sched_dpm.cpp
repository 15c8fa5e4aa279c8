// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Alg. 2, midpoint form), as diffusers'
// DPMSolverMultistepScheduler with algorithm_type="dpmsolver++", solver_order 1 or 2,
// optionally on Karras sigmas. With alpha_t = 1/sqrt(sigma²+1), sigma_t = sigma·alpha_t and
// lambda = log(alpha_t) - log(sigma_t), h = lambda_next - lambda_i:
//   first order:  x' = (sigma_t'/sigma_t) x - alpha_t' (e^{-h} - 1) D0
//   second order: x' = ... - ½ alpha_t' (e^{-h} - 1) D1,  D1 = (D0 - D_prev) · h / h_prev
// where D are x0 predictions. The last step (and the one before, below 15 steps) is lower order.
#include <algorithm>
#include <cmath>

#include "diffusion/scheduler_impl.h"
#include "tensor/error.h"

namespace bgn::detail {

namespace {

struct AlphaSigma {
  float alpha, sigma;
};
AlphaSigma alpha_sigma(float sigma) {
  float a = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  return {a, sigma * a};
}

class DPMMultistepScheduler final : public Scheduler {
 public:
  explicit DPMMultistepScheduler(const SchedulerConfig& cfg) : Scheduler(SchedulerKind::DPMSolverMultistep, cfg) {}

  void set_timesteps(int n) override {
    check_num_steps(n, cfg_);
    const int T = cfg_.num_train_timesteps;
    // Timesteps whose lambda falls below lambda_min_clipped are cut from the top.
    int clipped = 0;
    for (int t = T - 1; t >= 0; --t) {
      float a = std::sqrt(alphas_cumprod_[t]), s = std::sqrt(1.0f - alphas_cumprod_[t]);
      if (static_cast<double>(std::log(a) - std::log(s)) < cfg_.lambda_min_clipped)
        ++clipped;
      else
        break;
    }
    const int last = T - clipped;

    std::vector<double> ts;
    switch (cfg_.timestep_spacing) {
      case TimestepSpacing::Linspace: {
        std::vector<double> g = np_linspace(0, last - 1, n + 1);
        for (int i = n; i >= 1; --i) ts.push_back(std::nearbyint(g[i]));
        break;
      }
      case TimestepSpacing::Leading: {
        int ratio = last / (n + 1);
        for (int i = n; i >= 1; --i) ts.push_back(static_cast<double>(i * ratio + cfg_.steps_offset));
        break;
      }
      case TimestepSpacing::Trailing: {
        double ratio = static_cast<double>(T) / n;
        int len = static_cast<int>(std::ceil((0.0 - last) / -ratio));
        for (int k = 0; k < len; ++k) ts.push_back(std::nearbyint(last + k * -ratio) - 1);
        break;
      }
    }

    std::vector<float> full = training_sigmas(alphas_cumprod_);
    std::vector<float> log_full(full.size());
    for (size_t k = 0; k < full.size(); ++k) log_full[k] = std::log(full[k]);
    sigmas_.clear();
    if (cfg_.use_karras_sigmas) {
      double lo = std::isnan(cfg_.sigma_min) ? full.front() : cfg_.sigma_min;
      double hi = std::isnan(cfg_.sigma_max) ? full.back() : cfg_.sigma_max;
      std::vector<double> sig = karras_sigmas(lo, hi, n);
      ts.clear();
      for (double s : sig) ts.push_back(std::nearbyint(sigma_to_t(s, log_full)));
      for (double s : sig) sigmas_.push_back(static_cast<float>(s));
      sigmas_.push_back(sigmas_.back());
    } else {
      for (double t : ts) sigmas_.push_back(static_cast<float>(interp_index(t, full)));
      sigmas_.push_back(std::sqrt((1.0f - alphas_cumprod_[0]) / alphas_cumprod_[0]));
    }
    // Duplicate timesteps (rounded Karras timesteps near t = 0 with many steps, or steps ≈ T)
    // stay, one step each, aligned with sigmas: the reference keeps them and counts steps.
    timesteps_.clear();
    for (double t : ts) {
      BGN_CHECK(t >= 0 && t < T, Code::BadInput, "steps_offset ", cfg_.steps_offset, " puts timestep ", t,
                " outside the training schedule");
      timesteps_.push_back(t);
    }
    num_inference_steps_ = static_cast<int>(timesteps_.size());
    init_noise_sigma_ = 1.0f;
    history_ = Tensor();
    has_history_ = false;
    lower_order_nums_ = 0;
  }

  Tensor step(const Tensor& mo, int i, const Tensor& x, const NoiseFn&, Tensor* pred_original) override {
    check_step(i, mo, x, "step");
    const int n = num_steps();
    const bool short_run = cfg_.lower_order_final && n < 15;
    const bool lower_final = i == n - 1 && (cfg_.euler_at_final || short_run);
    const bool lower_second = i == n - 2 && short_run;

    // The model output as an x0 prediction at sigma_i.
    AlphaSigma cur = alpha_sigma(sigmas_[i]);
    Tensor d0 = like(x);
    {
      const float* m = mo.data<float>();
      const float* s = x.data<float>();
      float* o = d0.data<float>();
      for (int64_t k = 0; k < x.numel(); ++k) {
        switch (cfg_.prediction_type) {
          case PredictionType::Epsilon:
            o[k] = (s[k] - cur.sigma * m[k]) / cur.alpha;
            break;
          case PredictionType::Sample:
            o[k] = m[k];
            break;
          case PredictionType::VPrediction:
            o[k] = cur.alpha * s[k] - cur.sigma * m[k];
            break;
        }
      }
    }
    // history_ holds the previous x0 prediction and the step it came from.
    const bool first_order = cfg_.solver_order == 1 || lower_order_nums_ < 1 || lower_final;
    Tensor out = like(x);
    AlphaSigma nxt = alpha_sigma(sigmas_[i + 1]);
    const float lambda_t = std::log(nxt.alpha) - std::log(nxt.sigma);
    const float lambda_s0 = std::log(cur.alpha) - std::log(cur.sigma);
    const float h = lambda_t - lambda_s0;
    const float ratio = nxt.sigma / cur.sigma;
    const float coef = nxt.alpha * (std::exp(-h) - 1.0f);
    const float* s = x.data<float>();
    const float* m0 = d0.data<float>();
    float* o = out.data<float>();
    if (first_order || !has_history_) {
      for (int64_t k = 0; k < x.numel(); ++k) o[k] = ratio * s[k] - coef * m0[k];
    } else {
      (void)lower_second;  // with solver_order <= 2 the second-order update is the highest
      AlphaSigma prv = alpha_sigma(sigmas_[i - 1]);
      const float lambda_s1 = std::log(prv.alpha) - std::log(prv.sigma);
      const float h0 = lambda_s0 - lambda_s1;
      const float r0 = h0 / h;
      const float inv_r0 = 1.0f / r0;
      const float* m1 = history_.data<float>();
      for (int64_t k = 0; k < x.numel(); ++k) {
        float d1 = inv_r0 * (m0[k] - m1[k]);
        o[k] = ratio * s[k] - coef * m0[k] - 0.5f * coef * d1;
      }
    }
    history_ = d0;
    has_history_ = true;
    if (lower_order_nums_ < cfg_.solver_order) ++lower_order_nums_;
    if (pred_original) *pred_original = d0;
    return out;
  }

  // alpha_t x + sigma_t noise at sigma_i
  Tensor add_noise(const Tensor& original, const Tensor& noise, int i) const override {
    check_step(i, original, noise, "add_noise");
    AlphaSigma as = alpha_sigma(sigmas_[i]);
    Tensor out = like(original);
    const float* x = original.data<float>();
    const float* z = noise.data<float>();
    float* o = out.data<float>();
    for (int64_t k = 0; k < original.numel(); ++k) o[k] = as.alpha * x[k] + as.sigma * z[k];
    return out;
  }

 private:
  Tensor history_;
  bool has_history_ = false;
  int lower_order_nums_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_dpm_multistep(const SchedulerConfig& cfg) {
  return std::make_unique<DPMMultistepScheduler>(cfg);
}

}  // namespace bgn::detail
