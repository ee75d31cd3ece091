//! `#[gort::test(timeout = S)]` fails a test that hangs, printing a goroutine dump first.

#[gort::test(timeout = 1)]
#[should_panic(expected = "test timed out after 1 s")]
fn a_hanging_test_fails_at_its_timeout() {
    gort::never::<()>().recv();
}
