package org.rpgnet;

import java.io.File;
import java.util.ArrayList;
import java.util.List;

/** Loads the JNI library librpgnet_jni.so: the file named by -Drpgnet.jni=PATH, else the first
 * one found in the folders of java.library.path (`make install` puts it in PREFIX/lib/jni: run
 * java with -Djava.library.path=PREFIX/lib/jni). */
final class RpgLoader {
  private static boolean loaded;

  static synchronized void load() {
    if (loaded) return;
    String path = System.getProperty("rpgnet.jni");
    if (path != null && !path.isEmpty()) {
      loadFile(new File(path));
    } else {
      String name = System.mapLibraryName("rpgnet_jni");
      List<String> tried = new ArrayList<>();
      for (String dir : System.getProperty("java.library.path", "").split(File.pathSeparator)) {
        if (dir.isEmpty()) continue;
        File f = new File(dir, name);
        tried.add(f.getPath());
        if (f.isFile()) {
          loadFile(f);
          loaded = true;
          return;
        }
      }
      throw new UnsatisfiedLinkError("rpgnet: " + name + " is not on java.library.path; tried "
          + (tried.isEmpty() ? "nothing (java.library.path is empty)" : String.join(", ", tried))
          + ". Run java with -Djava.library.path=PREFIX/lib/jni (where make install put it) or -Drpgnet.jni=PATH");
    }
    loaded = true;
  }

  private static void loadFile(File f) {
    try {
      System.load(f.getAbsolutePath());
    } catch (UnsatisfiedLinkError e) {
      throw new UnsatisfiedLinkError("rpgnet: cannot load " + f.getAbsolutePath() + ": " + e.getMessage()
          + " (it needs librpgnet.so.0 from the same make install)");
    }
  }

  private RpgLoader() {}
}
