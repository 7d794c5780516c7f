// Calibrating an int8 export (train/int8_export.h).
#include "train/int8_export.h"

#include "train/run_setup.h"
#include "train/trainer.h"

namespace rpg {

Int8Calibration calibrate_export(Network& net, const ExportOptions& o, uint64_t seen, const std::string& data_path,
                                 int batches, std::unique_ptr<Backend> backend) {
  ExportOptions draft = o;
  draft.bits = 8;
  draft.int8 = true;
  draft.calibration = Int8Calibration{};
  draft.calibration.batches = draft.calibration.images = 1;
  draft.calibration.ranges.assign(net.layers().size(), {0.f, 0.f});
  const ClassifierData cd = load_classifier_data(data_path);
  auto exported = load_export_from_bytes(encode_export(net, draft, seen), "(calibration draft)", std::move(backend), false);
  check_classes(cd, *exported);
  const auto train_set = open_classifier_set(cd, "train", *exported);
  return calibrate_activations(*exported, *train_set, batches);
}

}  // namespace rpg
