// Writing cfgs back as text (exports embed the cfg a network was built from) and the ring-free
// variant of a cfg (the architecture an expanded Darknet .weights file belongs to).
#pragma once
#include <string>

#include "cfg/cfg.h"

namespace rpg {

// Canonical text: "[type]" and then "key=value" lines in their original order, a blank line
// between sections, no comments. parse_cfg of the result gives the same sections, keys and
// values (only line numbers differ).
std::string cfg_to_text(const CfgFile& cfg);

// The same cfg without [ring] sections and without any layer's ring= key: every generated
// weight tensor becomes a free one.
CfgFile strip_rings(const CfgFile& cfg);

}  // namespace rpg
