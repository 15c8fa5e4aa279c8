// Reading LoRA files: keys → modules (models/lora.h).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "formats/safetensors.h"
#include "models/lora.h"

namespace bgn {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

enum class Role { Down, Up, Alpha };

// Key suffixes of the factors, per format.
struct Suffix {
  const char* text;
  Role role;
};
constexpr Suffix kSuffixes[] = {
    {".lora_down.weight", Role::Down},
    {".lora_up.weight", Role::Up},  // kohya
    {".lora_A.weight", Role::Down},
    {".lora_B.weight", Role::Up},  // PEFT
    {".lora.down.weight", Role::Down},
    {".lora.up.weight", Role::Up},  // diffusers (LoRACompatible)
    {".lora_linear_layer.down.weight", Role::Down},
    {".lora_linear_layer.up.weight", Role::Up},
    {".alpha", Role::Alpha},
};

struct Parts {
  std::string down, up, alpha;
};

// Which component a module stem targets, and its layer name as the component spells it.
void classify(const std::string& stem, LoraModule& m) {
  static const std::pair<const char*, Component> kohya[] = {{"lora_unet_", Component::Unet},
                                                            {"lora_te1_", Component::TextEncoder},
                                                            {"lora_te2_", Component::TextEncoder2},
                                                            {"lora_te_", Component::TextEncoder}};
  for (const auto& [prefix, c] : kohya)
    if (starts_with(stem, prefix)) {
      m.target = c;
      m.underscored = true;
      m.name = stem.substr(std::strlen(prefix));
      if (c != Component::Unet && starts_with(m.name, "text_model_")) m.name = m.name.substr(11);
      return;
    }
  std::string n = starts_with(stem, "base_model.model.") ? stem.substr(17) : stem;
  m.underscored = false;
  if (starts_with(n, "unet.")) {
    m.target = Component::Unet;
    n = n.substr(5);
  } else if (starts_with(n, "text_encoder_2.")) {
    m.target = Component::TextEncoder2;
    n = n.substr(15);
  } else if (starts_with(n, "text_encoder.")) {
    m.target = Component::TextEncoder;
    n = n.substr(13);
  } else {
    m.target = starts_with(n, "text_model.") ? Component::TextEncoder : Component::Unet;
  }
  if (m.target != Component::Unet && starts_with(n, "text_model.")) n = n.substr(11);
  m.name = n;
}

bool is_pickle_name(const std::string& p) {
  for (const char* ext : {".ckpt", ".pt", ".pth", ".bin"})
    if (ends_with(p, ext)) return true;
  return false;
}

}  // namespace

bool LoraFile::targets(Component c) const {
  for (const auto& m : modules_)
    if (m.target == c) return true;
  return false;
}

Tensor LoraFile::factor(const std::string& key) const {
  // LoRA factors are read once and widened; their pages are not part of a model's resident set.
  ResidencyScope unrecorded(nullptr);
  const SafetensorsEntry& e = file_->entry(key);
  if (e.dtype != DType::F32 && e.dtype != DType::F16 && e.dtype != DType::BF16)
    fail(Code::ModelFormat, path_, ": LoRA tensor ", key, " has dtype ", e.dtype_str, "; expected F32, F16 or BF16");
  if (e.shape.size() != 2 && e.shape.size() != 4)
    fail(Code::ModelFormat, path_, ": LoRA tensor ", key, " has shape ", shape_str(e.shape),
         "; expected a matrix (linear layers) or a 4-D kernel (convolutions)");
  for (int64_t d : e.shape)
    if (d < 1) fail(Code::ModelFormat, path_, ": LoRA tensor ", key, " has an empty shape ", shape_str(e.shape));
  Tensor t = file_->tensor(e);
  return t.to(DType::F32);
}

