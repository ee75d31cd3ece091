//! Compiles the C side of W12_ffi_call / W13_ffi_callback (csrc/ffi.c) with the `cc` crate.

fn main() {
    println!("cargo:rerun-if-changed=csrc/ffi.c");
    cc::Build::new()
        .file("csrc/ffi.c")
        .warnings(true)
        .compile("gort_bench_ffi");
}
