#include "diffusion/tiny_vae_source.h"

#include <algorithm>
#include <filesystem>

#include "formats/mapped_file.h"
#include "formats/shared_cache.h"
#include "tensor/error.h"

namespace bgn {

namespace fs = std::filesystem;

std::string resolve_tiny_vae(const std::string& spec, const std::string& model_path, bool sdxl, bool optional) {
  if (spec.empty()) fail(Code::BadInput, "the tiny autoencoder path is empty");
  if (spec != "taesd") {
    std::error_code ec;
    if (!fs::exists(spec, ec)) fail(Code::ModelNotFound, spec, ": no such file or folder (the tiny autoencoder)");
    return spec;
  }
  const char* var = sdxl ? "BG_TAESDXL" : "BG_TAESD";  // the library's setting, for the message
  std::error_code ec;
  std::vector<fs::path> bases;
  const fs::path m(model_path);
  if (fs::is_directory(m, ec)) bases.push_back(m);
  bases.push_back(m.parent_path().empty() ? fs::path(".") : m.parent_path());
  const std::string stem = sdxl ? "taesdxl" : "taesd";
  for (const fs::path& b : bases)
    for (const std::string& n : {stem, stem + ".safetensors", stem + "_decoder.safetensors"})
      if (fs::exists(b / n, ec)) return (b / n).string();
  if (optional) return "";
  fail(Code::ModelNotFound, "no tiny autoencoder for ", model_path, ": put the ", sdxl ? "TAESDXL" : "TAESD",
       " files (the diffusers folder madebyollin/", stem, ", or ", stem, "_decoder.safetensors) in ",
       (bases.front() / stem).string(), ", or set ", var, " to them");
}

namespace {
SharedCache<TaesdModel>& tiny_cache() {
  static SharedCache<TaesdModel> cache;
  return cache;
}

// The identity of a file, or of every regular file directly in a folder.
std::string identity_of(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return file_identity(path).key();
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.is_regular_file(ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::string key = "dir:";
  for (const auto& n : names) key += n + "=" + file_identity((fs::path(path) / n).string()).key() + ";";
  return key;
}
}  // namespace

std::shared_ptr<const TaesdModel> load_tiny_vae_cached(const std::string& path, int threads,
                                                       const std::shared_ptr<Gpu>& gpu) {
  const std::string key = identity_of(path) + "|threads=" + std::to_string(threads) +
                          "|device=" + std::to_string(reinterpret_cast<uintptr_t>(gpu.get()));
  if (auto hit = tiny_cache().find(key)) return hit;
  TaesdLoadOptions o;
  o.threads = threads;
  o.gpu = gpu;
  return tiny_cache().insert(key, TaesdModel::load(path, o));
}

std::vector<float> tiny_decode_01(const TaesdModel& t, const float* latents, int64_t C, int64_t h, int64_t w,
                                  int64_t max_side, int64_t* H, int64_t* W) {
  const TaesdConfig& c = t.config();
  if (C != c.latent_channels)
    fail(Code::ModelUnsupported, t.source(), ": the tiny autoencoder decodes ", c.latent_channels,
         "-channel latents; this model makes ", C);
  int64_t k = 1;
  if (max_side > 0)
    while (k < std::max(h, w) && (std::max(h, w) + k - 1) / k * c.downscale > max_side) ++k;
  const int64_t ph = (h + k - 1) / k, pw = (w + k - 1) / k;
  std::vector<float> z(size_t(C * ph * pw));
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t y = 0; y < ph; ++y)
      for (int64_t x = 0; x < pw; ++x) {
        double s = 0;
        int64_t n = 0;
        for (int64_t yy = y * k; yy < std::min(h, (y + 1) * k); ++yy)
          for (int64_t xx = x * k; xx < std::min(w, (x + 1) * k); ++xx, ++n) s += latents[(ch * h + yy) * w + xx];
        z[size_t((ch * ph + y) * pw + x)] = float(s / double(n)) / c.scaling_factor;
      }
  std::vector<float> img = t.decode(z.data(), 1, ph, pw);
  for (float& v : img) v = std::min(1.f, std::max(0.f, v / 2.f + 0.5f));
  *H = ph * c.downscale;
  *W = pw * c.downscale;
  return img;
}

}  // namespace bgn
