fn main() {
    let (tx, _rx) = gort::chan::<u32>(1);
    gort::select! {
        send(tx) -> r => println!("{r:?}"),
    }
}
