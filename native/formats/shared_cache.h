// A process-wide cache of loaded models keyed by what they were loaded from (file identity plus
// load options): a second load of the same files returns the same object while anyone still holds
// it; nothing is kept alive by the cache itself (weak references).
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace bgn {

template <class T>
class SharedCache {
 public:
  std::shared_ptr<const T> find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : it->second.lock();
  }

  // Stores `value` unless another thread stored a live one for `key` meanwhile; returns the winner.
  std::shared_ptr<const T> insert(const std::string& key, std::shared_ptr<const T> value) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = entries_[key];
    if (auto existing = slot.lock()) return existing;
    slot = value;
    return value;
  }

  // Entries still alive.
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (auto& kv : entries_) n += kv.second.expired() ? 0 : 1;
    return n;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<const T>> entries_;
};

}  // namespace bgn
