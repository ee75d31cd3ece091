fn main() {
    let (_tx, rx) = gort::chan::<u32>(1);
    gort::select! {
        recv(rx) => println!("got one"),
    }
}
