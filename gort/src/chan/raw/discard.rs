//! The end of a channel's values: dropping the ones nobody can receive any more once the last
//! `Receiver` is gone (as std's and crossbeam's channels do), and freeing the channel.
//!
//! A value can own anything, a `Sender` of this same channel or of a channel someone waits on
//! for a reply included, so values are moved out under the lock and dropped after it is
//! released. Go's chan.go has no counterpart: its garbage collector frees what nobody can
//! reach (ARCHITECTURE.md, "Lifetimes without a garbage collector").

use std::alloc::Layout;

use super::RawChan;
use crate::chan::stash::Stash;
use crate::wait::WakeList;

/// A timer channel's link to its timer. When the last `Receiver` of the channel goes:
/// `run(data, true)`, or `run(data, false)` if the channel is freed first (to release `data`);
/// the timer stops then, so that a dropped `after` does not stay in a timer heap until it fires
/// (Go 1.23 collects unreferenced timers). Until then, `due(data)` may run at any time, from
/// any thread, any number of times: a receive fires the timer with it if it is due. `data`
/// must be safe to use from any thread.
pub(crate) struct Hook {
    pub(crate) run: unsafe fn(*const (), bool),
    pub(crate) due: unsafe fn(*const ()),
    pub(crate) data: *const (),
}

/// Values taken out of a channel under its lock, dropped (in FIFO order) when this is.
struct Orphans {
    buf: *mut u8,
    layout: Layout,
    n: usize,
    elem_size: usize,
    drop_elem: unsafe fn(*mut u8),
    stash: Option<Box<Stash>>,
}

impl Drop for Orphans {
    fn drop(&mut self) {
        // Locals go in reverse order, even as a panic unwinds: the buffer's values, the
        // stash's, then the buffer.
        let _buffer = FreeOnDrop(self.buf, self.layout);
        let _stash = StashValues(self.stash.take(), self.drop_elem);
        // SAFETY: `buf` holds `n` initialised values moved out of the channel, which own them
        // now.
        unsafe { drop_each(self.n, |i| self.buf.add(i * self.elem_size), self.drop_elem) };
    }
}

/// A buffer of values, deallocated when this is dropped (after its values, even if one of
/// their drops panics). Null or zero-sized: nothing to free.
pub(crate) struct FreeOnDrop(pub(crate) *mut u8, pub(crate) Layout);

impl Drop for FreeOnDrop {
    fn drop(&mut self) {
        if !self.0.is_null() && self.1.size() != 0 {
            // SAFETY: whoever made this allocated the buffer with this layout and gave it up.
            unsafe { std::alloc::dealloc(self.0, self.1) };
        }
    }
}

/// A channel's stash, whose values are dropped (with the function) when this is.
struct StashValues(Option<Box<Stash>>, unsafe fn(*mut u8));

impl Drop for StashValues {
    fn drop(&mut self) {
        if let Some(stash) = self.0.as_mut() {
            // SAFETY: the stash holds values of the channel's type, which the function drops.
            unsafe { stash.clear(self.1) };
        }
    }
}

/// Drops the values at `at(0)`, .., `at(n - 1)` in that order with `drop_elem`. If a drop
/// panics, the rest are still dropped while the panic unwinds (a second panic aborts), and then
/// the panic goes on: std's rule for the elements of a slice.
///
/// # Safety
/// Each `at(i)` points to an initialised value that `drop_elem` drops in place, owned by the
/// caller, which gives it up.
pub(crate) unsafe fn drop_each(
    n: usize,
    at: impl Fn(usize) -> *mut u8,
    drop_elem: unsafe fn(*mut u8),
) {
    struct Rest<F: Fn(usize) -> *mut u8> {
        next: usize,
        n: usize,
        at: F,
        drop_elem: unsafe fn(*mut u8),
    }
    impl<F: Fn(usize) -> *mut u8> Rest<F> {
        fn run(&mut self) {
            while self.next < self.n {
                let p = (self.at)(self.next);
                self.next += 1;
                // SAFETY: `drop_each`'s contract; `next` moves past each value before its drop,
                // so a value whose drop panicked is not dropped again.
                unsafe { (self.drop_elem)(p) };
            }
        }
    }
    impl<F: Fn(usize) -> *mut u8> Drop for Rest<F> {
        fn drop(&mut self) {
            self.run();
        }
    }
    let mut rest = Rest {
        next: 0,
        n,
        at,
        drop_elem,
    };
    rest.run();
}

impl RawChan {
    /// The last `Receiver` is gone: closes the channel (blocked senders get their values back,
    /// later sends fail) and drops the values it still holds, after releasing the lock.
    pub(crate) fn close_unreceivable(&self) {
        let mut wake = WakeList::new();
        self.lock.lock();
        // SAFETY: lock held; the hook is taken once, under it.
        let hook = unsafe {
            self.close_locked(&mut wake);
            (*self.on_unreceivable.get()).take()
        };
        let n = self.qcount.load(std::sync::atomic::Ordering::Relaxed);
        let layout = Layout::from_size_align(n * self.elem_size, self.layout.align())
            .expect("a part of the buffer's layout is a valid layout");
        let buf = if layout.size() == 0 {
            self.buf
        } else {
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { std::alloc::alloc(layout) };
            if p.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            p
        };
        // SAFETY: the lock is held; slots [recvx, recvx+n) hold initialised values, moved out
        // (by copy) to `buf`, after which the buffer counts them no more; the stash likewise.
        let stash = unsafe {
            let st = self.state();
            for i in 0..n {
                let src = self.slot((st.recvx + i) % self.cap.max(1));
                std::ptr::copy_nonoverlapping(src, buf.add(i * self.elem_size), self.elem_size);
            }
            st.recvx = st.sendx;
            self.qcount.store(0, std::sync::atomic::Ordering::Relaxed);
            self.stashed.store(0, std::sync::atomic::Ordering::Relaxed);
            (*self.stash.get()).take()
        };
        self.lock.unlock();
        wake.wake_all();
        if let Some(h) = hook {
            // SAFETY: the hook's contract; it runs once, with no lock of ours held.
            unsafe { (h.run)(h.data, true) };
        }
        drop(Orphans {
            buf,
            layout,
            n,
            elem_size: self.elem_size,
            drop_elem: self.drop_elem,
            stash,
        });
    }
}

impl Drop for RawChan {
    fn drop(&mut self) {
        if let Some(h) = self.on_unreceivable.get_mut().take() {
            // SAFETY: the hook's contract: called once, to release its data.
            unsafe { (h.run)(h.data, false) };
        }
        // As in `Orphans`: the buffered values, the stash's, then the buffer.
        let _buffer = FreeOnDrop(self.buf, self.layout);
        let _stash = StashValues(self.stash.get_mut().take(), self.drop_elem);
        let recvx = self.st.get_mut().recvx;
        let q = *self.qcount.get_mut();
        // SAFETY: slots [recvx, recvx+qcount) hold initialised values that nobody else can
        // reach any more (we are being dropped).
        unsafe {
            drop_each(
                q,
                |i| self.slot((recvx + i) % self.cap.max(1)),
                self.drop_elem,
            )
        };
    }
}
