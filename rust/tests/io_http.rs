//! Integration tests of `io::Source` against a real HTTP/1.1 server on 127.0.0.1 (hand-rolled
//! on tokio, with injected faults) and against local files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::reversed_empty_ranges
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use _core::error::Kind;
use _core::io::{self, IoOptions, Source};
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const LEN: usize = 100_000;

fn data() -> Vec<u8> {
    (0..LEN).map(|i| (i * 31 % 253) as u8).collect()
}

/// A test server: behaviour chosen by path, requests counted by path.
struct Server {
    addr: SocketAddr,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let c2 = counts.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let body = Arc::new(data());
                loop {
                    let (sock, _) = listener.accept().await.unwrap();
                    let counts = c2.clone();
                    let body = body.clone();
                    tokio::spawn(async move {
                        let _ = serve(sock, counts, body).await;
                    });
                }
            });
        });
        let addr = rx.recv().unwrap();
        Self { addr, counts }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn count(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn parse_range(v: &str) -> Option<(usize, usize)> {
    let r = v.trim().strip_prefix("bytes=")?;
    let (a, b) = r.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

async fn write_head(
    sock: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await
}

async fn simple(sock: &mut TcpStream, status: &str) -> std::io::Result<()> {
    let body = status.as_bytes();
    write_head(sock, status, &[("Content-Length", body.len().to_string())]).await?;
    sock.write_all(body).await
}

async fn serve(
    sock: TcpStream,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    body: Arc<Vec<u8>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let path = path.split('?').next().unwrap_or("/").to_string();
        let mut range = None;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await?;
            if h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("range") {
                    range = parse_range(v);
                }
            }
        }
        let n = {
            let mut c = counts.lock().unwrap();
            let e = c.entry(path.clone()).or_insert(0);
            *e += 1;
            *e
        };
        let sock = reader.get_mut();
        let total = body.len();
        match path.as_str() {
            "/missing.bin" => simple(sock, "404 Not Found").await?,
            "/forbidden.bin" => simple(sock, "403 Forbidden").await?,
            "/broken.bin" => simple(sock, "500 Internal Server Error").await?,
            "/bad.bin" => simple(sock, "400 Bad Request").await?,
            "/flaky.bin" if n <= 2 => simple(sock, "503 Service Unavailable").await?,
            "/throttled.bin" if n == 1 => {
                write_head(
                    sock,
                    "429 Too Many Requests",
                    &[("Retry-After", "1".into()), ("Content-Length", "0".into())],
                )
                .await?;
            }
            "/norange.bin" => {
                write_head(sock, "200 OK", &[("Content-Length", total.to_string())]).await?;
                sock.write_all(&body).await?;
            }
            _ => {
                if path == "/slow.bin" {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                let Some((a, b)) = range else {
                    write_head(sock, "200 OK", &[("Content-Length", total.to_string())]).await?;
                    sock.write_all(&body).await?;
                    continue;
                };
                if a >= total {
                    write_head(
                        sock,
                        "416 Range Not Satisfiable",
                        &[
                            ("Content-Range", format!("bytes */{total}")),
                            ("Content-Length", "0".into()),
                        ],
                    )
                    .await?;
                    continue;
                }
                let mut end = b.min(total - 1);
                if path == "/short.bin" {
                    // Honest headers, but fewer bytes than asked (not at EOF).
                    end = a + (end - a) / 2;
                }
                let slice = &body[a..=end];
                write_head(
                    sock,
                    "206 Partial Content",
                    &[
                        ("Content-Length", slice.len().to_string()),
                        ("Content-Range", format!("bytes {a}-{end}/{total}")),
                    ],
                )
                .await?;
                if path == "/cut.bin" {
                    // Promise the whole range, send half, close.
                    sock.write_all(&slice[..slice.len() / 2]).await?;
                    sock.flush().await?;
                    return Ok(());
                }
                sock.write_all(slice).await?;
            }
        }
        sock.flush().await?;
    }
}

fn opts() -> IoOptions {
    IoOptions {
        retry_backoff_ms: 1,
        timeout_ms: 5_000,
        ..IoOptions::default()
    }
}

fn get(url: &str, o: &IoOptions, r: Range<u64>, allow_short: bool) -> _core::error::Result<Bytes> {
    let src = Source::open(url, o)?;
    io::runtime()
        .unwrap()
        .block_on(src.get_range(r, allow_short))
}

