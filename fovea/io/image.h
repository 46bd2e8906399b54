#pragma once
// Image files through libpng and libjpeg-turbo (no hand-written decoders).
// Images in memory are u8 tensors (C,H,W) with C = 1 (grey) or 3 (RGB).
#include <string>

#include "fovea/core/tensor.h"

namespace fovea::io {

// Decodes PNG or JPEG (chosen by the file's signature, not its name). channels: 0 keeps the
// file's (grey stays 1, colour becomes 3, alpha dropped), 1 converts to grey, 3 to RGB.
// Errors: "[image] PATH: not a PNG or JPEG file", "[image] PATH: corrupt PNG data: ...".
Tensor read_image(const std::string& path, int channels = 0);
// (C,H,W) of an image from its header alone (C: 1 grey, 3 colour); same checks and errors.
Shape read_image_shape(const std::string& path);
// Writes a PNG atomically; img: u8 (C,H,W) with C 1 or 3, or f32 in [0,1] (clamped).
void write_png(const std::string& path, const Tensor& img);
// The same PNG in memory (the HTML report inlines its images); errors name `what`.
std::string png_bytes(const Tensor& img);

}  // namespace fovea::io
