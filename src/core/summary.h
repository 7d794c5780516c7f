// The model summary printed by `rpgnet info`: Darknet's table plus parameters and MFLOPs.
#pragma once
#include <string>

#include "core/network.h"

namespace rpg {

// FLOPs follow Darknet: 2 x multiply-adds of convolutional and connected layers.
std::string summary_table(const Network& net);
// Rings and degrees of freedom (RPG.md): each ring, full parameters, ring DoF, total DoF.
std::string dof_summary(const Network& net);
// 1234567 -> "1,234,567"
std::string with_commas(int64_t n);

}  // namespace rpg