fn get_many(url: &str, o: &IoOptions, rs: &[Range<u64>]) -> _core::error::Result<Vec<Bytes>> {
    let src = Source::open(url, o)?;
    io::runtime().unwrap().block_on(src.get_ranges(rs))
}

#[test]
fn range_request_returns_exact_bytes() {
    let s = Server::start();
    let d = data();
    let b = get(&s.url("/ok.bin"), &opts(), 10..20, false).unwrap();
    assert_eq!(&b[..], &d[10..20]);
    assert_eq!(s.count("/ok.bin"), 1);
    assert!(get(&s.url("/ok.bin"), &opts(), 5..5, false)
        .unwrap()
        .is_empty());
    assert_eq!(s.count("/ok.bin"), 1, "empty range makes no request");
}

#[test]
fn get_ranges_coalesces_and_keeps_order() {
    let s = Server::start();
    let d = data();
    let rs = vec![5000..5100, 0..100, 100..200, 0..100, 300..300];
    let out = get_many(&s.url("/ok.bin"), &opts(), &rs).unwrap();
    assert_eq!(out.len(), rs.len());
    for (r, b) in rs.iter().zip(&out) {
        assert_eq!(&b[..], &d[r.start as usize..r.end as usize]);
    }
    // 0..200 merged; 5000..5100 too far (gap > 1024) -> 2 requests.
    assert_eq!(s.count("/ok.bin"), 2);
}

#[test]
fn get_ranges_many_concurrent_requests() {
    let s = Server::start();
    let d = data();
    let o = IoOptions {
        coalesce_gap_bytes: 0,
        max_merged_bytes: 64,
        ..opts()
    };
    let rs: Vec<Range<u64>> = (0..200u64).map(|i| i * 400..i * 400 + 50).collect();
    let out = get_many(&s.url("/ok.bin"), &o, &rs).unwrap();
    for (r, b) in rs.iter().zip(&out) {
        assert_eq!(&b[..], &d[r.start as usize..r.end as usize]);
    }
    assert_eq!(s.count("/ok.bin"), 200);
}

#[test]
fn server_ignoring_range_is_downloaded_once_then_cached() {
    let s = Server::start();
    let d = data();
    let rs = vec![0..10, 50_000..50_010, 90_000..90_100];
    let out = get_many(&s.url("/norange.bin"), &opts(), &rs).unwrap();
    for (r, b) in rs.iter().zip(&out) {
        assert_eq!(&b[..], &d[r.start as usize..r.end as usize]);
    }
    // The first batch goes out at once (no probe round trip), so each merged request may get
    // the whole body; after that the cached body answers everything.
    let first = s.count("/norange.bin");
    assert!((1..=3).contains(&first), "{first} downloads");
    let again = get_many(&s.url("/norange.bin"), &opts(), &rs).unwrap();
    assert_eq!(again, out);
    assert_eq!(s.count("/norange.bin"), first);
    // Short read at EOF from the full body.
    let b = get(&s.url("/norange.bin"), &opts(), 99_990..100_100, true).unwrap();
    assert_eq!(&b[..], &d[99_990..]);
}

#[test]
fn transient_503_is_retried() {
    let s = Server::start();
    let d = data();
    let b = get(&s.url("/flaky.bin"), &opts(), 0..1000, false).unwrap();
    assert_eq!(&b[..], &d[..1000]);
    assert_eq!(s.count("/flaky.bin"), 3);
}

#[test]
fn throttling_honours_retry_after() {
    let s = Server::start();
    let d = data();
    let t0 = std::time::Instant::now();
    let b = get(&s.url("/throttled.bin"), &opts(), 0..100, false).unwrap();
    assert_eq!(&b[..], &d[..100]);
    assert_eq!(s.count("/throttled.bin"), 2);
    // Lower bound only: the retry waited for the server's Retry-After.
    assert!(t0.elapsed() >= Duration::from_millis(900));
}

#[test]
fn not_found_and_forbidden_fail_fast() {
    let s = Server::start();
    let e = get(&s.url("/missing.bin"), &opts(), 0..10, false).unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound);
    assert!(e.message().contains("404"), "{e}");
    assert!(e.message().contains("0..10"), "{e}");
    assert!(e.message().contains("/missing.bin"), "{e}");
    assert!(e.message().contains("1 attempt"), "{e}");
    assert_eq!(s.count("/missing.bin"), 1);

    let e = get(&s.url("/forbidden.bin"), &opts(), 0..10, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Forbidden);
    assert!(
        e.message().contains("403") && e.message().contains("credentials"),
        "{e}"
    );
    assert_eq!(s.count("/forbidden.bin"), 1);

    let e = get(&s.url("/bad.bin"), &opts(), 0..10, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Transport);
    assert_eq!(s.count("/bad.bin"), 1);
}