std::shared_ptr<const LoraFile> LoraFile::open(const std::string& path) {
  if (is_pickle_name(path))
    fail(Code::ModelFormat, path,
         ": LoRAs are read from .safetensors files only (pickled .ckpt/.pt/.pth/.bin files "
         "can run code when loaded); download or convert the .safetensors version");
  auto f = std::shared_ptr<LoraFile>(new LoraFile());
  f->path_ = path;
  try {
    f->file_ = SafetensorsFile::open(path);
  } catch (const Error& e) {
    if (e.code() != Code::ModelFormat) throw;
    fail(Code::ModelFormat, e.what(), " (a LoRA must be a complete .safetensors file)");
  }
  f->identity_ = f->file_->identity();

  std::map<std::string, Parts> stems;
  std::vector<std::string> order;
  for (const auto& e : f->file_->entries()) {
    const Suffix* hit = nullptr;
    for (const Suffix& s : kSuffixes)
      if (ends_with(e.name, s.text) && e.name.size() > std::strlen(s.text)) {
        hit = &s;
        break;
      }
    if (!hit)
      fail(Code::ModelFormat, path, ": key ", e.name,
           " is not part of a LoRA (expected <module>.lora_down.weight / "
           ".lora_up.weight / .alpha (kohya) or <module>.lora_A.weight / .lora_B.weight (PEFT)); LoHa, LoKr and "
           "DoRA files are not supported");
    const std::string stem = e.name.substr(0, e.name.size() - std::strlen(hit->text));
    auto [it, fresh] = stems.try_emplace(stem);
    if (fresh) order.push_back(stem);
    std::string& slot = hit->role == Role::Down ? it->second.down
                        : hit->role == Role::Up ? it->second.up
                                                : it->second.alpha;
    if (!slot.empty())
      fail(Code::ModelFormat, path, ": keys ", slot, " and ", e.name, " give module ", stem, " two of the same factor");
    slot = e.name;
  }
  for (const std::string& stem : order) {
    const Parts& p = stems[stem];
    if (p.down.empty() || p.up.empty())
      fail(Code::ModelFormat, path, ": LoRA module ", stem, " has ", p.down.empty() ? "no down (A)" : "no up (B)",
           " factor (found ", p.down.empty() ? p.up.empty() ? p.alpha : p.up : p.down, ")");
    LoraModule m;
    classify(stem, m);
    if (m.name.empty()) fail(Code::ModelFormat, path, ": LoRA module ", stem, " names no layer");
    m.down_key = p.down;
    m.up_key = p.up;
    m.alpha_key = p.alpha;
    if (!p.alpha.empty()) {
      ResidencyScope unrecorded(nullptr);
      const SafetensorsEntry& e = f->file_->entry(p.alpha);
      if (e.dtype != DType::F32 && e.dtype != DType::F16 && e.dtype != DType::BF16 && e.dtype != DType::F64)
        fail(Code::ModelFormat, path, ": ", p.alpha, " has dtype ", e.dtype_str, "; expected a floating-point scalar");
      Tensor t = f->file_->tensor(e);
      if (t.numel() != 1)
        fail(Code::ModelFormat, path, ": ", p.alpha, " has shape ", shape_str(t.shape()), "; expected one value");
      const float a = e.dtype == DType::F64 ? float(t.data<double>()[0]) : t.to(DType::F32).data<float>()[0];
      if (!std::isfinite(a)) fail(Code::ModelFormat, path, ": ", p.alpha, " is not a finite number");
      m.alpha = a;
    }
    f->modules_.push_back(std::move(m));
  }
  if (f->modules_.empty()) fail(Code::ModelFormat, path, ": holds no LoRA modules (no tensors at all)");
  return f;
}

LoraStack open_loras(const std::vector<LoraSpec>& specs) {
  LoraStack out;
  for (const LoraSpec& s : specs) {
    if (s.path.empty()) fail(Code::BadInput, "a LoRA needs a path to its .safetensors file");
    if (!std::isfinite(s.scale) || s.scale < -4.f || s.scale > 4.f)
      fail(Code::BadInput, "LoRA scale must be from -4 to 4; got ", s.scale, " for ", s.path);
    out.push_back({LoraFile::open(s.path), s.scale});
  }
  return out;
}

std::string lora_stack_key(const LoraStack& loras) {
  std::string key;
  for (const LoraApplied& l : loras) {
    char scale[32];
    std::snprintf(scale, sizeof scale, "%a", double(l.scale));  // exact
    key += l.file->identity().key() + "*" + scale + ";";
  }
  return key;
}

}  // namespace bgn
