//! Polygon masks with GDAL's rasterization rules, pixel for pixel.
//!
//! The result equals `GDALRasterizeGeometries` (what `rasterio.features.geometry_mask(...,
//! invert=True)` calls) burning each polygon into a fresh byte raster:
//!
//! - World coordinates become pixel/line coordinates with the inverse of the grid's
//!   geotransform, computed with the same floating-point operations GDAL uses, so every vertex
//!   lands on exactly the same pixel coordinate.
//! - Every ring is first put in clockwise order (as GDAL's ring collection does). The order
//!   matters for one rule of the fill: a horizontal edge lying exactly on a row of pixel
//!   centres is burnt only when it runs towards -x.
//! - `all_touched = false`: scanline fill. Row `y` is sampled at `y + 0.5`; each edge that
//!   crosses it gives `floor(x + 0.5)` and the pixels from one crossing up to (not including)
//!   the next are burnt: a pixel is inside when its centre is (ties as above).
//! - `all_touched = true`: the same fill, plus every pixel an edge passes through. Edges that
//!   run along a pixel boundary (both ends within 1e-4 of the same grid line) burn nothing of
//!   their own: GDAL leaves them to the fill so a grid-aligned rectangle does not grow.
//! - A MultiPolygon is burnt part by part (their union), as GDAL does in replace mode.

use super::wkb::{Polygon, Ring};
use crate::error::{Error, Result};

/// Pixel -> world transform in `affine` order: `x = a*col + b*row + c`,
/// `y = d*col + e*row + f`. North-up grids have `e < 0`, south-up grids `e > 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub e: f64,
    pub f: f64,
}

impl Affine {
    /// From `[a, b, c, d, e, f]`.
    pub fn from_array(v: [f64; 6]) -> Self {
        let [a, b, c, d, e, f] = v;
        Self { a, b, c, d, e, f }
    }
}

/// World -> (pixel, line): `[g0, g1, g2, g3, g4, g5]` with `pixel = g0 + x*g1 + y*g2` and
/// `line = g3 + x*g4 + y*g5`, in GDAL's coefficient order.
#[derive(Debug, Clone, Copy)]
struct Inverse([f64; 6]);

impl Inverse {
    /// The inverse exactly as `GDALInvGeoTransform` computes it: a direct formula without a
    /// determinant for grids without rotation, the adjugate over the determinant otherwise.
    fn of(t: &Affine) -> Result<Self> {
        // GDAL geotransform order: [c, a, b, f, d, e]
        let g = [t.c, t.a, t.b, t.f, t.d, t.e];
        let [g0, g1, g2, g3, g4, g5] = g;
        if g.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(format!(
                "transform {:?} has a non-finite coefficient",
                [t.a, t.b, t.c, t.d, t.e, t.f]
            )));
        }
        if g2 == 0.0 && g4 == 0.0 && g1 != 0.0 && g5 != 0.0 {
            return Ok(Self([-g0 / g1, 1.0 / g1, 0.0, -g3 / g5, 0.0, 1.0 / g5]));
        }
        let det = g1 * g5 - g2 * g4;
        let magnitude = g1.abs().max(g2.abs()).max(g4.abs().max(g5.abs()));
        if det.abs() <= 1e-10 * magnitude * magnitude {
            return Err(Error::invalid(format!(
                "transform {:?} is not invertible",
                [t.a, t.b, t.c, t.d, t.e, t.f]
            )));
        }
        let inv_det = 1.0 / det;
        Ok(Self([
            (g2 * g3 - g0 * g5) * inv_det,
            g5 * inv_det,
            -g2 * inv_det,
            (-g1 * g3 + g0 * g4) * inv_det,
            -g4 * inv_det,
            g1 * inv_det,
        ]))
    }

    /// Left-to-right sums, no fused multiply-add: the bits GDAL gets.
    fn apply(&self, [x, y]: [f64; 2]) -> (f64, f64) {
        let [g0, g1, g2, g3, g4, g5] = self.0;
        (g0 + x * g1 + y * g2, g3 + x * g4 + y * g5)
    }
}

/// The `height x width` mask (row-major, `true` = burnt) of `polygons` on the grid
/// `transform`.
///
/// # Errors
/// `InvalidArgument`: a transform that cannot be inverted or has non-finite values, or a mask
/// too large to allocate.
pub fn rasterize_polygons(
    polygons: &[Polygon],
    transform: &Affine,
    width: usize,
    height: usize,
    all_touched: bool,
) -> Result<Vec<bool>> {
    rasterize_rows(polygons, transform, width, height, 0..height, all_touched)
}

