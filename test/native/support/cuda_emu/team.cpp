// The thread team that runs a grid: the threads of a block run as fibers on the launching host
// thread (one fiber per thread of the block, reused across blocks and launches), switched at the
// block and warp barriers; plus the divergence / deadlock checks.
//
// Scheduling: the threads of a block start in index order — reversed in odd blocks of the grid —
// and each runs until it waits at a barrier or returns. The last arriver at a barrier releases
// the others and runs on; the rest of a released warp runs next, a block released by
// __syncthreads resumes in the block's order. So a warp gets as far ahead of the others as its
// barriers let it: a missing __syncthreads between one warp's write and another's read shows as
// a wrong result, whichever warp comes first. A thread that arrives when every other thread is
// waiting or has returned, without completing its barrier, can never be woken: that is a
// deadlock and aborts.
#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <sstream>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "cuda_emu/fiber.h"
#include "cuda_emu/internal.h"
#include "cuda_emu/warp.h"
#include "cuda_emu/wmma.h"

namespace bgn::emu {

thread_local ThreadContext tl_ctx;

struct WarpState {
  unsigned live = 0;             // threads of the block in this warp (fewer than 32 in a last partial warp)
  unsigned arrived = 0;          // lanes waiting at the current warp operation
  unsigned exited = 0;           // lanes that returned from the kernel in this block
  const char* op = "";           // the operation the waiting lanes are at
  uint64_t slots[32] = {};       // shuffle exchange
  std::unique_ptr<MmaMemo> mma;  // made at the warp's first wmma::mma_sync
};

struct BlockState {
  unsigned threads = 0;
  unsigned arrived = 0;  // threads waiting at __syncthreads
  unsigned exited = 0;   // threads that returned from the kernel
  unsigned blocked = 0;  // threads waiting at any barrier
  WarpState warps[kMaxThreadsPerBlock / 32];
};

namespace {

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

class Team;

// EmuThread::waiting_at: not waiting, __syncthreads, or (>= 0) that warp's barrier.
constexpr int kNotWaiting = -2;
constexpr int kBlockBarrier = -1;

// One thread of the block, as a fiber.
struct EmuThread {
  Team* team = nullptr;
  unsigned index = 0;
  int waiting_at = kNotWaiting;
  std::unique_ptr<Fiber> fiber;
};

class Team {
 public:
  void run(const LaunchConfig& cfg, const std::function<void()>& body);
  void block_barrier();
  void warp_barrier(const char* op);
  BlockState& block() { return block_; }

 private:
  static void thread_main(void* arg);
  void grow(unsigned n);
  void reset_block();
  void resume(EmuThread& t);
  void suspend(EmuThread& t);
  void release(int barrier);
  void thread_exit(EmuThread& t);
  void check_deadlock();
  void arrive(unsigned& arrived, unsigned count, int barrier);

