// make_backend and friends: the one place that knows which backends a build contains.
#include "backend/factory.h"

#include "backend/cpu_backend.h"
#include "base/error.h"
#ifdef RPG_GPU
#include "cuda_backend.h"
#endif

namespace rpg {

#ifndef RPG_GPU
namespace {
const char* kNoCuda = "this build has no CUDA support (rebuild with make GPU=1)";
}
#endif

std::unique_ptr<Backend> make_backend(int gpu, int threads, bool deterministic) {
  if (gpu < 0) return std::make_unique<CpuBackend>(threads, deterministic ? CpuEngine::Reference : CpuEngine::OneDnn);
#ifdef RPG_GPU
  std::string why;
  const int count = CudaBackend::device_count(&why);
  if (count == 0) fail(Status::DeviceError, "no CUDA device for --gpu " + std::to_string(gpu) + ": " + why);
  if (gpu >= count)
    fail(Status::DeviceError, "no CUDA device " + std::to_string(gpu) + ": this machine has " +
                                  std::to_string(count) + " (devices 0.." + std::to_string(count - 1) + ")");
  return std::make_unique<CudaBackend>(gpu);
#else
  fail(Status::Unsupported, kNoCuda);
#endif
}

std::unique_ptr<Backend> make_host_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

bool is_onednn_cpu(const Backend& be) {
  const auto* cpu = dynamic_cast<const CpuBackend*>(&be);
  return cpu && cpu->engine() == CpuEngine::OneDnn;
}

int cuda_device_count() {
#ifdef RPG_GPU
  return CudaBackend::device_count(nullptr);
#else
  return 0;
#endif
}

bool cuda_available(std::string* why) {
#ifdef RPG_GPU
  std::string reason;
  const bool ok = CudaBackend::device_count(&reason) > 0;
  if (!ok && why) *why = "no CUDA device: " + reason;
  return ok;
#else
  if (why) *why = kNoCuda;
  return false;
#endif
}

std::string build_features() {
#ifdef RPG_GPU
  return "openblas,onednn,cuda";
#else
  return "openblas,onednn";
#endif
}

}  // namespace rpg
