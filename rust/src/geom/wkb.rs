//! WKB -> polygons: the subset of Well-Known Binary a mask needs (Polygon, MultiPolygon and
//! collections of them; Z/M coordinates are read and dropped; ISO and EWKB type codes).

use crate::error::{Error, Result};

/// One ring: its vertices in file order (closed rings repeat the first vertex at the end).
pub type Ring = Vec<[f64; 2]>;

/// One polygon: the exterior ring, then its holes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Polygon {
    pub rings: Vec<Ring>,
}

/// Nesting deeper than this (collections of collections ...) is rejected as corrupt.
const MAX_DEPTH: usize = 32;

const POLYGON: u32 = 3;
const MULTI_POLYGON: u32 = 6;
const COLLECTION: u32 = 7;

/// The polygons of one WKB geometry (a MultiPolygon or collection gives one per part; empty
/// polygons give none).
///
/// # Errors
/// `InvalidArgument`: truncated or malformed WKB, a non-polygonal geometry, or a
/// non-finite coordinate.
pub fn parse_polygons(wkb: &[u8]) -> Result<Vec<Polygon>> {
    let mut reader = Reader { data: wkb, pos: 0 };
    let mut out = Vec::new();
    reader.geometry(&mut out, 0)?;
    Ok(out)
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Byte order and coordinate width of one (sub)geometry.
#[derive(Clone, Copy)]
struct Header {
    little: bool,
    kind: u32,
    dims: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.pos.checked_add(N).ok_or_else(truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or_else(truncated)?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u32(&mut self, little: bool) -> Result<u32> {
        let b = self.take::<4>()?;
        Ok(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self, little: bool) -> Result<f64> {
        let b = self.take::<8>()?;
        Ok(if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    fn header(&mut self) -> Result<Header> {
        let [order] = self.take::<1>()?;
        let little = match order {
            0 => false,
            1 => true,
            other => return Err(Error::invalid(format!("invalid WKB byte order {other}"))),
        };
        let code = self.u32(little)?;
        // EWKB (PostGIS) flags in the high bits; ISO codes add 1000 (Z), 2000 (M), 3000 (ZM)
        let ewkb_z = code & 0x8000_0000 != 0;
        let ewkb_m = code & 0x4000_0000 != 0;
        if code & 0x2000_0000 != 0 {
            self.take::<4>()?; // SRID
        }
        let iso = code & 0x0FFF_FFFF;
        let (kind, iso_z, iso_m) = match iso / 1000 {
            0 => (iso, false, false),
            1 => (iso % 1000, true, false),
            2 => (iso % 1000, false, true),
            3 => (iso % 1000, true, true),
            _ => return Err(Error::invalid(format!("invalid WKB geometry type {code}"))),
        };
        let dims = 2 + usize::from(ewkb_z || iso_z) + usize::from(ewkb_m || iso_m);
        Ok(Header { little, kind, dims })
    }

    fn geometry(&mut self, out: &mut Vec<Polygon>, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid("WKB geometry nested too deeply"));
        }
        let h = self.header()?;
        match h.kind {
            POLYGON => {
                let polygon = self.polygon_body(h)?;
                if !polygon.rings.is_empty() {
                    out.push(polygon);
                }
                Ok(())
            }
            MULTI_POLYGON | COLLECTION => {
                let parts = self.u32(h.little)?;
                for _ in 0..parts {
                    self.geometry(out, depth + 1)?;
                }
                Ok(())
            }
            other => Err(Error::invalid(format!(
                "only Polygon and MultiPolygon geometries can be rasterized (WKB type {other})"
            ))),
        }
    }

    fn polygon_body(&mut self, h: Header) -> Result<Polygon> {
        let n_rings = self.u32(h.little)? as usize;
        let mut rings = Vec::with_capacity(n_rings.min(self.remaining() / 4));
        for _ in 0..n_rings {
            let n_points = self.u32(h.little)? as usize;
            let point_bytes = 8 * h.dims;
            if n_points > self.remaining() / point_bytes {
                return Err(truncated());
            }
            let mut ring = Vec::with_capacity(n_points);
            for _ in 0..n_points {
                let x = self.f64(h.little)?;
                let y = self.f64(h.little)?;
                for _ in 2..h.dims {
                    self.f64(h.little)?;
                }
                if !(x.is_finite() && y.is_finite()) {
                    return Err(Error::invalid(
                        "polygon has a non-finite coordinate (NaN or infinity)",
                    ));
                }
                ring.push([x, y]);
            }
            rings.push(ring);
        }
        Ok(Polygon { rings })
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

fn truncated() -> Error {
    Error::invalid("truncated WKB")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn polygon_wkb(little: bool, code: u32, rings: &[&[[f64; 2]]]) -> Vec<u8> {
        let mut v = vec![u8::from(little)];
        let put32 = |v: &mut Vec<u8>, x: u32| {
            v.extend(if little {
                x.to_le_bytes()
            } else {
                x.to_be_bytes()
            })
        };
        let put64 = |v: &mut Vec<u8>, x: f64| {
            v.extend(if little {
                x.to_le_bytes()
            } else {
                x.to_be_bytes()
            })
        };
        put32(&mut v, code);
        put32(&mut v, rings.len() as u32);
        for ring in rings {
            put32(&mut v, ring.len() as u32);
            for p in *ring {
                put64(&mut v, p[0]);
                put64(&mut v, p[1]);
                if code == 1003 {
                    put64(&mut v, 7.0);
                }
            }
        }
        v
    }

    const SQUARE: [[f64; 2]; 5] = [[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]];

    #[test]
    fn reads_both_byte_orders_and_z() {
        for (little, code) in [(true, 3), (false, 3), (true, 1003)] {
            let got = parse_polygons(&polygon_wkb(little, code, &[&SQUARE])).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].rings, vec![SQUARE.to_vec()]);
        }
    }

    #[test]
    fn multipolygon_gives_one_polygon_per_part() {
        let part = polygon_wkb(true, 3, &[&SQUARE]);
        let mut wkb = vec![1u8];
        wkb.extend(6u32.to_le_bytes());
        wkb.extend(2u32.to_le_bytes());
        wkb.extend(&part);
        wkb.extend(&part);
        assert_eq!(parse_polygons(&wkb).unwrap().len(), 2);
    }

    #[test]
    fn rejects_points_truncation_and_nan() {
        let mut point = vec![1u8];
        point.extend(1u32.to_le_bytes());
        point.extend(0f64.to_le_bytes());
        point.extend(0f64.to_le_bytes());
        assert!(parse_polygons(&point).is_err());
        let wkb = polygon_wkb(true, 3, &[&SQUARE]);
        assert!(parse_polygons(&wkb[..wkb.len() - 1]).is_err());
        let nan = [[0.0, 0.0], [f64::NAN, 1.0], [0.0, 0.0]];
        assert!(parse_polygons(&polygon_wkb(true, 3, &[&nan])).is_err());
    }
}
