//! `Stash`: values a channel holds beyond its capacity, for async receivers.
//!
//! An async receiver (`Receiver::recv_async`) waits as a readiness-only waiter: it has no
//! destination a sender could write into, because the future may be dropped at any moment and a
//! value written into it would be lost with it. A sender that cannot wait (`try_send`, a select
//! with a default, a dynamic `Select`'s reserved send) and finds such a receiver first in line
//! therefore leaves the value in the channel and wakes the receiver, which takes it when it is
//! polled. (A sender that can wait, a goroutine or an async sender, wakes the receiver and waits
//! for it instead: `RawChan::try_send_locked`.) A buffered channel keeps the value in its
//! buffer; an unbuffered channel (or a buffer whose free slots are promised to a dynamic
//! `Select`) keeps it here. Receivers take stashed values before buffered ones. No value is
//! ever written into a receive future, so a dropped `recv_async` loses nothing.
//!
//! There is no Go counterpart: Go has no cancellable receives outside `select`.
//!
//! Invariants: a FIFO ring of `len` initialised elements of the channel's element type starting
//! at `head`, in a buffer of `cap` elements allocated with `elem` repeated; accessed only under
//! the channel lock. Zero-sized elements only count.

use std::alloc::Layout;
use std::ptr::null_mut;

use super::raw::{FreeOnDrop, drop_each};

pub(crate) struct Stash {
    buf: *mut u8,
    cap: usize,
    head: usize,
    len: usize,
    elem: Layout,
}

