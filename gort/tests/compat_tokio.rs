//! Feature `tokio`: `gort::compat::tokio::block_on` runs futures that need tokio's reactor and
//! timers from goroutines, on the shared runtime. A real hyper server and hyper clients, all in
//! goroutines, talk over loopback; goroutines waiting on responses hold no processor; and
//! goroutines and gort channels are awaited from tasks of a tokio runtime. The tests run one at
//! a time: one sets the processor count to 1, and the others' load would disturb its timing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::compat::tokio::block_on;
use gort_test_support::{bounded, serial, serial_go_test, with_procs};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// Answers `/slow` after 200 ms and any other path at once, echoing the path.
async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    if path == "/slow" {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello {path}"
    )))))
}

/// A hyper server in a goroutine, serving `conns` connections; returns its address.
fn start_server(conns: usize) -> (SocketAddr, gort::JoinHandle<()>) {
    let (addr_tx, addr_rx) = gort::chan(1);
    let server = gort::spawn(move || {
        block_on(async move {
            // tokio's `TcpListener::bind` listens with a backlog of 128: too few for a burst.
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(1024).unwrap();
            addr_tx
                .send_async(listener.local_addr().unwrap())
                .await
                .unwrap();
            let mut served = Vec::new();
            for _ in 0..conns {
                let (stream, _) = listener.accept().await.unwrap();
                served.push(tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer)),
                ));
            }
            for s in served {
                s.await.unwrap().unwrap();
            }
        })
    });
    (addr_rx.recv().unwrap(), server)
}

/// One HTTP/1 GET of `path` on a new connection, from the calling goroutine.
fn get(addr: SocketAddr, path: &str) -> String {
    block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::get(path).body(Empty::<Bytes>::new()).unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    })
}

#[test]
fn hyper_server_and_clients_in_goroutines() {
    serial_go_test(120, || {
        const N: usize = 200;
        let (addr, server) = start_server(N);
        let clients: Vec<_> = (0..N)
            .map(|i| gort::spawn(move || get(addr, &format!("/g{i}"))))
            .collect();
        for (i, c) in clients.into_iter().enumerate() {
            assert_eq!(c.join().unwrap(), format!("hello /g{i}"));
        }
        server.join().unwrap();
    });
}

/// At procs 1, fifty goroutines each wait 200 ms for a slow response: they wait together
/// (their processor is free while they are parked), and another goroutine keeps running.
#[test]
fn waiting_goroutines_hold_no_processor() {
    with_procs(1, 120, || {
        const N: usize = 50;
        let (addr, server) = start_server(N);
        let t = Instant::now();
        let clients: Vec<_> = (0..N)
            .map(|_| gort::spawn(move || get(addr, "/slow")))
            .collect();
        let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            gort::spawn(move || {
                while t.elapsed() < Duration::from_millis(150) {
                    ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    gort::sleep(Duration::from_millis(1));
                }
            })
        };
        for c in clients {
            assert_eq!(c.join().unwrap(), "hello /slow");
        }
        ticker.join().unwrap();
        let elapsed = t.elapsed();
        assert!(
            elapsed < Duration::from_secs(3),
            "{N} slow requests took {elapsed:?}: the goroutines did not wait concurrently"
        );
        assert!(ticks.load(std::sync::atomic::Ordering::Relaxed) > 10);
        server.join().unwrap();
    });
}

#[test]
fn tokio_timers_and_spawned_tasks_from_a_plain_thread() {
    let _serial = serial();
    bounded(30, || {
        let v = block_on(async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            tokio::spawn(async { 6 * 7 }).await.unwrap()
        });
        assert_eq!(v, 42);
        assert_eq!(gort::compat::tokio::handle().block_on(async { 1 }), 1);
    });
}

/// Goroutines and gort channels awaited from the tasks of a tokio runtime of its own: nothing
/// blocks the runtime's two worker threads.
#[test]
fn goroutines_and_channels_awaited_from_tokio_tasks() {
    let _serial = serial();
    bounded(60, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let h = gort::spawn(|| {
                gort::sleep(Duration::from_millis(10));
                42
            });
            assert_eq!(h.await.unwrap(), 42);

            let (tx, rx) = gort::chan::<u64>(0);
            let rx = Arc::new(rx);
            // More receiving tasks than worker threads: a blocking receive would deadlock.
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let rx = rx.clone();
                    tokio::spawn(async move {
                        let mut sum = 0;
                        while let Some(v) = rx.recv_async().await {
                            sum += v;
                        }
                        sum
                    })
                })
                .collect();
            let producer = gort::spawn(move || {
                for i in 1..=1000 {
                    tx.send(i).unwrap();
                }
            });
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            producer.await.unwrap();
            assert_eq!(total, 1000 * 1001 / 2);
        });
    });
}

/// `block_on` called from a task of the shared runtime itself, whose one worker would otherwise
/// block while the future waits for a timer only a worker drives: the worker's duties are handed
/// to another thread first (tokio's `block_in_place`), so the future completes.
#[test]
fn block_on_inside_a_task_of_the_shared_runtime() {
    let _serial = serial();
    bounded(30, || {
        let task = gort::compat::tokio::handle().spawn(async {
            block_on(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                7
            })
        });
        assert_eq!(gort::compat::tokio::handle().block_on(task).unwrap(), 7);
    });
}

/// `block_on` inside a current-thread runtime of the caller's own, where tokio forbids handing
/// the thread over: the thread just blocks while the shared runtime drives the future.
#[test]
fn block_on_inside_a_current_thread_runtime() {
    let _serial = serial();
    bounded(30, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let v = rt.block_on(async {
            block_on(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                3
            })
        });
        assert_eq!(v, 3);
    });
}
