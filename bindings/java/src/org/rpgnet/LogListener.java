package org.rpgnet;

/** Receives the library's messages (Rpg.setLogListener), on the thread whose call produced them.
 * An exception thrown here is thrown by that call when it returns. */
@FunctionalInterface
public interface LogListener {
  /** level: Rpg.LOG_DEBUG .. Rpg.LOG_ERROR. */
  void onLog(int level, String message);
}
