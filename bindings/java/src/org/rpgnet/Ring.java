package org.rpgnet;

/** A standalone ring of K shared trainable floats (rpg_ring). */
public final class Ring extends NativeHandle {
  public Ring(long size, long seed) { super(create(size, seed), RpgNative::rpg_ring_free); }

  private static long create(long size, long seed) {
    long[] out = new long[1];
    RpgNative.rpg_ring_create(size, seed, out);
    return out[0];
  }

  public long size() { long[] v = new long[1]; run(h -> RpgNative.rpg_ring_size(h, v)); return v[0]; }
  public long positions() { long[] v = new long[1]; run(h -> RpgNative.rpg_ring_positions(h, v)); return v[0]; }
  public float[] values() { float[] v = new float[Math.toIntExact(size())]; getValues(v); return v; }
  public void getValues(float[] values) { run(h -> RpgNative.rpg_ring_get_values(h, values)); }
  public void setValues(float[] values) { run(h -> RpgNative.rpg_ring_set_values(h, values)); }
  public void initHe() { run(RpgNative::rpg_ring_init_he); }
  public void sgdStep(float[] grad, float learningRate, float momentum, float decay) {
    run(h -> RpgNative.rpg_ring_sgd_step(h, grad, learningRate, momentum, decay));
  }
  /** Binds a generator at offset (RPG_GENERATOR_APPEND: after the furthest one). */
  public Generator generator(long count, long fanOut, long offset) {
    return with(h -> new Generator(h, count, fanOut, offset));
  }
  public Generator generator(long count, long fanOut) {
    return generator(count, fanOut, RpgNativeConstants.RPG_GENERATOR_APPEND);
  }
}
