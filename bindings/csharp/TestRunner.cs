// The C# tests: prints "N passed, N failed" and exits non-zero on failure. Run from the repository root.
using System;
using System.Collections.Generic;
using System.IO;
using RpgNet;

static class TestRunner {
  static void Check(bool ok, string what) { if (!ok) throw new Exception("check failed: " + what); }

  const string Cfg =
      "[net]\nbatch=2\nwidth=6\nheight=6\nchannels=2\nseed=5\n" +
      "[ring]\nname=r\nsize=300\nseed=11\n" +
      "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\nring=r\n" +
      "[convolutional]\nfilters=4\nsize=1\nstride=1\npad=0\nactivation=relu\nring=r\n" +
      "[connected]\noutput=3\nactivation=linear\nring=r\n" +
      "[softmax]\n";

  // A ring and generators bound as the cfg binds its layers reproduce the C library's generated
  // network weights bit for bit; with every ring value 1 each weight is +-c.
  static void GeneratorMatchesLibrary() {
    long[] fanOut = {8 * 9, 4, 3};
    using (var net = Network.FromText(Cfg))
    using (var ring = new Ring(net.RingSize(0), net.RingSeed(0))) {
      var gens = new Generator[3];
      for (int l = 0; l < 3; ++l) gens[l] = ring.Generator(net.LayerWeightCount(l), fanOut[l]);
      ring.InitHe();
      var rv = ring.Values; var nv = net.RingValues(0);
      for (int i = 0; i < rv.Length; ++i) Check(rv[i] == nv[i], "ring value " + i);
      long bound = 0;
      for (int l = 0; l < 3; ++l) {
        var mine = gens[l].Generate(); var theirs = net.LayerWeights(l);
        Check(mine.Length == theirs.Length && mine.Length > 0, "count");
        for (int i = 0; i < mine.Length; ++i) Check(mine[i] == theirs[i], "layer " + l + " weight " + i);
        bound += mine.Length;
      }
      Check(bound == ring.Positions, "positions");
      var ones = new float[300]; for (int i = 0; i < 300; ++i) ones[i] = 1f;
      ring.Values = ones;
      float c = gens[1].Scale;
      Check(Math.Abs(c - Math.Sqrt(72.0 / 4.0)) < 1e-5, "scale");
      foreach (var w in gens[1].Generate()) Check(Math.Abs(Math.Abs(w) - c) < 1e-6, "weight +-c");
      foreach (var g in gens) g.Dispose();
    }
  }

  static void TrainExportReloadPredict() {
    string dir = Path.Combine(Path.GetTempPath(), "rpg_cs_train_" + Guid.NewGuid().ToString("N"));
    Directory.CreateDirectory(dir);
    try {
      using (var net = Network.FromCfg("cfg/fashion-resnet-rpg.cfg",
                 "net.batch=32\nnet.max_batches=6\nnet.burn_in=0\nnet.policy=constant\nnet.learning_rate=0.05")) {
        net.Threads = 2;
        Check(net.ParamCount == 169834 && net.RingDof == 16794, "DoF");
        var losses = new double[6];
        using (var t = new Trainer(net, "cfg/fashion.data")) {
          t.BackupDir = dir; t.CheckpointEvery = 0;
          Check(t.MaxUpdates == 6, "max updates");
          for (int u = 1; u <= 6; ++u) { t.StopAt = u; t.Run(); losses[u - 1] = t.AvgLoss; }
        }
        Console.WriteLine("losses " + string.Join(" ", losses));
        Check(net.UpdateCount == 6, "update count");
        Check(losses[4] + losses[5] < losses[0] + losses[1], "loss falls");
        string path = Path.Combine(dir, "model.rpgm");
        using (var opts = new ExportOptions()) {
          opts.Bits = 8;
          net.Export(opts, path);
          var bytes = net.ExportToBytes(opts);
          Check(bytes.Length > 0 && bytes.Length < 40000, "export size");
          using (var loaded = Network.FromExport(path))
          using (var fromBytes = Network.FromExport(bytes)) {
            net.Batch = 16; loaded.Batch = 16; fromBytes.Batch = 16;
            Check(loaded.InputSize == 784 && loaded.OutputSize == 10, "sizes");
            var x = new float[16 * 784];
            for (int i = 0; i < x.Length; ++i) x[i] = (float)(0.5 + 0.5 * Math.Sin(0.001 * i * (double)i));
            float[] p = new float[160], q = new float[160], r = new float[160];
            net.Predict(x, p); loaded.Predict(x, q); fromBytes.Predict(x, r);
            double maxDiff = 0;
            for (int i = 0; i < 160; ++i) { maxDiff = Math.Max(maxDiff, Math.Abs(p[i] - q[i])); Check(q[i] == r[i], "file == bytes"); }
            Check(maxDiff < 0.1, "8-bit export predicts as the network: " + maxDiff);
          }
        }
      }
    } finally { Directory.Delete(dir, true); }
  }

