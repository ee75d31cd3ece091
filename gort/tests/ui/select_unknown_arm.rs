fn main() {
    let (_tx, rx) = gort::chan::<u32>(1);
    gort::select! {
        receive(rx) -> v => println!("{v:?}"),
    }
}
