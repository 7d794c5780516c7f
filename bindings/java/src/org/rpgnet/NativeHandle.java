package org.rpgnet;

import java.lang.ref.Cleaner;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;

/** Owns one native handle: freed by close() or, if forgotten, by a Cleaner. Calls hold a read
 * lock, close() the write lock, so closing while another thread uses the handle waits for it
 * instead of freeing memory in use; a call after close() throws IllegalStateException. */
abstract class NativeHandle implements AutoCloseable {
  private static final Cleaner CLEANER = Cleaner.create();

  private static final class Free implements Runnable {
    private final long handle;
    private final LongConsumer free;
    Free(long handle, LongConsumer free) { this.handle = handle; this.free = free; }
    @Override public void run() { free.accept(handle); }
  }

  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final Cleaner.Cleanable cleanable;
  private long handle;

  NativeHandle(long handle, LongConsumer free) {
    this.handle = handle;
    this.cleanable = CLEANER.register(this, new Free(handle, free));
  }

  /** Runs body with the live handle; the handle cannot be freed meanwhile. */
  interface Body<T> { T apply(long handle); }

  final <T> T with(Body<T> body) {
    lock.readLock().lock();
    try {
      if (handle == 0) throw new IllegalStateException(getClass().getSimpleName() + " is closed");
      return body.apply(handle);
    } finally {
      lock.readLock().unlock();
    }
  }

  final void run(java.util.function.LongConsumer body) { with(h -> { body.accept(h); return null; }); }

  @Override public void close() {
    lock.writeLock().lock();
    try {
      if (handle == 0) return;
      handle = 0;
      cleanable.clean();
    } finally {
      lock.writeLock().unlock();
    }
  }
}
