// The model summary printed by `rpgnet info`: Darknet's table plus parameters and MFLOPs.
#pragma once
#include <string>

#include "core/network.h"

namespace rpg {

// FLOPs follow Darknet: 2 x multiply-adds of convolutional and connected layers.
std::string summary_table(const Network& net);
// 1234567 -> "1,234,567"
std::string with_commas(int64_t n);

}  // namespace rpg
