// Compressed model export (RPG.md, "Pruning and quantization"): a self-contained file holding the
// cfg text, every ring (seed, K, values pruned and/or quantized to B bits with one scale per
// block, stored densely or as bitmap + kept values), the unshared parameters in float32 or
// float16, in the rpgnet container (container.h: magic, version, sizes, CRC-32). Loading
// rebuilds the network from the embedded cfg and regenerates the weights from the rings.
//
// Sections (all required; integers little-endian; str = uint32 length + bytes):
//   EXPT  uint32 export version (kExportVersion; version 1 files still load), uint32 layer count,
//         uint32 ring count, uint32 flags (version 1: reserved, 0; version 2: bit 0 = int8, the
//         other bits 0), uint64 unshared float count, uint64 architecture fingerprint
//         (a hash of every layer's type, shapes, tensor sizes and ring binding, and of every
//         ring's name, seed, K and N), uint64 images seen in training (informational)
//   CFGZ  uint64 length of the cfg text, then the text as one zlib stream (the cfg the network
//         was built from, overrides applied, written by cfg_to_text)
//   Rnnn  one per ring, nnn = 000, 001, ... in cfg order:
//         str name, uint64 seed, uint64 K, uint64 N (generated weights),
//         uint32 bits (2..16, or 32: float32 values), uint32 block (entries per scale; 0 when
//         bits = 32), uint32 layout (0 dense: all K entries; 1 sparse: bitmap + kept entries),
//         uint64 pruned (entries zeroed by pruning),
//         sparse only: ceil(K / 8) bytes, bit j (least significant first) set = entry j stored;
//         bits < 32 only: ceil(K / block) float32 scales, scale b for entries [b block, (b+1) block);
//         then M values, M = K (dense) or K - pruned (sparse): M float32 when bits = 32, else
//         the M codes u = q + 2^(B-1) - 1 packed at B bits each (io/quantize.h), value = q scale
//   UNSH  uint32 precision (16 or 32), uint64 count, then every tensor no ring generates
//         (biases, batch-norm scales and rolling statistics, unbound layers' weights), layer by
//         layer: the .weights tensors in file order, then any other trainable tensor
//   CALB  (version 2, present exactly when flag int8 is set) the activation calibration of the
//         int8 engine (core/int8_net.h): uint32 method (0: min/max per tensor), uint32 batches,
//         uint32 images per batch (both >= 1), uint32 count (= the layer count), then per layer
//         float32 min and max of its input over the calibration images (finite, min <= max).
//         With int8, every ring is stored at 8 bits with one scale (block >= K), so that every
//         generated weight is exactly s(p) q[pi(p) mod K] (c scale): an s8 code times one float
//         per layer. The int8 engine runs such a file unless float32 is asked for; readers that
//         ignore CALB (load_export with int8 = false) get the same float32 model as without it.
//
// Calibration (calibrate_activations, train/trainer.h): the export runs N batches of the .data
// file's training images, sequential from the first and without augmentation (as evaluation
// loads them), through the float32 inference pass of the exported (quantized) weights, and
// records each layer input's min and max: deterministic for a given file, batch and list.
//
// Quantization error: an entry r of a block with scale s = max|r| / (2^(B-1) - 1) is decoded
// within s / 2 of r (plus float rounding of q * s). Pruned entries decode to exactly 0.
// Size: the layout is whichever of dense and sparse is smaller, and the scale block is raised
// above `block` for large rings so that all scales take at most kExportScaleBudget floats (plus
// one per ring); so the file never exceeds K B / 8 + the unshared part + 4 KB for cfgs whose
// compressed text and ring names stay within about 1.5 KB (export_size_bound).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/int8_net.h"
#include "core/network.h"

