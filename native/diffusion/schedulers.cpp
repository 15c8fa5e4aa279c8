// Scheduler base: construction, shared checks and schedule helpers.
#include "diffusion/schedulers.h"

#include <algorithm>
#include <cmath>

#include "diffusion/scheduler_impl.h"
#include "tensor/error.h"

namespace bgn {

Scheduler::Scheduler(SchedulerKind kind, const SchedulerConfig& cfg) : kind_(kind), cfg_(cfg) {
  betas_ = make_betas(cfg_);
  if (static_cast<int>(betas_.size()) != cfg_.num_train_timesteps)
    fail(Code::BadInput, "trained_betas has ", betas_.size(), " values but num_train_timesteps is ",
         cfg_.num_train_timesteps);
  alphas_cumprod_ = cumprod_alphas(betas_);
}

double Scheduler::timestep(int i) const {
  BGN_CHECK(i >= 0 && i < num_steps(), Code::BadInput, "step index ", i, " is outside [0, ", num_steps(), ")");
  return timesteps_[i];
}

int Scheduler::first_step(double strength) const {
  BGN_CHECK(strength >= 0.0 && strength <= 1.0, Code::BadInput, "strength must be in [0, 1], got ", strength);
  int n = num_inference_steps_;
  int init = std::min(static_cast<int>(n * strength), n);
  return std::max(n - init, 0);
}

Tensor Scheduler::scale_model_input(const Tensor& x, int i) const {
  timestep(i);
  return x.clone();
}

void Scheduler::check_step(int i, const Tensor& a, const Tensor& b, const char* what) const {
  BGN_CHECK(num_steps() > 0, Code::BadInput, "set_timesteps() must be called before ", what);
  timestep(i);
  BGN_CHECK(a.dtype() == DType::F32 && b.dtype() == DType::F32, Code::BadInput, what, " needs float32 tensors");
  BGN_CHECK(a.shape() == b.shape(), Code::BadInput, what, ": shapes ", shape_str(a.shape()), " and ",
            shape_str(b.shape()), " differ");
}

std::unique_ptr<Scheduler> make_scheduler(SchedulerKind kind, const SchedulerConfig& cfg) {
  switch (kind) {
    case SchedulerKind::Euler:
      return detail::make_euler(cfg, false);
    case SchedulerKind::EulerAncestral:
      return detail::make_euler(cfg, true);
    case SchedulerKind::DDIM:
      return detail::make_ddim(cfg);
    case SchedulerKind::DPMSolverMultistep:
      return detail::make_dpm_multistep(cfg);
    case SchedulerKind::LMS:
      return detail::make_lms(cfg);
    case SchedulerKind::LCM:
      return detail::make_lcm(cfg);
  }
  fail(Code::Internal, "unknown scheduler kind");
}

namespace detail {

void check_num_steps(int n, const SchedulerConfig& cfg) {
  BGN_CHECK(n >= 1 && n <= cfg.num_train_timesteps, Code::BadInput, "steps must be in [1, ", cfg.num_train_timesteps,
            "], got ", n);
}

std::vector<double> sigma_timestep_grid(const SchedulerConfig& cfg, int n) {
  check_num_steps(n, cfg);
  const int T = cfg.num_train_timesteps;
  std::vector<double> ts;
  switch (cfg.timestep_spacing) {
    case TimestepSpacing::Linspace: {
      // numpy.linspace(0, T - 1, n, dtype=float32): the float64 grid rounded to float32.
      for (double t : np_linspace(0, T - 1, n)) ts.push_back(static_cast<double>(static_cast<float>(t)));
      std::reverse(ts.begin(), ts.end());
      break;
    }
    case TimestepSpacing::Leading: {
      // Multiples of T // n, counted down, shifted by steps_offset (float32 values).
      int ratio = T / n;
      for (int i = n - 1; i >= 0; --i)
        ts.push_back(static_cast<double>(static_cast<float>(i * ratio) + static_cast<float>(cfg.steps_offset)));
      break;
    }
    case TimestepSpacing::Trailing: {
      // np.arange(T, 0, -T/n).round() - 1.
      double ratio = static_cast<double>(T) / n;
      int len = static_cast<int>(std::ceil((0.0 - T) / -ratio));  // numpy's arange length
      for (int k = 0; k < len; ++k)
        ts.push_back(static_cast<double>(static_cast<float>(std::nearbyint(T + k * -ratio)) - 1.0f));
      break;
    }
  }
  return ts;
}

std::vector<int64_t> ddim_timesteps(const SchedulerConfig& cfg, int n) {
  check_num_steps(n, cfg);
  const int T = cfg.num_train_timesteps;
  std::vector<int64_t> ts;
  switch (cfg.timestep_spacing) {
    case TimestepSpacing::Linspace: {
      std::vector<double> g = np_linspace(0, T - 1, n);
      for (int i = n - 1; i >= 0; --i) ts.push_back(static_cast<int64_t>(std::nearbyint(g[i])));
      break;
    }
    case TimestepSpacing::Leading: {
      int ratio = T / n;
      for (int i = n - 1; i >= 0; --i) ts.push_back(static_cast<int64_t>(i) * ratio + cfg.steps_offset);
      break;
    }
    case TimestepSpacing::Trailing: {
      double ratio = static_cast<double>(T) / n;
      int len = static_cast<int>(std::ceil((0.0 - T) / -ratio));
      for (int k = 0; k < len; ++k) ts.push_back(static_cast<int64_t>(std::nearbyint(T + k * -ratio)) - 1);
      break;
    }
  }
  return ts;
}

std::vector<float> training_sigmas(const std::vector<float>& ac) {
  std::vector<float> s(ac.size());
  for (size_t i = 0; i < ac.size(); ++i) s[i] = std::sqrt((1.0f - ac[i]) / ac[i]);
  return s;
}

double interp_index(double x, const std::vector<float>& fp) {
  const int n = static_cast<int>(fp.size());
  if (x <= 0) return fp[0];
  if (x >= n - 1) return fp[n - 1];
  int j = static_cast<int>(std::floor(x));
  if (x == j) return fp[j];
  double slope = (static_cast<double>(fp[j + 1]) - fp[j]) / 1.0;
  return slope * (x - j) + fp[j];
}

Tensor like(const Tensor& t) { return Tensor::empty(DType::F32, t.shape()); }

Tensor pred_original_from_sigma(const Tensor& mo, const Tensor& x, float sigma, PredictionType p) {
  Tensor out = like(x);
  const float* m = mo.data<float>();
  const float* s = x.data<float>();
  float* o = out.data<float>();
  const int64_t n = x.numel();
  switch (p) {
    case PredictionType::Epsilon:
      for (int64_t k = 0; k < n; ++k) o[k] = s[k] - sigma * m[k];
      break;
    case PredictionType::VPrediction: {
      float c2 = sigma * sigma + 1.0f;
      float c_out = -sigma / std::sqrt(c2);
      for (int64_t k = 0; k < n; ++k) o[k] = m[k] * c_out + s[k] / c2;
      break;
    }
    case PredictionType::Sample:
      for (int64_t k = 0; k < n; ++k) o[k] = m[k];
      break;
  }
  return out;
}

Tensor add_sigma_noise(const Tensor& original, const Tensor& noise, float sigma) {
  Tensor out = like(original);
  const float* a = original.data<float>();
  const float* z = noise.data<float>();
  float* o = out.data<float>();
  for (int64_t k = 0; k < original.numel(); ++k) o[k] = a[k] + z[k] * sigma;
  return out;
}

SigmaSchedule discrete_sigma_schedule(const SchedulerConfig& cfg, const std::vector<float>& alphas_cumprod, int n,
                                      bool log_linear) {
  std::vector<double> grid = sigma_timestep_grid(cfg, n);
  std::vector<float> full = training_sigmas(alphas_cumprod);
  std::vector<float> log_full(full.size());
  for (size_t k = 0; k < full.size(); ++k) log_full[k] = std::log(full[k]);

  // The precision of each value follows the reference: np.interp gives float64 sigmas; the
  // log-linear ramp is a float32 torch tensor (exp in float32); the Karras ramp and its ends
  // are float64; timesteps are interpolated back from float64 sigmas (see sigma_to_t).
  std::vector<double> sig;
  if (log_linear) {
    for (float l : torch_linspace_f32(log_full.back(), log_full.front(), n + 1)) sig.push_back(std::exp(l));
  } else {
    for (double t : grid) sig.push_back(interp_index(t, full));
  }
  if (cfg.use_karras_sigmas) {
    double lo = std::isnan(cfg.sigma_min) ? sig.back() : cfg.sigma_min;
    double hi = std::isnan(cfg.sigma_max) ? sig.front() : cfg.sigma_max;
    sig = karras_sigmas(lo, hi, n);
    grid.clear();
    for (double s : sig) grid.push_back(sigma_to_t(s, log_full));
  }
  SigmaSchedule out;
  for (double t : grid) out.timesteps.push_back(static_cast<float>(t));
  out.timesteps_f64 = grid;
  for (double s : sig) out.sigmas.push_back(static_cast<float>(s));
  out.sigmas.push_back(0.0f);
  float max_sigma = *std::max_element(out.sigmas.begin(), out.sigmas.end());
  out.init_noise_sigma =
      cfg.timestep_spacing == TimestepSpacing::Leading ? std::sqrt(max_sigma * max_sigma + 1.0f) : max_sigma;
  return out;
}

}  // namespace detail
}  // namespace bgn
