// BGN_LAUNCH(kernel, grid, block, smem, stream)(args...) of the emulator: Launch() checks the
// configuration the way CUDA does, then operator() runs the whole grid before returning.
#pragma once
#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_emu/qualifiers.h"
#include "cuda_emu/runtime.h"

namespace bgn::emu {

// One launch as the team sees it. file/line are the launch site, so a failure names the launch.
struct LaunchConfig {
  const void* kernel;
  dim3 grid;
  dim3 block;
  size_t smem;
  const char* file;
  int line;
};

// cudaSuccess when the configuration is launchable; otherwise the error CUDA reports (recorded as
// the last error by the caller, and the grid is not run).
cudaError_t check_launch(const LaunchConfig& cfg);
// Runs every block of the grid, one after another; each block's threads run `body` concurrently.
void run_grid(const LaunchConfig& cfg, const std::function<void()>& body);
// Records `err` as the calling host thread's last error (cudaGetLastError).
void set_last_error(cudaError_t err);
// The running block's dynamic shared memory: the launch's smem bytes, poisoned (0xFF) at block
// start and ending at an inaccessible page, so reads past the requested size crash.
unsigned char* dynamic_shared();

template <class... P>
class Launcher {
 public:
  Launcher(void (*kernel)(P...), const LaunchConfig& cfg) : kernel_(kernel), cfg_(cfg) {}

  // Arguments are converted to the kernel's parameter types once, as CUDA copies them into the
  // parameter buffer; every thread then calls the kernel with its own copy.
  template <class... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong number of arguments");
    const cudaError_t err = check_launch(cfg_);
    if (err != cudaSuccess) {
      set_last_error(err);
      return;
    }
    const std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
    void (*kernel)(P...) = kernel_;
    const std::function<void()> body = [kernel, &params] { std::apply(kernel, params); };
    run_grid(cfg_, body);
  }

 private:
  void (*kernel_)(P...);
  LaunchConfig cfg_;
};

template <class... P>
Launcher<P...> Launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                      const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  (void)stream;  // streams are synchronous in the emulator
  return Launcher<P...>(kernel, LaunchConfig{reinterpret_cast<const void*>(kernel), grid, block, smem, file, line});
}

}  // namespace bgn::emu
