//! The macros reject misuse at compile time with a readable message (trybuild; the expected
//! messages are in tests/ui/*.stderr).

#[test]
fn macro_misuse_is_a_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
