// Renders the model summary table (see summary.h).
#include "core/summary.h"

#include <cstdio>

namespace rpg {

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string summary_table(const Network& net) {
  std::string t;
  char line[512];
  const bool rings = !net.rings().empty();
  std::snprintf(line, sizeof line, "%5s  %-14s %9s  %-11s %16s    %16s %12s %11s  %s\n", "layer", "type",
                "filters", "size/strd", "input", "output", "params", "MFLOPs", rings ? "ring" : "");
  t += line;
  for (const auto& l : net.layers()) {
    auto shape = [](const Shape& s) {
      char b[64];
      std::snprintf(b, sizeof b, "%4d x%4d x%5d", s.w, s.h, s.c);
      return std::string(b);
    };
    const int64_t p = l->num_params();
    std::snprintf(line, sizeof line, "%5d  %-14s %9s  %-11s %16s -> %16s %12s %11.3f  %s\n", l->index,
                  l->type.c_str(), l->summary_filters().c_str(), l->summary_size().c_str(), shape(l->in).c_str(),
                  shape(l->out).c_str(), p ? with_commas(p).c_str() : "", 2.0 * double(l->macs()) / 1e6,
                  (l->ring.empty() ? l->summary_note() : l->ring).c_str());
    t += line;
  }
  std::snprintf(line, sizeof line,
                "parameters: %s\nGFLOPs per image: %.3f\nactivation memory per image: %.2f MiB (%s floats)\n",
                with_commas(net.num_params()).c_str(), 2.0 * double(net.macs()) / 1e9,
                double(net.activation_floats()) * 4.0 / (1024.0 * 1024.0),
                with_commas(net.activation_floats()).c_str());
  t += line;
  if (rings) t += dof_summary(net);
  return t;
}

std::string dof_summary(const Network& net) {
  std::string t;
  char line[256];
  const double p = double(net.num_params());
  for (const auto& r : net.rings()) {
    std::snprintf(line, sizeof line, "ring '%s': K = %s entries (seed %llu) generating %s weights of %zu layers\n",
                  r->name().c_str(), with_commas(r->size()).c_str(), (unsigned long long)r->seed(),
                  with_commas(r->positions()).c_str(), r->bindings().size());
    t += line;
  }
  std::snprintf(line, sizeof line,
                "full parameters: %s\nring DoF: %s (%.4f%% of full)\ntotal DoF: %s (%.4f%% of full; unshared %s)\n",
                with_commas(net.num_params()).c_str(), with_commas(net.ring_dof()).c_str(),
                100.0 * double(net.ring_dof()) / p, with_commas(net.total_dof()).c_str(),
                100.0 * double(net.total_dof()) / p, with_commas(net.num_params() - net.generated_params()).c_str());
  t += line;
  return t;
}

}  // namespace rpg
