// Latent consistency sampling (Luo et al. 2023, "Latent Consistency Models", Alg. 3 multistep),
// as diffusers' LCMScheduler:
//   timesteps  k = T // original_inference_steps; origin = [1 .. original_inference_steps] · k − 1,
//              descending; step i uses origin[floor(i · len(origin) / n)]
//   x0         = (x − sqrt(1 − ab_t) eps) / sqrt(ab_t)                        (epsilon prediction)
//   denoised   = c_out · x0 + c_skip · x,  with s = timestep_scaling · t:
//                c_skip = σd² / (s² + σd²),  c_out = s / sqrt(s² + σd²),  σd = 0.5
//   x'         = sqrt(ab_next) · denoised + sqrt(1 − ab_next) · z   (fresh noise z; the last
//                step returns denoised itself)
// where ab_next is alpha_bar at the next timestep of the schedule.
#include <algorithm>
#include <cmath>

#include "diffusion/scheduler_impl.h"
#include "tensor/error.h"

namespace bgn::detail {

namespace {

class LCMScheduler final : public Scheduler {
 public:
  explicit LCMScheduler(const SchedulerConfig& cfg) : Scheduler(SchedulerKind::LCM, cfg) {
    const int orig = cfg_.original_inference_steps;
    BGN_CHECK(orig >= 1 && orig <= cfg_.num_train_timesteps, Code::BadInput,
              "scheduler config original_inference_steps ", orig, " must be from 1 to num_train_timesteps (",
              cfg_.num_train_timesteps, ")");
  }

  void set_timesteps(int n) override {
    const int orig = cfg_.original_inference_steps;
    BGN_CHECK(n >= 1 && n <= orig, Code::BadInput, "steps must be from 1 to ", orig,
              " for the LCM sampler (its schedule has original_inference_steps = ", orig, "); got ", n);
    const int64_t k = cfg_.num_train_timesteps / orig;
    std::vector<int64_t> origin(static_cast<size_t>(orig));
    for (int j = 0; j < orig; ++j) origin[static_cast<size_t>(j)] = static_cast<int64_t>(orig - j) * k - 1;
    // numpy.floor(numpy.linspace(0, orig, n, endpoint=False)): i · (orig / n) in float64.
    const double step = static_cast<double>(orig) / n;
    int_timesteps_.clear();
    for (int i = 0; i < n; ++i) {
      const auto idx = static_cast<size_t>(std::floor(i * step));
      int_timesteps_.push_back(origin[std::min(idx, origin.size() - 1)]);
    }
    timesteps_.assign(int_timesteps_.begin(), int_timesteps_.end());
    sigmas_.clear();
    num_inference_steps_ = n;
    init_noise_sigma_ = 1.0f;
    denoised_ = Tensor();
  }

  Tensor step(const Tensor& mo, int i, const Tensor& x, const NoiseFn& noise, Tensor* pred_original) override {
    check_step(i, mo, x, "step");
    const int64_t t = int_timesteps_[static_cast<size_t>(i)];
    const bool last = i == num_steps() - 1;
    const int64_t next = last ? t : int_timesteps_[static_cast<size_t>(i) + 1];
    const float ab_t = alphas_cumprod_[static_cast<size_t>(t)];
    const float ab_next = alphas_cumprod_[static_cast<size_t>(next)];
    const float sa = std::sqrt(ab_t), sb = std::sqrt(1.0f - ab_t);
    // The boundary-condition scalings, in float32 as the reference computes them from the
    // integer timestep tensor.
    const float scaled = static_cast<float>(t) * static_cast<float>(cfg_.timestep_scaling);
    const float sd2 = 0.25f;
    const float c_skip = sd2 / (scaled * scaled + sd2);
    const float c_out = scaled / std::sqrt(scaled * scaled + sd2);

    const int64_t n = x.numel();
    Tensor x0 = like(x), den = like(x);
    const float* m = mo.data<float>();
    const float* s = x.data<float>();
    float* p = x0.data<float>();
    float* d = den.data<float>();
    const float r = static_cast<float>(cfg_.clip_sample_range);
    for (int64_t k = 0; k < n; ++k) {
      float pred;
      switch (cfg_.prediction_type) {
        case PredictionType::Epsilon:
          pred = (s[k] - sb * m[k]) / sa;
          break;
        case PredictionType::Sample:
          pred = m[k];
          break;
        default:
          pred = sa * s[k] - sb * m[k];
          break;  // v_prediction
      }
      if (cfg_.clip_sample) pred = std::min(std::max(pred, -r), r);
      p[k] = pred;
      const float a = c_out * pred, b = c_skip * s[k];
      d[k] = a + b;
    }
    Tensor out;
    if (last) {
      out = den.clone();
    } else {
      BGN_CHECK(noise != nullptr, Code::BadInput, "the LCM sampler needs a noise source");
      std::vector<float> z(static_cast<size_t>(n));
      noise(z.data(), n);
      const float sa_next = std::sqrt(ab_next), sb_next = std::sqrt(1.0f - ab_next);
      out = like(x);
      float* o = out.data<float>();
      for (int64_t k = 0; k < n; ++k) {
        const float a = sa_next * d[k], b = sb_next * z[static_cast<size_t>(k)];
        o[k] = a + b;
      }
    }
    denoised_ = den;
    if (pred_original) *pred_original = x0;
    return out;
  }

  // sqrt(ab_t) x + sqrt(1 − ab_t) noise
  Tensor add_noise(const Tensor& original, const Tensor& noise, int i) const override {
    check_step(i, original, noise, "add_noise");
    const float ab = alphas_cumprod_[static_cast<size_t>(int_timesteps_[static_cast<size_t>(i)])];
    const float a = std::sqrt(ab), b = std::sqrt(1.0f - ab);
    Tensor out = like(original);
    const float* x = original.data<float>();
    const float* z = noise.data<float>();
    float* o = out.data<float>();
    for (int64_t k = 0; k < original.numel(); ++k) o[k] = a * x[k] + b * z[k];
    return out;
  }

 private:
  std::vector<int64_t> int_timesteps_;
};

}  // namespace

std::unique_ptr<Scheduler> make_lcm(const SchedulerConfig& cfg) { return std::make_unique<LCMScheduler>(cfg); }

}  // namespace bgn::detail
