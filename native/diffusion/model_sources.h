// Where a DiffusionModel's inputs come from before any weights are read: the checkpoint file is
// checked first (a corrupt or truncated file is E_MODEL_FORMAT naming it, before anything else
// is looked up), then the tokenizer is chosen:
//   1. the `tokenizer` option (a folder with vocab.json + merges.txt, or a model folder with
//      tokenizer/; the library passes BG_CLIP_TOKENIZER here when no call names one);
//   2. the model folder's own tokenizer/;
//   3. the CLIP BPE vocabulary the caller supplies in memory (the package ships OpenAI's, which SD
//      1.x / 2.x / XL all use), so a single-file checkpoint needs nothing else;
// and E_MODEL_NOT_FOUND naming the files when none of these has one.
#pragma once
#include <memory>
#include <string>

#include "text/clip_tokenizer.h"

namespace bgn {

// A single-file checkpoint (.safetensors / .gguf) is opened and its header and tensor ranges
// validated; folders and other names are left to the component loaders.
void check_checkpoint_file(const std::string& path);

struct TokenizerSource {
  std::string dir;          // the folder holding vocab.json + merges.txt; empty for the in-memory one
  bool from_model = false;  // the model folder's tokenizer/ (its config names the pad token)
  std::string name;         // for messages: the folder, or "the built-in CLIP vocabulary"
  std::string key;          // for the model cache
};

// `option`: the tokenizer option; `vocab` / `merges`: the in-memory fallback's contents (may be empty).
TokenizerSource choose_tokenizer(const std::string& model_path, bool model_is_dir, const std::string& option,
                                 const std::string& vocab, const std::string& merges);
std::shared_ptr<const ClipTokenizer> load_tokenizer(const TokenizerSource& src, const std::string& vocab,
                                                    const std::string& merges);

}  // namespace bgn
