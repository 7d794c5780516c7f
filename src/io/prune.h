// Magnitude pruning of rings (RPG.md, "Pruning and quantization"): the fraction f of a ring's
// entries with the smallest magnitude is zeroed. Used by the export (io/export.h) and by pruned
// fine-tuning (`classifier train --prune F`), which freezes the mask (Ring::set_mask).
#pragma once
#include <cstdint>
#include <vector>

namespace rpg {

class Network;

// How many of K entries a fraction prunes: llround(f * K) (halves round away from zero).
int64_t pruned_count(int64_t k, double fraction);

// keep[j] = 0 for the pruned_count(K, f) entries of smallest |v| (ties: lower index first), 1
// for the others. Error(InvalidArgument) for f outside [0, 1) or a non-finite value.
std::vector<uint8_t> prune_keep_mask(const std::vector<float>& values, double fraction);

// Prunes every ring of the network: the pruned entries are set to 0 (values and momentum) and
// the weights regenerated. freeze: also install the mask so that training keeps them at 0.
// Returns the number of entries pruned over all rings. Error(InvalidArgument) as above, or when
// the network has no rings. Checkpoints do not hold the mask: after resuming a pruned
// fine-tuning, call this again with the same fraction; the pruned entries are then the zeros,
// so the same mask is found (unless a kept entry happens to be exactly 0 too).
int64_t prune_rings(Network& net, double fraction, bool freeze);

}  // namespace rpg