  // int8 exports (issue 17): calibrated on the tiny IDX data set, loaded back they run int8 (from
  // a file and from bytes), or float32 with FromExport(..., true); both predict alike. Loose
  // bound: 0.01 on softmax outputs (seen: ~4e-4). (A convolution feeding the connected layer
  // directly was misread in int8 before a fix: 0.05-0.16.)
  static void Int8ExportRunsInt8OrFloat32() {
    string dir = WriteCycleData();
    try {
      string data = Path.Combine(dir, "t.data"), path = Path.Combine(dir, "int8.rpgm");
      using (var net = Network.FromText(ModelCfg))
      using (var opts = new ExportOptions()) {
        try { opts.SetInt8(data, 0); Check(false, "no exception"); }
        catch (RpgException e) { Check(e.Status == -1, "batches 0: " + e.Message); }
        opts.SetInt8(data, 2);
        net.Export(opts, path);
        var bytes = net.ExportToBytes(opts);
        var x = new float[8 * 64];
        for (int i = 0; i < x.Length; ++i) x[i] = ((i % 64 * 7 + i / 64 * 31) & 0xff) / 255f;  // the calibration images
        float[] y8 = Predict(Network.FromExport(path), x, true), y32 = Predict(Network.FromExport(path, true), x, false);
        float[] b8 = Predict(Network.FromExport(bytes, false), x, true), b32 = Predict(Network.FromExport(bytes, true), x, false);
        double maxDiff = 0;
        for (int i = 0; i < y8.Length; ++i) {
          maxDiff = Math.Max(maxDiff, Math.Abs(y8[i] - y32[i]));
          Check(y8[i] == b8[i] && y32[i] == b32[i], "file == bytes");
        }
        Console.WriteLine("int8 against float32: max |dp| " + maxDiff);
        Check(maxDiff < 0.01, "int8 predicts as float32: " + maxDiff);
        opts.SetInt8(null, 0);  // int8 off again: a plain export runs float32
        net.Export(opts, path);
        Predict(Network.FromExport(path), x, false);
      }
    } finally { Directory.Delete(dir, true); }
  }

  // Disposes net after checking whether it runs int8 and predicting x (batch 8, 3 classes).
  static float[] Predict(Network net, float[] x, bool int8) {
    using (net) {
      Check(int8 == (net.Int8Layers > 0), "int8 layers: " + net.Int8Layers);
      var y = new float[8 * 3];
      net.Predict(x, y);
      return y;
    }
  }

  static void BadCfgThrows() {
    try { Network.FromText("[net]\nbatch=1\nwidth=0\n[bogus]\n").Dispose(); Check(false, "no exception"); }
    catch (RpgException e) { Check(e.Status == -3 && e.Message.Contains("<text>"), "parse error: " + e.Message); }
    try { Network.FromCfg("no/such.cfg"); Check(false, "no exception"); }
    catch (RpgException e) { Check(e.Status == -2 && e.Message.Contains("no/such.cfg"), "not found: " + e.Message); }
    var ring = new Ring(16, 3);
    try { ring.Values = new float[15]; Check(false, "no exception"); }
    catch (RpgException e) { Check(e.Status == -1 && e.Message.Length > 0, "invalid argument"); }
    ring.Dispose(); ring.Dispose();
    try { var n = ring.Size; Check(false, "no exception"); } catch (ObjectDisposedException) {}
  }

  static long VmRssKiB() {
    foreach (var line in File.ReadAllLines("/proc/self/status"))
      if (line.StartsWith("VmRSS:")) return long.Parse(line.Substring(6).Trim().Split(' ')[0]);
    throw new Exception("no VmRSS in /proc/self/status");
  }

