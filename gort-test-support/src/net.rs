//! Checks shared by the TCP and Unix-socket tests.

use std::io::{Read, Write};
use std::sync::Arc;

/// Four goroutines each write 8 records of 1 MiB (a byte value of their own) through one shared
/// stream with `write`, while `reader` reads everything: each `write` sends its whole record and
/// no two records interleave (a stream socket's `write` is whole and exclusive, as Go's
/// `Conn.Write`).
pub fn concurrent_writes_stay_whole<W, R>(writer: Arc<W>, mut reader: R)
where
    W: Send + Sync + 'static,
    for<'a> &'a W: Write,
    R: Read,
{
    const RECORD: usize = 1 << 20;
    const WRITERS: u8 = 4;
    const EACH: usize = 8;
    let hs: Vec<_> = (0..WRITERS)
        .map(|w| {
            let writer = writer.clone();
            gort::spawn(move || {
                let record = vec![w + 1; RECORD];
                for _ in 0..EACH {
                    assert_eq!(
                        (&*writer).write(&record).unwrap(),
                        RECORD,
                        "a partial write"
                    );
                }
            })
        })
        .collect();
    let mut buf = vec![0u8; RECORD];
    for i in 0..WRITERS as usize * EACH {
        reader.read_exact(&mut buf).unwrap();
        assert!(
            buf.iter().all(|&b| b == buf[0]),
            "record {i} is made of two writers' bytes"
        );
    }
    for h in hs {
        h.join().unwrap();
    }
}
