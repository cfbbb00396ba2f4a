//! A small TIFF writer for unit tests: classic and BigTIFF, little- and big-endian.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

/// A tag value to write.
#[derive(Debug, Clone)]
pub(crate) enum V {
    Byte(Vec<u8>),
    Ascii(String),
    Short(Vec<u16>),
    Long(Vec<u32>),
    Long8(Vec<u64>),
    Double(Vec<f64>),
    Undef(Vec<u8>),
    /// Any field type with raw (already encoded) bytes and a count.
    Raw(u16, u64, Vec<u8>),
}

impl V {
    fn encode(&self, le: bool) -> (u16, u64, Vec<u8>) {
        macro_rules! enc {
            ($v:expr) => {
                $v.iter()
                    .flat_map(|x| {
                        if le {
                            x.to_le_bytes().to_vec()
                        } else {
                            x.to_be_bytes().to_vec()
                        }
                    })
                    .collect::<Vec<u8>>()
            };
        }
        match self {
            V::Byte(b) => (1, b.len() as u64, b.clone()),
            V::Ascii(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                (2, b.len() as u64, b)
            }
            V::Short(v) => (3, v.len() as u64, enc!(v)),
            V::Long(v) => (4, v.len() as u64, enc!(v)),
            V::Long8(v) => (16, v.len() as u64, enc!(v)),
            V::Double(v) => (12, v.len() as u64, enc!(v)),
            V::Undef(b) => (7, b.len() as u64, b.clone()),
            V::Raw(t, n, b) => (*t, *n, b.clone()),
        }
    }
}

/// One IFD: (tag, value) pairs; `deferred` tags have their values written at the file end.
#[derive(Debug, Clone, Default)]
pub(crate) struct IfdSpec {
    pub entries: Vec<(u16, V)>,
    pub deferred: Vec<u16>,
}

impl IfdSpec {
    pub fn new(entries: Vec<(u16, V)>) -> Self {
        Self {
            entries,
            deferred: Vec::new(),
        }
    }
    pub fn set(&mut self, tag: u16, v: V) -> &mut Self {
        self.entries.retain(|(t, _)| *t != tag);
        self.entries.push((tag, v));
        self
    }
}

/// File layout options.
#[derive(Debug, Clone)]
pub(crate) struct TiffWriter {
    pub le: bool,
    pub big: bool,
    /// Zero bytes after the header (GDAL's ghost area).
    pub ghost: usize,
    /// Zero bytes between the IFDs and the deferred values (fake tile data).
    pub tail_pad: usize,
    pub ifds: Vec<IfdSpec>,
}

/// A written file and where things went.
pub(crate) struct Built {
    pub bytes: Vec<u8>,
    pub ifd_offsets: Vec<u64>,
    /// Position of each IFD's next-IFD pointer.
    pub next_ptr_pos: Vec<usize>,
    pub le: bool,
    pub big: bool,
}

impl Built {
    /// Overwrite an offset field (u32 classic / u64 BigTIFF) at `pos`.
    pub fn patch_offset(&mut self, pos: usize, value: u64) {
        put_offset(&mut self.bytes, pos, value, self.le, self.big);
    }
}

fn put_offset(out: &mut [u8], pos: usize, v: u64, le: bool, big: bool) {
    let b = match (big, le) {
        (true, true) => v.to_le_bytes().to_vec(),
        (true, false) => v.to_be_bytes().to_vec(),
        (false, true) => (v as u32).to_le_bytes().to_vec(),
        (false, false) => (v as u32).to_be_bytes().to_vec(),
    };
    out[pos..pos + b.len()].copy_from_slice(&b);
}

impl TiffWriter {
    pub fn new(le: bool, big: bool) -> Self {
        Self {
            le,
            big,
            ghost: 0,
            tail_pad: 0,
            ifds: Vec::new(),
        }
    }

