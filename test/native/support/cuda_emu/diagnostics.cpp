// Messages of the emulator's fatal errors: what went wrong, in which launch, block and thread.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cxxabi.h>
#include <dlfcn.h>
#include <sstream>

#include "cuda_emu/internal.h"

namespace bgn::emu {

namespace {
std::atomic<const LaunchConfig*> g_current{nullptr};

// The kernel's symbol when the dynamic symbol table has it (functions with internal linkage and
// executables without -rdynamic have none); its address otherwise. The launch site always names it.
std::string kernel_name(const void* kernel) {
  Dl_info info{};
  if (dladdr(kernel, &info) != 0 && info.dli_sname != nullptr) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
    std::string name = status == 0 && demangled ? demangled : info.dli_sname;
    std::free(demangled);
    return name;
  }
  std::ostringstream os;
  os << "at " << kernel;
  return os.str();
}
}  // namespace

const LaunchConfig* current_launch() { return g_current.load(); }
void set_current_launch(const LaunchConfig* cfg) { g_current.store(cfg); }

std::string describe_launch(const LaunchConfig& cfg) {
  std::ostringstream os;
  os << "kernel " << kernel_name(cfg.kernel) << " launched at " << (cfg.file ? cfg.file : "?") << ":" << cfg.line
     << " with grid (" << cfg.grid.x << "," << cfg.grid.y << "," << cfg.grid.z << ") block (" << cfg.block.x << ","
     << cfg.block.y << "," << cfg.block.z << ") smem " << cfg.smem;
  return os.str();
}

void die(const std::string& message) {
  std::ostringstream os;
  os << "bgn cuda emulator: " << message << "\n";
  if (const LaunchConfig* cfg = current_launch()) {
    os << "  in " << describe_launch(*cfg) << "\n";
    if (tl_ctx.block != nullptr) {
      os << "  at block (" << tl_ctx.block_idx.x << "," << tl_ctx.block_idx.y << "," << tl_ctx.block_idx.z
         << ") thread (" << tl_ctx.thread_idx.x << "," << tl_ctx.thread_idx.y << "," << tl_ctx.thread_idx.z << ") warp "
         << tl_ctx.warp << " lane " << tl_ctx.lane << "\n";
    }
  }
  const std::string text = os.str();
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace bgn::emu
