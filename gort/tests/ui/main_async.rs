#[gort::main]
async fn main() {}
