package org.rpgnet;

/** The training loop on a Darknet .data file (rpg_trainer). It borrows its network, which it
 * keeps reachable; close the trainer before the network. */
public final class Trainer extends NativeHandle {
  private final Network net;
  private volatile ProgressListener listener;

  public Trainer(Network net, String dataPath) {
    super(net.with(h -> { long[] out = new long[1]; RpgNative.rpg_trainer_create(h, dataPath, out); return out[0]; }),
          RpgNative::rpg_trainer_free);
    this.net = net;
  }

  public Trainer backupDir(String dir) { run(h -> RpgNative.rpg_trainer_set_backup_dir(h, dir)); return this; }
  public Trainer name(String name) { run(h -> RpgNative.rpg_trainer_set_name(h, name)); return this; }
  public Trainer checkpointEvery(long updates) { run(h -> RpgNative.rpg_trainer_set_checkpoint_every(h, updates)); return this; }
  public Trainer reportEvery(long updates) { run(h -> RpgNative.rpg_trainer_set_report_every(h, updates)); return this; }
  public Trainer stopAt(long update) { run(h -> RpgNative.rpg_trainer_set_stop_at(h, update)); return this; }
  /** Called every reportEvery updates and at the last one, on the thread running run(); see
   * ProgressListener (return true to stop). null: none. */
  public Trainer onProgress(ProgressListener listener) { this.listener = listener; return this; }
  public long maxUpdates() { long[] v = new long[1]; run(h -> RpgNative.rpg_trainer_max_updates(h, v)); return v[0]; }
  /** Trains (see rpg_trainer_run); true when the schedule ran to its end (false when stopped).
   * The network stays open meanwhile. An exception thrown by the progress or log listener during
   * the run is thrown here when it returns. */
  public boolean run() {
    return with(h -> net.with(n -> {
      ProgressListener l = listener;
      long id = l == null ? 0 : Callbacks.register(l);
      try {
        if (id != 0) RpgNative.rpg_trainer_set_progress_callback(h, RpgNative.rpg_java_progress_fn(), id);
        int[] f = new int[1];
        RpgNative.rpg_trainer_run(h, f);  // throws what the listener threw, once back from C
        return f[0] == 1;
      } finally {
        if (id != 0) {
          RpgNative.rpg_trainer_set_progress_callback(h, 0, 0);
          Callbacks.unregister(id);
        }
      }
    }));
  }
  public void stop() { run(RpgNative::rpg_trainer_stop); }
  /** The moving average loss of the current or last run. */
  public double avgLoss() {
    long[] u = new long[1];
    double[] l = new double[1];
    run(h -> RpgNative.rpg_trainer_progress(h, u, l));
    return l[0];
  }
}
