package org.rpgnet;

import static org.junit.Assert.*;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Paths;
import org.junit.Test;

/** Native memory over many create/close cycles, measured as the process's VmRSS. Run in a JVM of
 * its own with a fixed, pre-touched heap (tests/run_tests.sh):
 *   java -Xcheck:jni -Xms64m -Xmx64m -XX:+AlwaysPreTouch ... org.junit.runner.JUnitCore
 *   org.rpgnet.CreateFreeCyclesTest
 * so that the Java heap is resident from the start and its growth does not move RSS (with a
 * growing heap RSS moved by 20-40 MB either way, hiding any leak). */
public class CreateFreeCyclesTest {
  static long vmRssKiB() throws IOException {
    for (String line : Files.readAllLines(Paths.get("/proc/self/status")))
      if (line.startsWith("VmRSS:")) return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
    throw new IllegalStateException("no VmRSS in /proc/self/status");
  }

  static void ringCycles(int n) {
    for (int i = 0; i < n; ++i) {
      Ring ring = new Ring(64, i);
      Generator gen = ring.generator(32, 4);
      gen.close();
      ring.close();
    }
  }

  /** close() frees at once (Cleanable.clean), so no Cleaner action is left pending; the
   * collections clear the cycles' garbage before a reading. */
  static void collect() throws InterruptedException {
    for (int i = 0; i < 3; ++i) { System.gc(); Thread.sleep(50); }
  }

  static String vmOption(String name) {
    return ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class).getVMOption(name).getValue();
  }

  /** 100,000 ring + generator create/close cycles leave native memory flat. The bound, 8 MiB: a
   * leak of ~100 bytes per cycle would add ~10 MB over 100,000 cycles, above it; the JIT, the
   * metaspace and the GC's own structures settle during the 10,000-cycle warm-up and stay below
   * it. */
  @Test public void createFreeCyclesDoNotLeak() throws Exception {
    assertTrue("run with -Xms = -Xmx and -XX:+AlwaysPreTouch (see tests/run_tests.sh): with a growing heap, "
        + "RSS measures the Java heap", vmOption("InitialHeapSize").equals(vmOption("MaxHeapSize"))
        && vmOption("AlwaysPreTouch").equals("true"));
    ringCycles(10000);
    collect();
    long before = vmRssKiB();
    ringCycles(100000);
    collect();
    long after = vmRssKiB();
    System.out.println("java VmRSS after warm-up " + before + " KiB, after 100000 cycles " + after + " KiB");
    assertTrue("VmRSS grew by " + (after - before) + " KiB", after - before <= 8 * 1024);
  }
}
