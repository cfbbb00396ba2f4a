//! Positional reads of local files on tokio's blocking pool.

use std::fs::File;
use std::io::ErrorKind;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::error::Kind;
use crate::io::retry::AttemptError;

fn open_error(e: &std::io::Error) -> AttemptError {
    match e.kind() {
        ErrorKind::NotFound => AttemptError::fatal(Kind::NotFound, "no such file"),
        ErrorKind::PermissionDenied => AttemptError::fatal(Kind::Forbidden, "permission denied"),
        _ => AttemptError::fatal(Kind::Transport, format!("cannot open: {e}")),
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Read `range` of `path` (blocking). Past EOF: short/empty with `allow_short`, else Corrupt.
pub fn read_range_blocking(
    path: &Path,
    range: Range<u64>,
    allow_short: bool,
) -> Result<Bytes, AttemptError> {
    let file = File::open(path).map_err(|e| open_error(&e))?;
    let meta = file.metadata().map_err(|e| open_error(&e))?;
    if meta.is_dir() {
        return Err(AttemptError::fatal(
            Kind::InvalidArgument,
            "is a directory, not a file",
        ));
    }
    let size = meta.len();
    if range.end > size && !allow_short {
        return Err(AttemptError::fatal(
            Kind::Corrupt,
            format!("past end of file (size {size})"),
        ));
    }
    let end = range.end.min(size);
    if range.start >= end {
        return Ok(Bytes::new());
    }
    let len = usize::try_from(end - range.start).map_err(|_| {
        AttemptError::fatal(Kind::InvalidArgument, "range too large for this platform")
    })?;
    let mut buf = crate::io::recv_buf::take(len);
    buf.resize(len, 0);
    let mut filled = 0usize;
    while filled < len {
        let Some(dst) = buf.get_mut(filled..) else {
            break;
        };
        let n = match read_at(&file, dst, range.start + filled as u64) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(AttemptError::retry(format!("read failed: {e}"))),
        };
        if n == 0 {
            // The file shrank under us.
            if allow_short {
                buf.truncate(filled);
                break;
            }
            return Err(AttemptError::fatal(
                Kind::Corrupt,
                format!("past end of file (size {})", range.start + filled as u64),
            ));
        }
        filled += n;
    }
    Ok(crate::io::recv_buf::into_bytes(buf))
}

/// Read `range` of `path` on the blocking pool.
pub async fn read_range(
    path: Arc<PathBuf>,
    range: Range<u64>,
    allow_short: bool,
) -> Result<Bytes, AttemptError> {
    tokio::task::spawn_blocking(move || read_range_blocking(&path, range, allow_short))
        .await
        .map_err(|e| AttemptError::fatal(Kind::Internal, format!("file read task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;

    fn tmp_file(len: usize) -> (PathBuf, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let path = std::env::temp_dir().join(format!(
            "rasteret-io-local-{}-{len}-{}.bin",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::write(&path, &data).unwrap();
        (path, data)
    }

    #[test]
    fn reads_ranges_and_eof() {
        let (p, data) = tmp_file(1000);
        assert_eq!(
            read_range_blocking(&p, 10..20, false).unwrap(),
            &data[10..20]
        );
        assert_eq!(
            read_range_blocking(&p, 990..1100, true).unwrap(),
            &data[990..]
        );
        assert!(read_range_blocking(&p, 1000..1100, true)
            .unwrap()
            .is_empty());
        assert!(read_range_blocking(&p, 5000..5100, true)
            .unwrap()
            .is_empty());
        let e = read_range_blocking(&p, 990..1100, false).unwrap_err();
        assert_eq!(e.kind, Kind::Corrupt);
        assert!(e.detail.contains("size 1000"), "{e:?}");
        std::fs::remove_file(&p).unwrap();
        let e = read_range_blocking(&p, 0..1, true).unwrap_err();
        assert_eq!(e.kind, Kind::NotFound);
    }
}
