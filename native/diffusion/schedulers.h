// Noise schedulers, numerically matching diffusers 0.25 (EulerDiscrete, EulerAncestralDiscrete,
// DDIM with eta = 0, DPMSolverMultistep "DPM++ 2M" with or without Karras sigmas, LMSDiscrete,
// LCM — the latent consistency sampler for LCM / LCM-LoRA models).
//
// Precision follows the reference: values diffusers keeps in float32 torch tensors (betas,
// alphas_cumprod, sigmas, the per-step arithmetic) are float32 here; values it computes with
// numpy float64 (timestep grids, interpolation, Karras ramps) are double here.
//
// A sampler loop reads:
//
//   auto s = make_scheduler(SchedulerKind::Euler, config);
//   s->set_timesteps(steps);
//   x = noise * s->init_noise_sigma();                     // or add_noise(...) for img2img
//   for (int i = s->first_step(strength); i < s->num_steps(); ++i) {
//     x_in = s->scale_model_input(x, i);                   // what the UNet sees, at timestep(i)
//     eps  = unet(x_in, s->timestep(i), ...);
//     x    = s->step(eps, i, x, noise_fn);
//   }
//
// Steps are addressed by index i into timesteps() (the reference keeps an internal step index
// that starts at the first timestep it is called with; the index API makes img2img explicit).
// Multistep schedulers (DPM++ 2M, LMS) keep history between step() calls; set_timesteps()
// resets it.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "formats/json.h"
#include "tensor/tensor.h"

namespace bgn {

enum class SchedulerKind { Euler, EulerAncestral, DDIM, DPMSolverMultistep, LMS, LCM };

// Accepts sampler names ("euler", "euler_a", "euler_ancestral", "ddim", "dpmpp_2m",
// "dpmpp_2m_karras", "lms", "lcm") and diffusers class names ("EulerDiscreteScheduler",
// "diffusers.DDIMScheduler", ...). "dpmpp_2m_karras" also sets *karras. E_BAD_INPUT otherwise.
SchedulerKind scheduler_kind_from_name(const std::string& name, bool* karras = nullptr);
const char* scheduler_class_name(SchedulerKind k);

enum class PredictionType { Epsilon, VPrediction, Sample };
enum class TimestepSpacing { Leading, Trailing, Linspace };
// "leading" | "trailing" | "linspace"; E_BAD_INPUT naming timestepSpacing otherwise.
TimestepSpacing timestep_spacing_from_name(const std::string& name);

// The subset of a diffusers scheduler_config.json these schedulers read. Defaults are each
// class's own defaults in diffusers (they differ: DDIM spaces "leading" and clips samples,
// the others space "linspace").
struct SchedulerConfig {
  int num_train_timesteps = 1000;
  double beta_start = 0.0001;
  double beta_end = 0.02;
  std::string beta_schedule = "linear";  // linear | scaled_linear | squaredcos_cap_v2
  std::vector<double> trained_betas;     // empty: use beta_schedule
  PredictionType prediction_type = PredictionType::Epsilon;
  TimestepSpacing timestep_spacing = TimestepSpacing::Linspace;
  int steps_offset = 0;
  bool rescale_betas_zero_snr = false;
  // Euler / LMS / DPM
  bool use_karras_sigmas = false;
  std::string interpolation_type = "linear";                    // Euler: linear | log_linear
  double sigma_min = std::numeric_limits<double>::quiet_NaN();  // NaN: from the schedule
  double sigma_max = std::numeric_limits<double>::quiet_NaN();
  // DDIM
  bool set_alpha_to_one = true;
  bool clip_sample = true;
  double clip_sample_range = 1.0;
  // DPM-Solver
  int solver_order = 2;
  bool lower_order_final = true;
  bool euler_at_final = false;
  double lambda_min_clipped = -std::numeric_limits<double>::infinity();
  // LCM: the distillation schedule's length (inference timesteps are taken from its
  // num_train_timesteps / original_inference_steps grid) and the boundary-condition time scale.
  int original_inference_steps = 50;
  double timestep_scaling = 10.0;

