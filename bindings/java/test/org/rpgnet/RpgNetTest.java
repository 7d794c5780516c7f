package org.rpgnet;

import static org.junit.Assert.*;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import org.junit.Test;

public class RpgNetTest {
  static final String CFG =
      "[net]\nbatch=2\nwidth=6\nheight=6\nchannels=2\nseed=5\n"
      + "[ring]\nname=r\nsize=300\nseed=11\n"
      + "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\nring=r\n"
      + "[convolutional]\nfilters=4\nsize=1\nstride=1\npad=0\nactivation=relu\nring=r\n"
      + "[connected]\noutput=3\nactivation=linear\nring=r\n"
      + "[softmax]\n";

  /** A standalone ring and generators bound as the cfg binds its layers reproduce the weights the
   * C library generates for the network, bit for bit; and with every ring value 1 each weight is
   * +-c. */
  @Test public void generatorMatchesLibrary() {
    long[] fanOut = {8 * 9, 4, 3};
    try (Network net = Network.fromText(CFG, null); Ring ring = new Ring(net.ringSize(0), net.ringSeed(0))) {
      assertEquals(300, ring.size());
      Generator[] gens = new Generator[3];
      for (int l = 0; l < 3; ++l) gens[l] = ring.generator(net.layerWeightCount(l), fanOut[l]);
      ring.initHe();
      float[] nv = new float[300];
      net.ringValues(0, nv);
      assertArrayEquals(nv, ring.values(), 0f);
      long bound = 0;
      for (int l = 0; l < 3; ++l) {
        float[] mine = gens[l].generate();
        assertTrue(mine.length > 0);
        assertArrayEquals(net.layerWeights(l), mine, 0f);
        bound += mine.length;
      }
      assertEquals(bound, ring.positions());
      float[] ones = new float[300];
      java.util.Arrays.fill(ones, 1f);
      ring.setValues(ones);
      float c = gens[1].scale();
      assertEquals(Math.sqrt(72.0 / 4.0), c, 1e-5);
      for (float w : gens[1].generate()) assertEquals(c, Math.abs(w), 1e-6f);
      for (Generator g : gens) g.close();
    }
  }

