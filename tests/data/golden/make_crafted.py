#!/usr/bin/env python3
"""Crafted files for test_golden: the golden checkpoint, export and .weights with one field made
wrong (a count, an offset, a size) and, for the rpgnet containers, the CRC-32 recomputed so that
the loaders' field checks are reached. Writes bad/*.  Usage: make_crafted.py GOLDEN_DIR
Container layout (src/io/container.h): "RPGNET\\r\\n", u32 version, u32 section count, per section
tag[4] u32 flags u64 size payload, then u32 zlib crc32 of every byte before it."""
import os
import struct
import sys
import zlib

here = sys.argv[1]
bad = os.path.join(here, "bad")
os.makedirs(bad, exist_ok=True)


def sections(b):
    """(tag, offset of the payload, size) of each section."""
    count = struct.unpack_from("<I", b, 12)[0]
    at, out = 16, []
    for _ in range(count):
        tag = b[at:at + 4].decode()
        size = struct.unpack_from("<Q", b, at + 8)[0]
        out.append((tag, at + 16, size))
        at += 16 + size
    return out


def payload(b, tag):
    for t, at, size in sections(b):
        if t == tag:
            return at, size
    raise KeyError(tag)


def with_crc(b):
    b = bytearray(b[:-4])
    return bytes(b + struct.pack("<I", zlib.crc32(bytes(b)) & 0xFFFFFFFF))


def edit(src, name, fn):
    with open(os.path.join(here, src), "rb") as f:
        b = bytearray(f.read())
    b = fn(b)
    if src.endswith((".ckpt", ".rpgm")):
        b = with_crc(b)
    with open(os.path.join(bad, name), "wb") as f:
        f.write(b)


def put(fmt, tag, offset, value):
    """Writes value at offset within the payload of section tag."""
    def fn(b):
        at, _ = payload(b, tag)
        struct.pack_into(fmt, b, at + offset, value)
        return b
    return fn


def resize_section(tag, delta):
    """Section tag's size field and payload grown (delta > 0, zero bytes) or cut (delta < 0)."""
    def fn(b):
        for t, at, size in sections(b):
            if t == tag:
                struct.pack_into("<Q", b, at - 8, size + delta)
                end = at + size
                return b[:end] + bytes(delta) + b[end:] if delta > 0 else b[:end + delta] + b[end:]
        raise KeyError(tag)
    return fn


def ring_fields(b):
    """Offset of K within R000: after the name (u32 length + bytes) and the u64 seed."""
    at, _ = payload(b, "R000")
    return 4 + struct.unpack_from("<I", b, at)[0] + 8


def meta_layer_count(b):
    at, _ = payload(b, "META")
    return 8 + struct.unpack_from("<I", b, at + 4)[0]  # u32 version, str cfg path


# Checkpoint: layer count, a tensor size, the PARM size, a negative counter.
edit("tiny.ckpt", "layer-count.ckpt", lambda b: put("<I", "META", meta_layer_count(b), 9)(b))
def first_tensor_size(b):
    """Offset in META of layer 0's first tensor size: after the count, str type, 6 int32 shapes, u32 n."""
    at, _ = payload(b, "META")
    type_at = meta_layer_count(b) + 4
    return type_at + 4 + struct.unpack_from("<I", b, at + type_at)[0] + 24 + 4


edit("tiny.ckpt", "tensor-size.ckpt", lambda b: put("<Q", "META", first_tensor_size(b), 28)(b))
edit("tiny.ckpt", "parm-size.ckpt", resize_section("PARM", -8))
edit("tiny.ckpt", "momt-size.ckpt", resize_section("MOMT", 12))
edit("tiny.ckpt", "negative-iteration.ckpt", put("<q", "STAT", 0, -3))
# Export: ring count, K, N, bits, block, pruned count, unshared count, a section size.
edit("tiny-4.rpgm", "ring-count.rpgm", put("<I", "EXPT", 8, 2))
edit("tiny-4.rpgm", "ring-k.rpgm", lambda b: put("<Q", "R000", ring_fields(b), 41)(b))
edit("tiny-4.rpgm", "ring-n.rpgm", lambda b: put("<Q", "R000", ring_fields(b) + 8, 7)(b))
edit("tiny-4.rpgm", "ring-bits.rpgm", lambda b: put("<I", "R000", ring_fields(b) + 16, 1)(b))
edit("tiny-4.rpgm", "ring-block.rpgm", lambda b: put("<I", "R000", ring_fields(b) + 20, 0)(b))
edit("tiny-4.rpgm", "ring-pruned.rpgm", lambda b: put("<Q", "R000", ring_fields(b) + 28, 41)(b))
edit("tiny-4.rpgm", "unshared-count.rpgm", put("<Q", "UNSH", 4, 1 << 40))
edit("tiny-4.rpgm", "ring-size.rpgm", resize_section("R000", 3))
edit("tiny-4.rpgm", "section-size.rpgm", put("<Q", "EXPT", -8, 1 << 50))
# .weights (no checksum in Darknet's format): a float short, a float too many.
edit("tiny-4.weights", "short.weights", lambda b: b[:-4])
edit("tiny-4.weights", "long.weights", lambda b: b + bytes(4))