    pub fn build(&self) -> Built {
        let (le, big) = (self.le, self.big);
        let u16b = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut out: Vec<u8> = Vec::new();
        out.extend_from_slice(if le { b"II" } else { b"MM" });
        let mut prev_next = if big {
            out.extend_from_slice(&u16b(43));
            out.extend_from_slice(&u16b(8));
            out.extend_from_slice(&u16b(0));
            out.extend_from_slice(&[0; 8]);
            8
        } else {
            out.extend_from_slice(&u16b(42));
            out.extend_from_slice(&[0; 4]);
            4
        };
        out.resize(out.len() + self.ghost, 0);
        let osz = if big { 8 } else { 4 };
        let mut ifd_offsets = Vec::new();
        let mut next_ptr_pos = Vec::new();
        let mut deferred: Vec<(usize, Vec<u8>)> = Vec::new();
        for spec in &self.ifds {
            if out.len() % 2 == 1 {
                out.push(0);
            }
            let off = out.len();
            put_offset(&mut out, prev_next, off as u64, le, big);
            ifd_offsets.push(off as u64);
            let mut entries = spec.entries.clone();
            entries.sort_by_key(|(t, _)| *t);
            let n = entries.len() as u64;
            if big {
                out.extend_from_slice(&if le { n.to_le_bytes() } else { n.to_be_bytes() });
            } else {
                out.extend_from_slice(&u16b(n as u16));
            }
            let mut pending = Vec::new();
            for (tag, v) in &entries {
                let (typ, count, data) = v.encode(le);
                out.extend_from_slice(&u16b(*tag));
                out.extend_from_slice(&u16b(typ));
                if big {
                    out.extend_from_slice(&if le {
                        count.to_le_bytes()
                    } else {
                        count.to_be_bytes()
                    });
                } else {
                    let c = count as u32;
                    out.extend_from_slice(&if le { c.to_le_bytes() } else { c.to_be_bytes() });
                }
                let field = out.len();
                out.resize(field + osz, 0);
                if data.len() <= osz {
                    out[field..field + data.len()].copy_from_slice(&data);
                } else if spec.deferred.contains(tag) {
                    deferred.push((field, data));
                } else {
                    pending.push((field, data));
                }
            }
            prev_next = out.len();
            next_ptr_pos.push(prev_next);
            out.resize(out.len() + osz, 0);
            for (field, data) in pending {
                if out.len() % 2 == 1 {
                    out.push(0);
                }
                let at = out.len() as u64;
                out.extend_from_slice(&data);
                put_offset(&mut out, field, at, le, big);
            }
        }
        out.resize(out.len() + self.tail_pad, 0);
        for (field, data) in deferred {
            let at = out.len() as u64;
            out.extend_from_slice(&data);
            put_offset(&mut out, field, at, le, big);
        }
        Built {
            bytes: out,
            ifd_offsets,
            next_ptr_pos,
            le,
            big,
        }
    }
}

/// Entries of a simple tiled image: `tiles` fake offsets/byte counts as LONG (LONG8 if `big`).
pub(crate) fn tiled_ifd(w: u32, h: u32, tw: u32, th: u32, planes: u32, big: bool) -> IfdSpec {
    let n = (w.div_ceil(tw) * h.div_ceil(th) * planes) as u64;
    let offs: Vec<u64> = (0..n).map(|i| 100_000 + i * 1000).collect();
    let cnts: Vec<u64> = (0..n).map(|i| 500 + i).collect();
    let arr = |v: Vec<u64>| {
        if big {
            V::Long8(v)
        } else {
            V::Long(v.into_iter().map(|x| x as u32).collect())
        }
    };
    IfdSpec::new(vec![
        (256, V::Long(vec![w])),
        (257, V::Long(vec![h])),
        (258, V::Short(vec![16])),
        (259, V::Short(vec![8])),
        (262, V::Short(vec![1])),
        (322, V::Short(vec![tw as u16])),
        (323, V::Short(vec![th as u16])),
        (324, arr(offs)),
        (325, arr(cnts)),
        (339, V::Short(vec![1])),
    ])
}
