fn main() {
    let (_tx, rx) = gort::chan::<u32>(1);
    gort::select! {
        recv(rx) -> v => println!("{v:?}"),
        default => {}
        default => {}
    }
}
