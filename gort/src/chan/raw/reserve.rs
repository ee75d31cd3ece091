//! The dynamic `Select`'s sends (see the module doc of `chan::raw`): a send chosen before its
//! value exists is reserved under the lock, so that completing it never blocks: a waiting
//! receiver is dequeued and stays parked until the value arrives, or a buffer slot is claimed.
//! A reservation dropped unused is released. Go's selectgo has no counterpart: its send arms
//! carry their values.

use std::sync::atomic::Ordering::*;

use super::RawChan;
use crate::wait::{Reservation, Status, WakeList};

impl RawChan {
    /// Reserves a send for a dynamic `Select` (see the module doc), under the lock. None if a
    /// send would block.
    pub(crate) fn reserve_send_locked(&self) -> Option<Reservation> {
        if self.closed.load(Relaxed) {
            return Some(Reservation::Closed);
        }
        // SAFETY: the caller holds the lock.
        let st = unsafe { self.state() };
        loop {
            let w = st.recvq.front();
            if w.is_null() {
                break;
            }
            // SAFETY: `w` is the queued front waiter.
            unsafe {
                if (*w).is_readiness() {
                    return Some(Reservation::Stash);
                }
                if st.recvq.pop_front(w) {
                    return Some(Reservation::Receiver(w));
                }
            }
        }
        if self.qcount.load(Relaxed) + st.reserved < self.cap {
            st.reserved += 1;
            return Some(Reservation::Slot);
        }
        None
    }

    /// Completes a reserved send with the value at `elem` (moved out on `Done`).
    ///
    /// # Safety
    /// `r` came from `reserve_send_locked` on this channel and is used once; `elem` as for
    /// `send`.
    pub(crate) unsafe fn complete_send(&self, r: Reservation, elem: *mut u8) -> Status {
        match r {
            Reservation::None => crate::util::fatal!("a selected send without a reservation"),
            Reservation::Closed => Status::Closed,
            // SAFETY: the reserved receiver was dequeued for us and stays parked until readied.
            Reservation::Receiver(w) => unsafe {
                (*w).success = true;
                self.copy((*w).elem, elem);
                crate::rt::ready((*w).g);
                Status::Done
            },
            Reservation::Slot => {
                self.lock.lock();
                // SAFETY: lock held.
                unsafe { self.state() }.reserved -= 1;
                let mut wake = WakeList::new();
                // SAFETY: lock held; `elem` per the caller. The slot was kept free for us, so
                // this completes (or finds the channel closed).
                let r = unsafe { self.try_send_locked(elem, &mut wake, false) };
                self.lock.unlock();
                wake.wake_all();
                r.unwrap_or_else(|| crate::util::fatal!("a reserved channel slot was taken"))
            }
            Reservation::Stash => {
                self.lock.lock();
                let mut wake = WakeList::new();
                // SAFETY: lock held; `elem` per the caller. If the async receiver is gone and
                // nobody else can take the value now, it waits in the stash as promised.
                let r = unsafe {
                    self.try_send_locked(elem, &mut wake, false)
                        .unwrap_or_else(|| {
                            self.stash_push(elem);
                            Status::Done
                        })
                };
                self.lock.unlock();
                wake.wake_all();
                r
            }
        }
    }

    /// Gives back a reservation that will not be used: a reserved receiver tries again; a
    /// reserved slot goes to a waiting sender, if any.
    ///
    /// # Safety
    /// `r` came from `reserve_send_locked` on this channel and is used once.
    pub(crate) unsafe fn release(&self, r: Reservation) {
        match r {
            Reservation::None | Reservation::Closed | Reservation::Stash => {}
            // SAFETY: as in `complete_send`.
            Reservation::Receiver(w) => unsafe {
                (*w).retry = true;
                crate::rt::ready((*w).g);
            },
            Reservation::Slot => {
                self.lock.lock();
                // SAFETY: lock held.
                let st = unsafe { self.state() };
                st.reserved -= 1;
                let mut wake = WakeList::new();
                // SAFETY: lock held; a dequeued waiter is valid and parked; slot `sendx` is
                // free (a reserved slot was).
                unsafe {
                    // Readiness senders (dynamic `Select` sends) are woken to try again; the
                    // first sender with a value, a goroutine's or an async one's, fills the slot.
                    while let Some(w) = st.sendq.dequeue() {
                        (*w).success = true;
                        let fills = !(*w).is_readiness();
                        if fills {
                            self.copy(self.slot(st.sendx), (*w).elem);
                            st.sendx = self.next_index(st.sendx);
                            self.qcount.store(self.qcount.load(Relaxed) + 1, Release);
                        }
                        wake.push(w);
                        if fills {
                            break;
                        }
                    }
                }
                self.lock.unlock();
                wake.wake_all();
            }
        }
    }
}
