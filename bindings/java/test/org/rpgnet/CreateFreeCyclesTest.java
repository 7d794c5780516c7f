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

  static final String MODEL_CFG = "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\nmax_batches=4\n"
      + "[ring]\nname=r\nsize=20\n"
      + "[convolutional]\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\nring=r\n"
      + "[connected]\noutput=3\nactivation=linear\n[softmax]\n";

  /** A tiny IDX data set (8 images 8x8, 3 classes) and its .data file in a fresh folder. */
  static String writeData() throws IOException {
    java.nio.file.Path dir = Files.createTempDirectory("rpg_java_cycles");
    dir.toFile().deleteOnExit();
    java.nio.ByteBuffer img = java.nio.ByteBuffer.allocate(16 + 8 * 64), lab = java.nio.ByteBuffer.allocate(8 + 8);
    img.putInt(0x803).putInt(8).putInt(8).putInt(8);
    lab.putInt(0x801).putInt(8);
    for (int i = 0; i < 8; ++i) {
      for (int k = 0; k < 64; ++k) img.put((byte) ((k * 7 + i * 31) & 0xff));
      lab.put((byte) (i % 3));
    }
    Files.write(dir.resolve("i"), img.array());
    Files.write(dir.resolve("l"), lab.array());
    Files.write(dir.resolve("names"), "a\nb\nc\n".getBytes());
    Files.write(dir.resolve("t.data"),
        ("classes = 3\ntrain = idx:i,l\nvalid = idx:i,l\nnames = names\nbackup = " + dir + "\n").getBytes());
    for (String f : new String[] {"i", "l", "names", "t.data"}) dir.resolve(f).toFile().deleteOnExit();
    return dir.resolve("t.data").toString();
  }

  /** A network from cfg text, a trainer on it, export options, an export to bytes and the
   * network loaded back from them: every handle created and closed. */
  static void modelCycles(int n, String data) {
    for (int i = 0; i < n; ++i) {
      Network net = Network.fromText(MODEL_CFG, "");
      Trainer t = new Trainer(net, data);
      ExportOptions o = new ExportOptions().bits(4);
      byte[] b = net.exportToBytes(o);
      Network back = Network.fromExport(b);
      back.close();
      o.close();
      t.close();
      net.close();
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

  /** 3,000 network + trainer + export-options + export + loaded-export cycles leave native memory
   * flat. The bound, 8 MiB: one network of MODEL_CFG holds ~30 KB of buffers, so leaking any of
   * the handles (or a network's buffers) would add 9 MB or more; a leak of ~3 KB per cycle
   * passes the bound. */
  @Test public void networkTrainerExportCyclesDoNotLeak() throws Exception {
    String data = writeData();
    modelCycles(500, data);
    collect();
    long before = vmRssKiB();
    modelCycles(3000, data);
    collect();
    long after = vmRssKiB();
    System.out.println("java VmRSS after warm-up " + before + " KiB, after 3000 model cycles " + after + " KiB");
    assertTrue("VmRSS grew by " + (after - before) + " KiB", after - before <= 8 * 1024);
  }
}
