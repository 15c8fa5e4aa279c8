// The thread team that runs a grid: one OS thread per thread of the block, reused across blocks
// and launches, plus the block and warp barriers and the divergence / deadlock checks.
//
// Barrier bookkeeping happens under one mutex per block so the checks are exact: a barrier is
// released by its last arriver, so when every thread of the block is either waiting or returned
// and the arriving thread did not complete its barrier, nothing can ever wake them — abort.
// Waiting is a short spin, then a futex sleep on the barrier's generation counter.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <linux/futex.h>
#include <memory>
#include <pthread.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "cuda_emu/internal.h"
#include "cuda_emu/warp.h"

namespace bgn::emu {

thread_local ThreadContext tl_ctx;

struct WarpState {
  unsigned live = 0;     // threads of the block in this warp (fewer than 32 in a last partial warp)
  unsigned arrived = 0;  // lanes waiting at the current warp operation
  unsigned exited = 0;   // lanes that returned from the kernel in this block
  const char* op = "";   // the operation the waiting lanes are at
  std::atomic<uint32_t> gen{0};
  uint64_t slots[32] = {};  // shuffle exchange
};

struct BlockState {
  std::mutex mu;
  unsigned threads = 0;
  unsigned arrived = 0;  // threads waiting at __syncthreads
  unsigned exited = 0;   // threads that returned from the kernel
  unsigned blocked = 0;  // threads waiting at any barrier
  std::atomic<uint32_t> gen{0};
  WarpState warps[kMaxThreadsPerBlock / 32];
};

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kStackBytes = 1 << 20;  // ASan's redzones need room
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr size_t kStackBytes = 1 << 20;
#else
constexpr size_t kStackBytes = 256 << 10;
#endif
#else
constexpr size_t kStackBytes = 256 << 10;
#endif

constexpr int kSpinIterations = 64;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void futex_wait(std::atomic<uint32_t>& word, uint32_t seen) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}
// Returns once `word` differs from `seen`.
void wait_change(std::atomic<uint32_t>& word, uint32_t seen) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (word.load(std::memory_order_acquire) != seen) return;
    cpu_relax();
  }
  while (word.load(std::memory_order_acquire) == seen) futex_wait(word, seen);
}
void release(std::atomic<uint32_t>& word) {
  word.fetch_add(1, std::memory_order_acq_rel);
  futex_wake_all(word);
}

// The dynamic shared memory: the largest opt-in size, followed by an inaccessible guard page.
class DynamicShared {
 public:
  DynamicShared() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    bytes_ = (kOptinSmemLimit + page_ - 1) / page_ * page_;
    void* p = mmap(nullptr, bytes_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("cannot map the dynamic shared memory");
    base_ = static_cast<unsigned char*>(p);
    mprotect(base_ + bytes_, page_, PROT_NONE);
  }
  // The last `smem` bytes before the guard (rounded up to 16 bytes, CUDA's alignment), 0xFF each.
  void prepare(size_t smem) {
    const size_t rounded = (smem + 15) / 16 * 16;
    start_ = base_ + bytes_ - rounded;
    std::memset(start_, 0xFF, rounded);
  }
  unsigned char* start() const { return start_; }

 private:
  size_t page_ = 0, bytes_ = 0;
  unsigned char* base_ = nullptr;
  unsigned char* start_ = nullptr;
};

DynamicShared& dynamic_shared_memory() {
  static DynamicShared d;
  return d;
}

struct Worker {
  pthread_t thread{};
  unsigned index = 0;
  std::atomic<uint32_t> go{0};
};

class Team {
 public:
  ~Team() { stop(); }

  void run(const LaunchConfig& cfg, const std::function<void()>& body);
  void block_barrier();
  void warp_barrier(const char* op);
  BlockState& block() { return block_; }

 private:
  static void* worker_main(void* arg);
  void grow(unsigned n);
  void stop();
  void run_blocks(unsigned index);
  void thread_exit();
  void reset_block();
  void check_deadlock(std::unique_lock<std::mutex>& lk);
  void wait_for(std::unique_lock<std::mutex>& lk, std::atomic<uint32_t>& gen);
  void arrive(std::unique_lock<std::mutex>& lk, unsigned& arrived, unsigned count, std::atomic<uint32_t>& gen);

  std::vector<std::unique_ptr<Worker>> workers_;
  pid_t owner_ = 0;
  bool stopping_ = false;
  std::atomic<uint32_t> done_{0};
  std::atomic<unsigned> remaining_{0};
  const LaunchConfig* cfg_ = nullptr;
  const std::function<void()>* body_ = nullptr;
  BlockState block_;
};