  // Class defaults, then every known key of `config` (null means "default"). Keys that would
  // change the maths in ways not implemented here (thresholding, other DPM algorithms, ...)
  // fail with E_MODEL_UNSUPPORTED naming the key; wrong types fail with E_BAD_INPUT.
  static SchedulerConfig from_json(SchedulerKind kind, const json::Value& config, const std::string& source);
  static SchedulerConfig defaults(SchedulerKind kind);
};

// Supplies fresh N(0,1) noise of n floats (ancestral sampling). Tests pass recorded noise.
using NoiseFn = std::function<void(float* out, int64_t n)>;

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  SchedulerKind kind() const { return kind_; }
  const SchedulerConfig& config() const { return cfg_; }

  // Computes timesteps (and sigmas) for n inference steps; resets multistep history.
  virtual void set_timesteps(int n) = 0;
  int num_steps() const { return static_cast<int>(timesteps_.size()); }
  // The timesteps the UNet is called with, in calling order (float32 values, as diffusers).
  const std::vector<double>& timesteps() const { return timesteps_; }
  double timestep(int i) const;
  // sigmas[0..num_steps] for sigma schedulers (empty for DDIM).
  const std::vector<float>& sigmas() const { return sigmas_; }
  float init_noise_sigma() const { return init_noise_sigma_; }

  // x / sqrt(sigma_i^2 + 1) for sigma schedulers; a copy of x for DDIM / DPM.
  virtual Tensor scale_model_input(const Tensor& x, int i) const;
  // One denoising step from timestep(i). `pred_original` (optional) receives x0.
  virtual Tensor step(const Tensor& model_output, int i, const Tensor& sample, const NoiseFn& noise,
                      Tensor* pred_original = nullptr) = 0;
  // The clean-sample estimate the last step() moved to where the sampler has its own (LCM's
  // boundary-conditioned `denoised` = c_out · x0 + c_skip · x); empty for the others.
  const Tensor& last_denoised() const { return denoised_; }
  // Noises clean latents to the level of timestep(i) (img2img / inpaint).
  virtual Tensor add_noise(const Tensor& original, const Tensor& noise, int i) const = 0;

  // img2img: diffusers' get_timesteps(steps, strength) starts at
  //   t_start = steps - min(int(steps * strength), steps).
  int first_step(double strength) const;

  // float32 alphas_cumprod of the training schedule (length num_train_timesteps).
  const std::vector<float>& alphas_cumprod() const { return alphas_cumprod_; }

 protected:
  Scheduler(SchedulerKind kind, const SchedulerConfig& cfg);
  void check_step(int i, const Tensor& a, const Tensor& b, const char* what) const;

  SchedulerKind kind_;
  SchedulerConfig cfg_;
  std::vector<float> betas_, alphas_cumprod_;
  std::vector<double> timesteps_;
  std::vector<float> sigmas_;
  float init_noise_sigma_ = 1.0f;
  int num_inference_steps_ = 0;
  Tensor denoised_;
};

std::unique_ptr<Scheduler> make_scheduler(SchedulerKind kind, const SchedulerConfig& cfg);

// ---- schedule helpers (exposed for tests) --------------------------------------------------------
// float32 betas of the training schedule, as torch computes them.
std::vector<float> make_betas(const SchedulerConfig& cfg);
// cumprod(1 - betas) with a double accumulator rounded to float32 per element (torch CPU).
std::vector<float> cumprod_alphas(const std::vector<float>& betas);
// torch.linspace(start, end, n, dtype=float32).
std::vector<float> torch_linspace_f32(double start, double end, int n);
// numpy.linspace(start, end, n) in float64.
std::vector<double> np_linspace(double start, double end, int n);
// The Karras et al. (2022) rho=7 ramp from sigma_max down to sigma_min over n points.
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n);
// Fractional training timestep whose log-sigma interpolates to log(sigma) (diffusers _sigma_to_t).
double sigma_to_t(double sigma, const std::vector<float>& log_sigmas);

}  // namespace bgn