  @Test public void trainExportReloadPredict() throws Exception {
    Path dir = Files.createTempDirectory("rpg_java_train");
    try (Network net = Network.fromCfg("cfg/fashion-resnet-rpg.cfg",
             "net.batch=32\nnet.max_batches=6\nnet.burn_in=0\nnet.policy=constant\nnet.learning_rate=0.05")) {
      net.setThreads(2);
      assertEquals(169834, net.paramCount());
      assertEquals(16794, net.ringDof());
      double[] losses = new double[6];
      try (Trainer t = new Trainer(net, "cfg/fashion.data")) {
        t.backupDir(dir.toString()).checkpointEvery(0);
        assertEquals(6, t.maxUpdates());
        for (int u = 1; u <= 6; ++u) {  // one update per run: the run's average is its loss
          t.stopAt(u);
          t.run();
          losses[u - 1] = t.avgLoss();
        }
      }
      System.out.println("losses " + java.util.Arrays.toString(losses));
      assertEquals(6, net.updateCount());
      assertTrue("loss falls", losses[4] + losses[5] < losses[0] + losses[1]);

      String path = dir.resolve("model.rpgm").toString();
      try (ExportOptions opts = new ExportOptions().bits(8)) {
        net.export(opts, path);
        byte[] bytes = net.exportToBytes(opts);
        assertTrue(bytes.length > 0 && bytes.length < 40000);
        try (Network loaded = Network.fromExport(path); Network fromBytes = Network.fromExport(bytes)) {
          net.setBatch(16);
          loaded.setBatch(16);
          fromBytes.setBatch(16);
          assertEquals(784, loaded.inputSize());
          assertEquals(10, loaded.outputSize());
          float[] x = new float[16 * 784];
          for (int i = 0; i < x.length; ++i) x[i] = (float) (0.5 + 0.5 * Math.sin(0.001 * i * i));
          float[] p = new float[160], q = new float[160], r = new float[160];
          net.predict(x, p);
          loaded.predict(x, q);
          fromBytes.predict(x, r);
          assertArrayEquals(q, r, 0f);
          double maxDiff = 0;
          for (int i = 0; i < 160; ++i) maxDiff = Math.max(maxDiff, Math.abs(p[i] - q[i]));
          assertTrue("8-bit export predicts as the network: " + maxDiff, maxDiff < 0.1);
        }
      }
    } finally {
      try (var s = Files.walk(dir)) { s.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete); }
    }
  }

  /** int8 exports (issue 17): calibrated on the tiny IDX data set, loaded back they run int8 (from
   * a file and from bytes), or float32 with fromExport(..., true); both predict alike. Loose
   * bound: 0.01 on softmax outputs (seen: ~4e-4). (A convolution feeding the connected layer
   * directly was misread in int8 before a fix: 0.05-0.16.) */
  @Test public void int8ExportRunsInt8OrFloat32() throws Exception {
    String data = CreateFreeCyclesTest.writeData();
    Path path = Files.createTempFile("rpg_java_int8", ".rpgm");
    try (Network net = Network.fromText(CreateFreeCyclesTest.MODEL_CFG, null);
         ExportOptions opts = new ExportOptions()) {
      try {
        opts.int8(data, 0);
        fail("no exception");
      } catch (RpgException e) {
        assertEquals(RpgNativeConstants.RPG_STATUS_INVALID_ARGUMENT, e.status());
      }
      opts.int8(data, 2);
      net.export(opts, path.toString());
      byte[] bytes = net.exportToBytes(opts);
      float[] x = new float[8 * 64];
      for (int i = 0; i < x.length; ++i) x[i] = ((i % 64 * 7 + i / 64 * 31) & 0xff) / 255f;  // the calibration images
      float[] y8 = predict(Network.fromExport(path.toString()), x, true);
      float[] y32 = predict(Network.fromExport(path.toString(), true), x, false);
      assertArrayEquals(y8, predict(Network.fromExport(bytes, false), x, true), 0f);
      assertArrayEquals(y32, predict(Network.fromExport(bytes, true), x, false), 0f);
      double maxDiff = 0;
      for (int i = 0; i < y8.length; ++i) maxDiff = Math.max(maxDiff, Math.abs(y8[i] - y32[i]));
      System.out.println("int8 against float32: max |dp| " + maxDiff);
      assertTrue("int8 predicts as float32: " + maxDiff, maxDiff < 0.01);
      opts.int8(null, 0);  // int8 off again: a plain export runs float32
      net.export(opts, path.toString());
      predict(Network.fromExport(path.toString()), x, false);
    } finally {
      Files.deleteIfExists(path);
    }
  }

  /** Closes net after checking whether it runs int8 and predicting x (batch 8, 3 classes). */
  static float[] predict(Network net, float[] x, boolean int8) {
    try (net) {
      assertEquals("int8 layers: " + net.int8Layers(), int8, net.int8Layers() > 0);
      float[] y = new float[8 * 3];
      net.predict(x, y);
      return y;
    }
  }

  @Test public void badCfgThrowsWithMessage() {
    try {
      Network.fromText("[net]\nbatch=1\nwidth=0\n[bogus]\n", null).close();
      fail("no exception");
    } catch (RpgException e) {
      assertTrue(e.status() < 0);
      assertEquals(RpgNativeConstants.RPG_STATUS_PARSE_ERROR, e.status());
      assertTrue(e.getMessage(), e.getMessage().contains("<text>"));
    }
    try {
      Network.fromCfg("no/such.cfg", null);
      fail("no exception");
    } catch (RpgException e) {
      assertEquals(RpgNativeConstants.RPG_STATUS_NOT_FOUND, e.status());
      assertTrue(e.getMessage(), e.getMessage().contains("no/such.cfg"));
    }
  }

  @Test public void arraysOfWrongSizeAndUseAfterClose() {
    Ring ring = new Ring(16, 3);
    try {
      ring.setValues(new float[15]);
      fail("no exception");
    } catch (RpgException e) {
      assertEquals(RpgNativeConstants.RPG_STATUS_INVALID_ARGUMENT, e.status());
      assertFalse(e.getMessage().isEmpty());
    }
    ring.close();
    ring.close();
    try {
      ring.size();
      fail("no exception");
    } catch (IllegalStateException e) { /* expected */ }
  }
}
