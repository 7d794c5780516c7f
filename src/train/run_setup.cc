// Run setup shared by the command line and the C API (see run_setup.h).
#include "train/run_setup.h"

#include "base/error.h"

namespace rpg {

void check_classes(const ClassifierData& d, const Network& net) {
  const std::string& cfg = net.cfg_path();
  if (d.data.classes != net.output_size())
    fail(Status::InvalidArgument, d.data.path + " has classes=" + std::to_string(d.data.classes) + " but " +
                                      (cfg.empty() || cfg[0] == '<' ? std::string("the network") : cfg) + " ends in " +
                                      std::to_string(net.output_size()) + " outputs");
}

ClassifierData load_classifier_data(const std::string& data_path) {
  ClassifierData d;
  d.data = load_data_config(data_path);
  if (!d.data.labels.empty()) {
    d.labels = load_labels(d.data.labels, d.data.classes);
  } else {
    for (int i = 0; i < d.data.classes; ++i) d.labels.push_back(std::to_string(i));
  }
  return d;
}

std::unique_ptr<Dataset> open_classifier_set(const ClassifierData& d, const std::string& key, const Network& net) {
  const std::string& source = key == "train" ? d.data.train : d.data.valid;
  if (source.empty()) fail(Status::InvalidArgument, d.data.path + " has no '" + key + "' set");
  return open_dataset(source, d.labels, net.input_shape().c);
}

std::string run_name(const std::string& cfg_path) {
  if (cfg_path.empty() || cfg_path[0] == '<') return "model";
  const size_t slash = cfg_path.find_last_of('/');
  const std::string b = cfg_path.substr(slash == std::string::npos ? 0 : slash + 1);
  const size_t dot = b.rfind('.');
  return dot == std::string::npos || dot == 0 ? b : b.substr(0, dot);
}

std::string backup_dir(const DataConfig& data) { return data.backup.empty() ? "backup" : data.backup; }

}  // namespace rpg