/// Rows `rows` of the mask [`rasterize_polygons`] makes on the `height x width` grid, pixel
/// for pixel the same (row-major, `rows.len() x width`): a large window is masked band by
/// band without holding its whole mask.
///
/// # Errors
/// As [`rasterize_polygons`]; also `rows` reaching past `height`.
pub fn rasterize_rows(
    polygons: &[Polygon],
    transform: &Affine,
    width: usize,
    height: usize,
    rows: std::ops::Range<usize>,
    all_touched: bool,
) -> Result<Vec<bool>> {
    rasterize_window(
        polygons,
        transform,
        width,
        height,
        rows,
        0..width,
        all_touched,
    )
}

/// Rows `rows` x columns `cols` of the mask [`rasterize_polygons`] makes on the
/// `height x width` grid, pixel for pixel the same (row-major, `rows.len() x cols.len()`):
/// every crossing is computed on the whole grid, so a part of a window (a chunk of a lazy
/// read) gets exactly the pixels the whole window's mask has there.
///
/// # Errors
/// As [`rasterize_polygons`]; also `rows` or `cols` reaching past the grid.
pub fn rasterize_window(
    polygons: &[Polygon],
    transform: &Affine,
    width: usize,
    height: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    all_touched: bool,
) -> Result<Vec<bool>> {
    let inverse = Inverse::of(transform)?;
    if rows.start > rows.end || rows.end > height {
        return Err(Error::invalid(format!(
            "mask rows {rows:?} outside a grid of {height} rows"
        )));
    }
    if cols.start > cols.end || cols.end > width {
        return Err(Error::invalid(format!(
            "mask columns {cols:?} outside a grid of {width} columns"
        )));
    }
    let len = cols
        .len()
        .checked_mul(rows.len())
        .filter(|n| *n <= isize::MAX as usize)
        .ok_or_else(|| Error::invalid(format!("mask of {width} x {height} is too large")))?;
    let (Ok(w), Ok(h), Ok(row0), Ok(band), Ok(col0), Ok(span)) = (
        i64::try_from(width),
        i64::try_from(height),
        i64::try_from(rows.start),
        i64::try_from(rows.len()),
        i64::try_from(cols.start),
        i64::try_from(cols.len()),
    ) else {
        return Err(Error::invalid("mask size does not fit in 64 bits"));
    };
    let mut canvas = Canvas {
        data: vec![false; len],
        width: w,
        height: h,
        row0,
        rows: band,
        col0,
        cols: span,
    };
    if len == 0 {
        return Ok(canvas.data);
    }
    let mut shape = PixelShape::default();
    for polygon in polygons {
        shape.load(polygon, &inverse);
        if shape.xs.is_empty() {
            continue;
        }
        if all_touched {
            burn_edges(&mut canvas, &shape);
        }
        fill(&mut canvas, &shape);
    }
    Ok(canvas.data)
}

/// One polygon in pixel/line coordinates: all rings back to back, `parts` holds their lengths.
#[derive(Default)]
struct PixelShape {
    xs: Vec<f64>,
    ys: Vec<f64>,
    parts: Vec<usize>,
}

impl PixelShape {
    fn load(&mut self, polygon: &Polygon, inverse: &Inverse) {
        self.xs.clear();
        self.ys.clear();
        self.parts.clear();
        for ring in polygon.rings.iter().filter(|r| !r.is_empty()) {
            let mut push = |p: &[f64; 2]| {
                let (x, y) = inverse.apply(*p);
                self.xs.push(x);
                self.ys.push(y);
            };
            // orientation is judged in world coordinates, before the transform
            if is_clockwise(ring) {
                ring.iter().for_each(&mut push);
            } else {
                ring.iter().rev().for_each(&mut push);
            }
            self.parts.push(ring.len());
        }
    }

    /// `(start, end)` index ranges of the rings.
    fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.parts.iter().scan(0usize, |start, &n| {
            let range = (*start, *start + n);
            *start += n;
            Some(range)
        })
    }

    fn point(&self, i: usize) -> (f64, f64) {
        (
            self.xs.get(i).copied().unwrap_or(f64::NAN),
            self.ys.get(i).copied().unwrap_or(f64::NAN),
        )
    }
}