  Fiber host_;  // the launching thread's own context: the scheduler
  std::vector<std::unique_ptr<EmuThread>> threads_;
  std::deque<unsigned> ready_;  // threads to resume, in order
  bool reversed_ = false;       // this block runs its threads from the highest index down
  EmuThread* running_ = nullptr;
  const LaunchConfig* cfg_ = nullptr;
  const std::function<void()>* body_ = nullptr;
  BlockState block_;
};

// One team per host thread: a fiber never moves to another OS thread.
Team& team() {
  thread_local Team t;
  return t;
}

// A thread's whole life: the kernel's body for each block it is given, then back to the scheduler.
// Reaches the team through its record, never through a thread_local: the scheduler resuming it
// may run on another frame of the host thread, and the body of the next launch is another one.
void Team::thread_main(void* arg) {
  EmuThread* self = static_cast<EmuThread*>(arg);
  Team& t = *self->team;
  for (;;) {
    try {
      (*t.body_)();
    } catch (const std::exception& e) {
      die(std::string("the kernel threw an exception: ") + e.what());
    } catch (...) {
      die("the kernel threw a non-standard exception");
    }
    t.thread_exit(*self);
  }
}

void Team::grow(unsigned n) {
  while (threads_.size() < n) {
    auto t = std::make_unique<EmuThread>();
    t->team = this;
    t->index = static_cast<unsigned>(threads_.size());
    t->fiber = std::make_unique<Fiber>(kFiberStackBytes, &Team::thread_main, t.get());
    threads_.push_back(std::move(t));
  }
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

// Switches from the scheduler to thread `t`, with the built-in variables set to its own.
void Team::resume(EmuThread& t) {
  const LaunchConfig& cfg = *cfg_;
  ThreadContext& c = tl_ctx;
  const unsigned i = t.index;
  c.thread_idx = uint3{i % cfg.block.x, i / cfg.block.x % cfg.block.y, i / (cfg.block.x * cfg.block.y)};
  c.linear = i;
  c.warp = i / 32;
  c.lane = i % 32;
  running_ = &t;
  Fiber::switch_to(host_, *t.fiber);
  running_ = nullptr;
}

// Switches from the running thread `t` back to the scheduler; returns when `t` is resumed.
void Team::suspend(EmuThread& t) { Fiber::switch_to(*t.fiber, host_); }

void Team::run(const LaunchConfig& cfg, const std::function<void()>& body) {
  const unsigned n = cfg.block.x * cfg.block.y * cfg.block.z;
  grow(n);
  cfg_ = &cfg;
  body_ = &body;
  ThreadContext& c = tl_ctx;
  c.block_dim = cfg.block;
  c.grid_dim = cfg.grid;
  c.block = &block_;
  size_t ordinal = 0;
  for (unsigned z = 0; z < cfg.grid.z; ++z)
    for (unsigned y = 0; y < cfg.grid.y; ++y)
      for (unsigned x = 0; x < cfg.grid.x; ++x, ++ordinal) {
        c.block_idx = uint3{x, y, z};
        reset_block();
        reversed_ = (ordinal & 1) != 0;
        ready_.clear();
        for (unsigned k = 0; k < n; ++k) ready_.push_back(reversed_ ? n - 1 - k : k);
        while (!ready_.empty()) {
          const unsigned next = ready_.front();
          ready_.pop_front();
          resume(*threads_[next]);
        }
        if (block_.exited != n) die("a block ended with threads neither returned nor waiting");
      }
  c.block = nullptr;
  cfg_ = nullptr;
  body_ = nullptr;
}

// Every thread waiting at `barrier` is queued to run again in the block's order: a warp's lanes
// ahead of everything else, a block's after what is queued.
void Team::release(int barrier) {
  const bool warp = barrier != kBlockBarrier;
  const unsigned first = warp ? static_cast<unsigned>(barrier) * 32 : 0;
  const unsigned count = warp ? block_.warps[barrier].live : block_.threads;
  // The k-th thread in the block's order; a warp's are pushed to the front last one first.
  const auto nth = [&](unsigned k) -> EmuThread& { return *threads_[first + (reversed_ ? count - 1 - k : k)]; };
  for (unsigned j = 0; j < count; ++j) {
    EmuThread& t = nth(warp ? count - 1 - j : j);
    if (t.waiting_at != barrier) continue;
    t.waiting_at = kNotWaiting;
    if (warp)
      ready_.push_front(t.index);
    else
      ready_.push_back(t.index);
  }
}

// Aborts with the parts of the message.
template <class... Parts>
[[noreturn]] void die_with(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  die(os.str());
}

// Called by a thread about to wait: if every thread is now waiting or returned, no barrier can
// complete any more.
void Team::check_deadlock() {
  BlockState& b = block_;
  if (b.blocked + b.exited < b.threads) return;
  std::ostringstream os;
  os << "deadlock: the threads of the block wait at different barriers (" << b.arrived << " at __syncthreads";
  for (unsigned i = 0; i < kMaxThreadsPerBlock / 32; ++i)
    if (b.warps[i].arrived > 0) os << ", " << b.warps[i].arrived << " of warp " << i << " at " << b.warps[i].op;
  os << ", " << b.exited << " returned)";
  die(os.str());
}

// Counts the running thread in at a barrier of `count` threads whose waiters are `arrived`; it
// waits unless it is the last, which resets the barrier, releases the rest and runs on.
void Team::arrive(unsigned& arrived, unsigned count, int barrier) {
  EmuThread& self = *running_;
  ++arrived;
  ++block_.blocked;
  if (arrived < count) {
    check_deadlock();
    self.waiting_at = barrier;
    suspend(self);
    return;
  }
  arrived = 0;
  block_.blocked -= count;
  release(barrier);
}

void Team::block_barrier() {
  BlockState& b = block_;
  if (b.exited > 0)
    die_with("divergent __syncthreads: ", b.exited, " thread(s) of the block returned before reaching it");
  arrive(b.arrived, b.threads, kBlockBarrier);
}

void Team::warp_barrier(const char* op) {
  BlockState& b = block_;
  WarpState& w = b.warps[tl_ctx.warp];
  if (w.exited > 0)
    die_with("divergent ", op, ": ", w.exited, " lane(s) of warp ", tl_ctx.warp, " returned before reaching it");
  if (w.arrived == 0) {
    w.op = op;
  } else if (std::strcmp(w.op, op) != 0) {
    die_with("divergent warp: lanes of warp ", tl_ctx.warp, " wait at ", w.op, " while this lane calls ", op);
  }
  arrive(w.arrived, w.live, static_cast<int>(tl_ctx.warp));
}

// The end of the kernel for thread `t` in this block: back to the scheduler, which resumes it
// (into the body again) in the next block of a grid or launch.
void Team::thread_exit(EmuThread& t) {
  BlockState& b = block_;
  WarpState& w = b.warps[t.index / 32];
  ++b.exited;
  ++w.exited;
  if (b.arrived > 0)
    die_with("divergent __syncthreads: this thread returned while ", b.arrived, " thread(s) wait at __syncthreads");
  if (w.arrived > 0)
    die_with("divergent ", w.op, ": this lane returned while ", w.arrived, " lane(s) of its warp wait there");
  suspend(t);
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

MmaMemo& mma_memo() {
  std::unique_ptr<MmaMemo>& m = team().block().warps[tl_ctx.warp].mma;
  if (!m) m = std::make_unique<MmaMemo>();
  return *m;
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
