// What a classifier run needs around the network, shared by `rpgnet classifier` and the C API's
// trainer: the .data file checked against the network, its class labels, its sets, and the name
// and folder of the run's checkpoints.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/network.h"
#include "data/data_config.h"
#include "data/dataset.h"

namespace rpg {

struct ClassifierData {
  DataConfig data;
  std::vector<std::string> labels;  // the labels file's names, or "0" .. "classes-1"
};

// Reads the .data file and its labels (errors of load_data_config / load_labels).
ClassifierData load_classifier_data(const std::string& data_path);
// Error(InvalidArgument) when the .data file's classes differ from the network's outputs.
void check_classes(const ClassifierData& d, const Network& net);

// Opens the set `source` (the .data file's value for `key`, "train" or "valid") with the
// network's input channels. Error(InvalidArgument) "<data> has no '<key>' set" when it is empty.
std::unique_ptr<Dataset> open_classifier_set(const ClassifierData& d, const std::string& key, const Network& net);

// The base name of a run's checkpoint and weights: the cfg's file name without its extension,
// "model" for a cfg that came from memory ("<text>") or has no path.
std::string run_name(const std::string& cfg_path);
// The .data file's backup folder, "backup" when it names none.
std::string backup_dir(const DataConfig& data);

}  // namespace rpg
