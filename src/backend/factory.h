// Choosing a backend at run time: the CPU backend, or the CUDA backend on a given device when
// this build has one (make GPU=1). The rest of the library only sees rpg::Backend.
#pragma once
#include <memory>
#include <string>

#include "backend/backend.h"

namespace rpg {

// gpu < 0: a CpuBackend with `threads` threads, on oneDNN, or on the reference engine when
// deterministic (results identical for every thread count; see cpu_backend.h). gpu >= 0: a
// CudaBackend on device `gpu` (threads and deterministic are then ignored). Throws Error(Unsupported) when this build has no CUDA support and
// Error(DeviceError) when the machine has no such device.
std::unique_ptr<Backend> make_backend(int gpu, int threads, bool deterministic = false);

// A backend whose buffers live in host memory (the CPU backend), for scratch networks that
// only answer questions, such as the architecture of a file being compared.
std::unique_ptr<Backend> make_host_backend(int threads);

// True when `be` is the CPU backend on its oneDNN engine (host memory; what the int8 inference
// engine, core/int8_net.h, runs beside).
bool is_onednn_cpu(const Backend& be);

// The number of CUDA devices this build can use (0 without CUDA support or without a device).
int cuda_device_count();

// True when make_backend(0, ...) can succeed; otherwise false with the reason in *why (nullable).
bool cuda_available(std::string* why);

// What this build has, comma-separated: "openblas,onednn" or "openblas,onednn,cuda".
std::string build_features();

}  // namespace rpg
