// Canvas, font, colormaps and tile grids (draw.h).
#include "fovea/explain/draw.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "fovea/autograd/grad_mode.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

namespace {

// A 5x9 bitmap font for printable ASCII (32..126): letters 7 rows tall plus 2 rows for the
// descenders of g, j, p, q, y; 5 bits a row, the top row in the high bits and the leftmost pixel
// in each row's high bit. Drawn for fovea.
constexpr std::uint64_t kFont[95] = {
    0x000000000000, 0x042108401000, 0x0A5000000000, 0x0A57D5F52800,  // ' ' '!' '"' '#'
    0x047D1C5F1000, 0x18C888898C00, 0x0C9511593400, 0x042200000000,  // '$' '%' '&' "'"
    0x022210820800, 0x082084222000, 0x00255D520000, 0x00213E420000,  // '(' ')' '*' '+'
    0x000000063088, 0x00003E000000, 0x000000063000, 0x000888880000,  // ',' '-' '.' '/'
    0x0E8CEB98B800, 0x046108423800, 0x0E8844447C00, 0x1F110418B800,  // '0' '1' '2' '3'
    0x0232A5F10800, 0x1F878218B800, 0x06443D18B800, 0x1F0888842000,  // '4' '5' '6' '7'
    0x0E8C5D18B800, 0x0E8C5E113000, 0x006300C60000, 0x000318063088,  // '8' '9' ':' ';'
    0x022220820800, 0x0007C1F00000, 0x082082222000, 0x0E8844401000,  // '<' '=' '>' '?'
    0x0E885B5AB800, 0x0E8C7F18C400, 0x1E8C7D18F800, 0x0E8C2108B800,  // '@' 'A' 'B' 'C'
    0x1C9463197000, 0x1F843D087C00, 0x1F843D084000, 0x0E8C2F18BC00,  // 'D' 'E' 'F' 'G'
    0x118C7F18C400, 0x0E2108423800, 0x071084293000, 0x119531494400,  // 'H' 'I' 'J' 'K'
    0x108421087C00, 0x11DD6B18C400, 0x118E6B38C400, 0x0E8C6318B800,  // 'L' 'M' 'N' 'O'
    0x1E8C7D084000, 0x0E8C63593400, 0x1E8C7D494400, 0x0F841C10F800,  // 'P' 'Q' 'R' 'S'
    0x1F2108421000, 0x118C6318B800, 0x118C63151000, 0x118C6B5AA800,  // 'T' 'U' 'V' 'W'
    0x118A88A8C400, 0x118A88421000, 0x1F0888887C00, 0x0E4210843800,  // 'X' 'Y' 'Z' '['
    0x008208208000, 0x0E1084213800, 0x045440000000, 0x000000007C00,  // '\' ']' '^' '_'
    0x082080000000, 0x000382F8BC00, 0x1085B318F800, 0x0003A108B800,  // '`' 'a' 'b' 'c'
    0x010B6718BC00, 0x0003A3F83800, 0x064A38842000, 0x0003E318BC2E,  // 'd' 'e' 'f' 'g'
    0x1085B318C400, 0x040308423800, 0x020184210A4C, 0x1084A98A4800,  // 'h' 'i' 'j' 'k'
    0x0C2108423800, 0x0006AB58C400, 0x0005B318C400, 0x0003A318B800,  // 'l' 'm' 'n' 'o'
    0x0007A318FA10, 0x0003E318BC21, 0x0005B3084000, 0x0003A0E0F800,  // 'p' 'q' 'r' 's'
    0x084710849800, 0x00046319B400, 0x000463151000, 0x0004635AA800,  // 't' 'u' 'v' 'w'
    0x000454454400, 0x00046318BC2E, 0x0007C4447C00, 0x022110420800,  // 'x' 'y' 'z' '{'
    0x042108421000, 0x082104422000, 0x00022A200000,                  // '|' '}' '~'
};

std::uint8_t to_u8(double v) { return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255)); }

// (H,W) or (1,H,W) f32 values, with its height and width; `op` names the caller in errors.
struct Plane {
  std::vector<float> v;
  std::int64_t h, w;
};
Plane plane_of(const Tensor& m, const char* op) {
  if (!(m.dim() == 2 || (m.dim() == 3 && m.size(0) == 1)))
    fail(op, "expected a map (H,W) or (1,H,W), got {}", shape_str(m.shape()));
  NoGradGuard ng;
  return {m.detach().to(DType::f32).contiguous().to_vector<float>(), m.size(-2), m.size(-1)};
}

void check_image(const Tensor& img, const char* op) {
  if (img.dim() != 3 || (img.size(0) != 1 && img.size(0) != 3) || img.dtype() != DType::u8)
    fail(op, "expected a u8 image (C,H,W) with C 1 or 3, got {} {}", dtype_name(img.dtype()), shape_str(img.shape()));
}

}  // namespace

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::size_t text_width(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return !is_utf8_continuation(c); }));
}

int text_px(std::string_view s, int scale) {
  const int n = static_cast<int>(text_width(s));
  return n ? (n * kAdvance - 1) * scale : 0;
}