namespace rpg {

constexpr uint32_t kExportVersion = 2;
constexpr uint32_t kExportFlagInt8 = 1;
constexpr int64_t kExportScaleBudget = 512;  // scale floats over all rings (about 2 KB)

enum class UnsharedPrecision { fp32, fp16 };

struct ExportOptions {
  int bits = 32;       // ring values: 2..16 bits, or 32 (float32, exact)
  double prune = 0;    // fraction of each ring's entries zeroed (smallest magnitude), [0, 1)
  UnsharedPrecision unshared = UnsharedPrecision::fp32;
  int block = 64;      // entries per quantization scale (at least; see above), 1..2^24
  // int8 (needs bits = 8): one scale per ring, and the calibration stored (CALB) for the int8
  // engine; calibration.ranges must hold one range per layer.
  bool int8 = false;
  Int8Calibration calibration;
};

// Error(InvalidArgument) naming the bad option.
void check_export_options(const ExportOptions& o);

// The file's bytes. The network is not changed (pruning and quantization apply to a copy).
// Error(InvalidArgument) for bad options, non-finite parameters, or an unshared value beyond
// float16's range with UnsharedPrecision::fp16.
std::string encode_export(Network& net, const ExportOptions& o, uint64_t seen = 0);
// Writes the file atomically (write_file_atomic).
void export_model(Network& net, const ExportOptions& o, const std::string& path, uint64_t seen = 0);

// Rebuilds the network from the file's embedded cfg on `backend` and loads the exported values
// (the weights are regenerated from the rings). The whole file is validated first. Error
// (NotFound) when the file cannot be read; Error(FormatError) naming the file for anything
// wrong in it, the embedded cfg included. An int8 file gets the int8 engine
// (Network::set_inference_plan, core/int8_net.h) when `int8` is true and the backend runs it (the
// CPU backend on oneDNN); otherwise it runs float32 like any other export.
std::unique_ptr<Network> load_export(const std::string& path, std::unique_ptr<Backend> backend, bool int8 = true);
std::unique_ptr<Network> load_export_from_bytes(const std::string& bytes, const std::string& name,
                                                std::unique_ptr<Backend> backend, bool int8 = true);

// Loads the exported values into a network built from a cfg of the same architecture (what
// `classifier valid/predict` do: [net] training keys such as batch may differ; layer types,
// shapes, tensor sizes, ring bindings and rings (name, seed, K, N) must not; keys that change no
// tensor, such as a layer's activation, are not compared). Error(FormatError) naming the file and
// the first differing layer or ring otherwise; a rejected file leaves the network unchanged.
void load_export_into(Network& net, const std::string& path, bool int8 = true);
void load_export_into_from_bytes(Network& net, const std::string& bytes, const std::string& name, bool int8 = true);

struct ExportRingInfo {
  std::string name;
  uint64_t seed = 0;
  int64_t k = 0, n = 0;  // entries, generated weights
  int bits = 32, block = 0;
  bool sparse = false;
  int64_t pruned = 0;
  double kept_fraction = 1;
  size_t bytes = 0;      // the section's payload
};

struct ExportInfo {
  std::string name;
  size_t total_bytes = 0;
  uint32_t container_version = 0, export_version = 0;
  uint32_t layers = 0;
  uint64_t seen = 0, fingerprint = 0;
  std::string cfg_text;
  size_t cfg_bytes = 0;  // the CFGZ payload
  std::vector<ExportRingInfo> rings;
  int unshared_bits = 32;
  int64_t unshared_count = 0;
  size_t unshared_bytes = 0;  // the UNSH payload
  bool int8 = false;          // flag int8: the calibration below is the CALB section
  Int8Calibration calibration;
  // K B / 8 (rounded up) over rings + UNSH payload + 4096: the size the format promises.
  size_t size_bound() const;
};

// Validates the whole file (as load_export, without building the network) and says what it
// holds. Error(FormatError) naming `name`.
ExportInfo describe_export(const std::string& bytes, const std::string& name);
// Human-readable lines for `rpgnet info`.
std::string export_info_text(const ExportInfo& info);

// The bound for this network and these options, before encoding: sum over rings of
// ceil(K B / 8) + the unshared values at their precision + 12 + 4096.
size_t export_size_bound(Network& net, const ExportOptions& o);

// True when the file starts like an rpgnet container whose first section is EXPT (cheap: reads
// 20 bytes; the loaders validate everything).
bool is_export_file(const std::string& path);

}  // namespace rpg
