// The C# log handler and progress event: stopping a run, and exceptions thrown inside them coming
// back from the call (Run for progress) instead of crossing C. Prints "N passed, N failed" and
// exits non-zero on failure.
using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using RpgNet;

static class CallbackTests {
  static void Check(bool ok, string what) { if (!ok) throw new Exception("check failed: " + what); }

  const string Cfg =
      "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=1\nlearning_rate=0.01\nmax_batches=50\n" +
      "min_crop=8\nmax_crop=8\nflip=0\nseed=3\n[ring]\nname=r\nsize=16\n" +
      "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=relu\nring=r\n" +
      "[connected]\noutput=3\nactivation=linear\n[softmax]\n";

  static string data;

  // 16 random 8x8 images of 3 classes as IDX files, and a .data file naming them.
  static void WriteData() {
    string dir = Path.Combine(Path.GetTempPath(), "rpg_cs_callbacks_" + Guid.NewGuid().ToString("N"));
    Directory.CreateDirectory(dir);
    var images = new byte[16 + 16 * 64];
    var labels = new byte[8 + 16];
    new byte[] {0, 0, 8, 3, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0, 0, 8}.CopyTo(images, 0);
    new byte[] {0, 0, 8, 1, 0, 0, 0, 16}.CopyTo(labels, 0);
    var r = new Random(1);
    for (int i = 16; i < images.Length; ++i) images[i] = (byte)r.Next(256);
    for (int i = 0; i < 16; ++i) labels[8 + i] = (byte)(i % 3);
    File.WriteAllBytes(Path.Combine(dir, "images"), images);
    File.WriteAllBytes(Path.Combine(dir, "labels"), labels);
    data = Path.Combine(dir, "tiny.data");
    File.WriteAllText(data, "classes = 3\ntrain = idx:" + Path.Combine(dir, "images") + "," +
                      Path.Combine(dir, "labels") + "\nbackup = " + Path.Combine(dir, "backup") + "\n");
  }

  static Trainer NewTrainer(Network net) {
    return new Trainer(net, data) { CheckpointEvery = 0, ReportEvery = 1 };
  }

  static void ProgressEventStopsTheRun() {
    var seen = new List<long>();
    using (var net = Network.FromText(Cfg))
    using (var t = NewTrainer(net)) {
      t.Progress += (sender, e) => {
        Check(sender == t && e.MaxUpdates == 50, "sender and MaxUpdates");
        seen.Add(e.Update);
        e.Stop = e.Update >= 2;
      };
      Check(!t.Run(), "stopped");
      long updates = net.UpdateCount;
      Check(updates == 2 || updates == 3, "stopped after update 2 or 3, not " + updates);
      Check(seen.Count >= 2 && seen[0] == 1 && seen[1] == 2, "progress at updates 1, 2");
    }
  }

  class Boom : Exception { public Boom(string m) : base(m) {} }

  // A handler's exception stops the run and Run throws it (the same object, its stack trace
  // kept); the process and the trainer go on.
  static void ProgressExceptionComesBackFromRun() {
    using (var net = Network.FromText(Cfg))
    using (var t = NewTrainer(net)) {
      EventHandler<ProgressEventArgs> thrower = (sender, e) => { if (e.Update == 2) throw new Boom("boom"); };
      t.Progress += thrower;
      try {
        t.Run();
        Check(false, "Run did not throw");
      } catch (Boom e) {
        Check(e.StackTrace.Contains("ProgressExceptionComesBackFromRun"), "the handler's stack trace: " + e.StackTrace);
      }
      long updates = net.UpdateCount;
      Check(updates >= 2 && updates <= 3, "the exception stopped the run: " + updates + " updates");
      t.Progress -= thrower;
      t.StopAt = updates + 2;
      t.Run();
      Check(net.UpdateCount == updates + 2, "a second run trains on");
    }
  }

  static void LogHandlerGetsTheRunsLinesAndItsExceptionComesBackFromRun() {
    var lines = new List<string>();
    try {
      using (var net = Network.FromText(Cfg))
      using (var t = NewTrainer(net)) {
        Rpg.SetLogHandler((level, message) => { lock (lines) lines.Add(message); }, Rpg.LogInfo);
        t.StopAt = 2;
        t.Run();
        Check(lines.Exists(l => l.StartsWith("update 2/50 ")), "log lines: " + string.Join(" | ", lines));
        Rpg.SetLogHandler((level, message) => { throw new Boom("log boom"); }, Rpg.LogInfo);
        t.StopAt = 4;
        try {
          t.Run();
          Check(false, "Run did not throw");
        } catch (Boom e) {
          Check(e.Message == "log boom", "the log handler's exception");
        }
      }
    } finally {
      Rpg.SetLogHandler(null);
    }
  }

  // A failed call logs at DEBUG; the handler's exception wins over the call's RpgException.
  static void LogHandlerExceptionInAFailedCall() {
    try {
      Rpg.SetLogHandler((level, message) => { throw new Boom("log boom"); }, Rpg.LogDebug);
      try {
        Network.FromCfg("no/such.cfg");
        Check(false, "FromCfg did not throw");
      } catch (Boom) {
      }
      Rpg.SetLogHandler(null);
      try {
        Network.FromCfg("no/such.cfg");
        Check(false, "FromCfg did not throw");
      } catch (RpgException e) {
        Check(e.Status == -2, "NOT_FOUND once the handler is gone");
      }
    } finally {
      Rpg.SetLogHandler(null);
    }
  }

  // The trainer runs on a thread of its own; its handlers run there, and the delegates the
  // library calls survive garbage collections during the run.
  static void RunOnAnotherThreadWithCollections() {
    using (var net = Network.FromText(Cfg))
    using (var t = NewTrainer(net)) {
      Thread on = null;
      t.Progress += (sender, e) => { on = Thread.CurrentThread; GC.Collect(); GC.WaitForPendingFinalizers(); e.Stop = e.Update >= 3; };
      var th = new Thread(() => t.Run());
      th.Start();
      th.Join();
      Check(on == th, "the handler ran on the run's thread");
      Check(net.UpdateCount >= 3, "three updates");
    }
  }

  static int Main() {
    WriteData();
    int passed = 0, failed = 0;
    Action[] tests = { ProgressEventStopsTheRun, ProgressExceptionComesBackFromRun,
                       LogHandlerGetsTheRunsLinesAndItsExceptionComesBackFromRun, LogHandlerExceptionInAFailedCall,
                       RunOnAnotherThreadWithCollections };
    foreach (var test in tests) {
      string name = test.Method.Name;
      try { test(); ++passed; Console.WriteLine("PASS " + name); }
      catch (Exception e) { ++failed; Console.WriteLine("FAIL " + name + ": " + e); }
    }
    Directory.Delete(Path.GetDirectoryName(data), true);
    Console.WriteLine(passed + " passed, " + failed + " failed");
    return failed == 0 ? 0 : 1;
  }
}
