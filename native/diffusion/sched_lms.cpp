// Linear multistep (k-diffusion's sample_lms, order 4), as diffusers' LMSDiscreteScheduler:
//   d_i = (x - x0_i) / sigma_i,   x' = x + Σ_k c_k d_{i-k}
//   c_k = ∫_{sigma_i}^{sigma_{i+1}} Π_{j≠k} (τ - sigma_{i-j}) / (sigma_{i-k} - sigma_{i-j}) dτ
// The integrand is a polynomial of degree < 4, so 4-point Gauss–Legendre quadrature is exact
// (the reference uses adaptive quadrature to the same value).
#include <algorithm>
#include <cmath>
#include <deque>

#include "diffusion/scheduler_impl.h"
#include "tensor/error.h"

namespace bgn::detail {

namespace {

constexpr int kOrder = 4;

class LMSScheduler final : public Scheduler {
 public:
  explicit LMSScheduler(const SchedulerConfig& cfg) : Scheduler(SchedulerKind::LMS, cfg) {}

  void set_timesteps(int n) override {
    SigmaSchedule sched = discrete_sigma_schedule(cfg_, alphas_cumprod_, n, false);
    // LMSDiscreteScheduler leaves Karras timesteps in float64 (it casts only the others).
    timesteps_ = std::move(cfg_.use_karras_sigmas ? sched.timesteps_f64 : sched.timesteps);
    sigmas_ = std::move(sched.sigmas);
    init_noise_sigma_ = sched.init_noise_sigma;
    num_inference_steps_ = n;
    derivatives_.clear();
  }

  Tensor scale_model_input(const Tensor& x, int i) const override {
    timestep(i);
    BGN_CHECK(x.dtype() == DType::F32, Code::BadInput, "scale_model_input needs a float32 tensor");
    float sigma = sigmas_[i];
    float d = std::sqrt(sigma * sigma + 1.0f);
    Tensor out = like(x);
    for (int64_t k = 0; k < x.numel(); ++k) out.data<float>()[k] = x.data<float>()[k] / d;
    return out;
  }

  Tensor step(const Tensor& mo, int i, const Tensor& x, const NoiseFn&, Tensor* pred_original) override {
    check_step(i, mo, x, "step");
    const float sigma = sigmas_[i];
    Tensor x0 = pred_original_from_sigma(mo, x, sigma, cfg_.prediction_type);
    Tensor d = like(x);
    for (int64_t k = 0; k < x.numel(); ++k) d.data<float>()[k] = (x.data<float>()[k] - x0.data<float>()[k]) / sigma;
    derivatives_.push_back(d);
    if (static_cast<int>(derivatives_.size()) > kOrder) derivatives_.pop_front();

    const int order = std::min({i + 1, kOrder, static_cast<int>(derivatives_.size())});
    Tensor out = like(x);
    float* o = out.data<float>();
    const float* s = x.data<float>();
    std::vector<float> acc(static_cast<size_t>(x.numel()), 0.0f);
    for (int c = 0; c < order; ++c) {
      const float coeff = static_cast<float>(coefficient(order, i, c));
      const float* dv = derivatives_[derivatives_.size() - 1 - c].data<float>();
      for (int64_t k = 0; k < x.numel(); ++k) acc[k] = acc[k] + coeff * dv[k];
    }
    for (int64_t k = 0; k < x.numel(); ++k) o[k] = s[k] + acc[k];
    if (pred_original) *pred_original = x0;
    return out;
  }

  // original + noise · sigma_i
  Tensor add_noise(const Tensor& original, const Tensor& noise, int i) const override {
    check_step(i, original, noise, "add_noise");
    return add_sigma_noise(original, noise, sigmas_[i]);
  }

 private:
  // ∫ over [sigma_i, sigma_{i+1}] of the Lagrange basis polynomial for node i - c.
  double coefficient(int order, int i, int c) const {
    auto basis = [&](double tau) {
      double prod = 1.0;
      for (int k = 0; k < order; ++k) {
        if (k == c) continue;
        prod *= (tau - sigmas_[i - k]) / (static_cast<double>(sigmas_[i - c]) - sigmas_[i - k]);
      }
      return prod;
    };
    static const double kNodes[4] = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526};
    static const double kWeights[4] = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538};
    const double a = sigmas_[i], b = sigmas_[i + 1];
    const double half = 0.5 * (b - a), mid = 0.5 * (a + b);
    double sum = 0.0;
    for (int q = 0; q < 4; ++q) sum += kWeights[q] * basis(mid + half * kNodes[q]);
    return sum * half;
  }

  std::deque<Tensor> derivatives_;
};

}  // namespace

std::unique_ptr<Scheduler> make_lms(const SchedulerConfig& cfg) { return std::make_unique<LMSScheduler>(cfg); }

}  // namespace bgn::detail
