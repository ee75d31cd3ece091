//! Typed slots for one select case each: a `RecvSlot` is the destination of a receive, a
//! `SendSlot` owns the value of a send until its case fires. The `select!` macro's expansion and
//! the channels' own timeouts use them, so neither needs `unsafe`. A send value is evaluated once,
//! before blocking; it is moved out only if its case fires successfully, and otherwise dropped
//! exactly once with its slot (or returned in `SendError`).

use std::mem::{ManuallyDrop, MaybeUninit};

use super::raw::RawChan;
use super::{Receiver, SendError, Sender};
use crate::wait::select::{Case, CaseResult};

/// Destination of a receive case.
pub struct RecvSlot<T> {
    value: MaybeUninit<T>,
    /// Written by the select when the case fires.
    status: CaseResult,
}

impl<T> Default for RecvSlot<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> RecvSlot<T> {
    /// An empty slot.
    pub fn new() -> RecvSlot<T> {
        RecvSlot {
            value: MaybeUninit::uninit(),
            status: CaseResult::Pending,
        }
    }

    /// The select case that receives from `r` into this slot.
    pub fn case<'a>(&'a mut self, r: &'a Receiver<T>) -> Case<'a, RawChan> {
        Case {
            chan: r.raw(),
            send: false,
            elem: self.value.as_mut_ptr().cast(),
            result: &mut self.status,
            reserve: std::ptr::null_mut(),
        }
    }

    /// The received value, `None` if the channel was closed.
    pub fn take(&mut self) -> Option<T> {
        if self.status == CaseResult::Moved {
            self.status = CaseResult::Pending;
            // SAFETY: `Moved`: the select moved a value into `value`.
            Some(unsafe { self.value.assume_init_read() })
        } else {
            None
        }
    }
}

impl<T> Drop for RecvSlot<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// The value of a send case.
pub struct SendSlot<T> {
    value: ManuallyDrop<T>,
    /// `Moved` once the value went into the channel (written by the select) or back to the
    /// caller (`take`).
    status: CaseResult,
}

impl<T> SendSlot<T> {
    /// A slot that owns `v` until its case fires.
    pub fn new(v: T) -> SendSlot<T> {
        SendSlot {
            value: ManuallyDrop::new(v),
            status: CaseResult::Pending,
        }
    }

    /// A slot for a value sent on `_s`: the channel fixes `T` before the value is checked, so
    /// the value coerces as in `s.send(v)` (`Box<X>` into `Sender<Box<dyn Trait>>`).
    pub fn new_for(_s: &Sender<T>, v: T) -> SendSlot<T> {
        SendSlot::new(v)
    }

    /// The select case that sends this slot's value on `s` (see `RecvSlot::case`).
    pub fn case<'a>(&'a mut self, s: &'a Sender<T>) -> Case<'a, RawChan> {
        Case {
            chan: s.raw(),
            send: true,
            elem: (&mut *self.value as *mut T).cast(),
            result: &mut self.status,
            reserve: std::ptr::null_mut(),
        }
    }

    /// The outcome of this (fired) case: the value comes back if the channel was closed.
    pub fn take(mut self) -> Result<(), SendError<T>> {
        if self.status == CaseResult::Moved {
            Ok(())
        } else {
            self.status = CaseResult::Moved;
            // SAFETY: not `Moved`: the value is still ours; it is `Moved` now, so Drop will not
            // drop it again.
            Err(SendError(unsafe { ManuallyDrop::take(&mut self.value) }))
        }
    }
}

impl<T> Drop for SendSlot<T> {
    fn drop(&mut self) {
        if self.status != CaseResult::Moved {
            // SAFETY: not moved into a channel and not taken: we still own the value.
            unsafe { ManuallyDrop::drop(&mut self.value) };
        }
    }
}
