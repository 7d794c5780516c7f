// Calibrating an int8 export (io/export.h, flag int8): shared by `rpgnet export --int8` and the
// C API's rpg_export_options_set_int8.
#pragma once
#include <memory>
#include <string>

#include "backend/backend.h"
#include "core/int8_net.h"
#include "core/network.h"
#include "io/export.h"

namespace rpg {

// The activation ranges for an int8 export of `net` with options `o`: the model as the file will
// hold it (8-bit rings with one scale each, pruned as o says) is rebuilt on `backend` from the
// export's bytes, in float32, at the cfg's batch size, and calibrated on `batches` batches of the
// 'train' list of the .data file `data_path` (calibrate_activations, train/trainer.h). Errors as
// load_classifier_data and calibrate_activations; Error(InvalidArgument) when the .data file's
// classes do not match the network.
Int8Calibration calibrate_export(Network& net, const ExportOptions& o, uint64_t seen, const std::string& data_path,
                                 int batches, std::unique_ptr<Backend> backend);

}  // namespace rpg