#[test]
fn persistent_500_gives_up_after_bounded_attempts() {
    let s = Server::start();
    let o = IoOptions {
        retry_attempts: 3,
        ..opts()
    };
    let e = get(&s.url("/broken.bin"), &o, 0..10, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Transport);
    assert!(e.message().contains("500"), "{e}");
    assert!(e.message().contains("3 attempts"), "{e}");
    assert_eq!(s.count("/broken.bin"), 3);
}

#[test]
fn short_bodies_are_retried_then_fail() {
    let s = Server::start();
    let e = get(&s.url("/short.bin"), &opts(), 0..1000, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Transport);
    assert!(e.message().contains("short"), "{e}");
    assert_eq!(s.count("/short.bin"), 4);

    let e = get(&s.url("/cut.bin"), &opts(), 0..10_000, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Transport);
    assert!(e.message().contains("4 attempts"), "{e}");
    assert_eq!(s.count("/cut.bin"), 4);
}

#[test]
fn eof_handling() {
    let s = Server::start();
    let d = data();
    let url = s.url("/ok.bin");
    let n = LEN as u64;
    assert!(get(&url, &opts(), n..n + 100, true).unwrap().is_empty());
    let b = get(&url, &opts(), n - 10..n + 100, true).unwrap();
    assert_eq!(&b[..], &d[LEN - 10..]);
    let e = get(&url, &opts(), n - 10..n + 100, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Corrupt);
    assert!(e.message().contains("past end"), "{e}");
    let e = get(&url, &opts(), n + 5..n + 100, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Corrupt);
    assert!(e.message().contains("416"), "{e}");
}

#[test]
fn latency_and_timeouts() {
    let s = Server::start();
    let d = data();
    let b = get(&s.url("/slow.bin"), &opts(), 0..10, false).unwrap();
    assert_eq!(&b[..], &d[..10]);
    let o = IoOptions {
        timeout_ms: 50,
        retry_attempts: 2,
        ..opts()
    };
    let e = get(&s.url("/slow.bin"), &o, 0..10, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Transport);
    assert!(e.message().contains("timed out"), "{e}");
    assert!(e.message().contains("2 attempts"), "{e}");
}

#[test]
fn signatures_are_redacted_in_errors() {
    let s = Server::start();
    let url = format!(
        "{}?X-Amz-Signature=TOPSECRET&X-Amz-Expires=60",
        s.url("/missing.bin")
    );
    let src = Source::open(&url, &opts()).unwrap();
    assert!(!src.display_url().contains("TOPSECRET"));
    let e = io::runtime()
        .unwrap()
        .block_on(src.get_range(0..10, false))
        .unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound);
    assert!(!e.message().contains("TOPSECRET"), "{e}");
    assert!(e.message().contains("REDACTED"), "{e}");
}

#[test]
fn bad_arguments() {
    let o = IoOptions {
        store_options: vec![("not_a_key".into(), "1".into())],
        ..opts()
    };
    let e = Source::open("http://127.0.0.1:1/a.tif", &o).unwrap_err();
    assert_eq!(e.kind(), Kind::InvalidArgument);
    assert!(e.message().contains("not_a_key"), "{e}");
    let src = Source::open("http://127.0.0.1:1/a.tif", &opts()).unwrap();
    let rt = io::runtime().unwrap();
    let e = rt.block_on(src.get_range(10..5, false)).unwrap_err();
    assert_eq!(e.kind(), Kind::InvalidArgument);
    let e = rt.block_on(src.get_ranges(&[0..1, 9..3])).unwrap_err();
    assert_eq!(e.kind(), Kind::InvalidArgument);
}

#[test]
fn connection_refused_is_transport() {
    let o = IoOptions {
        retry_attempts: 2,
        ..opts()
    };
    // Bind then drop to get a closed port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = get(&format!("http://127.0.0.1:{port}/a.tif"), &o, 0..10, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Transport);
    assert!(e.message().contains("2 attempts"), "{e}");
}