/// OGR's ring orientation test (`OGRLineString::isClockwise`): the turn at the lowest, then
/// rightmost vertex (the closing vertex is not a candidate); when that pivot is ambiguous (a
/// duplicate pivot, or a neighbour within 1e-5 in both coordinates), the sign of the shoelace
/// sum instead.
fn is_clockwise(ring: &Ring) -> bool {
    let n = ring.len();
    if n < 2 {
        return true;
    }
    let at = |i: usize| ring.get(i).copied().unwrap_or([f64::NAN, f64::NAN]);
    let mut fallback = false;
    let mut v = 0usize;
    for i in 1..n - 1 {
        let [x, y] = at(i);
        let [vx, vy] = at(v);
        if y < vy || (y == vy && x > vx) {
            v = i;
            fallback = false;
        } else if y == vy && x == vx {
            fallback = true;
        }
    }
    const EPSILON: f64 = 1e-5;
    let [vx, vy] = at(v);
    let near = |[x, y]: [f64; 2]| (x - vx).abs() < EPSILON && (y - vy).abs() < EPSILON;
    let previous = at(if v == 0 { n - 2 } else { v - 1 });
    fallback |= near(previous);
    let following = at(if v + 1 >= n - 1 { 0 } else { v + 1 });
    fallback |= near(following);
    let (dx0, dy0) = (previous[0] - vx, previous[1] - vy);
    let (dx1, dy1) = (following[0] - vx, following[1] - vy);
    let cross = dx1 * dy0 - dx0 * dy1;
    if !fallback {
        if cross > 0.0 {
            return false;
        }
        if cross < 0.0 {
            return true;
        }
    }
    let mut sum = at(0)[0] * (at(1)[1] - at(n - 1)[1]);
    for i in 1..n - 1 {
        sum += at(i)[0] * (at(i + 1)[1] - at(i - 1)[1]);
    }
    sum += at(n - 1)[0] * (at(0)[1] - at(n - 2)[1]);
    sum < 0.0
}

/// The output raster (`width x height`), of which rows `row0..row0 + rows` and columns
/// `col0..col0 + cols` are held: burns clip to them.
struct Canvas {
    data: Vec<bool>,
    width: i64,
    height: i64,
    row0: i64,
    rows: i64,
    col0: i64,
    cols: i64,
}

impl Canvas {
    /// Burn pixels `start..=end` of `row`, clipped to the rows and columns held.
    fn span(&mut self, row: i64, start: i64, end: i64) {
        let held = self.row0..self.row0 + self.rows;
        let (start, end) = (start.max(self.col0), end.min(self.col0 + self.cols - 1));
        if start > end || !held.contains(&row) {
            return;
        }
        let base = (row - self.row0) * self.cols - self.col0;
        // in range: col0 <= start <= end < col0 + cols, row0 <= row < row0 + rows
        let range = (base + start) as usize..=(base + end) as usize;
        if let Some(pixels) = self.data.get_mut(range) {
            pixels.fill(true);
        }
    }

    fn pixel(&mut self, row: i64, col: i64) {
        self.span(row, col, col);
    }
}

/// `floor(v)` as an integer (saturating far outside any raster).
fn floor_i(v: f64) -> i64 {
    v.floor() as i64
}

/// One edge of a ring, `(x1, y1) -> (x2, y2)` in ring order, with its y extent.
#[derive(Clone, Copy)]
struct Edge {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    y_min: f64,
    y_max: f64,
}

