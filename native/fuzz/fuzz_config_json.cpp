// config.json / scheduler_config.json: the strict JSON reader, its serialiser (what it writes
// must read back identically), and the readers of diffusers config keys on top of it.
#include <cstring>

#include "diffusion/schedulers.h"
#include "formats/json.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return bgn_fuzz::guarded([&] {
    bgn::json::Value v = bgn::json::parse(bgn_fuzz::text(data, size), "config.json");
    std::string once = bgn::json::dump(v);
    std::string twice = bgn::json::dump(bgn::json::parse(once, "config.json (re-read)"));
    if (once != twice) {
      std::fprintf(stderr, "finding: JSON does not round-trip:\n%s\n%s\n", once.c_str(), twice.c_str());
      std::abort();
    }
    if (!v.is_object()) return;
    // The keys model configs are read by: numbers (int64 and double views) and strings.
    volatile double sink = 0;
    for (const auto& m : v.members()) {
      const bgn::json::Value& x = m.second;
      if (x.is_number()) sink = sink + x.as_double() + static_cast<double>(x.is_integer() ? x.as_int() : 0);
      if (x.is_string()) sink = sink + x.as_string().size();
      if (x.is_array() || x.is_object()) sink = sink + x.size();
      if (v.find(m.first) == nullptr) std::abort();
    }
    const bgn::SchedulerKind kinds[] = {bgn::SchedulerKind::Euler, bgn::SchedulerKind::EulerAncestral,
                                        bgn::SchedulerKind::DDIM, bgn::SchedulerKind::DPMSolverMultistep,
                                        bgn::SchedulerKind::LMS};
    for (auto kind : kinds) {
      try {
        bgn::SchedulerConfig c = bgn::SchedulerConfig::from_json(kind, v, "scheduler_config.json");
        auto s = bgn::make_scheduler(kind, c);
        s->set_timesteps(1 + static_cast<int>(size % 8));
        sink = sink + s->num_steps();
      } catch (const bgn::Error&) {}
    }
  });
}
