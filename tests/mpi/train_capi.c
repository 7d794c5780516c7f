/* Data-parallel training through the C API (tests/mpi/mpi.sh): trains CFG on DATA with the
 * library's trainer, as one rank of an MPI job when MODE is "mpi" (rpg_trainer_set_distributed
 * on RPG_COMM_WORLD), else in one process. Prints "rank R of N", then one line per update,
 * "update U loss L" (L with 9 significant digits, the loss of the whole batch, which every rank
 * reports), then "finished F". Checks first that bad arguments are refused.
 * Usage: train_capi DATA CFG mpi|single   (exit status 0 only when every call succeeded) */
#include <stdio.h>
#include <string.h>

#include "rpgnet.h"

static int32_t on_progress(int64_t update, int64_t max_updates, double epoch, double loss, double avg_loss,
                           float learning_rate, double images_per_second, void* user_data) {
  (void)max_updates, (void)epoch, (void)avg_loss, (void)learning_rate, (void)images_per_second, (void)user_data;
  printf("update %lld loss %.9g\n", (long long)update, loss);
  return 0;
}

static int failed(const char* what, rpg_status st) {
  fprintf(stderr, "train_capi: %s returned %d (%s): %s\n", what, (int)st, rpg_status_string(st), rpg_last_error());
  return 1;
}

int main(int argc, char** argv) {
  rpg_network* net = NULL;
  rpg_trainer* trainer = NULL;
  int32_t rank = 0, size = 1, finished = 0;
  rpg_status st;
  int distributed;
  if (argc != 4) {
    fprintf(stderr, "usage: train_capi DATA CFG mpi|single\n");
    return 2;
  }
  distributed = strcmp(argv[3], "mpi") == 0;
  if ((st = rpg_network_create(argv[2], NULL, &net)) != RPG_STATUS_OK) return failed("rpg_network_create", st);
  if ((st = rpg_network_set_threads(net, 1)) != RPG_STATUS_OK) return failed("rpg_network_set_threads", st);
  if ((st = rpg_trainer_create(net, argv[1], &trainer)) != RPG_STATUS_OK) return failed("rpg_trainer_create", st);
  if ((st = rpg_trainer_set_report_every(trainer, 1)) != RPG_STATUS_OK) return failed("set_report_every", st);
  if ((st = rpg_trainer_set_progress_callback(trainer, on_progress, NULL)) != RPG_STATUS_OK)
    return failed("set_progress_callback", st);
  if (distributed) {
    if (rpg_trainer_set_distributed(trainer, -5, 10, NULL, NULL) != RPG_STATUS_INVALID_ARGUMENT ||
        rpg_trainer_set_distributed(trainer, RPG_COMM_WORLD, 0, NULL, NULL) != RPG_STATUS_INVALID_ARGUMENT) {
      fprintf(stderr, "train_capi: a bad communicator or timeout was accepted\n");
      return 1;
    }
    if ((st = rpg_trainer_set_distributed(trainer, RPG_COMM_WORLD, 60, &rank, &size)) != RPG_STATUS_OK)
      return failed("rpg_trainer_set_distributed", st);
  }
  printf("rank %d of %d\n", (int)rank, (int)size);
  if ((st = rpg_trainer_run(trainer, &finished)) != RPG_STATUS_OK) return failed("rpg_trainer_run", st);
  printf("finished %d\n", (int)finished);
  rpg_trainer_free(trainer);
  rpg_network_free(net);
  if ((st = rpg_distributed_finalize()) != RPG_STATUS_OK) return failed("rpg_distributed_finalize", st);
  return 0;
}