Canvas::Canvas(int w, int h, Rgb bg) : w_(w), h_(h), px_(static_cast<std::size_t>(3) * w * h) { fill(0, 0, w, h, bg); }

void Canvas::fill(int x, int y, int w, int h, Rgb c) {
  const int x0 = std::max(x, 0), x1 = std::min(x + w, w_), y0 = std::max(y, 0), y1 = std::min(y + h, h_);
  const std::size_t plane = static_cast<std::size_t>(w_) * h_;
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) {
      const std::size_t i = static_cast<std::size_t>(yy) * w_ + xx;
      px_[i] = c.r;
      px_[plane + i] = c.g;
      px_[2 * plane + i] = c.b;
    }
}

void Canvas::text(int x, int y, std::string_view s, int scale, Rgb c, bool upward) {
  int i = 0;
  for (char ch : s) {
    if (is_utf8_continuation(ch)) continue;
    const auto u = static_cast<unsigned char>(ch);
    const std::uint64_t bits = kFont[(u >= 32 && u <= 126 ? u : '?') - 32];
    for (int gy = 0; gy < kGlyphRows; ++gy)
      for (int gx = 0; gx < kGlyphW; ++gx) {
        if (!((bits >> (kGlyphRows * kGlyphW - 1 - gy * kGlyphW - gx)) & 1)) continue;
        const int along = (i * kAdvance + gx) * scale;
        if (upward) fill(x + gy * scale, y - along - scale, scale, scale, c);
        else fill(x + along, y + gy * scale, scale, scale, c);
      }
    ++i;
  }
}

void Canvas::blit(int x, int y, const Tensor& img, int scale) {
  check_image(img, "draw");
  const auto v = img.contiguous().to_vector<std::uint8_t>();
  const auto c = img.size(0), h = img.size(1), w = img.size(2);
  for (std::int64_t yy = 0; yy < h; ++yy)
    for (std::int64_t xx = 0; xx < w; ++xx) {
      auto at = [&](std::int64_t ch) { return v[static_cast<std::size_t>((ch * h + yy) * w + xx)]; };
      const Rgb p = c == 3 ? Rgb{at(0), at(1), at(2)} : Rgb{at(0), at(0), at(0)};
      fill(x + static_cast<int>(xx) * scale, y + static_cast<int>(yy) * scale, scale, scale, p);
    }
}

Tensor Canvas::tensor() const { return from_vector<std::uint8_t>(px_, {3, h_, w_}); }

Colormap parse_colormap(const std::string& name) {
  if (name == "jet") return Colormap::jet;
  if (name == "viridis") return Colormap::viridis;
  if (name == "grey" || name == "gray") return Colormap::grey;
  fail("colormap", "unknown colormap '{}' (jet, viridis, grey)", name);
}

std::string colormap_name(Colormap c) {
  switch (c) {
    case Colormap::jet: return "jet";
    case Colormap::viridis: return "viridis";
    case Colormap::grey: return "grey";
  }
  return "?";
}

Rgb colormap(Colormap c, double v) {
  v = std::isfinite(v) ? std::clamp(v, 0.0, 1.0) : 0.0;
  switch (c) {
    case Colormap::jet: {
      auto ramp = [v](double centre) { return to_u8(1.5 - std::abs(4 * v - centre)); };
      return {ramp(3), ramp(2), ramp(1)};
    }
    case Colormap::viridis: {
      // matplotlib's viridis at v = 0, 1/8, ..., 1
      static constexpr std::array<Rgb, 9> stops{{{68, 1, 84},
                                                 {71, 44, 122},
                                                 {59, 81, 139},
                                                 {44, 113, 142},
                                                 {33, 144, 141},
                                                 {39, 173, 129},
                                                 {92, 200, 99},
                                                 {170, 220, 50},
                                                 {253, 231, 37}}};
      const double t = v * 8;
      const int i = std::min(static_cast<int>(t), 7);
      const double f = t - i;
      auto mix = [f](std::uint8_t a, std::uint8_t b) {
        return static_cast<std::uint8_t>(std::lround(a + (b - a) * f));
      };
      return {mix(stops[i].r, stops[i + 1].r), mix(stops[i].g, stops[i + 1].g), mix(stops[i].b, stops[i + 1].b)};
    }
    case Colormap::grey: {
      const auto g = to_u8(v);
      return {g, g, g};
    }
  }
  return {0, 0, 0};
}

Tensor apply_colormap(const Tensor& m, Colormap c) {
  const Plane p = plane_of(m, "colormap");
  const std::size_t n = p.v.size();
  std::vector<std::uint8_t> out(3 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const Rgb k = colormap(c, p.v[i]);
    out[i] = k.r;
    out[n + i] = k.g;
    out[2 * n + i] = k.b;
  }
  return from_vector<std::uint8_t>(out, {3, p.h, p.w});
}