Team& team() {
  static Team t;
  return t;
}

void* Team::worker_main(void* arg) {
  Worker* w = static_cast<Worker*>(arg);
  Team& t = team();
  uint32_t seen = 0;
  for (;;) {
    wait_change(w->go, seen);
    seen = w->go.load(std::memory_order_acquire);
    if (t.stopping_) return nullptr;
    t.run_blocks(w->index);
    if (t.remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) release(t.done_);
  }
}

void Team::grow(unsigned n) {
  // A forked child has only the forking thread: the parent's workers are gone (their records
  // are dropped, not joined) and the child builds its own team.
  if (owner_ != getpid()) {
    for (auto& w : workers_) (void)w.release();
    workers_.clear();
    owner_ = getpid();
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kStackBytes);
  while (workers_.size() < n) {
    auto w = std::make_unique<Worker>();
    w->index = static_cast<unsigned>(workers_.size());
    if (pthread_create(&w->thread, &attr, &Team::worker_main, w.get()) != 0) die("cannot start a team thread");
    workers_.push_back(std::move(w));
  }
  pthread_attr_destroy(&attr);
}

void Team::stop() {
  if (owner_ != getpid()) return;
  stopping_ = true;
  for (auto& w : workers_) release(w->go);
  for (auto& w : workers_) pthread_join(w->thread, nullptr);
  workers_.clear();
}

void Team::reset_block() {
  block_.arrived = block_.exited = block_.blocked = 0;
  const unsigned n = cfg_->block.x * cfg_->block.y * cfg_->block.z;
  block_.threads = n;
  for (unsigned i = 0; i < kMaxThreadsPerBlock / 32; ++i) {
    WarpState& w = block_.warps[i];
    w.live = i * 32 < n ? std::min(32u, n - i * 32) : 0;
    w.arrived = w.exited = 0;
    w.op = "";
  }
  dynamic_shared_memory().prepare(cfg_->smem);
}

void Team::run(const LaunchConfig& cfg, const std::function<void()>& body) {
  const unsigned n = cfg.block.x * cfg.block.y * cfg.block.z;
  grow(n);
  cfg_ = &cfg;
  body_ = &body;
  reset_block();
  const uint32_t done_seen = done_.load(std::memory_order_acquire);
  remaining_.store(n, std::memory_order_release);
  for (unsigned i = 0; i < n; ++i) release(workers_[i]->go);
  wait_change(done_, done_seen);
  cfg_ = nullptr;
  body_ = nullptr;
}

void Team::run_blocks(unsigned index) {
  const LaunchConfig& cfg = *cfg_;
  ThreadContext& c = tl_ctx;
  c.block_dim = cfg.block;
  c.grid_dim = cfg.grid;
  c.thread_idx = uint3{index % cfg.block.x, index / cfg.block.x % cfg.block.y, index / (cfg.block.x * cfg.block.y)};
  c.linear = index;
  c.warp = index / 32;
  c.lane = index % 32;
  c.block = &block_;
  for (unsigned z = 0; z < cfg.grid.z; ++z)
    for (unsigned y = 0; y < cfg.grid.y; ++y)
      for (unsigned x = 0; x < cfg.grid.x; ++x) {
        c.block_idx = uint3{x, y, z};
        try {
          (*body_)();
        } catch (const std::exception& e) {
          die(std::string("the kernel threw an exception: ") + e.what());
        } catch (...) {
          die("the kernel threw a non-standard exception");
        }
        thread_exit();
      }
  c.block = nullptr;
}

// Called with the block mutex held; unlocks it, then aborts with the parts of the message.
template <class... Parts>
[[noreturn]] void die_unlocked(std::unique_lock<std::mutex>& lk, const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  lk.unlock();
  die(os.str());
}

// Called with the block mutex held by a thread about to wait: if every thread is now waiting or
// returned, no barrier can complete any more.
void Team::check_deadlock(std::unique_lock<std::mutex>& lk) {
  BlockState& b = block_;
  if (b.blocked + b.exited < b.threads) return;
  std::ostringstream os;
  os << "deadlock: the threads of the block wait at different barriers (" << b.arrived << " at __syncthreads";
  for (unsigned i = 0; i < kMaxThreadsPerBlock / 32; ++i)
    if (b.warps[i].arrived > 0) os << ", " << b.warps[i].arrived << " of warp " << i << " at " << b.warps[i].op;
  os << ", " << b.exited << " returned)";
  die_unlocked(lk, os.str());
}

