package org.rpgnet;

/** Receives training progress on the thread running Trainer.run (Trainer.onProgress). */
@FunctionalInterface
public interface ProgressListener {
  /** Returns true to stop the run (after the current update, with a checkpoint). An exception
   * thrown here stops the run too, and Trainer.run throws it when it returns. */
  boolean onProgress(Progress progress);
}
