// Cfg serialisation and ring stripping (see cfg_text.h).
#include "cfg/cfg_text.h"

#include <algorithm>

namespace rpg {

std::string cfg_to_text(const CfgFile& cfg) {
  std::string out;
  for (size_t i = 0; i < cfg.sections.size(); ++i) {
    const CfgSection& s = cfg.sections[i];
    if (i) out += '\n';
    out += "[" + s.type + "]\n";
    for (const CfgEntry& e : s.entries) out += e.key + "=" + e.value + "\n";
  }
  return out;
}

CfgFile strip_rings(const CfgFile& cfg) {
  CfgFile out;
  out.path = cfg.path;
  for (const CfgSection& s : cfg.sections) {
    if (s.type == "ring") continue;
    CfgSection c = s;
    c.entries.erase(std::remove_if(c.entries.begin(), c.entries.end(),
                                   [](const CfgEntry& e) { return e.key == "ring"; }),
                    c.entries.end());
    out.sections.push_back(std::move(c));
  }
  return out;
}

}  // namespace rpg