impl Stash {
    pub(crate) const fn new(elem: Layout) -> Stash {
        Stash {
            buf: null_mut(),
            cap: 0,
            head: 0,
            len: 0,
            elem,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn slot(&self, i: usize) -> *mut u8 {
        // SAFETY: the index is reduced modulo `cap`, so the offset is inside the buffer.
        unsafe { self.buf.add((self.head + i) % self.cap * self.elem.size()) }
    }

    /// Appends the element at `src` (moved in).
    ///
    /// # Safety
    /// `src` points to an initialised element of this stash's type, which the caller gives up.
    pub(crate) unsafe fn push(&mut self, src: *const u8) {
        let size = self.elem.size();
        if size != 0 && self.len == self.cap {
            self.grow();
        }
        if size != 0 {
            // SAFETY: slot `len` is free (len < cap after growing); `src` is a distinct element.
            unsafe { std::ptr::copy_nonoverlapping(src, self.slot(self.len), size) };
        }
        self.len += 1;
    }

    /// Moves the oldest element to `dst`; false if the stash is empty.
    ///
    /// # Safety
    /// `dst` has room for one element of this stash's type.
    pub(crate) unsafe fn pop(&mut self, dst: *mut u8) -> bool {
        if self.len == 0 {
            return false;
        }
        let size = self.elem.size();
        if size != 0 {
            // SAFETY: slot 0 holds the oldest initialised element; `dst` is distinct.
            unsafe { std::ptr::copy_nonoverlapping(self.slot(0), dst, size) };
            self.head = (self.head + 1) % self.cap;
        }
        self.len -= 1;
        true
    }

    /// Doubles the buffer (at least four elements), keeping the order.
    fn grow(&mut self) {
        let size = self.elem.size();
        let cap = (self.cap * 2).max(4);
        let layout = Self::layout(self.elem, cap);
        // SAFETY: the layout has a non-zero size (size != 0 and cap >= 4).
        let buf = unsafe { std::alloc::alloc(layout) };
        if buf.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        for i in 0..self.len {
            // SAFETY: slot i holds an initialised element; the new buffer has room for `len`.
            unsafe { std::ptr::copy_nonoverlapping(self.slot(i), buf.add(i * size), size) };
        }
        self.free();
        self.buf = buf;
        self.cap = cap;
        self.head = 0;
    }

    fn layout(elem: Layout, cap: usize) -> Layout {
        elem.size()
            .checked_mul(cap)
            .and_then(|n| Layout::from_size_align(n, elem.align()).ok())
            .unwrap_or_else(|| {
                crate::util::fatal!("gort::chan: the stash of async receives overflowed")
            })
    }

    fn free(&mut self) {
        if !self.buf.is_null() {
            // SAFETY: `buf` was allocated in `grow` with this layout.
            unsafe { std::alloc::dealloc(self.buf, Self::layout(self.elem, self.cap)) };
            self.buf = null_mut();
        }
    }

    /// Drops every element with `drop_elem` and frees the buffer, leaving the stash empty. If a
    /// drop panics, the rest are dropped and the buffer freed as the panic unwinds.
    ///
    /// # Safety
    /// `drop_elem` drops an element of this stash's type in place.
    pub(crate) unsafe fn clear(&mut self, drop_elem: unsafe fn(*mut u8)) {
        let len = std::mem::replace(&mut self.len, 0);
        let (buf, head, cap, elem) = (self.buf, self.head, self.cap, self.elem);
        let layout = if buf.is_null() {
            elem
        } else {
            Self::layout(elem, cap)
        };
        self.buf = null_mut();
        self.cap = 0;
        self.head = 0;
        let _buffer = FreeOnDrop(buf, layout);
        let at = |i| {
            if elem.size() == 0 {
                std::ptr::without_provenance_mut(elem.align())
            } else {
                // SAFETY: reduced modulo `cap`, the offset is inside the buffer.
                unsafe { buf.add((head + i) % cap * elem.size()) }
            }
        };
        // SAFETY: the `len` elements from `head` are initialised and nobody else can reach
        // them; the stash counts none of them any more.
        unsafe { drop_each(len, at, drop_elem) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe fn drop_string(p: *mut u8) {
        // SAFETY: the caller passes an initialised String.
        unsafe { std::ptr::drop_in_place(p.cast::<String>()) }
    }

    #[test]
    fn fifo_across_growth_and_wrap() {
        let mut s = Stash::new(Layout::new::<String>());
        let mut next_in = 0;
        let mut next_out = 0;
        // Interleave pushes and pops so that the ring wraps before and after it grows.
        for round in 0..6 {
            for _ in 0..(round * 3 + 2) {
                let v = std::mem::ManuallyDrop::new(next_in.to_string());
                // SAFETY: `v` is a String we give up.
                unsafe { s.push((&*v as *const String).cast()) };
                next_in += 1;
            }
            for _ in 0..(round * 2 + 1) {
                let mut out = std::mem::MaybeUninit::<String>::uninit();
                // SAFETY: `out` has room for a String; on true it holds one.
                assert!(unsafe { s.pop(out.as_mut_ptr().cast()) });
                // SAFETY: pop returned true.
                assert_eq!(unsafe { out.assume_init() }, next_out.to_string());
                next_out += 1;
            }
        }
        assert_eq!(s.len(), next_in - next_out);
        // SAFETY: the stash holds Strings.
        unsafe { s.clear(drop_string) };
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn clear_drops_every_element_when_one_drop_panics() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        unsafe fn drop_u32(p: *mut u8) {
            DROPPED.fetch_add(1, SeqCst);
            // SAFETY: the caller passes an initialised u32.
            if unsafe { *p.cast::<u32>() } == 1 {
                panic!("drop panics");
            }
        }
        let mut s = Stash::new(Layout::new::<u32>());
        for v in 0..5u32 {
            // SAFETY: a u32, copied in.
            unsafe { s.push((&v as *const u32).cast()) };
        }
        // SAFETY: the stash holds u32s.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            s.clear(drop_u32)
        }));
        assert!(r.is_err());
        assert_eq!(DROPPED.load(SeqCst), 5);
        assert_eq!(s.len(), 0);
        assert!(s.buf.is_null());
    }

    #[test]
    fn zero_sized_elements_only_count() {
        let mut s = Stash::new(Layout::new::<()>());
        let unit = ();
        for _ in 0..10 {
            // SAFETY: a zero-sized element.
            unsafe { s.push((&unit as *const ()).cast()) };
        }
        let mut out = ();
        // SAFETY: as above.
        assert!(unsafe { s.pop((&mut out as *mut ()).cast()) });
        assert_eq!(s.len(), 9);
        assert!(s.buf.is_null());
    }
}
