fn main() {
    gort::select! {}
}