/// GDAL's scanline fill (`GDALdllImageFilledPolygon`), all rings together (even-odd).
///
/// Each ring contributes its edges `(last, first), (first, second), ...`. Per row, at
/// `cy = y + 0.5`: an edge with `min(y) <= cy < max(y)` crosses at
/// `x = (cy - ylo) * (xhi - xlo) / (yhi - ylo) + xlo` (`lo`/`hi`: the lower/upper end),
/// rounded with `floor(x + 0.5)`; sorted crossings pair up into burnt spans `[c0, c1 - 1]`.
/// A horizontal edge lying on `cy` burns `[round(x_end), round(x_start) - 1]` when it runs
/// towards -x, and nothing otherwise. Edges are visited through an active list, which
/// changes no result: an edge outside `[min(y), max(y)]` of a row is skipped by GDAL too.
fn fill(canvas: &mut Canvas, shape: &PixelShape) {
    let mut edges: Vec<Edge> = Vec::with_capacity(shape.xs.len());
    for (start, end) in shape.ranges() {
        for i in start..end {
            let from = if i == start { end - 1 } else { i - 1 };
            let (x1, y1) = shape.point(from);
            let (x2, y2) = shape.point(i);
            edges.push(Edge {
                x1,
                y1,
                x2,
                y2,
                y_min: y1.min(y2),
                y_max: y1.max(y2),
            });
        }
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &y in &shape.ys {
        lo = lo.min(y);
        hi = hi.max(y);
    }
    // GDAL converts the extent with a C cast (truncation towards zero), then clamps
    let first_row = (lo.trunc() as i64).max(0).max(canvas.row0);
    let last_row = (hi.trunc() as i64)
        .min(canvas.height - 1)
        .min(canvas.row0 + canvas.rows - 1);
    edges.sort_by(|a, b| a.y_min.total_cmp(&b.y_min));
    let max_col = canvas.width - 1;
    let mut next = 0usize;
    let mut active: Vec<Edge> = Vec::new();
    let mut crossings: Vec<i64> = Vec::new();
    for row in first_row..=last_row {
        let cy = row as f64 + 0.5;
        while let Some(edge) = edges.get(next).filter(|e| e.y_min <= cy) {
            active.push(*edge);
            next += 1;
        }
        active.retain(|e| e.y_max >= cy);
        crossings.clear();
        for e in &active {
            let (lo_x, lo_y, hi_x, hi_y) = if e.y1 < e.y2 {
                (e.x1, e.y1, e.x2, e.y2)
            } else if e.y1 > e.y2 {
                (e.x2, e.y2, e.x1, e.y1)
            } else {
                // horizontal, on this row's centre line
                if e.x1 > e.x2 {
                    let (from, to) = (floor_i(e.x2 + 0.5), floor_i(e.x1 + 0.5));
                    if from <= max_col && to > 0 {
                        canvas.span(row, from, to - 1);
                    }
                }
                continue;
            };
            if (lo_y..hi_y).contains(&cy) {
                let x = (cy - lo_y) * (hi_x - lo_x) / (hi_y - lo_y) + lo_x;
                crossings.push(floor_i(x + 0.5));
            }
        }
        crossings.sort_unstable();
        for pair in crossings.chunks_exact(2) {
            if let [from, to] = *pair {
                if from <= max_col && to > 0 {
                    canvas.span(row, from, to - 1);
                }
            }
        }
    }
}

/// Both ends within this of a grid line: the edge runs along a pixel boundary.
const ON_GRID_LINE: f64 = 1e-4;

fn on_grid_line(v: f64) -> bool {
    (v - v.round()).abs() < ON_GRID_LINE
}

/// GDAL's all-touched outline (`GDALdllImageLineAllTouched`, intersect-only mode): burn every
/// pixel each edge passes through.
fn burn_edges(canvas: &mut Canvas, shape: &PixelShape) {
    for (start, end) in shape.ranges() {
        for j in start + 1..end {
            let (x0, y0) = shape.point(j - 1);
            let (x1, y1) = shape.point(j);
            burn_segment(canvas, x0, y0, x1, y1);
        }
    }
}

fn burn_segment(canvas: &mut Canvas, mut x: f64, mut y: f64, mut x_end: f64, mut y_end: f64) {
    let (w, h) = (canvas.width as f64, canvas.height as f64);
    // segments wholly on one side outside the raster
    if (y < 0.0 && y_end < 0.0)
        || (y > h && y_end > h)
        || (x < 0.0 && x_end < 0.0)
        || (x > w && x_end > w)
    {
        return;
    }
    if x > x_end {
        std::mem::swap(&mut x, &mut x_end);
        std::mem::swap(&mut y, &mut y_end);
    }
    // (nearly) vertical: one column, that of the right end
    if x.floor() == x_end.floor() || (x - x_end).abs() < 0.01 {
        if on_grid_line(x) && on_grid_line(x_end) {
            return;
        }
        if y_end < y {
            std::mem::swap(&mut y, &mut y_end);
        }
        let col = floor_i(x_end);
        // an end exactly on a row boundary does not reach into the row below it
        let (first, last) = (floor_i(y).max(0), floor_i(y_end - ON_GRID_LINE));
        if !(0..canvas.width).contains(&col) {
            return;
        }
        for row in first..=last.min(canvas.height - 1) {
            canvas.pixel(row, col);
        }
        return;
    }
    // (nearly) horizontal: one row, that of the left end
    if y.floor() == y_end.floor() || (y - y_end).abs() < 0.01 {
        if on_grid_line(y) && on_grid_line(y_end) {
            return;
        }
        let row = floor_i(y);
        if !(0..canvas.height).contains(&row) {
            return;
        }
        let (first, last) = (floor_i(x).max(0), floor_i(x_end - ON_GRID_LINE));
        canvas.span(row, first, last.min(canvas.width - 1));
        return;
    }
    // general case, left to right: clip to the raster, then walk pixel by pixel
    let slope = (y_end - y) / (x_end - x);
    if x_end > w {
        y_end -= (x_end - w) * slope;
        x_end = w;
    }
    if x < 0.0 {
        y += (0.0 - x) * slope;
        x = 0.0;
    }
    if y_end > y {
        if y < 0.0 {
            x += (0.0 - y) / slope;
            y = 0.0;
        }
        if y_end >= h {
            // GDAL moves the end this way (further right, not back); the walk stops burning
            // once it leaves the raster, so only the loop's length is affected
            x_end += (y_end - h) / slope;
            if x_end > w {
                x_end = w;
            }
        }
    } else {
        if y >= h {
            x += (h - y) / slope;
            y = h;
        }
        if y_end < 0.0 {
            x_end -= (y_end - 0.0) / slope;
        }
    }
    while (0.0..x_end).contains(&x) {
        let col = floor_i(x);
        let row = floor_i(y);
        if (0..canvas.height).contains(&row) {
            canvas.pixel(row, col);
        } else if (slope > 0.0 && row >= canvas.height) || (slope < 0.0 && row < 0) {
            // y only moves away from the raster from here: nothing more to burn
            break;
        }
        let mut step_x = (x + 1.0).floor() - x;
        let mut step_y = step_x * slope;
        if floor_i(y + step_y) == row {
            // to the next column, same row
            x += step_x;
            y += step_y;
        } else if slope < 0.0 {
            // up into the previous row (at least a tiny step, so the walk always advances)
            step_y = row as f64 - y;
            if step_y > -0.000000001 {
                step_y = -0.000000001;
            }
            step_x = step_y / slope;
            x += step_x;
            y += step_y;
        } else {
            // down into the next row
            step_y = (row + 1) as f64 - y;
            if step_y < 0.000000001 {
                step_y = 0.000000001;
            }
            step_x = step_y / slope;
            x += step_x;
            y += step_y;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon {
        Polygon {
            rings: vec![vec![[x0, y0], [x0, y1], [x1, y1], [x1, y0], [x0, y0]]],
        }
    }

    /// 1-unit pixels, north-up, origin (0, height): pixel (row, col) covers
    /// x in [col, col+1], y in [height-row-1, height-row].
    fn north_up(height: usize) -> Affine {
        Affine::from_array([1.0, 0.0, 0.0, 0.0, -1.0, height as f64])
    }

    fn render(mask: &[bool], width: usize) -> Vec<String> {
        mask.chunks(width)
            .map(|r| r.iter().map(|&b| if b { '#' } else { '.' }).collect())
            .collect()
    }

    #[test]
    fn grid_aligned_rectangle_is_exact_in_both_modes() {
        let p = rect(1.0, 1.0, 4.0, 3.0);
        for all_touched in [false, true] {
            let m = rasterize_polygons(std::slice::from_ref(&p), &north_up(4), 5, 4, all_touched)
                .unwrap();
            assert_eq!(render(&m, 5), [".....", ".###.", ".###.", "....."]);
        }
    }

    #[test]
    fn centre_rule_and_all_touched_differ_on_a_small_offset_square() {
        // covers x 1.2..2.8, y 1.2..2.8: only pixel (row 1, col 1)'s centre (1.5, 2.5) is in
        let p = rect(1.2, 1.2, 2.8, 2.8);
        let centre =
            rasterize_polygons(std::slice::from_ref(&p), &north_up(4), 4, 4, false).unwrap();
        assert_eq!(render(&centre, 4), ["....", ".##.", ".##.", "...."]);
        let p = rect(1.6, 1.6, 2.4, 2.4);
        let centre =
            rasterize_polygons(std::slice::from_ref(&p), &north_up(4), 4, 4, false).unwrap();
        assert_eq!(render(&centre, 4), ["....", "....", "....", "...."]);
        let touched = rasterize_polygons(&[p], &north_up(4), 4, 4, true).unwrap();
        assert_eq!(render(&touched, 4), ["....", ".##.", ".##.", "...."]);
    }

    #[test]
    fn holes_are_not_burnt() {
        let mut p = rect(0.0, 0.0, 5.0, 5.0);
        p.rings.push(vec![
            [1.0, 1.0],
            [4.0, 1.0],
            [4.0, 4.0],
            [1.0, 4.0],
            [1.0, 1.0],
        ]);
        let m = rasterize_polygons(&[p], &north_up(5), 5, 5, false).unwrap();
        assert_eq!(render(&m, 5), ["#####", "#...#", "#...#", "#...#", "#####"]);
    }

    #[test]
    fn south_up_flips_rows() {
        let p = rect(0.0, 0.0, 2.0, 1.0);
        let t = Affine::from_array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        let m = rasterize_polygons(&[p], &t, 3, 3, false).unwrap();
        assert_eq!(render(&m, 3), ["##.", "...", "..."]);
    }

    #[test]
    fn geometry_outside_the_window_burns_nothing() {
        let p = rect(10.0, 10.0, 12.0, 12.0);
        for all_touched in [false, true] {
            let m = rasterize_polygons(std::slice::from_ref(&p), &north_up(3), 3, 3, all_touched)
                .unwrap();
            assert!(m.iter().all(|b| !b));
        }
    }

    #[test]
    fn row_bands_equal_the_whole_mask() {
        let mut p = Polygon {
            rings: vec![vec![
                [0.3, 0.2],
                [6.7, 1.1],
                [5.2, 8.9],
                [2.5, 6.1],
                [0.3, 0.2],
            ]],
        };
        p.rings.push(vec![
            [2.0, 2.0],
            [4.0, 2.0],
            [4.0, 4.0],
            [2.0, 4.0],
            [2.0, 2.0],
        ]);
        let t = north_up(9);
        for all_touched in [false, true] {
            let whole =
                rasterize_polygons(std::slice::from_ref(&p), &t, 7, 9, all_touched).unwrap();
            let mut banded = Vec::new();
            for rows in [0..2, 2..3, 3..7, 7..9] {
                let band = rasterize_rows(
                    std::slice::from_ref(&p),
                    &t,
                    7,
                    9,
                    rows.clone(),
                    all_touched,
                )
                .unwrap();
                assert_eq!(band.len(), rows.len() * 7);
                banded.extend(band);
            }
            assert_eq!(banded, whole, "all_touched={all_touched}");
        }
        assert!(rasterize_rows(&[p], &t, 7, 9, 5..10, false).is_err());
    }

    #[test]
    fn windows_equal_the_whole_mask() {
        // an edge through pixel centres (x = 2.5) and a slanted one: ties and crossings
        // must not depend on which part of the grid is held
        let p = Polygon {
            rings: vec![vec![
                [2.5, 0.5],
                [8.5, 0.2],
                [6.1, 9.5],
                [2.5, 6.5],
                [2.5, 0.5],
            ]],
        };
        let t = north_up(10);
        for all_touched in [false, true] {
            let whole =
                rasterize_polygons(std::slice::from_ref(&p), &t, 9, 10, all_touched).unwrap();
            for rows in [0..10, 0..4, 3..7, 9..10, 5..5] {
                for cols in [0..9, 0..3, 2..6, 5..9, 8..9, 4..4] {
                    let part = rasterize_window(
                        std::slice::from_ref(&p),
                        &t,
                        9,
                        10,
                        rows.clone(),
                        cols.clone(),
                        all_touched,
                    )
                    .unwrap();
                    let mut expected = Vec::new();
                    for r in rows.clone() {
                        for c in cols.clone() {
                            expected.push(whole[r * 9 + c]);
                        }
                    }
                    assert_eq!(part, expected, "rows {rows:?} cols {cols:?} {all_touched}");
                }
            }
        }
        assert!(rasterize_window(&[p], &t, 9, 10, 0..2, 3..10, false).is_err());
    }

    #[test]
    fn singular_transform_is_an_error() {
        let t = Affine::from_array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert!(rasterize_polygons(&[], &t, 2, 2, false).is_err());
    }

    #[test]
    fn orientation_follows_ogr() {
        let cw = vec![[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]];
        let mut ccw = cw.clone();
        ccw.reverse();
        assert!(is_clockwise(&cw));
        assert!(!is_clockwise(&ccw));
    }

    #[test]
    fn steep_edge_far_outside_terminates() {
        // a long, steep edge crossing the raster: the walk stops once it has left it
        let p = Polygon {
            rings: vec![vec![[0.0, -1e9], [100.0, 1e9], [0.5, 1e9], [0.0, -1e9]]],
        };
        let m = rasterize_polygons(&[p], &north_up(10), 10, 10, true).unwrap();
        assert!(m.iter().any(|b| *b));
    }
}