Tensor overlay(const Tensor& image, const Tensor& m, Colormap c, double alpha) {
  check_image(image, "overlay");
  if (!(alpha >= 0 && alpha <= 1)) fail("overlay", "alpha must be in [0, 1], got {}", alpha);
  const Plane p = plane_of(m, "overlay");
  if (image.size(1) != p.h || image.size(2) != p.w)
    fail("overlay", "map {}x{} does not match image {}x{}", p.h, p.w, image.size(1), image.size(2));
  const Tensor heat = apply_colormap(m, c);
  const Tensor rgb = image.size(0) == 3 ? image : image.expand({3, p.h, p.w});
  const auto a = rgb.contiguous().to_vector<std::uint8_t>(), b = heat.to_vector<std::uint8_t>();
  std::vector<std::uint8_t> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    out[i] = static_cast<std::uint8_t>(std::lround((1 - alpha) * a[i] + alpha * b[i]));
  return from_vector<std::uint8_t>(out, {3, p.h, p.w});
}

Tensor enlarge(const Tensor& img, int factor) {
  check_image(img, "enlarge");
  if (factor < 1) fail("enlarge", "factor must be >= 1, got {}", factor);
  if (factor == 1) return img;
  Canvas c(static_cast<int>(img.size(2)) * factor, static_cast<int>(img.size(1)) * factor);
  c.blit(0, 0, img, factor);
  const Tensor rgb = c.tensor();
  return img.size(0) == 1 ? rgb.slice(0, 0, 1).contiguous() : rgb;
}

Tensor normalize01(const Tensor& m) {
  NoGradGuard ng;
  Tensor x = m.detach().to(DType::f32);
  const double lo = min(x).item(), hi = max(x).item();
  if (!(hi > lo)) return zeros(x.shape());
  return (x - lo) / (hi - lo);
}

Tensor normalize_signed(const Tensor& m) {
  NoGradGuard ng;
  Tensor x = m.detach().to(DType::f32);
  const double a = max(abs(x)).item();
  if (!(a > 0)) return full(x.shape(), 0.5);
  return x / (2 * a) + 0.5;
}

namespace {

// (H,W) -> u8 (1,H,W), scaled from its minimum (black) to its maximum (white)
Tensor grey_tile(const Tensor& map) {
  const auto v = normalize01(map).contiguous().to_vector<float>();
  std::vector<std::uint8_t> tile(v.size());
  std::transform(v.begin(), v.end(), tile.begin(), to_u8);
  return from_vector<std::uint8_t>(tile, {1, map.size(0), map.size(1)});
}

}  // namespace

Tensor tile_grid(const Tensor& maps, int cols, int pad) {
  if (maps.dim() != 3) fail("tile_grid", "expected maps (C,H,W), got {}", shape_str(maps.shape()));
  if (pad < 0) fail("tile_grid", "pad must be >= 0, got {}", pad);
  const int c = static_cast<int>(maps.size(0)), h = static_cast<int>(maps.size(1)), w = static_cast<int>(maps.size(2));
  if (c == 0) fail("tile_grid", "no channels to draw");
  if (cols <= 0) cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(c))));
  cols = std::min(cols, c);
  const int rows = (c + cols - 1) / cols;
  Canvas canvas(cols * (w + pad) - pad, rows * (h + pad) - pad, {255, 255, 255});
  for (int i = 0; i < c; ++i) canvas.blit((i % cols) * (w + pad), (i / cols) * (h + pad), grey_tile(maps.select(0, i)));
  return canvas.tensor().slice(0, 0, 1).contiguous();  // grey: the three planes are equal
}

Tensor labelled_tile_grid(const Tensor& maps, const std::string& title, int scale) {
  if (maps.dim() != 3) fail("tile_grid", "expected maps (C,H,W), got {}", shape_str(maps.shape()));
  if (scale < 1) fail("tile_grid", "scale must be >= 1, got {}", scale);
  const int c = static_cast<int>(maps.size(0));
  if (c == 0) fail("tile_grid", "no channels to draw");
  const int h = static_cast<int>(maps.size(1)) * scale, w = static_cast<int>(maps.size(2)) * scale;
  const int label = kGlyphRows + 3, gap = 4;  // a channel number above each tile
  const int cols = std::min(c, static_cast<int>(std::ceil(std::sqrt(static_cast<double>(c)))));
  const int rows = (c + cols - 1) / cols;
  const int cell_w = std::max(w, text_px(std::to_string(c - 1), 1)) + gap, cell_h = h + label + gap;
  const int top = 2 * kGlyphRows + 2;  // the title line
  Canvas canvas(std::max(cols * cell_w - gap, text_px(title, 1)), top + rows * cell_h - gap);
  canvas.text(0, 2, title, 1, {0, 0, 0});
  for (int i = 0; i < c; ++i) {
    const int x = (i % cols) * cell_w, y = top + (i / cols) * cell_h;
    canvas.text(x, y, std::to_string(i), 1, {80, 80, 80});
    canvas.blit(x, y + label, grey_tile(maps.select(0, i)), scale);
  }
  return canvas.tensor().slice(0, 0, 1).contiguous();
}

}  // namespace fovea::explain
