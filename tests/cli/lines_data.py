#!/usr/bin/python3
"""The CLI tests' synthetic data set: 8x8 grayscale images of three classes (a horizontal, a
vertical or a diagonal line on noise), as IDX files and optionally as a PNG list, with the
class-names file. Deterministic for a seed: the same arguments write the same bytes.

  usage: lines_data.py FOLDER SEED SET:COUNT... [--png N]
    writes FOLDER/<SET>-images and FOLDER/<SET>-labels (labels drawn first, then the images,
    set after set), FOLDER/names ("h", "v", "d"), and with --png N: FOLDER/png/<h|v|d>_<i>.png
    for i < N (class i % 3), FOLDER/png/train.list and FOLDER/png/names.
"""
import os
import random
import struct
import sys
import zlib

NAMES = ["h", "v", "d"]


def image(rng, cls):
    px = [rng.randrange(0, 40) for _ in range(64)]
    at = rng.randrange(1, 7)
    for i in range(8):
        if cls == 0: px[at * 8 + i] = 220      # horizontal line
        elif cls == 1: px[i * 8 + at] = 220    # vertical line
        else: px[i * 8 + i] = 220              # diagonal
    return bytes(px)


def png(px):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\0" + px[y * 8:(y + 1) * 8] for y in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main(argv):
    args = argv[1:]
    png_count = 0
    if "--png" in args:
        i = args.index("--png")
        png_count = int(args[i + 1])
        del args[i:i + 2]
    if len(args) < 3:
        sys.exit(__doc__)
    folder, rng = args[0], random.Random(int(args[1]))
    for spec in args[2:]:
        name, count = spec.split(":")
        labels = [rng.randrange(3) for _ in range(int(count))]
        with open(f"{folder}/{name}-images", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, len(labels), 8, 8))
            for c in labels: f.write(image(rng, c))
        with open(f"{folder}/{name}-labels", "wb") as f:
            f.write(struct.pack(">II", 0x801, len(labels)) + bytes(labels))
    with open(f"{folder}/names", "w") as f:
        f.write("".join(n + "\n" for n in NAMES))
    if png_count:
        os.makedirs(f"{folder}/png", exist_ok=True)
        with open(f"{folder}/png/train.list", "w") as lst:
            for i in range(png_count):
                name = f"{NAMES[i % 3]}_{i}.png"
                with open(f"{folder}/png/{name}", "wb") as f: f.write(png(image(rng, i % 3)))
                lst.write(name + "\n")
        with open(f"{folder}/png/names", "w") as f:
            f.write("".join(n + "\n" for n in NAMES))


if __name__ == "__main__":
    main(sys.argv)
