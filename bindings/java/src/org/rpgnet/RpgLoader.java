package org.rpgnet;

/** Loads the JNI library: -Drpgnet.jni=/path/to/librpgnet_jni.so, else java.library.path. */
final class RpgLoader {
  private static boolean loaded;

  static synchronized void load() {
    if (loaded) return;
    String path = System.getProperty("rpgnet.jni");
    if (path != null && !path.isEmpty()) System.load(new java.io.File(path).getAbsolutePath());
    else System.loadLibrary("rpgnet_jni");
    loaded = true;
  }

  private RpgLoader() {}
}
