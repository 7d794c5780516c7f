// The small networks the fuzz targets load into, and the checks they share. Kept tiny so that
// every input runs in well under a millisecond.
#pragma once
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "backend/cpu_backend.h"
#include "cfg/cfg.h"
#include "base/error.h"
#include "core/network.h"
#include "data/image.h"
#include "io/container.h"

namespace rpg_fuzz {

// One ring over a BN convolution and a connected layer, an unbound classifier.
inline const char* ring_cfg() {
  return "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=1\nseed=2\n\n"
         "[ring]\nname=g\ndof=0.25\n\n"
         "[convolutional]\nfilters=2\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=leaky\nring=g\n\n"
         "[connected]\noutput=6\nactivation=relu\nring=g\n\n"
         "[connected]\noutput=3\nbatch_normalize=1\nactivation=linear\n\n[softmax]\n";
}

// The same without the ring (what a Darknet .weights file can load).
inline const char* plain_cfg() {
  return "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=1\nseed=2\n\n"
         "[convolutional]\nfilters=2\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
         "[connected]\noutput=6\nactivation=relu\n\n"
         "[connected]\noutput=3\nbatch_normalize=1\nactivation=linear\n\n[softmax]\n";
}

inline std::unique_ptr<rpg::Network> make(const char* text) {
  return std::make_unique<rpg::Network>(rpg::parse_cfg(text, "fuzz.cfg"), std::make_unique<rpg::CpuBackend>(1));
}

// A loader may only reject a file with one of the allowed statuses and a message naming it.
inline void check_rejection(const rpg::Error& e, const std::string& name, bool allow_oom = false) {
  const bool ok_status =
      e.status() == rpg::Status::FormatError || (allow_oom && e.status() == rpg::Status::OutOfMemory);
  if (!ok_status || std::string(e.what()).find(name) == std::string::npos) {
    std::fprintf(stderr, "unexpected rejection (status %d): %s\n", int(e.status()), e.what());
    std::abort();
  }
}

// A text loader (cfg, .data, list, IDX) may only reject its input with a parse, format,
// argument, not-found or memory error whose message names `name` ("" = any message).
inline void check_rejection_of_text(const rpg::Error& e, const std::string& name) {
  const rpg::Status s = e.status();
  const bool ok_status = s == rpg::Status::ParseError || s == rpg::Status::FormatError ||
                         s == rpg::Status::InvalidArgument || s == rpg::Status::NotFound ||
                         s == rpg::Status::OutOfMemory;
  if (!ok_status || std::string(e.what()).find(name) == std::string::npos) {
    std::fprintf(stderr, "unexpected rejection (status %d): %s\n", int(s), e.what());
    std::abort();
  }
}

inline void write_whole(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) std::abort();
}

inline void put_be32(std::string& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b += char((v >> (8 * i)) & 0xff);
}

// A plain IDX image file of n rows x cols images, and a label file of n labels below classes.
inline std::string idx_images(uint32_t n, uint32_t rows, uint32_t cols) {
  std::string b;
  put_be32(b, 0x00000803);
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  for (uint32_t i = 0; i < n * rows * cols; ++i) b += char(i * 37 % 256);
  return b;
}
inline std::string idx_labels(uint32_t n, uint32_t classes) {
  std::string b;
  put_be32(b, 0x00000801);
  put_be32(b, n);
  for (uint32_t i = 0; i < n; ++i) b += char(i % classes);
  return b;
}

// A fresh folder (kept for the process) holding cat/1.pgm, dog/2.pgm, bird_3.pgm (tiny valid
// images) and not_an_image.png, for the list target to point at.
inline std::string scratch_folder_with_images() {
  char tmpl[] = "/tmp/rpgnet-fuzz-XXXXXX";
  if (!mkdtemp(tmpl)) std::abort();
  const std::string dir = tmpl;
  mkdir((dir + "/cat").c_str(), 0777);
  mkdir((dir + "/dog").c_str(), 0777);
  const std::string pgm = std::string("P5\n2 2\n255\n") + char(0) + char(64) + char(128) + char(255);
  write_whole(dir + "/cat/1.pgm", pgm);
  write_whole(dir + "/dog/2.pgm", pgm);
  write_whole(dir + "/bird_3.pgm", pgm);
  write_whole(dir + "/not_an_image.png", "\x89PNG not really");
  return dir;
}

// The input with its trailing CRC-32 recomputed, so that mutations get past the checksum.
inline std::string with_valid_crc(std::string b) {
  if (b.size() < 20) return b;
  const uint32_t crc = rpg::crc32_of(b.data(), b.size() - 4);
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + size_t(i)] = char((crc >> (8 * i)) & 0xff);
  return b;
}

}  // namespace rpg_fuzz
