// Merging LoRA modules into a component's weights (models/lora.h).
#include <map>
#include <set>
#include <vector>

#include "backend/cpu/ops.h"
#include "models/lora.h"
#include "models/lora_names.h"
#include "tensor/residency.h"

namespace bgn {

namespace {

// Layer shape as (out, in, kh, kw); linear layers have a 1×1 kernel.
struct LayerShape {
  int64_t out = 0, in = 0, kh = 1, kw = 1;
};

std::string list_keys(const std::vector<std::string>& keys) {
  std::string s;
  for (size_t i = 0; i < keys.size() && i < 4; ++i) s += (i ? ", " : "") + keys[i];
  if (keys.size() > 4) s += ", …";
  return s;
}

// Checks that down (r, in[, kh, kw]) and up (out, r[, 1, 1]) make a delta of the layer's shape.
bool factors_fit(const Tensor& w, const Tensor& down, const Tensor& up) {
  if (w.rank() != 2 && w.rank() != 4) return false;
  LayerShape L{w.dim(0), w.dim(1), w.rank() == 4 ? w.dim(2) : 1, w.rank() == 4 ? w.dim(3) : 1};
  const int64_t r = down.dim(0);
  if (up.dim(0) != L.out || up.dim(1) != r || (up.rank() == 4 && (up.dim(2) != 1 || up.dim(3) != 1))) return false;
  if (down.dim(1) != L.in) return false;
  const int64_t dkh = down.rank() == 4 ? down.dim(2) : 1, dkw = down.rank() == 4 ? down.dim(3) : 1;
  return dkh == L.kh && dkw == L.kw;
}

// Lets go of the pages of a mapped weight that a merged copy replaces (it is not read again); a
// weight that is not one of the open residency scope's mapped ranges is left alone.
void release_replaced(const Tensor& w) {
  const ResidentRanges* scope = ResidencyScope::current();
  if (!scope) return;
  for (const auto& r : scope->ranges)
    if (r.ptr == w.raw()) {
      ResidentRanges one;
      one.ranges.push_back(r);
      one.release();
      return;
    }
}

struct Planned {
  const LoraModule* module;
  const LoraApplied* lora;
  std::string layer;
};

// Every module of the stack that targets `c`, resolved to its layer; E_MODEL_FORMAT when a module
// matches no layer or two modules of one file take the same layer.
std::vector<Planned> plan_loras(const nn::WeightSet& ws, Component c, const LoraStack& loras) {
  const LoraNameIndex index(ws, c);

  // Resolve every module first: nothing is merged unless all of them fit.
  std::vector<Planned> plan;
  for (const LoraApplied& l : loras) {
    std::vector<std::string> unmatched;
    size_t total = 0;
    std::map<std::string, std::string> seen;  // layer → the module that took it
    for (const LoraModule& m : l.file->modules()) {
      if (m.target != c) continue;
      ++total;
      const std::string layer = index.resolve(m.name, m.underscored);
      if (layer.empty()) {
        unmatched.push_back(m.down_key);
        continue;
      }
      auto [it, fresh] = seen.emplace(layer, m.down_key);
      if (!fresh)
        fail(Code::ModelFormat, l.file->path(), ": LoRA keys ", it->second, " and ", m.down_key, " both target ",
             layer);
      plan.push_back({&m, &l, layer});
    }
    if (!unmatched.empty())
      fail(Code::ModelFormat, l.file->path(), ": ", unmatched.size(), " of ", total, " LoRA modules for the ",
           component_name(c), " match no layer of ", ws.source(), " (", list_keys(unmatched),
           "); the LoRA was made for another model family or another architecture, so it is not applied");
  }
  return plan;
}

// The factors of module p, checked to fit the layer's weight w.
void check_factors(const Planned& p, const nn::WeightSet& ws, const Tensor& w, const std::string& wname,
                   const Tensor& down, const Tensor& up) {
  if (!factors_fit(w, down, up))
    fail(Code::ModelFormat, p.lora->file->path(), ": LoRA factors ", p.module->down_key, " ", shape_str(down.shape()),
         " and ", p.module->up_key, " ", shape_str(up.shape()), " do not fit ", wname, " ", shape_str(w.shape()),
         " of ", ws.source(), "; the LoRA was made for another model");
}

bool targets_any(Component c, const LoraStack& loras) {
  bool any = false;
  for (const LoraApplied& l : loras) any = any || l.file->targets(c);
  return any;
}

}  // namespace

void check_loras(const ComponentWeights& cw, Component c, const LoraStack& loras) {
  if (!targets_any(c, loras)) return;
  const nn::WeightSet& ws = cw.weights;
  for (const Planned& p : plan_loras(ws, c, loras)) {
    const std::string wname = p.layer + ".weight";
    const LoraFile& f = *p.lora->file;
    check_factors(p, ws, ws.all().at(wname), wname, f.factor(p.module->down_key), f.factor(p.module->up_key));
  }
}

void merge_loras(ComponentWeights& cw, Component c, const LoraStack& loras, int threads) {
  if (!targets_any(c, loras)) return;
  nn::WeightSet& ws = cw.weights;
  const std::vector<Planned> plan = plan_loras(ws, c, loras);
  ThreadPool pool(threads);
  std::map<std::string, Tensor> merged;  // layer weight name → its f32 copy
  for (const Planned& p : plan) {
    const LoraFile& f = *p.lora->file;
    const std::string wname = p.layer + ".weight";
    const Tensor& w = ws.all().at(wname);
    const Tensor down = f.factor(p.module->down_key), up = f.factor(p.module->up_key);
    check_factors(p, ws, w, wname, down, up);
    auto it = merged.find(wname);
    if (it == merged.end()) {
      Tensor copy = Tensor::empty(DType::F32, w.shape());
      convert_to_f32(w.dtype(), w.raw(), copy.data<float>(), w.numel());
      release_replaced(w);
      it = merged.emplace(wname, copy).first;
    }
    const int64_t r = down.dim(0), out = w.dim(0), k = w.numel() / out;
    const float alpha = p.module->alpha_key.empty() ? float(r) : p.module->alpha;
    const float factor = p.lora->scale * (alpha / float(r));
    // W (out, k) += factor · up (out, r) @ down (r, k)
    cpu::sgemm(pool, false, false, out, k, r, factor, up.data<float>(), r, down.data<float>(), k, 1.f,
               it->second.data<float>(), k);
  }
  for (auto& [name, t] : merged) ws.set(name, t);
}

ComponentWeights load_component_with_loras(const std::string& path, Component c, const LoraStack& loras, int threads) {
  ComponentWeights cw = load_component(path, c);
  merge_loras(cw, c, loras, threads);
  return cw;
}

void check_lora_targets(const LoraStack& loras, bool has_text_encoder_2, const std::string& model_path) {
  if (has_text_encoder_2) return;
  for (const LoraApplied& l : loras)
    for (const LoraModule& m : l.file->modules())
      if (m.target == Component::TextEncoder2)
        fail(Code::ModelFormat, l.file->path(), ": LoRA key ", m.down_key,
             " targets a second text encoder (SDXL), "
             "which ",
             model_path, " does not have; the LoRA was made for another model family");
}

}  // namespace bgn