fn tmp_file() -> (std::path::PathBuf, Vec<u8>) {
    let d = data();
    let p = std::env::temp_dir().join(format!(
        "rasteret-io-test-{}-{:?}.bin",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&p, &d).unwrap();
    (p, d)
}

#[test]
fn local_files() {
    let (p, d) = tmp_file();
    let path = p.to_str().unwrap();
    assert_eq!(&get(path, &opts(), 10..20, false).unwrap()[..], &d[10..20]);
    let file_url = format!("file://{path}");
    assert_eq!(&get(&file_url, &opts(), 0..5, false).unwrap()[..], &d[..5]);
    let n = LEN as u64;
    assert_eq!(
        &get(path, &opts(), n - 3..n + 10, true).unwrap()[..],
        &d[LEN - 3..]
    );
    assert!(get(path, &opts(), n + 1..n + 10, true).unwrap().is_empty());
    let e = get(path, &opts(), n - 3..n + 10, false).unwrap_err();
    assert_eq!(e.kind(), Kind::Corrupt);
    assert!(
        e.message().contains("past end of file (size 100000)"),
        "{e}"
    );
    assert!(e.message().contains(path), "{e}");
    let rs = vec![900..1000, 0..10, 0..10, 50_000..60_000];
    let out = get_many(path, &opts(), &rs).unwrap();
    for (r, b) in rs.iter().zip(&out) {
        assert_eq!(&b[..], &d[r.start as usize..r.end as usize]);
    }
    std::fs::remove_file(&p).unwrap();
    let e = get(path, &opts(), 0..10, false).unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound);
    assert!(e.message().contains(path), "{e}");
}

#[test]
fn works_from_another_runtime() {
    let s = Server::start();
    let d = data();
    let url = s.url("/ok.bin");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let b = rt
        .block_on(async {
            let src = Source::open(&url, &opts())?;
            src.get_ranges(&[0..10, 20..30]).await
        })
        .unwrap();
    assert_eq!(&b[1][..], &d[20..30]);
}

fn get_object(url: &str, first_bytes: u64) -> _core::error::Result<Bytes> {
    let src = Source::open(url, &opts())?;
    io::runtime().unwrap().block_on(src.get_object(first_bytes))
}

#[test]
fn whole_objects_take_one_request_when_small() {
    let s = Server::start();
    let d = data();
    let url = s.url("/ok.bin");
    let body = get_object(&url, io::object::FIRST_REQUEST_BYTES).unwrap();
    assert_eq!(&body[..], &d[..]);
    assert_eq!(s.count("/ok.bin"), 1);
    // larger than the first request: the rest in one more request
    let body = get_object(&url, 30_000).unwrap();
    assert_eq!(&body[..], &d[..]);
    assert_eq!(s.count("/ok.bin"), 3);
    // exactly the first request's size: the second request finds EOF (416)
    let body = get_object(&url, LEN as u64).unwrap();
    assert_eq!(&body[..], &d[..]);
    assert_eq!(s.count("/ok.bin"), 5);
    // a server ignoring Range answers 200 with the whole object
    let body = get_object(&s.url("/norange.bin"), 1000).unwrap();
    assert_eq!(&body[..], &d[..]);
    let e = get_object(&s.url("/missing.bin"), 1000).unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound);
    assert!(e.message().contains("/missing.bin"), "{e}");
    assert!(
        !e.message().contains("range"),
        "names the object, not a range: {e}"
    );
}

#[test]
fn whole_objects_many_urls_in_order() {
    let s = Server::start();
    let d = data();
    let (p, _) = tmp_file();
    let urls = vec![
        s.url("/a.bin"),
        s.url("/missing.bin"),
        p.to_str().unwrap().to_string(),
        format!("file://{}", p.to_str().unwrap()),
        s.url("/b.bin"),
        "nope://x".to_string(),
    ];
    let o = IoOptions {
        max_concurrent: 2,
        ..opts()
    };
    let mut finished = Vec::new();
    let out = io::runtime().unwrap().block_on(io::object::get_objects(
        &urls,
        &o,
        io::object::FIRST_REQUEST_BYTES,
        |n| finished.push(n),
    ));
    assert_eq!(out.len(), urls.len());
    for i in [0, 2, 3, 4] {
        assert_eq!(&out[i].as_ref().unwrap()[..], &d[..], "url {i}");
    }
    assert_eq!(out[1].as_ref().unwrap_err().kind(), Kind::NotFound);
    let e = out[5].as_ref().unwrap_err();
    assert_eq!(e.kind(), Kind::InvalidArgument);
    assert!(e.message().contains("nope://x"), "{e}");
    assert_eq!(finished, (1..=urls.len()).collect::<Vec<_>>());
    assert_eq!(s.count("/a.bin") + s.count("/b.bin"), 2);
    std::fs::remove_file(&p).unwrap();
}
