// Training noise schedules and the numpy/torch numerics the schedulers reproduce.
#include <algorithm>
#include <cmath>

#include "diffusion/schedulers.h"
#include "tensor/error.h"

namespace bgn {

// torch.linspace on CPU, float32, as the reference's torch build computes it: step = (end - start)
// / (n - 1) in float; the first half counts up from start, the second half down from end. The
// kernel fills 16 values per loop (two 8-wide vectors, each base + lane · step from a base at the
// vector's first index) and the tail one by one, every product-sum a fused multiply-add (one
// rounding). The training betas — hence alphas_cumprod and every sigma — depend on these bits.
std::vector<float> torch_linspace_f32(double start, double end, int n) {
  std::vector<float> out(std::max(n, 0));
  if (n <= 0) return out;
  float s = static_cast<float>(start), e = static_cast<float>(end);
  if (n == 1) {
    out[0] = s;
    return out;
  }
  const float step = (e - s) / static_cast<float>(n - 1);
  const int half = n / 2;
  auto at = [&](int i) {
    return i < half ? std::fmaf(step, static_cast<float>(i), s) : std::fmaf(-step, static_cast<float>(n - 1 - i), e);
  };
  constexpr int kLanes = 8;
  const int vectorised = n / (2 * kLanes) * (2 * kLanes);
  int i = 0;
  for (; i < vectorised; i += kLanes) {
    const float base = at(i);
    for (int j = 0; j < kLanes; ++j) out[i + j] = std::fmaf(static_cast<float>(j), step, base);
  }
  for (; i < n; ++i) out[i] = at(i);
  return out;
}

// numpy.linspace(start, stop, n): start + i * step, the last value exactly stop.
std::vector<double> np_linspace(double start, double end, int n) {
  std::vector<double> out(std::max(n, 0));
  if (n <= 0) return out;
  if (n == 1) {
    out[0] = start;
    return out;
  }
  double step = (end - start) / (n - 1);
  for (int i = 0; i < n; ++i) out[i] = i * step + start;
  out[n - 1] = end;
  return out;
}

std::vector<float> make_betas(const SchedulerConfig& cfg) {
  const int n = cfg.num_train_timesteps;
  std::vector<float> betas;
  if (!cfg.trained_betas.empty()) {
    for (double b : cfg.trained_betas) betas.push_back(static_cast<float>(b));
  } else if (cfg.beta_schedule == "linear") {
    betas = torch_linspace_f32(cfg.beta_start, cfg.beta_end, n);
  } else if (cfg.beta_schedule == "scaled_linear") {
    // linspace of square roots, squared: the schedule of the original LDM / SD checkpoints.
    betas = torch_linspace_f32(std::sqrt(cfg.beta_start), std::sqrt(cfg.beta_end), n);
    for (float& b : betas) b = b * b;
  } else if (cfg.beta_schedule == "squaredcos_cap_v2") {
    // Nichol & Dhariwal's cosine schedule: alpha_bar(t) = cos²((t + 0.008) / 1.008 · π/2).
    auto alpha_bar = [](double t) {
      double c = std::cos((t + 0.008) / 1.008 * M_PI / 2);
      return c * c;
    };
    for (int i = 0; i < n; ++i) {
      double t1 = static_cast<double>(i) / n, t2 = static_cast<double>(i + 1) / n;
      betas.push_back(static_cast<float>(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999)));
    }
  } else {
    fail(Code::ModelUnsupported, "beta_schedule '", cfg.beta_schedule, "' is not supported");
  }

  if (cfg.rescale_betas_zero_snr) {
    // Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Alg. 1:
    // shift and scale sqrt(alpha_bar) so the last step has zero SNR, keeping the first.
    std::vector<float> ac = cumprod_alphas(betas);
    std::vector<float> sq(ac.size());
    for (size_t i = 0; i < ac.size(); ++i) sq[i] = std::sqrt(ac[i]);
    float s0 = sq.front(), sT = sq.back();
    float scale = s0 / (s0 - sT);
    for (float& v : sq) {
      v -= sT;
      v *= scale;
    }
    std::vector<float> bar(sq.size());
    for (size_t i = 0; i < sq.size(); ++i) bar[i] = sq[i] * sq[i];
    betas[0] = 1.0f - bar[0];
    for (size_t i = 1; i < bar.size(); ++i) betas[i] = 1.0f - bar[i] / bar[i - 1];
  }
  return betas;
}

std::vector<float> cumprod_alphas(const std::vector<float>& betas) {
  std::vector<float> out(betas.size());
  double acc = 1.0;
  for (size_t i = 0; i < betas.size(); ++i) {
    acc *= static_cast<double>(1.0f - betas[i]);
    out[i] = static_cast<float>(acc);
  }
  return out;
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n) {
  const double rho = 7.0;
  std::vector<double> ramp = np_linspace(0, 1, n);
  double min_inv = std::pow(sigma_min, 1 / rho), max_inv = std::pow(sigma_max, 1 / rho);
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) out[i] = std::pow(max_inv + ramp[i] * (min_inv - max_inv), rho);
  return out;
}

// log_sigmas ascend with t. Find the last index whose log-sigma is <= log(sigma) (clamped to
// [0, n-2]) and interpolate linearly in log-sigma. log(sigma) is float64, but numpy's mixed
// scalar/array arithmetic (value-based casting) does the distances and the weight in float32.
double sigma_to_t(double sigma, const std::vector<float>& log_sigmas) {
  const int n = static_cast<int>(log_sigmas.size());
  double log_sigma = std::log(std::max(sigma, 1e-10));
  const float log_sigma32 = static_cast<float>(log_sigma);
  int low = 0;
  for (int i = 0; i < n; ++i)
    if (log_sigma32 - log_sigmas[i] >= 0.0f) low = i;
  low = std::min(low, n - 2);
  int high = low + 1;
  float lo = log_sigmas[low], hi = log_sigmas[high];
  float w = (lo - static_cast<float>(log_sigma)) / (lo - hi);
  w = std::min(std::max(w, 0.0f), 1.0f);
  return static_cast<double>(1.0f - w) * low + static_cast<double>(w) * high;
}

}  // namespace bgn