  static void RingCycles(int n) {
    for (int i = 0; i < n; ++i) {
      var ring = new Ring(64, i);
      var gen = ring.Generator(32, 4);
      gen.Dispose();
      ring.Dispose();
    }
  }

  static void Collect() { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); }

  // 100,000 ring + generator create/Dispose cycles leave native memory flat. The bound, 8 MiB: a
  // leak of ~100 bytes per cycle would add ~10 MB over 100,000 cycles, above it; the managed heap
  // and JIT settle during the 10,000-cycle warm-up and stay below it.
  static void CreateFreeCyclesDoNotLeak() {
    RingCycles(10000);
    Collect();
    long before = VmRssKiB();
    RingCycles(100000);
    Collect();
    long after = VmRssKiB();
    Console.WriteLine("csharp VmRSS after warm-up " + before + " KiB, after 100000 cycles " + after + " KiB");
    Check(after - before <= 8 * 1024, "VmRSS grew by " + (after - before) + " KiB");
  }

  const string ModelCfg = "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\nmax_batches=4\n" +
      "[ring]\nname=r\nsize=20\n" +
      "[convolutional]\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\nring=r\n" +
      "[connected]\noutput=3\nactivation=linear\n[softmax]\n";

  // A tiny IDX data set (8 images 8x8, 3 classes) and its .data file in a fresh folder.
  static string WriteCycleData() {
    string dir = Path.Combine(Path.GetTempPath(), "rpg_cs_cycles_" + Guid.NewGuid().ToString("N"));
    Directory.CreateDirectory(dir);
    var img = new List<byte> { 0, 0, 8, 3, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0, 0, 8 };
    var lab = new List<byte> { 0, 0, 8, 1, 0, 0, 0, 8 };
    for (int i = 0; i < 8; ++i) {
      for (int k = 0; k < 64; ++k) img.Add((byte)((k * 7 + i * 31) & 0xff));
      lab.Add((byte)(i % 3));
    }
    File.WriteAllBytes(Path.Combine(dir, "i"), img.ToArray());
    File.WriteAllBytes(Path.Combine(dir, "l"), lab.ToArray());
    File.WriteAllText(Path.Combine(dir, "names"), "a\nb\nc\n");
    File.WriteAllText(Path.Combine(dir, "t.data"),
        "classes = 3\ntrain = idx:i,l\nvalid = idx:i,l\nnames = names\nbackup = " + dir + "\n");
    return dir;
  }

  // A network from cfg text, a trainer on it, export options, an export to bytes and the network
  // loaded back from them: every handle created and disposed.
  static void ModelCycles(int n, string data) {
    for (int i = 0; i < n; ++i) {
      var net = Network.FromText(ModelCfg);
      var t = new Trainer(net, data);
      var o = new ExportOptions();
      o.Bits = 4;
      var back = Network.FromExport(net.ExportToBytes(o));
      back.Dispose();
      o.Dispose();
      t.Dispose();
      net.Dispose();
    }
  }

  // 3,000 network + trainer + export cycles leave native memory flat. The bound, 8 MiB: one
  // network of ModelCfg holds ~30 KB of buffers, so leaking any handle would add 9 MB or more.
  static void ModelCyclesDoNotLeak() {
    string dir = WriteCycleData();
    try {
      string data = Path.Combine(dir, "t.data");
      ModelCycles(500, data);
      Collect();
      long before = VmRssKiB();
      ModelCycles(3000, data);
      Collect();
      long after = VmRssKiB();
      Console.WriteLine("csharp VmRSS after warm-up " + before + " KiB, after 3000 model cycles " + after + " KiB");
      Check(after - before <= 8 * 1024, "VmRSS grew by " + (after - before) + " KiB");
    } finally {
      Directory.Delete(dir, true);
    }
  }

  static int Main() {
    int passed = 0, failed = 0;
    Action[] tests = { GeneratorMatchesLibrary, TrainExportReloadPredict, Int8ExportRunsInt8OrFloat32, BadCfgThrows, CreateFreeCyclesDoNotLeak, ModelCyclesDoNotLeak };
    foreach (var test in tests) {
      string name = test.Method.Name;
      try { test(); ++passed; Console.WriteLine("PASS " + name); }
      catch (Exception e) { ++failed; Console.WriteLine("FAIL " + name + ": " + e); }
    }
    Console.WriteLine(passed + " passed, " + failed + " failed");
    return failed == 0 ? 0 : 1;
  }
}
