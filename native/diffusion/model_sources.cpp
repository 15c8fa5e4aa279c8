#include "diffusion/model_sources.h"

#include <filesystem>
#include <functional>

#include "formats/gguf.h"
#include "formats/safetensors.h"

namespace bgn {

namespace {
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}
}  // namespace

void check_checkpoint_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec) || !std::filesystem::exists(path, ec)) return;
  if (ends_with(path, ".safetensors"))
    SafetensorsFile::open(path);
  else if (ends_with(path, ".gguf"))
    GgufFile::open(path);
}

TokenizerSource choose_tokenizer(const std::string& model_path, bool model_is_dir, const std::string& option,
                                 const std::string& vocab, const std::string& merges) {
  TokenizerSource s;
  std::string arg = option;
  if (arg.empty() && model_is_dir && std::filesystem::is_directory(model_path + "/tokenizer")) {
    arg = model_path;
    s.from_model = true;
  }
  if (arg.empty() && !vocab.empty() && !merges.empty()) {
    s.name = "the built-in CLIP vocabulary";
    s.key = "builtin:" + std::to_string(vocab.size()) + ":" + std::to_string(std::hash<std::string>{}(vocab)) + ":" +
            std::to_string(merges.size()) + ":" + std::to_string(std::hash<std::string>{}(merges));
    return s;
  }
  s.dir = ClipTokenizer::resolve_dir(arg);
  s.name = s.dir;
  s.key = s.dir;
  return s;
}

std::shared_ptr<const ClipTokenizer> load_tokenizer(const TokenizerSource& src, const std::string& vocab,
                                                    const std::string& merges) {
  if (src.dir.empty())
    return ClipTokenizer::parse(vocab, merges, "the built-in CLIP vocab.json", "the built-in CLIP merges.txt");
  return ClipTokenizer::load(src.dir + "/vocab.json", src.dir + "/merges.txt");
}

}  // namespace bgn
