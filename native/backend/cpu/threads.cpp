#include "backend/cpu/threads.h"

#include <algorithm>
#include <atomic>

namespace bgn {

namespace {
thread_local bool t_inside_pool = false;
}

int ThreadPool::hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads) : size_(threads <= 0 ? hardware_threads() : threads) {
  for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker(int) {
  t_inside_pool = true;
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    for (;;) {
      if (next_chunk_ >= job_chunks_) break;
      int64_t c = next_chunk_++;
      const auto* fn = job_;
      int64_t b = c * job_chunk_, e = std::min(job_n_, b + job_chunk_);
      lock.unlock();
      (*fn)(b, e);
      lock.lock();
    }
    if (--pending_ == 0) done_.notify_all();
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (size_ <= 1 || n <= grain || t_inside_pool) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mu_);
  // A few chunks per thread balances uneven work without much locking.
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(size_) * 4);
  int64_t chunk = (n + chunks - 1) / chunks;
  chunks = (n + chunk - 1) / chunk;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    job_chunk_ = chunk;
    job_chunks_ = chunks;
    next_chunk_ = 0;
    pending_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  t_inside_pool = true;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (next_chunk_ >= job_chunks_) break;
    int64_t c = next_chunk_++;
    int64_t b = c * chunk, e = std::min(n, b + chunk);
    lock.unlock();
    fn(b, e);
    lock.lock();
  }
  done_.wait(lock, [&] { return pending_ == 0; });
  t_inside_pool = false;
  job_ = nullptr;
}

}  // namespace bgn
