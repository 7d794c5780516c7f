// Turning a decoded image into a network input: Darknet's classifier augmentation for training
// (random scale, aspect, rotation, crop, flip, HSV jitter) plus padded random crops, and the
// resize-and-center-crop of validation. Every random choice comes from the Rng passed in.
#pragma once
#include "base/random.h"
#include "data/image.h"

namespace rpg {

struct AugmentOptions {
  int min_crop = 0, max_crop = 0;  // shorter side drawn in [min_crop, max_crop]; 0, 0: no resize
  float angle = 0;                 // rotation drawn in [-angle, angle] degrees
  float aspect = 1;                // width stretched by a factor in [1/aspect, aspect]
  float hue = 0;                   // hue shifted by [-hue, hue] (a full turn is 1); 3 channels only
  float saturation = 1;            // saturation scaled by [1/saturation, saturation]
  float exposure = 1;              // value (brightness) scaled by [1/exposure, exposure]
  bool center = false;             // train on the validation geometry (no random crop)
  bool flip = true;                // mirror left-right with probability 1/2
  int crop_padding = 0;            // pad N zero pixels on each side, then crop at random
};

// Writes one out_c x out_h x out_w input (planar) to dst.
//
// train: (1) stretch the width by a = rand_scale(aspect) and scale so that the shorter side is
// r in [min_crop, max_crop] (no resize when both are 0 and aspect is 1; a 0 bound takes the
// other's value); (2) take an out_w x out_h window at a random whole-pixel offset, rotated by
// the random angle about its center (pixels beyond the image repeat its edge, as in Darknet);
// (3) with crop_padding N, shift by a random whole number of pixels in [-N, N] on each axis,
// filling with zeros (= pad by N then crop); (4) flip; (5) distort: Darknet's HSV jitter for 3
// channels; for 1 channel only the exposure factor applies.
// !train (validation, Darknet's validate_classifier_single): the shorter side scaled to out_w
// (Darknet's resize_min, integer sizes; min_crop plays no part), then the center out_w x out_h
// window (zeros beyond the image). train with center: Darknet's center_crop_image, the centered
// square of side min(w, h) resized to out_w x out_h; flips and distortion still apply.
// Validation resizes are Darknet's resize_image (resize_darknet); training's random scaling is
// bilinear on pixel centers. A scale of 1 copies pixels exactly.
//
// src.c must equal out_c; aspect, saturation and exposure must be positive
// (Error(InvalidArgument) otherwise).
void make_input(const Image& src, const AugmentOptions& a, bool train, Rng& rng, int out_w,
                int out_h, int out_c, float* dst);

// Darknet's letterbox_image, as `classifier predict` uses it: the image scaled to fit inside
// out_w x out_h keeping its aspect (Darknet's integer sizes), centered on a 0.5 gray canvas.
// Error(InvalidArgument) unless src.c == out_c.
void letterbox_input(const Image& src, int out_w, int out_h, int out_c, float* dst);

// Darknet's resize_image: bilinear on the corner-aligned grid (source step (n_in - 1) /
// (n_out - 1)), columns then rows, in float, the last column and row copied from the source's.
Image resize_darknet(const Image& src, int w, int h);

// Bilinear resize on pixel centers (OpenCV's INTER_LINEAR without antialiasing).
Image resize_bilinear(const Image& src, int w, int h);

// Darknet's rand_scale: a factor in [1, s] (or [s, 1]), inverted half of the time.
float random_scale(Rng& rng, float s);

// Darknet's HSV distortion of a 3-channel image in place: hue shifted by dhue (wrapping),
// saturation scaled by dsat, value by dexp, then clamped to [0, 1].
void distort_hsv(Image& im, float dhue, float dsat, float dexp);

}  // namespace rpg
