//! Async crates from goroutines: a hyper HTTP server and 1,000 hyper clients, every one of them
//! straight-line code in a goroutine. Run with
//! `cargo run --release --example async_bridge --features tokio`.
//!
//! `gort::compat::tokio::block_on` polls a future on the calling goroutine inside a shared tokio
//! runtime's context; the goroutine parks between polls, so a thousand goroutines waiting for
//! responses hold no processor. A tokio task then awaits the results on a gort channel
//! (`recv_async`), and async code awaits a goroutine's `JoinHandle`.

use std::convert::Infallible;
use std::time::Instant;

use gort::compat::tokio::block_on;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const CLIENTS: usize = 1000;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("hello, {}", req.uri().path().trim_start_matches('/'));
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// An HTTP/1 GET on a new connection, written as blocking code for a goroutine.
fn get(addr: std::net::SocketAddr, path: &str) -> String {
    block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::get(path).body(Empty::<Bytes>::new()).unwrap();
        let body = sender.send_request(req).await.unwrap().into_body();
        String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
    })
}

#[gort::main]
fn main() {
    // The server: one goroutine accepting, a tokio task per connection.
    // (A backlog of 1,024: tokio's `TcpListener::bind` listens with std's 128, and SYNs
    // beyond the backlog are dropped and sent again a second later.)
    let listener = block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind("127.0.0.1:0".parse().unwrap())?;
        socket.listen(1024)
    })
    .unwrap();
    let addr = listener.local_addr().unwrap();
    gort::go!(move || {
        block_on(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello)),
                );
            }
        })
    });

    // 1,000 client goroutines, each with its own connection; results go to a gort channel.
    let t = Instant::now();
    let (tx, rx) = gort::chan::<String>(64);
    for i in 0..CLIENTS {
        let tx = tx.clone();
        gort::go!(move || tx.send(get(addr, &format!("/goroutine-{i}"))).unwrap());
    }
    drop(tx);

    // A tokio task drains the channel with recv_async; a goroutine's JoinHandle is awaited.
    let counter = gort::compat::tokio::handle().spawn(async move {
        let mut n = 0;
        while let Some(body) = rx.recv_async().await {
            assert!(body.starts_with("hello, goroutine-"));
            n += 1;
        }
        n
    });
    let n = block_on(counter).unwrap();
    let sum = block_on(async { gort::spawn(|| (1..=100u32).sum::<u32>()).await.unwrap() });
    println!(
        "{n} HTTP round trips from {CLIENTS} goroutines in {:?} ({} processors); \
         a goroutine awaited from async code returned {sum}",
        t.elapsed(),
        gort::procs()
    );
    assert_eq!(n, CLIENTS);
}
