//! Compiles the C (and assembly) side of the tests and the `ffi` example with the `cc` crate.

fn main() {
    for f in [
        "fft.h",
        "bigstack.c",
        "callbacks.c",
        "regs_x86_64.S",
        "regs_aarch64.S",
    ] {
        println!("cargo:rerun-if-changed=csrc/{f}");
    }

    // The 1 MiB frame must be probed page by page (see csrc/bigstack.c): with
    // -fstack-clash-protection the compiler touches every page of the frame as it allocates it,
    // so the first touch below a goroutine stack hits the 64 KiB guard and gort reports a stack
    // overflow. Without it, the frame's first write could jump 1 MiB below the stack pointer,
    // past the guard, and the child-process overflow test would not test what it claims.
    let mut big = cc::Build::new();
    big.file("csrc/bigstack.c").warnings(true);
    match big.is_flag_supported("-fstack-clash-protection") {
        Ok(true) => {
            big.flag("-fstack-clash-protection");
        }
        _ => println!(
            "cargo:warning=the C compiler lacks -fstack-clash-protection: fft_big_frame may skip the goroutine stack guard"
        ),
    }
    big.compile("fft_bigstack");

    // The register check is written per target (the callee-saved set is the ABI's).
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets the target arch");
    cc::Build::new()
        .file("csrc/callbacks.c")
        .file(format!("csrc/regs_{arch}.S"))
        .warnings(true)
        .compile("fft");
}
