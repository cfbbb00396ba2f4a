//! GeoKeyDirectory (34735) with its double (34736) and ASCII (34737) parameters -> CRS.

/// GeoKey ids we use.
pub(crate) mod key {
    pub const GT_MODEL_TYPE: u16 = 1024;
    pub const GT_RASTER_TYPE: u16 = 1025;
    pub const GT_CITATION: u16 = 1026;
    pub const GEOGRAPHIC_TYPE: u16 = 2048;
    pub const GEOG_CITATION: u16 = 2049;
    pub const PROJECTED_CS_TYPE: u16 = 3072;
    pub const PCS_CITATION: u16 = 3073;
}

/// "User-defined" code of the GeoTIFF spec.
pub(crate) const USER_DEFINED: u16 = 32767;

/// One GeoKey value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GeoValue {
    Short(u16),
    Doubles(Vec<f64>),
    Ascii(String),
}

/// The decoded GeoKey directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GeoKeys {
    pub keys: Vec<(u16, GeoValue)>,
}

impl GeoKeys {
    /// Decode the directory; malformed entries are skipped (GDAL is lenient here too).
    pub fn parse(dir: &[u16], doubles: &[f64], ascii: &[u8]) -> Self {
        let n = usize::from(dir.get(3).copied().unwrap_or(0));
        let mut keys = Vec::new();
        for k in dir.get(4..).unwrap_or(&[]).chunks_exact(4).take(n) {
            let [id, loc, count, val] = [0, 1, 2, 3].map(|i| k.get(i).copied().unwrap_or(0));
            let raw = val;
            let (count, val) = (usize::from(count), usize::from(val));
            let value = match loc {
                0 => Some(GeoValue::Short(raw)),
                34735 => dir.get(val).copied().map(GeoValue::Short),
                34736 => val
                    .checked_add(count)
                    .and_then(|end| doubles.get(val..end))
                    .map(|d| GeoValue::Doubles(d.to_vec())),
                34737 => {
                    let end = val.saturating_add(count).min(ascii.len());
                    ascii.get(val..end).map(|b| {
                        let s = String::from_utf8_lossy(b);
                        GeoValue::Ascii(s.trim_end_matches(['|', '\0']).trim().to_string())
                    })
                }
                _ => None,
            };
            if let Some(v) = value {
                keys.push((id, v));
            }
        }
        Self { keys }
    }

    fn get(&self, id: u16) -> Option<&GeoValue> {
        self.keys.iter().find(|(k, _)| *k == id).map(|(_, v)| v)
    }

    pub fn short(&self, id: u16) -> Option<u16> {
        match self.get(id) {
            Some(GeoValue::Short(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn ascii(&self, id: u16) -> Option<&str> {
        match self.get(id) {
            Some(GeoValue::Ascii(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        }
    }

    /// (EPSG code, citation text when the CRS is user-defined).
    pub fn crs(&self) -> (Option<u32>, Option<String>) {
        let code = |v: Option<u16>| v.filter(|c| *c != 0 && *c != USER_DEFINED).map(u32::from);
        let cite = |ids: &[u16]| {
            ids.iter()
                .find_map(|id| self.ascii(*id))
                .map(str::to_string)
        };
        let pcs = self.short(key::PROJECTED_CS_TYPE);
        let gcs = self.short(key::GEOGRAPHIC_TYPE);
        let projected_model = self.short(key::GT_MODEL_TYPE) == Some(1);
        if let Some(epsg) = code(pcs) {
            return (Some(epsg), None);
        }
        if pcs.is_some() || projected_model {
            return (None, cite(&[key::PCS_CITATION, key::GT_CITATION]));
        }
        if let Some(epsg) = code(gcs) {
            return (Some(epsg), None);
        }
        (
            None,
            cite(&[key::GEOG_CITATION, key::GT_CITATION, key::PCS_CITATION]),
        )
    }
}
