package org.rpgnet;

import java.lang.reflect.UndeclaredThrowableException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** The Java side of the log and progress callbacks. The C trampolines of bindings/rpgnet.i call
 * progress() and log() on the thread inside the rpgnet call; whatever a listener throws is caught
 * here (nothing unwinds through C), kept for that thread, and thrown by that call once it is back
 * from C (through takeFailure). */
final class Callbacks {
  private static final ThreadLocal<Throwable> failure = new ThreadLocal<>();
  private static final Map<Long, ProgressListener> progressListeners = new ConcurrentHashMap<>();
  private static final AtomicLong nextId = new AtomicLong();
  private static volatile LogListener logListener;

  private Callbacks() {}

  /** The id the C callback gets as user data for listener; release with unregister. */
  static long register(ProgressListener listener) {
    long id = nextId.incrementAndGet();
    progressListeners.put(id, listener);
    return id;
  }

  static void unregister(long id) { progressListeners.remove(id); }

  static void setLogListener(LogListener listener) { logListener = listener; }

  // Called from C: 0 continue, 1 stop, 2 the listener threw (the run stops too).
  static int progress(long id, long update, long maxUpdates, double epoch, double loss, double avgLoss,
                      float learningRate, double imagesPerSecond) {
    try {
      ProgressListener l = progressListeners.get(id);
      if (l == null) return 0;
      return l.onProgress(new Progress(update, maxUpdates, epoch, loss, avgLoss, learningRate, imagesPerSecond)) ? 1 : 0;
    } catch (Throwable t) {
      record(t);
      return 2;
    }
  }

  // Called from C: 0 delivered, 2 the listener threw.
  static int log(int level, String message) {
    try {
      LogListener l = logListener;
      if (l != null) l.onLog(level, message);
      return 0;
    } catch (Throwable t) {
      record(t);
      return 2;
    }
  }

  private static void record(Throwable t) {
    Throwable first = failure.get();
    if (first == null) failure.set(t);
    else if (first != t) first.addSuppressed(t);
  }

  // Called from C when the call returns: the listener's exception to throw, with the call's own
  // failure (status < 0) attached as suppressed. A checked exception (a listener can only throw
  // one by cheating) comes wrapped in an UndeclaredThrowableException.
  static Throwable takeFailure(int status, String message) {
    Throwable t = failure.get();
    failure.remove();
    if (t == null) t = new IllegalStateException("rpgnet: a callback failed");
    if (!(t instanceof RuntimeException) && !(t instanceof Error)) t = new UndeclaredThrowableException(t);
    if (status < 0) t.addSuppressed(new RpgException(status, message));
    return t;
  }
}