// Called with the block mutex held by a thread about to wait: sleeps until `gen` moves on.
void Team::wait_for(std::unique_lock<std::mutex>& lk, std::atomic<uint32_t>& gen) {
  check_deadlock(lk);
  const uint32_t seen = gen.load(std::memory_order_relaxed);
  lk.unlock();
  wait_change(gen, seen);
}

// Called with the block mutex held: counts this thread in at a barrier of `count` threads whose
// waiters are `arrived`; the last arriver resets it and wakes the rest.
void Team::arrive(std::unique_lock<std::mutex>& lk, unsigned& arrived, unsigned count, std::atomic<uint32_t>& gen) {
  ++arrived;
  ++block_.blocked;
  if (arrived < count) {
    wait_for(lk, gen);
    return;
  }
  arrived = 0;
  block_.blocked -= count;
  lk.unlock();
  release(gen);
}

void Team::block_barrier() {
  BlockState& b = block_;
  std::unique_lock<std::mutex> lk(b.mu);
  if (b.exited > 0)
    die_unlocked(lk, "divergent __syncthreads: ", b.exited, " thread(s) of the block returned before reaching it");
  arrive(lk, b.arrived, b.threads, b.gen);
}

void Team::warp_barrier(const char* op) {
  BlockState& b = block_;
  WarpState& w = b.warps[tl_ctx.warp];
  std::unique_lock<std::mutex> lk(b.mu);
  if (w.exited > 0)
    die_unlocked(lk, "divergent ", op, ": ", w.exited, " lane(s) of warp ", tl_ctx.warp,
                 " returned before reaching it");
  if (w.arrived == 0) {
    w.op = op;
  } else if (std::strcmp(w.op, op) != 0) {
    die_unlocked(lk, "divergent warp: lanes of warp ", tl_ctx.warp, " wait at ", w.op, " while this lane calls ", op);
  }
  arrive(lk, w.arrived, w.live, w.gen);
}

// The end of the kernel for this thread; returns when the whole block has ended.
void Team::thread_exit() {
  BlockState& b = block_;
  WarpState& w = b.warps[tl_ctx.warp];
  std::unique_lock<std::mutex> lk(b.mu);
  ++b.exited;
  ++w.exited;
  if (b.arrived > 0)
    die_unlocked(lk, "divergent __syncthreads: this thread returned while ", b.arrived,
                 " thread(s) wait at __syncthreads");
  if (w.arrived > 0)
    die_unlocked(lk, "divergent ", w.op, ": this lane returned while ", w.arrived, " lane(s) of its warp wait there");
  if (b.exited == b.threads) {
    reset_block();  // ready for the next block of the grid
    lk.unlock();
    release(b.gen);
    return;
  }
  wait_for(lk, b.gen);
}

}  // namespace

void run_grid(const LaunchConfig& cfg, const std::function<void()>& body) {
  std::lock_guard<std::mutex> lk(launch_mutex());
  set_current_launch(&cfg);
  open_device_memory();
  team().run(cfg, body);
  close_device_memory();
  set_current_launch(nullptr);
}

unsigned char* dynamic_shared() { return dynamic_shared_memory().start(); }

void block_sync() {
  if (tl_ctx.block == nullptr) die("__syncthreads called outside a kernel");
  team().block_barrier();
}

void warp_sync(const char* op) {
  if (tl_ctx.block == nullptr) die(std::string(op) + " called outside a kernel");
  team().warp_barrier(op);
}

uint64_t warp_exchange(uint64_t bits, unsigned src, const char* op) {
  if (tl_ctx.block == nullptr) die(std::string(op) + " called outside a kernel");
  WarpState& w = team().block().warps[tl_ctx.warp];
  w.slots[tl_ctx.lane] = bits;
  team().warp_barrier(op);
  const uint64_t out = src < w.live ? w.slots[src] : ~uint64_t{0};
  team().warp_barrier(op);  // nobody overwrites a slot before every lane has read
  return out;
}

void require_full_warp(const char* op) {
  if (tl_ctx.block == nullptr) die(std::string(op) + " called outside a kernel");
  const unsigned live = team().block().warps[tl_ctx.warp].live;
  if (live != 32) {
    std::ostringstream os;
    os << op << " needs a full warp, but warp " << tl_ctx.warp << " of this block has only " << live
       << " thread(s) (the block size is not a multiple of 32)";
    die(os.str());
  }
}

}  // namespace bgn::emu
