//! S3 reads through object_store against a moto server on 127.0.0.1.
//!
//! Ignored by default (needs `python -m moto.server`, from `pip install 'moto[server]'`):
//! `cargo test --test io_s3 -- --ignored`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use _core::error::Kind;
use _core::io::{self, IoOptions, Source};

struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m moto.server");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

fn put(client: &reqwest::Client, url: String, body: Vec<u8>, acl: &str) {
    let rt = io::runtime().unwrap();
    let resp = rt
        .block_on(client.put(url).header("x-amz-acl", acl).body(body).send())
        .expect("PUT to moto");
    assert!(resp.status().is_success(), "{}", resp.status());
}

#[test]
#[ignore = "needs python -m moto.server"]
fn s3_reads_via_moto() {
    let moto = start_moto();
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let client = reqwest::Client::new();
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 241) as u8).collect();
    put(&client, format!("{endpoint}/bkt"), Vec::new(), "private");
    put(
        &client,
        format!("{endpoint}/bkt/dir/a.tif"),
        data.clone(),
        "private",
    );
    put(
        &client,
        format!("{endpoint}/bkt/public.tif"),
        data.clone(),
        "public-read",
    );

    let opts = IoOptions {
        retry_backoff_ms: 1,
        retry_attempts: 2,
        store_options: vec![
            ("aws_endpoint".into(), endpoint.clone()),
            ("aws_allow_http".into(), "true".into()),
            ("aws_region".into(), "us-east-1".into()),
            ("aws_access_key_id".into(), "testing".into()),
            ("aws_secret_access_key".into(), "testing".into()),
        ],
        ..IoOptions::default()
    };
    let rt = io::runtime().unwrap();
    let src = Source::open("s3://bkt/dir/a.tif", &opts).unwrap();
    let b = rt.block_on(src.get_range(100..200, false)).unwrap();
    assert_eq!(&b[..], &data[100..200]);

    let rs = vec![40_000..41_000, 0..10, 10..20, 0..10];
    let out = rt.block_on(src.get_ranges(&rs)).unwrap();
    for (r, b) in rs.iter().zip(&out) {
        assert_eq!(&b[..], &data[r.start as usize..r.end as usize]);
    }

    let b = rt.block_on(src.get_range(49_990..60_000, true)).unwrap();
    assert_eq!(&b[..], &data[49_990..]);
    let b = rt.block_on(src.get_range(50_000..60_000, true)).unwrap();
    assert!(b.is_empty());
    let e = rt
        .block_on(src.get_range(49_990..60_000, false))
        .unwrap_err();
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");

    let missing = Source::open("s3://bkt/nope.tif", &opts).unwrap();
    let e = rt.block_on(missing.get_range(0..10, true)).unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound, "{e}");
    assert!(e.message().contains("s3://bkt/nope.tif"), "{e}");

    // Path-style HTTPS form routes to the same store config.
    let src2 = Source::open("https://s3.us-east-1.amazonaws.com/bkt/dir/a.tif", &opts).unwrap();
    let b = rt.block_on(src2.get_range(0..10, false)).unwrap();
    assert_eq!(&b[..], &data[..10]);

    // Anonymous (unsigned) reads: public objects work, private ones are Forbidden.
    let anon = IoOptions {
        store_options: opts.store_options[..3].to_vec(),
        ..opts.clone()
    };
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let public = Source::open("s3://bkt/public.tif", &anon).unwrap();
        let b = rt.block_on(public.get_range(5..15, false)).unwrap();
        assert_eq!(&b[..], &data[5..15]);
        let private = Source::open("s3://bkt/dir/a.tif", &anon).unwrap();
        let e = rt.block_on(private.get_range(0..10, false)).unwrap_err();
        assert_eq!(e.kind(), Kind::Forbidden, "{e}");
        assert!(e.message().contains("403"), "{e}");
    }
}
