package org.rpgnet;

/** Process-wide settings: the library's version and its log. */
public final class Rpg {
  public static final int LOG_DEBUG = RpgNativeConstants.RPG_LOG_DEBUG;
  public static final int LOG_INFO = RpgNativeConstants.RPG_LOG_INFO;
  public static final int LOG_WARNING = RpgNativeConstants.RPG_LOG_WARNING;
  public static final int LOG_ERROR = RpgNativeConstants.RPG_LOG_ERROR;
  /** A minimum level that silences everything. */
  public static final int LOG_OFF = RpgNativeConstants.RPG_LOG_ERROR + 1;

  private Rpg() {}

  /** The loaded library's version ("0.1.0"). */
  public static String version() { return RpgNative.rpg_version_string(); }

  /** Sends messages at minLevel and above to listener; null restores the default (stderr). */
  public static void setLogListener(LogListener listener, int minLevel) {
    Callbacks.setLogListener(listener);
    RpgNative.rpg_set_log_callback(listener == null ? 0 : RpgNative.rpg_java_log_fn(), 0, minLevel);
  }
}
