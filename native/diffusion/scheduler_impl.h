// Internal to native/diffusion: the concrete schedulers and shared pieces.
#pragma once
#include <memory>
#include <vector>

#include "diffusion/schedulers.h"

namespace bgn::detail {

std::unique_ptr<Scheduler> make_euler(const SchedulerConfig& cfg, bool ancestral);
std::unique_ptr<Scheduler> make_ddim(const SchedulerConfig& cfg);
std::unique_ptr<Scheduler> make_dpm_multistep(const SchedulerConfig& cfg);
std::unique_ptr<Scheduler> make_lms(const SchedulerConfig& cfg);
std::unique_ptr<Scheduler> make_lcm(const SchedulerConfig& cfg);

// Inference timesteps for the "discrete sigma" schedulers (Euler, Euler a, LMS), as double
// values of the float64 grid diffusers interpolates at (before rounding to float32).
std::vector<double> sigma_timestep_grid(const SchedulerConfig& cfg, int n);
// Integer timesteps for DDIM.
std::vector<int64_t> ddim_timesteps(const SchedulerConfig& cfg, int n);
// sqrt((1 - alpha_bar) / alpha_bar) in float32, per training timestep.
std::vector<float> training_sigmas(const std::vector<float>& alphas_cumprod);
// numpy.interp(x, arange(len(fp)), fp).
double interp_index(double x, const std::vector<float>& fp);

// The schedule of the discrete sigma schedulers (Euler, Euler a, LMS) for n steps: training
// sigmas interpolated at the timestep grid (log-linearly when `log_linear`, else linearly),
// Karras-spaced when the config asks; `sigmas` ends with a final 0.
struct SigmaSchedule {
  std::vector<double> timesteps;      // rounded to float32, as diffusers keeps them
  std::vector<double> timesteps_f64;  // the same before rounding (LMS keeps Karras timesteps in float64)
  std::vector<float> sigmas;
  float init_noise_sigma = 1.0f;
};
SigmaSchedule discrete_sigma_schedule(const SchedulerConfig& cfg, const std::vector<float>& alphas_cumprod, int n,
                                      bool log_linear);
// Fails unless 1 <= n <= num_train_timesteps.
void check_num_steps(int n, const SchedulerConfig& cfg);

// Elementwise helpers over float32 tensors of equal shape.
Tensor like(const Tensor& t);
// original + noise · sigma: add_noise of the sigma schedulers (Euler, Euler a, LMS).
Tensor add_sigma_noise(const Tensor& original, const Tensor& noise, float sigma);
// x0 from the model output at noise level sigma (sigma schedulers; v-prediction uses
// c_out = -sigma / sqrt(sigma²+1), c_skip = 1 / (sigma²+1)).
Tensor pred_original_from_sigma(const Tensor& model_output, const Tensor& sample, float sigma, PredictionType p);

}  // namespace bgn::detail
