package org.rpgnet;

import static org.junit.Assert.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** The log and progress listeners: stopping a run, and exceptions thrown inside them coming back
 * from the call (run() for progress) instead of crossing C. Runs under -Xcheck:jni. */
public class CallbackTest {
  static final String CFG = "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=1\nlearning_rate=0.01\nmax_batches=50\n"
      + "min_crop=8\nmax_crop=8\nflip=0\nseed=3\n[ring]\nname=r\nsize=16\n"
      + "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=relu\nring=r\n"
      + "[connected]\noutput=3\nactivation=linear\n[softmax]\n";

  Path dir;
  String data;

  /** 16 random 8x8 images of 3 classes as IDX files, and a .data file naming them. */
  @Before public void writeData() throws IOException {
    dir = Files.createTempDirectory("rpg_java_callbacks");
    byte[] images = new byte[16 + 16 * 64];
    byte[] labels = new byte[8 + 16];
    byte[] ih = {0, 0, 8, 3, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0, 0, 8};
    byte[] lh = {0, 0, 8, 1, 0, 0, 0, 16};
    System.arraycopy(ih, 0, images, 0, ih.length);
    System.arraycopy(lh, 0, labels, 0, lh.length);
    java.util.Random r = new java.util.Random(1);
    for (int i = 16; i < images.length; ++i) images[i] = (byte) r.nextInt(256);
    for (int i = 0; i < 16; ++i) labels[8 + i] = (byte) (i % 3);
    Files.write(dir.resolve("images"), images);
    Files.write(dir.resolve("labels"), labels);
    data = dir.resolve("tiny.data").toString();
    Files.writeString(dir.resolve("tiny.data"), "classes = 3\ntrain = idx:" + dir.resolve("images") + ","
        + dir.resolve("labels") + "\nbackup = " + dir.resolve("backup") + "\n");
  }

  @After public void restoreLog() { Rpg.setLogListener(null, Rpg.LOG_WARNING); }

  Trainer trainer(Network net) { return new Trainer(net, data).checkpointEvery(0).reportEvery(1); }

  @Test public void progressListenerStopsTheRun() {
    List<Long> seen = new ArrayList<>();
    try (Network net = Network.fromText(CFG, null); Trainer t = trainer(net)) {
      t.onProgress(p -> {
        assertEquals(50, p.maxUpdates());
        assertTrue(Double.isFinite(p.avgLoss()));
        seen.add(p.update());
        return p.update() >= 2;
      });
      assertFalse("stopped", t.run());
      long updates = net.updateCount();
      assertTrue("stopped after update 2 or 3, not " + updates, updates == 2 || updates == 3);
      assertEquals(List.of(1L, 2L), seen.subList(0, 2));
    }
  }

  @Test public void progressListenerExceptionComesBackFromRun() {
    IllegalStateException boom = new IllegalStateException("boom");
    try (Network net = Network.fromText(CFG, null); Trainer t = trainer(net)) {
      t.onProgress(p -> { if (p.update() == 2) throw boom; return false; });
      IllegalStateException e = assertThrows(IllegalStateException.class, t::run);
      assertSame(boom, e);
      assertEquals("no RpgException: the run itself succeeded", 0, e.getSuppressed().length);
      long updates = net.updateCount();
      assertTrue("the exception stopped the run: " + updates + " updates", updates >= 2 && updates <= 3);
      // The process and the trainer go on: a second run, without the listener, trains on.
      t.onProgress(null).stopAt(updates + 2);
      t.run();
      assertEquals(updates + 2, net.updateCount());
    }
  }

  @Test public void logListenerGetsTheRunsLinesAndItsExceptionComesBackFromRun() {
    List<String> lines = Collections.synchronizedList(new ArrayList<>());
    try (Network net = Network.fromText(CFG, null); Trainer t = trainer(net)) {
      Rpg.setLogListener((level, message) -> { assertEquals(Rpg.LOG_INFO, level); lines.add(message); }, Rpg.LOG_INFO);
      t.stopAt(2).run();
      assertTrue(lines.toString(), lines.stream().anyMatch(l -> l.startsWith("update 2/50 ")));
      RuntimeException boom = new RuntimeException("log boom");
      Rpg.setLogListener((level, message) -> { throw boom; }, Rpg.LOG_INFO);
      t.stopAt(4);
      assertSame(boom, assertThrows(RuntimeException.class, t::run));
    }
  }

  // A failed call with pinned arrays logs (at DEBUG) while it holds them: the message reaches the
  // listener after they are released (-Xcheck:jni would warn otherwise), and a listener's
  // exception is thrown with the call's own RpgException attached as suppressed.
  @Test public void logListenerDuringACallHoldingArrays() {
    List<String> lines = Collections.synchronizedList(new ArrayList<>());
    try (Network net = Network.fromText(CFG, null)) {
      Rpg.setLogListener((level, message) -> lines.add(message), Rpg.LOG_DEBUG);
      RpgException e = assertThrows(RpgException.class, () -> net.predict(new float[3], new float[3]));
      assertTrue(lines.toString(), lines.contains(e.getMessage()));
      IllegalArgumentException boom = new IllegalArgumentException("log boom");
      Rpg.setLogListener((level, message) -> { throw boom; }, Rpg.LOG_DEBUG);
      IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, () -> net.predict(new float[3], new float[3]));
      assertSame(boom, thrown);
      assertEquals(1, thrown.getSuppressed().length);
      assertTrue(thrown.getSuppressed()[0] instanceof RpgException);
      assertTrue(thrown.getSuppressed()[0].getMessage().contains("rpg_network_predict"));
    }
  }

  // A progress listener called on the run's thread, started from a thread of its own.
  @Test public void runOnAnotherThread() throws Exception {
    List<Long> seen = Collections.synchronizedList(new ArrayList<>());
    Thread[] on = new Thread[1];
    try (Network net = Network.fromText(CFG, null); Trainer t = trainer(net)) {
      t.onProgress(p -> { on[0] = Thread.currentThread(); seen.add(p.update()); return p.update() >= 1; });
      Thread th = new Thread(t::run);
      th.start();
      th.join();
      assertSame(th, on[0]);
      assertFalse(seen.isEmpty());
    }
  }
}
