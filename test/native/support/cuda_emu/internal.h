// Internals shared by the emulator's runtime files (not for kernels or the backend).
#pragma once
#include <mutex>
#include <string>

#include "cuda_emu/launch.h"

namespace bgn::emu {

constexpr size_t kStaticSmemLimit = 48 * 1024;  // dynamic smem allowed without cudaFuncSetAttribute
constexpr size_t kOptinSmemLimit = 227 * 1024;  // sharedMemPerBlockOptin of the emulated device
constexpr unsigned kMaxThreadsPerBlock = 1024;

// Serialises launches and the memory API: both change the protection of device pages.
std::mutex& launch_mutex();

// Device pages are readable and writable only while the caller (holding launch_mutex) needs them.
void open_device_memory();
void close_device_memory();

// The launch currently running (nullptr between launches); for messages.
const LaunchConfig* current_launch();
void set_current_launch(const LaunchConfig* cfg);

// "kernel NAME launched at FILE:LINE with grid (..) block (..)".
std::string describe_launch(const LaunchConfig& cfg);

// Prints "bgn cuda emulator: <message>" plus the running launch, block and thread, then aborts:
// the failures that would hang or corrupt a GPU run must stop the test at once, with a reason.
[[noreturn]] void die(const std::string& message);

// The cudaFuncAttributeMaxDynamicSharedMemorySize set for `kernel` (48 KiB when never set).
size_t max_dynamic_smem(const void* kernel);

}  // namespace bgn::emu
