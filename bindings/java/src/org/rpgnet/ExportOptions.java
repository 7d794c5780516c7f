package org.rpgnet;

/** Prune / quantize settings of an export (rpg_export_options). */
public final class ExportOptions extends NativeHandle {
  public ExportOptions() { super(create(), RpgNative::rpg_export_options_free); }

  private static long create() {
    long[] out = new long[1];
    RpgNative.rpg_export_options_create(out);
    return out[0];
  }

  public ExportOptions bits(int bits) { run(h -> RpgNative.rpg_export_options_set_bits(h, bits)); return this; }
  public ExportOptions pruneFraction(double f) { run(h -> RpgNative.rpg_export_options_set_prune_fraction(h, f)); return this; }
  public ExportOptions unsharedPrecision(int bits) {
    run(h -> RpgNative.rpg_export_options_set_unshared_precision(h, bits));
    return this;
  }
  /** int8 exports: 8-bit rings with one scale each, activation ranges calibrated on batches (>= 1)
   * batches of the .data file's train list when exporting. dataPath null: int8 off again. */
  public ExportOptions int8(String dataPath, int batches) {
    run(h -> RpgNative.rpg_export_options_set_int8(h, dataPath, batches));
    return this;
  }
}
