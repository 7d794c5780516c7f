// The idiomatic C# layer over the SWIG-generated RpgNative (bindings/rpgnet.i): IDisposable
// objects owning native handles, PascalCase, RpgException on failure, the log as a delegate
// (Rpg.SetLogHandler) and training progress as an event (Trainer.Progress).
using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace RpgNet {

/// <summary>A failed rpgnet call: Status is the negative RPG_STATUS_* code, Message the library's text.</summary>
public class RpgException : Exception {
  public int Status { get; }
  public RpgException(int status, string message) : base(message) { Status = status; }
}

/// <summary>Owns one native handle. Calls hold a read lock and Dispose the write lock, so disposing
/// while another thread uses the handle waits; a call after Dispose throws ObjectDisposedException.
/// A forgotten handle is freed by the finalizer.</summary>
public abstract class NativeHandle : IDisposable {
  readonly ReaderWriterLockSlim rw = new ReaderWriterLockSlim(LockRecursionPolicy.SupportsRecursion);
  IntPtr handle;
  protected NativeHandle(IntPtr h) { handle = h; }
  protected abstract void Free(IntPtr h);

  internal T With<T>(Func<IntPtr, T> body) {
    rw.EnterReadLock();
    try {
      if (handle == IntPtr.Zero) throw new ObjectDisposedException(GetType().Name);
      return body(handle);
    } finally { rw.ExitReadLock(); }
  }
  internal void Use(Action<IntPtr> body) { With<bool>(h => { body(h); return true; }); }

  public void Dispose() {
    rw.EnterWriteLock();
    try {
      if (handle == IntPtr.Zero) return;
      Free(handle);
      handle = IntPtr.Zero;
    } finally { rw.ExitWriteLock(); }
    GC.SuppressFinalize(this);
  }
  ~NativeHandle() { if (handle != IntPtr.Zero) Free(handle); }
}

public static class Rpg {
  public const long Append = -1;
  public const int LogDebug = 0, LogInfo = 1, LogWarning = 2, LogError = 3, LogOff = 4;
  public static string Version => RpgNative.rpg_version_string();

  /// <summary>Sends the library's messages at minLevel and above to handler (level, message),
  /// process-wide, on the thread whose call produced them; null restores the default (stderr).
  /// An exception thrown by handler is thrown by that call when it returns.</summary>
  public static void SetLogHandler(Action<int, string> handler, int minLevel = LogWarning) {
    Callbacks.LogHandler = handler;
    RpgNative.rpg_set_log_callback(handler == null ? IntPtr.Zero : Callbacks.LogFnPtr, IntPtr.Zero, minLevel);
  }
}

/// <summary>Training progress (Trainer.Progress), every ReportEvery updates and at the last one.
/// Set Stop to stop the run after the current update.</summary>
public sealed class ProgressEventArgs : EventArgs {
  public long Update { get; }
  public long MaxUpdates { get; }
  public double Epoch { get; }
  public double Loss { get; }
  public double AvgLoss { get; }
  public float LearningRate { get; }
  public double ImagesPerSecond { get; }
  public bool Stop { get; set; }
  internal ProgressEventArgs(long update, long maxUpdates, double epoch, double loss, double avgLoss,
                             float learningRate, double imagesPerSecond) {
    Update = update; MaxUpdates = maxUpdates; Epoch = epoch; Loss = loss; AvgLoss = avgLoss;
    LearningRate = learningRate; ImagesPerSecond = imagesPerSecond;
  }
}

/// <summary>The C entry points of the callbacks: static delegates, kept reachable for the life of
/// the process, whose function pointers the library holds. They run on the thread inside the
/// rpgnet call; an exception is caught here (nothing unwinds through C), stored as that thread's
/// pending exception, and thrown by the call when it returns (the rpg_status typemap of
/// bindings/rpgnet.i).</summary>
static class Callbacks {
  [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
  delegate int ProgressFn(long update, long maxUpdates, double epoch, double loss, double avgLoss,
                          float learningRate, double imagesPerSecond, IntPtr user);
  [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
  delegate void LogFn(int level, IntPtr message, IntPtr user);

  static readonly ProgressFn progress = OnProgress;
  static readonly LogFn log = OnLog;
  internal static readonly IntPtr ProgressFnPtr = Marshal.GetFunctionPointerForDelegate(progress);
  internal static readonly IntPtr LogFnPtr = Marshal.GetFunctionPointerForDelegate(log);
  internal static volatile Action<int, string> LogHandler;

  static void Fail(Exception e) {
    if (!RpgNativePINVOKE.SWIGPendingException.Pending) RpgNativePINVOKE.SWIGPendingException.Set(e);
  }

  // user: a GCHandle of the running Trainer (Trainer.Run).
  static int OnProgress(long update, long maxUpdates, double epoch, double loss, double avgLoss,
                        float learningRate, double imagesPerSecond, IntPtr user) {
    try {
      var trainer = (Trainer)GCHandle.FromIntPtr(user).Target;
      var e = new ProgressEventArgs(update, maxUpdates, epoch, loss, avgLoss, learningRate, imagesPerSecond);
      trainer.OnProgress(e);
      return e.Stop ? 1 : 0;
    } catch (Exception e) {
      Fail(e);
      return 1;
    }
  }

  static void OnLog(int level, IntPtr message, IntPtr user) {
    try {
      LogHandler?.Invoke(level, Marshal.PtrToStringAnsi(message));
    } catch (Exception e) {
      Fail(e);
    }
  }
}

public sealed class Ring : NativeHandle {
  public Ring(long size, long seed) : base(Create(size, seed)) {}
  static IntPtr Create(long size, long seed) { RpgNative.rpg_ring_create(size, seed, out IntPtr h); return h; }
  protected override void Free(IntPtr h) { RpgNative.rpg_ring_free(h); }

  public long Size => With(h => { RpgNative.rpg_ring_size(h, out long v); return v; });
  public long Positions => With(h => { RpgNative.rpg_ring_positions(h, out long v); return v; });
  public float[] Values {
    get { var v = new float[Size]; Use(h => RpgNative.rpg_ring_get_values(h, v, v.Length)); return v; }
    set { Use(h => RpgNative.rpg_ring_set_values(h, value, value.Length)); }
  }
  public void InitHe() { Use(h => RpgNative.rpg_ring_init_he(h)); }
  public void SgdStep(float[] grad, float rate, float momentum, float decay) {
    Use(h => RpgNative.rpg_ring_sgd_step(h, grad, grad.Length, rate, momentum, decay));
  }
  public Generator Generator(long count, long fanOut, long offset = Rpg.Append) {
    return With(h => { RpgNative.rpg_generator_create(h, count, fanOut, offset, out IntPtr g); return new Generator(g); });
  }
}

public sealed class Generator : NativeHandle {
  internal Generator(IntPtr h) : base(h) {}
  protected override void Free(IntPtr h) { RpgNative.rpg_generator_free(h); }
  public long Count => With(h => { RpgNative.rpg_generator_count(h, out long v); return v; });
  public float Scale => With(h => { RpgNative.rpg_generator_scale(h, out float v); return v; });
  /// <summary>Fills weights (length Count), pinned, without copying.</summary>
  public void Generate(float[] weights) { Use(h => RpgNative.rpg_generator_generate(h, weights, weights.Length)); }
  public float[] Generate() { var w = new float[Count]; Generate(w); return w; }
  public void AccumulateGradient(float[] weightGrad, float[] ringGrad) {
    Use(h => RpgNative.rpg_generator_accumulate_gradient(h, weightGrad, weightGrad.Length, ringGrad, ringGrad.Length));
  }
}

public sealed class ExportOptions : NativeHandle {
  public ExportOptions() : base(Create()) {}
  static IntPtr Create() { RpgNative.rpg_export_options_create(out IntPtr h); return h; }
  protected override void Free(IntPtr h) { RpgNative.rpg_export_options_free(h); }
  public int Bits { set { Use(h => RpgNative.rpg_export_options_set_bits(h, value)); } }
  public double PruneFraction { set { Use(h => RpgNative.rpg_export_options_set_prune_fraction(h, value)); } }
  /// <summary>int8 exports: 8-bit rings with one scale each, activation ranges calibrated on
  /// batches (&gt;= 1) batches of the .data file's train list when exporting. dataPath null: int8
  /// off again.</summary>
  public void SetInt8(string dataPath, int batches) {
    Use(h => RpgNative.rpg_export_options_set_int8(h, dataPath, batches));
  }
}

public sealed class Network : NativeHandle {
  Network(IntPtr h) : base(h) {}
  protected override void Free(IntPtr h) { RpgNative.rpg_network_free(h); }

  /// <summary>From a cfg file; overrides: "SECTION.KEY=VALUE" lines, or null.</summary>
  public static Network FromCfg(string cfgPath, string overrides = null) {
    RpgNative.rpg_network_create(cfgPath, overrides, out IntPtr h); return new Network(h);
  }
  public static Network FromText(string cfgText, string overrides = null) {
    RpgNative.rpg_network_create_from_text(cfgText, overrides, out IntPtr h); return new Network(h);
  }
  public static Network FromExport(string path) {
    RpgNative.rpg_network_create_from_export(path, out IntPtr h); return new Network(h);
  }
  public static Network FromExport(byte[] bytes) {
    RpgNative.rpg_network_create_from_export_buffer(bytes, (ulong)bytes.Length, out IntPtr h); return new Network(h);
  }
  /// <summary>float32: an int8 export runs in float32 (RPG_EXPORT_LOAD_FLOAT32); else as FromExport.</summary>
  public static Network FromExport(string path, bool float32) {
    RpgNative.rpg_network_create_from_export_ex(path, LoadFlags(float32), out IntPtr h); return new Network(h);
  }
  public static Network FromExport(byte[] bytes, bool float32) {
    RpgNative.rpg_network_create_from_export_buffer_ex(bytes, (ulong)bytes.Length, LoadFlags(float32), out IntPtr h);
    return new Network(h);
  }
  static uint LoadFlags(bool float32) { return float32 ? (uint)RpgNative.RPG_EXPORT_LOAD_FLOAT32 : 0; }

  public int Threads { set { Use(h => RpgNative.rpg_network_set_threads(h, value)); } }
  public int Batch {
    get { return With(h => { RpgNative.rpg_network_batch(h, out int v); return v; }); }
    set { Use(h => RpgNative.rpg_network_set_batch(h, value)); }
  }
  public long InputSize => With(h => { RpgNative.rpg_network_input_size(h, out long v); return v; });
  public long OutputSize => With(h => { RpgNative.rpg_network_output_size(h, out long v); return v; });
  public long ParamCount => With(h => { RpgNative.rpg_network_param_count(h, out long v); return v; });
  public long RingDof => With(h => { RpgNative.rpg_network_ring_dof(h, out long v); return v; });
  /// <summary>How many layers Predict runs in int8 (0: all float32).</summary>
  public int Int8Layers => With(h => { RpgNative.rpg_network_int8_layers(h, out int v); return v; });
  public long UpdateCount => With(h => { RpgNative.rpg_network_update_count(h, out long v); return v; });
  public long RingSize(int ring) => With(h => { RpgNative.rpg_network_ring_size(h, ring, out long v); return v; });
  public long RingSeed(int ring) => With(h => { RpgNative.rpg_network_ring_seed(h, ring, out long v); return v; });
  public float[] RingValues(int ring) {
    var v = new float[RingSize(ring)];
    Use(h => RpgNative.rpg_network_ring_get_values(h, ring, v, v.Length));
    return v;
  }
  public long LayerWeightCount(int layer) =>
      With(h => { RpgNative.rpg_network_layer_weight_count(h, layer, out long v); return v; });
  public float[] LayerWeights(int layer) {
    var w = new float[LayerWeightCount(layer)];
    Use(h => RpgNative.rpg_network_layer_get_weights(h, layer, w, w.Length));
    return w;
  }
  public string Summary => With(h => { RpgNative.rpg_network_summary(h, out IntPtr p); return Marshal.PtrToStringAnsi(p); });
  public double TrainStep(float[] input, float[] target) {
    return With(h => { RpgNative.rpg_network_train_step(h, input, input.Length, target, target.Length, out double l); return l; });
  }
  public void Predict(float[] input, float[] output) {
    Use(h => RpgNative.rpg_network_predict(h, input, input.Length, output, output.Length));
  }
  public void Export(ExportOptions options, string path) {
    Use(h => { if (options == null) RpgNative.rpg_network_export(h, IntPtr.Zero, path);
               else options.Use(o => RpgNative.rpg_network_export(h, o, path)); });
  }
  public byte[] ExportToBytes(ExportOptions options) {
    return With(h => options.With(o => {
      RpgNative.rpg_network_export_to_buffer(h, o, null, 0, out ulong size);
      var bytes = new byte[size];
      RpgNative.rpg_network_export_to_buffer(h, o, bytes, size, out size);
      return bytes;
    }));
  }
}

/// <summary>The training loop on a Darknet .data file. Dispose it before its network.</summary>
public sealed class Trainer : NativeHandle {
  readonly Network net;
  public Trainer(Network net, string dataPath) : base(Create(net, dataPath)) { this.net = net; }
  static IntPtr Create(Network net, string dataPath) {
    return net.With(n => { RpgNative.rpg_trainer_create(n, dataPath, out IntPtr h); return h; });
  }
  protected override void Free(IntPtr h) { RpgNative.rpg_trainer_free(h); }
  public string BackupDir { set { Use(h => RpgNative.rpg_trainer_set_backup_dir(h, value)); } }
  public long CheckpointEvery { set { Use(h => RpgNative.rpg_trainer_set_checkpoint_every(h, value)); } }
  public long StopAt { set { Use(h => RpgNative.rpg_trainer_set_stop_at(h, value)); } }
  public long ReportEvery { set { Use(h => RpgNative.rpg_trainer_set_report_every(h, value)); } }
  public long MaxUpdates => With(h => { RpgNative.rpg_trainer_max_updates(h, out long v); return v; });

  /// <summary>Raised every ReportEvery updates and at the last one, on the thread running Run;
  /// set e.Stop to stop the run. An exception thrown by a handler stops the run too, and Run
  /// throws it when it returns.</summary>
  public event EventHandler<ProgressEventArgs> Progress;
  internal void OnProgress(ProgressEventArgs e) { Progress?.Invoke(this, e); }

  /// <summary>Trains; true when the schedule ran to its end (false when stopped). The network
  /// stays alive meanwhile; so does this trainer, through a GCHandle that the native callback
  /// gets as its user data.</summary>
  public bool Run() {
    return With(h => net.With(n => {
      if (Progress == null) { RpgNative.rpg_trainer_run(h, out int f0); return f0 == 1; }
      GCHandle self = GCHandle.Alloc(this);
      try {
        RpgNative.rpg_trainer_set_progress_callback(h, Callbacks.ProgressFnPtr, GCHandle.ToIntPtr(self));
        RpgNative.rpg_trainer_run(h, out int f);
        return f == 1;
      } finally {
        RpgNative.rpg_trainer_set_progress_callback(h, IntPtr.Zero, IntPtr.Zero);
        self.Free();
      }
    }));
  }
  public double AvgLoss => With(h => { RpgNative.rpg_trainer_progress(h, out long u, out double l); return l; });
}

}
