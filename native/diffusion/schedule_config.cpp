// SchedulerConfig: class defaults (diffusers 0.25) and reading scheduler_config.json.
#include <cmath>

#include "diffusion/schedulers.h"
#include "tensor/error.h"

namespace bgn {

namespace {
std::string lower_no_prefix(std::string s) {
  auto dot = s.rfind('.');
  if (dot != std::string::npos) s = s.substr(dot + 1);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

SchedulerKind scheduler_kind_from_name(const std::string& name, bool* karras) {
  std::string n = lower_no_prefix(name);
  if (karras) *karras = false;
  if (n == "euler" || n == "eulerdiscretescheduler") return SchedulerKind::Euler;
  if (n == "euler_a" || n == "euler_ancestral" || n == "eulerancestraldiscretescheduler")
    return SchedulerKind::EulerAncestral;
  if (n == "ddim" || n == "ddimscheduler") return SchedulerKind::DDIM;
  if (n == "dpmpp_2m" || n == "dpm++2m" || n == "dpmsolvermultistepscheduler") return SchedulerKind::DPMSolverMultistep;
  if (n == "dpmpp_2m_karras" || n == "dpm++2m_karras") {
    if (karras) *karras = true;
    return SchedulerKind::DPMSolverMultistep;
  }
  if (n == "lms" || n == "lmsdiscretescheduler") return SchedulerKind::LMS;
  if (n == "lcm" || n == "lcmscheduler") return SchedulerKind::LCM;
  fail(Code::BadInput, "unknown sampler '", name,
       "'; use one of euler, euler_a, ddim, dpmpp_2m, dpmpp_2m_karras, lms, lcm");
}

TimestepSpacing timestep_spacing_from_name(const std::string& name) {
  if (name == "leading") return TimestepSpacing::Leading;
  if (name == "trailing") return TimestepSpacing::Trailing;
  if (name == "linspace") return TimestepSpacing::Linspace;
  fail(Code::BadInput, "timestepSpacing must be 'leading', 'linspace' or 'trailing'; got '", name, "'");
}

const char* scheduler_class_name(SchedulerKind k) {
  switch (k) {
    case SchedulerKind::Euler:
      return "EulerDiscreteScheduler";
    case SchedulerKind::EulerAncestral:
      return "EulerAncestralDiscreteScheduler";
    case SchedulerKind::DDIM:
      return "DDIMScheduler";
    case SchedulerKind::DPMSolverMultistep:
      return "DPMSolverMultistepScheduler";
    case SchedulerKind::LMS:
      return "LMSDiscreteScheduler";
    case SchedulerKind::LCM:
      return "LCMScheduler";
  }
  return "?";
}

SchedulerConfig SchedulerConfig::defaults(SchedulerKind kind) {
  SchedulerConfig c;
  if (kind == SchedulerKind::DDIM) {
    c.timestep_spacing = TimestepSpacing::Leading;
    c.set_alpha_to_one = true;
    c.clip_sample = true;
  } else if (kind == SchedulerKind::LCM) {
    // LCMScheduler's own defaults: the SD schedule; timestep_spacing and steps_offset are read
    // but do not move its timesteps.
    c.beta_start = 0.00085;
    c.beta_end = 0.012;
    c.beta_schedule = "scaled_linear";
    c.timestep_spacing = TimestepSpacing::Leading;
    c.set_alpha_to_one = true;
    c.clip_sample = false;
  } else {
    c.timestep_spacing = TimestepSpacing::Linspace;
    c.clip_sample = false;
  }
  return c;
}

namespace {

class Reader {
 public:
  Reader(const json::Value& obj, const std::string& source) : obj_(obj), src_(source) {}

  // Returns the member when present and not null.
  const json::Value* get(const char* key) const {
    const json::Value* v = obj_.find(key);
    return (v && !v->is_null()) ? v : nullptr;
  }
  [[noreturn]] void wrong(const char* key, const char* expected) const {
    fail(Code::BadInput, src_, ": scheduler config '", key, "' must be ", expected);
  }
  void number(const char* key, double* out) const {
    if (auto v = get(key)) {
      if (!v->is_number()) wrong(key, "a number");
      *out = v->as_double();
    }
  }
  void integer(const char* key, int* out, int lo, int hi) const {
    if (auto v = get(key)) {
      if (!v->is_number() || v->as_double() != std::floor(v->as_double()) || v->as_double() < lo || v->as_double() > hi)
        fail(Code::BadInput, src_, ": scheduler config '", key, "' must be an integer in [", lo, ", ", hi, "]");
      *out = static_cast<int>(v->as_double());
    }
  }
  void boolean(const char* key, bool* out) const {
    if (auto v = get(key)) {
      if (!v->is_bool()) wrong(key, "true or false");
      *out = v->as_bool();
    }
  }
  bool string(const char* key, std::string* out) const {
    if (auto v = get(key)) {
      if (!v->is_string()) wrong(key, "a string");
      *out = v->as_string();
      return true;
    }
    return false;
  }
  [[noreturn]] void unsupported(const char* key, const std::string& value, const char* supported) const {
    fail(Code::ModelUnsupported, src_, ": scheduler config ", key, "=", value,
         " is not supported (supported: ", supported, ")");
  }
  const std::string& source() const { return src_; }

 private:
  const json::Value& obj_;
  const std::string& src_;
};

}  // namespace

SchedulerConfig SchedulerConfig::from_json(SchedulerKind kind, const json::Value& config, const std::string& source) {
  if (!config.is_object()) fail(Code::BadInput, source, ": a scheduler config must be a JSON object");
  SchedulerConfig c = defaults(kind);
  Reader r(config, source);

  r.integer("num_train_timesteps", &c.num_train_timesteps, 2, 100000);
  r.number("beta_start", &c.beta_start);
  r.number("beta_end", &c.beta_end);
  if (r.string("beta_schedule", &c.beta_schedule) && c.beta_schedule != "linear" &&
      c.beta_schedule != "scaled_linear" && c.beta_schedule != "squaredcos_cap_v2")
    r.unsupported("beta_schedule", c.beta_schedule, "linear, scaled_linear, squaredcos_cap_v2");
  if (auto v = r.get("trained_betas")) {
    if (!v->is_array()) r.wrong("trained_betas", "an array of numbers or null");
    for (const auto& b : v->items()) {
      if (!b.is_number() || !(b.as_double() >= 0.0 && b.as_double() < 1.0))
        r.wrong("trained_betas", "an array of numbers in [0, 1)");
      c.trained_betas.push_back(b.as_double());
    }
    if (c.trained_betas.size() < 2) r.wrong("trained_betas", "an array of at least 2 betas");
    c.num_train_timesteps = static_cast<int>(c.trained_betas.size());
  }
  std::string s;
  if (r.string("prediction_type", &s)) {
    if (s == "epsilon")
      c.prediction_type = PredictionType::Epsilon;
    else if (s == "v_prediction")
      c.prediction_type = PredictionType::VPrediction;
    else if (s == "sample")
      c.prediction_type = PredictionType::Sample;
    else
      r.unsupported("prediction_type", s, "epsilon, v_prediction, sample");
  }
  if (r.string("timestep_spacing", &s)) {
    if (s == "leading")
      c.timestep_spacing = TimestepSpacing::Leading;
    else if (s == "trailing")
      c.timestep_spacing = TimestepSpacing::Trailing;
    else if (s == "linspace")
      c.timestep_spacing = TimestepSpacing::Linspace;
    else
      r.unsupported("timestep_spacing", s, "leading, trailing, linspace");
  }
  r.integer("steps_offset", &c.steps_offset, 0, 1000);
  r.boolean("rescale_betas_zero_snr", &c.rescale_betas_zero_snr);
  r.boolean("use_karras_sigmas", &c.use_karras_sigmas);
  if (r.string("interpolation_type", &c.interpolation_type) && c.interpolation_type != "linear" &&
      c.interpolation_type != "log_linear")
    r.unsupported("interpolation_type", c.interpolation_type, "linear, log_linear");
  r.number("sigma_min", &c.sigma_min);
  r.number("sigma_max", &c.sigma_max);
  r.boolean("set_alpha_to_one", &c.set_alpha_to_one);
  r.boolean("clip_sample", &c.clip_sample);
  r.number("clip_sample_range", &c.clip_sample_range);
  r.boolean("lower_order_final", &c.lower_order_final);
  r.boolean("euler_at_final", &c.euler_at_final);
  r.number("lambda_min_clipped", &c.lambda_min_clipped);
  r.integer("original_inference_steps", &c.original_inference_steps, 1, c.num_train_timesteps);
  r.number("timestep_scaling", &c.timestep_scaling);
  if (!(std::isfinite(c.timestep_scaling) && c.timestep_scaling > 0)) r.wrong("timestep_scaling", "a positive number");

  // Options that change the maths in ways not implemented: refuse rather than silently differ.
  bool flag = false;
  r.boolean("thresholding", &flag);
  if (flag) r.unsupported("thresholding", "true", "false (dynamic thresholding is for pixel-space models)");
  if (r.string("timestep_type", &s) && s != "discrete") r.unsupported("timestep_type", s, "discrete");
  if (kind == SchedulerKind::DPMSolverMultistep) {
    r.integer("solver_order", &c.solver_order, 1, 3);
    if (c.solver_order > 2) r.unsupported("solver_order", std::to_string(c.solver_order), "1, 2");
    if (r.string("algorithm_type", &s) && s != "dpmsolver++") r.unsupported("algorithm_type", s, "dpmsolver++");
    if (r.string("solver_type", &s) && s != "midpoint") r.unsupported("solver_type", s, "midpoint");
    flag = false;
    r.boolean("use_lu_lambdas", &flag);
    if (flag) r.unsupported("use_lu_lambdas", "true", "false");
    if (r.string("variance_type", &s)) r.unsupported("variance_type", s, "null");
  }
  if (kind == SchedulerKind::DDIM && c.clip_sample && !(c.clip_sample_range > 0))
    r.wrong("clip_sample_range", "a positive number");
  if (!(c.beta_start > 0 && c.beta_end > 0 && c.beta_start < 1 && c.beta_end < 1))
    fail(Code::BadInput, source, ": beta_start and beta_end must be in (0, 1)");
  return c;
}

}  // namespace bgn
