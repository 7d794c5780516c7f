package org.rpgnet;

/** A ring bound to one weight tensor (rpg_generator); create with Ring.generator. */
public final class Generator extends NativeHandle {
  Generator(long ring, long count, long fanOut, long offset) {
    super(create(ring, count, fanOut, offset), RpgNative::rpg_generator_free);
  }

  private static long create(long ring, long count, long fanOut, long offset) {
    long[] out = new long[1];
    RpgNative.rpg_generator_create(ring, count, fanOut, offset, out);
    return out[0];
  }

  public long count() { long[] v = new long[1]; run(h -> RpgNative.rpg_generator_count(h, v)); return v[0]; }
  public long offset() { long[] v = new long[1]; run(h -> RpgNative.rpg_generator_offset(h, v)); return v[0]; }
  public float scale() { float[] v = new float[1]; run(h -> RpgNative.rpg_generator_scale(h, v)); return v[0]; }
  public void setScale(float scale) { run(h -> RpgNative.rpg_generator_set_scale(h, scale)); }
  /** Fills weights (length count) without copying. */
  public void generate(float[] weights) { run(h -> RpgNative.rpg_generator_generate(h, weights)); }
  public float[] generate() { float[] w = new float[Math.toIntExact(count())]; generate(w); return w; }
  public void accumulateGradient(float[] weightGrad, float[] ringGrad) {
    run(h -> RpgNative.rpg_generator_accumulate_gradient(h, weightGrad, ringGrad));
  }
}
