// Stackful fibers: the emulated threads of a block run as fibers on the launching host thread and
// hand over to each other at barriers with a user-space switch (no system call, no OS scheduler).
// On x86-64 the switch saves the callee-saved registers and the FP control words and swaps the
// stack pointer; elsewhere it is ucontext's swapcontext. Under AddressSanitizer every switch is
// announced (__sanitizer_start/finish_switch_fiber) so the sanitizer follows the stacks.
#pragma once
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define BGN_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BGN_EMU_ASAN 1
#endif
#endif

namespace bgn::emu {

// A fiber's stack for a kernel thread: ASan's redzones need room.
#ifdef BGN_EMU_ASAN
constexpr size_t kFiberStackBytes = 1 << 20;
#else
constexpr size_t kFiberStackBytes = 256 << 10;
#endif

class Fiber {
 public:
  using Entry = void (*)(void* arg);

  // The calling OS thread's own context: the one fibers switch back to.
  Fiber();
  // A fiber with a stack of its own (`stack_bytes`, below it an inaccessible guard page) that
  // starts in entry(arg) when first switched to; entry must never return.
  Fiber(size_t stack_bytes, Entry entry, void* arg);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Suspends `from`, the context running now, and resumes `to`; returns when something switches
  // back to `from`.
  static void switch_to(Fiber& from, Fiber& to);

 private:
  static void start(void* self);
  void after_resume();

  void* sp_ = nullptr;       // saved stack pointer while suspended (x86-64 switch)
  void* context_ = nullptr;  // ucontext_t while suspended (portable switch)
  unsigned char* map_ = nullptr;
  size_t map_bytes_ = 0;
  const void* stack_bottom_ = nullptr;  // for the sanitizer: where the usable stack starts …
  size_t stack_bytes_ = 0;              // … and how long it is (the host's: learnt on first switch)
  void* fake_stack_ = nullptr;          // the sanitizer's detect_stack_use_after_return frames
  Fiber* resumed_from_ = nullptr;
  Entry entry_ = nullptr;
  void* arg_ = nullptr;
};

}  // namespace bgn::emu
