package org.rpgnet;

/** Layers and rings from a Darknet-style cfg (rpg_network). */
public final class Network extends NativeHandle {
  private Network(long handle) { super(handle, RpgNative::rpg_network_free); }

  /** From a cfg file; overrides: "SECTION.KEY=VALUE" lines, or null. */
  public static Network fromCfg(String cfgPath, String overrides) {
    long[] out = new long[1];
    RpgNative.rpg_network_create(cfgPath, overrides, out);
    return new Network(out[0]);
  }
  public static Network fromText(String cfgText, String overrides) {
    long[] out = new long[1];
    RpgNative.rpg_network_create_from_text(cfgText, overrides, out);
    return new Network(out[0]);
  }
  public static Network fromExport(String path) {
    long[] out = new long[1];
    RpgNative.rpg_network_create_from_export(path, out);
    return new Network(out[0]);
  }
  public static Network fromExport(byte[] bytes) {
    long[] out = new long[1];
    RpgNative.rpg_network_create_from_export_buffer(bytes, out);
    return new Network(out[0]);
  }
  /** float32: an int8 export runs in float32 (RPG_EXPORT_LOAD_FLOAT32); else as fromExport. */
  public static Network fromExport(String path, boolean float32) {
    long[] out = new long[1];
    RpgNative.rpg_network_create_from_export_ex(path, loadFlags(float32), out);
    return new Network(out[0]);
  }
  public static Network fromExport(byte[] bytes, boolean float32) {
    long[] out = new long[1];
    RpgNative.rpg_network_create_from_export_buffer_ex(bytes, loadFlags(float32), out);
    return new Network(out[0]);
  }
  private static long loadFlags(boolean float32) { return float32 ? RpgNativeConstants.RPG_EXPORT_LOAD_FLOAT32 : 0; }

  public void setThreads(int threads) { run(h -> RpgNative.rpg_network_set_threads(h, threads)); }
  public void setBatch(int batch) { run(h -> RpgNative.rpg_network_set_batch(h, batch)); }
  public int batch() { int[] v = new int[1]; run(h -> RpgNative.rpg_network_batch(h, v)); return v[0]; }
  public long inputSize() { long[] v = new long[1]; run(h -> RpgNative.rpg_network_input_size(h, v)); return v[0]; }
  public long outputSize() { long[] v = new long[1]; run(h -> RpgNative.rpg_network_output_size(h, v)); return v[0]; }
  public long paramCount() { long[] v = new long[1]; run(h -> RpgNative.rpg_network_param_count(h, v)); return v[0]; }
  public long ringDof() { long[] v = new long[1]; run(h -> RpgNative.rpg_network_ring_dof(h, v)); return v[0]; }
  public long totalDof() { long[] v = new long[1]; run(h -> RpgNative.rpg_network_total_dof(h, v)); return v[0]; }
  /** How many layers predict runs in int8 (0: all float32). */
  public int int8Layers() { int[] v = new int[1]; run(h -> RpgNative.rpg_network_int8_layers(h, v)); return v[0]; }
  public long updateCount() { long[] v = new long[1]; run(h -> RpgNative.rpg_network_update_count(h, v)); return v[0]; }
  public int ringCount() { int[] v = new int[1]; run(h -> RpgNative.rpg_network_ring_count(h, v)); return v[0]; }
  public long ringSize(int ring) { long[] v = new long[1]; run(h -> RpgNative.rpg_network_ring_size(h, ring, v)); return v[0]; }
  public long ringSeed(int ring) { long[] v = new long[1]; run(h -> RpgNative.rpg_network_ring_seed(h, ring, v)); return v[0]; }
  public void ringValues(int ring, float[] values) { run(h -> RpgNative.rpg_network_ring_get_values(h, ring, values)); }
  public long layerWeightCount(int layer) {
    long[] v = new long[1];
    run(h -> RpgNative.rpg_network_layer_weight_count(h, layer, v));
    return v[0];
  }
  public float[] layerWeights(int layer) {
    float[] w = new float[Math.toIntExact(layerWeightCount(layer))];
    run(h -> RpgNative.rpg_network_layer_get_weights(h, layer, w));
    return w;
  }
  public String summary() { String[] s = new String[1]; run(h -> RpgNative.rpg_network_summary(h, s)); return s[0]; }
  /** One training step; returns the loss. */
  public double trainStep(float[] input, float[] target) {
    double[] loss = new double[1];
    run(h -> RpgNative.rpg_network_train_step(h, input, target, loss));
    return loss[0];
  }
  /** Inference: output gets batch x outputSize floats. */
  public void predict(float[] input, float[] output) { run(h -> RpgNative.rpg_network_predict(h, input, output)); }
  public void export(ExportOptions options, String path) {
    run(h -> { if (options == null) RpgNative.rpg_network_export(h, 0, path);
               else options.run(o -> RpgNative.rpg_network_export(h, o, path)); });
  }
  public byte[] exportToBytes(ExportOptions options) {
    return with(h -> options.with(o -> {
      long[] size = new long[1];
      RpgNative.rpg_network_export_to_buffer(h, o, null, size);
      byte[] bytes = new byte[Math.toIntExact(size[0])];
      RpgNative.rpg_network_export_to_buffer(h, o, bytes, size);
      return bytes;
    }));
  }
  public void saveCheckpoint(String path) { run(h -> RpgNative.rpg_network_save_checkpoint(h, path)); }
  public void loadCheckpoint(String path) { run(h -> RpgNative.rpg_network_load_checkpoint(h, path)); }
}
