// Fibers for the emulator's threads (see fiber.h).
#include "cuda_emu/fiber.h"

#include <cstdint>
#include <cstdlib>
#include <sys/mman.h>
#include <unistd.h>

#include "cuda_emu/internal.h"

#ifdef BGN_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__x86_64__) && defined(__linux__) && !defined(BGN_EMU_UCONTEXT)  // BGN_EMU_UCONTEXT: the portable switch
#define BGN_EMU_X86_64_SWITCH 1
#else
#include <ucontext.h>
#endif

#ifdef BGN_EMU_X86_64_SWITCH
// bgn_emu_fiber_switch(save, next): pushes the callee-saved registers and the SSE / x87 control
// words onto the running stack, stores the stack pointer in *save, loads `next` and pops the same
// from there. A new fiber's stack is laid out as if it had been suspended here, returning into
// bgn_emu_fiber_start, which calls r12(r13): its entry function with its argument.
extern "C" void bgn_emu_fiber_switch(void** save, void* next);
extern "C" void bgn_emu_fiber_start();
asm(R"(
  .text
  .globl bgn_emu_fiber_switch
  .hidden bgn_emu_fiber_switch
  .type bgn_emu_fiber_switch, @function
bgn_emu_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size bgn_emu_fiber_switch, .-bgn_emu_fiber_switch

  .globl bgn_emu_fiber_start
  .hidden bgn_emu_fiber_start
  .type bgn_emu_fiber_start, @function
bgn_emu_fiber_start:
  movq %r13, %rdi
  callq *%r12
  ud2
  .size bgn_emu_fiber_start, .-bgn_emu_fiber_start
  .section .note.GNU-stack, "", @progbits
  .text
)");
#endif

namespace bgn::emu {

namespace {
#ifndef BGN_EMU_X86_64_SWITCH
thread_local Fiber* tl_starting = nullptr;  // the fiber that makecontext's trampoline starts
#endif
}  // namespace

Fiber::Fiber() {
#ifndef BGN_EMU_X86_64_SWITCH
  context_ = new ucontext_t;
#endif
}

Fiber::Fiber(size_t stack_bytes, Entry entry, void* arg) : entry_(entry), arg_(arg) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t usable = (stack_bytes + page - 1) / page * page;
  map_bytes_ = usable + page;
  void* p = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) die("cannot map a thread's stack");
  map_ = static_cast<unsigned char*>(p);
  mprotect(map_, page, PROT_NONE);  // an overflowing stack crashes at once
  stack_bottom_ = map_ + page;
  stack_bytes_ = usable;
#ifdef BGN_EMU_X86_64_SWITCH
  uint32_t mxcsr = 0;
  uint16_t fpu_cw = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpu_cw));
  // From the top: a zero slot (the entry's caller's return address: backtraces end there), the
  // return into bgn_emu_fiber_start, rbp = 0, rbx, r12 = start, r13 = this, r14, r15, the control
  // words. bgn_emu_fiber_start then runs with a 16-byte aligned stack, as a call expects.
  auto* sp = reinterpret_cast<uint64_t*>(map_ + map_bytes_) - 10;
  sp[0] = mxcsr | (uint64_t{fpu_cw} << 32);
  sp[1] = 0;
  sp[2] = 0;
  sp[3] = reinterpret_cast<uint64_t>(this);
  sp[4] = reinterpret_cast<uint64_t>(&Fiber::start);
  sp[5] = 0;
  sp[6] = 0;
  sp[7] = reinterpret_cast<uint64_t>(&bgn_emu_fiber_start);
  sp[8] = 0;
  sp[9] = 0;
  sp_ = sp;
#else
  auto* uc = new ucontext_t;
  context_ = uc;
  getcontext(uc);
  uc->uc_stack.ss_sp = map_ + page;
  uc->uc_stack.ss_size = usable;
  uc->uc_link = nullptr;
  makecontext(uc, reinterpret_cast<void (*)()>(+[] { Fiber::start(tl_starting); }), 0);
#endif
}

Fiber::~Fiber() {
#ifndef BGN_EMU_X86_64_SWITCH
  delete static_cast<ucontext_t*>(context_);
#endif
  if (map_ != nullptr) munmap(map_, map_bytes_);
}

void Fiber::start(void* self) {
  Fiber* f = static_cast<Fiber*>(self);
  f->after_resume();
  f->entry_(f->arg_);
  die("a fiber's entry function returned");
}

void Fiber::switch_to(Fiber& from, Fiber& to) {
  to.resumed_from_ = &from;
#ifdef BGN_EMU_ASAN
  __sanitizer_start_switch_fiber(&from.fake_stack_, to.stack_bottom_, to.stack_bytes_);
#endif
#ifdef BGN_EMU_X86_64_SWITCH
  bgn_emu_fiber_switch(&from.sp_, to.sp_);
#else
  tl_starting = &to;
  swapcontext(static_cast<ucontext_t*>(from.context_), static_cast<ucontext_t*>(to.context_));
#endif
  from.after_resume();
}

// Runs first thing whenever this fiber resumes. The sanitizer learns it is back on this stack
// and tells which stack it came from: how the host thread's stack bounds become known.
void Fiber::after_resume() {
#ifdef BGN_EMU_ASAN
  const void* bottom = nullptr;
  size_t bytes = 0;
  __sanitizer_finish_switch_fiber(fake_stack_, &bottom, &bytes);
  if (resumed_from_ != nullptr && resumed_from_->map_ == nullptr) {
    resumed_from_->stack_bottom_ = bottom;
    resumed_from_->stack_bytes_ = bytes;
  }
#endif
}

}  // namespace bgn::emu
