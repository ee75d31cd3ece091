//! Stack slots and their free lists (Go's gfget/gfput in proc.go, and the stack pool and
//! scavenger of stack.go / mgcscavenge.go, adapted to stacks that never move).
//!
//! A slot holds a G at its top (see `stack`), so a slot and its G are pooled together. Free slots
//! of the default class sit first in the P's cache (no lock; at most `GFREE_MAX`, half spills to
//! the class pool, and all of it when the P goes idle), then in the class pool: `hot` (LIFO,
//! pages still committed) and `cold` (scavenged). The scavenger moves slots that sat in `hot`
//! for ~1 s to `cold`: the most recent `WARM_KEEP` keep their top page (the G page that a spawn
//! touches first), the rest return every page to the kernel. So after a burst of a million
//! goroutines the pool keeps at most `WARM_KEEP` pages plus the caches of busy Ps, not
//! gigabytes. A step discards its slots' ranges with one vectored call per 128 ranges where the
//! kernel allows (a million slots took 8 s of a core one `madvise` at a time).
//!
//! New slots are carved from the class's slab (see `carve`): one at a time at first, then in
//! batches as the number of slots grows, each batch's guards and top pages set up with a system
//! call apiece. During a burst of spawns (a refill left the pool nearly empty), a P with
//! nothing to run carves default-class batches into the pool (`help_wanted`, `help_carve`), so
//! that the kernel's work on new slots (most of a spawn's cost at a million goroutines) runs on
//! two CPUs instead of the spawner's alone. Go has no counterpart: its stacks come from the
//! heap.
//!
//! Invariant: a slot in any free list belongs to no G and is referenced by nothing else, so its
//! memory may be discarded and its G rewritten on reuse.

use std::collections::VecDeque;
use std::io;
use std::ptr::null_mut;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::*};

use super::{G_AREA, GUARD, Mechanism, config, exhausted, slot_size};
use crate::rt::g::G;
use crate::sys::{mem, nanotime, page_size};

/// Scavenged slots that keep their top page.
pub(crate) const WARM_KEEP: usize = 1024;
/// How long a slot sits unused before the scavenger takes its memory.
const SCAVENGE_AFTER_NS: i64 = 1_000_000_000;
/// Slots per slab (guard-marker mechanism) aim at this many bytes of address space.
const SLAB_BYTES: usize = 16 << 30;
/// The same where address space is scarce (`constrained`): a slab is then a small share of it,
/// so a program with a few goroutines leaves the rest to its heap and threads.
const SMALL_SLAB_BYTES: usize = 64 << 20;

struct Hot {
    gp: *mut G,
    since: i64,
}

struct Slab {
    base: usize,
    slots: usize,
    next: usize,
}

struct Class {
    usable: usize,
    slot: usize,
    hot: VecDeque<Hot>,
    cold: Vec<*mut G>,
    slab: Option<Slab>,
}

struct Classes(Vec<Class>);
// SAFETY: the pointers are free slots owned by the pool; only touched under the mutex.
unsafe impl Send for Classes {}

static CLASSES: Mutex<Classes> = Mutex::new(Classes(Vec::new()));
/// Stacks mapped by the mprotect mechanism (compared with the budget).
static MAPPED: AtomicUsize = AtomicUsize::new(0);
/// Slots ever created, all classes.
pub(crate) static SLOTS: AtomicUsize = AtomicUsize::new(0);
/// Every slot's G, in creation order (Go's allgs): for `runtime::dump`. Appended only when a
/// slot is created, which is rare next to spawns.
static ALL_SLOTS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// Most slots a free-slot cache (one per P) holds; a full one spills half to the pool.
pub(crate) const GFREE_MAX: usize = 64;

/// A P's cache of free default-class slots (Go's `p.gFree`), passed in by the P's owner.
pub(crate) type SlotCache = Vec<*mut G>;

/// The default usable size (class 0).
static DEFAULT_USABLE: AtomicUsize = AtomicUsize::new(0);
/// The slot size of class 0, so that a spawn served by its P's cache takes no lock.
static DEFAULT_SLOT: AtomicUsize = AtomicUsize::new(0);

fn classes() -> std::sync::MutexGuard<'static, Classes> {
    CLASSES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the default stack size; called once at start-up, before any spawn.
pub(crate) fn init(default_usable: usize) {
    DEFAULT_USABLE.store(default_usable, Relaxed);
    DEFAULT_SLOT.store(slot_size(default_usable), Relaxed);
    let mut c = classes();
    if c.0.is_empty() {
        c.0.push(new_class(default_usable));
    }
}

fn new_class(usable: usize) -> Class {
    Class {
        usable,
        slot: slot_size(usable),
        hot: VecDeque::new(),
        cold: Vec::new(),
        slab: None,
    }
}

fn class_index(c: &mut Classes, usable: usize) -> usize {
    if let Some(i) = c.0.iter().position(|k| k.usable == usable) {
        return i;
    }
    c.0.push(new_class(usable));
    c.0.len() - 1
}

/// A G with a guarded stack of at least `usable` bytes (0: the default), fresh for a spawn:
/// status IDLE, `stack_lo`, `limit` and `class` set, every other field zero.
///
/// A size other than the default is rounded up to a power of two (Go's stack size classes):
/// each class reserves a slab of its own, so a class per page-rounded size let a program that
/// asked for many different sizes run out of address space with one goroutine alive.
pub(crate) fn alloc(cache: Option<&mut SlotCache>, usable: usize) -> io::Result<*mut G> {
    let default = DEFAULT_USABLE.load(Relaxed);
    let usable = match usable {
        0 => default,
        // The default class fits (a default that is no power of two need not be exceeded).
        n if n <= default && n.next_power_of_two() >= default => default,
        n => n.next_power_of_two(),
    };
    if let Some(cache) = cache.filter(|_| usable == default) {
        if cache.is_empty() {
            refill(cache)?;
        }
        if let Some(gp) = cache.pop() {
            // SAFETY: a slot from the P's cache is free (pool invariant).
            return Ok(unsafe { fresh(gp, 0, DEFAULT_SLOT.load(Relaxed), usable) });
        }
    }
    let (class, slot, mut gp) = {
        let mut c = classes();
        let i = class_index(&mut c, usable);
        let k = &mut c.0[i];
        let gp = k.hot.pop_back().map(|h| h.gp).or_else(|| k.cold.pop());
        (i, k.slot, gp.unwrap_or(null_mut()))
    };
    if gp.is_null() {
        let (base, _) = carve(class, slot, 1)?;
        gp = top_g(base, slot);
    }
    // SAFETY: `gp` came from a free list or was just carved (pool invariant).
    Ok(unsafe { fresh(gp, class, slot, usable) })
}

/// Writes a fresh G into the free slot `gp` of `class` (slots of `slot` bytes).
///
/// # Safety
/// `gp` is the G area of a free slot that nothing references (pool invariant).
unsafe fn fresh(gp: *mut G, class: usize, slot: usize, usable: usize) -> *mut G {
    let top = gp as usize + G_AREA;
    let base = top - slot;
    let g = G::new_zeroed();
    g.stack_lo.store(base + GUARD, Relaxed);
    // The limit users asked for (the slot may have a little more room below the G).
    g.limit.store(usable, Relaxed);
    g.class.store(class, Relaxed);
    // SAFETY: the caller's contract.
    unsafe { gp.write(g) };
    gp
}

/// Moves up to half a cache's worth of default-class slots from the pool into `cache`; with the
/// pool empty, carves new ones: as many as half the slots made so far, up to half a cache, so a
/// program with a few goroutines commits a few pages ahead at most and a burst soon carves in
/// bulk. Leaving the pool short marks a burst, for idle Ps to help (`help_wanted`).
fn refill(cache: &mut SlotCache) -> io::Result<()> {
    let (slot, short) = {
        let mut c = classes();
        let k = &mut c.0[0];
        while cache.len() < GFREE_MAX / 2 {
            match k.hot.pop_back().map(|h| h.gp).or_else(|| k.cold.pop()) {
                Some(gp) => cache.push(gp),
                None => break,
            }
        }
        (k.slot, k.hot.len() + k.cold.len() < HELP_LOW)
    };
    if short {
        BURST_AT.store(nanotime(), Relaxed);
    }
    if cache.is_empty() {
        let want = (SLOTS.load(Relaxed) / 2).clamp(1, GFREE_MAX / 2);
        let (base, n) = carve(0, slot, want)?;
        cache.extend(carved_gs(base, n, slot));
    }
    Ok(())
}

/// When a refill last left the default class's pool short of `HELP_LOW` slots: a burst of
/// spawns is under way (0: none, or the last one ended or could not be helped).
static BURST_AT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
/// The most free slots idle Ps carve ahead for a burst (also capped at a quarter of the slots
/// made so far, so a program with a few goroutines gets a few at most).
const HELP_LOW: usize = 4 * GFREE_MAX;
/// How long after the last short refill a burst counts as under way.
const HELP_WINDOW_NS: i64 = 1_000_000;

/// How many slots an idle P carves ahead: none unless a refill came up short within
/// `HELP_WINDOW_NS` of `now`; then a batch, or what is left below the pool's cap if less.
fn help_size(burst_at: i64, now: i64, pooled: usize, slots: usize) -> usize {
    if burst_at == 0 || now - burst_at > HELP_WINDOW_NS {
        return 0;
    }
    (slots / 4)
        .min(HELP_LOW)
        .saturating_sub(pooled)
        .min(GFREE_MAX / 2)
}

/// How many slots a P that found nothing to run should carve for a burst of spawns
/// (`help_size`; 0: none). Only with guard markers and plenty of address space: a slot carved
/// ahead under a budget of mappings, or from scarce address space, could be the one a spawn
/// fails for. A P that finds the burst over clears `BURST_AT`, so idle Ps pay one load until
/// the next burst.
pub(crate) fn help_wanted() -> usize {
    let at = BURST_AT.load(Relaxed);
    if at == 0 {
        return 0;
    }
    let now = nanotime();
    if now - at > HELP_WINDOW_NS || config().mechanism != Mechanism::GuardMarkers || constrained() {
        let _ = BURST_AT.compare_exchange(at, 0, Relaxed, Relaxed);
        return 0;
    }
    let c = classes();
    let k = &c.0[0];
    help_size(at, now, k.hot.len() + k.cold.len(), SLOTS.load(Relaxed))
}

/// An idle P's share of a burst: carves up to `n` default-class slots (`help_wanted`) into the
/// pool. A failure is the spawner's to report when it carves for itself; the burst is dropped
/// until a refill marks it again.
pub(crate) fn help_carve(n: usize) {
    let slot = DEFAULT_SLOT.load(Relaxed);
    let Ok((base, n)) = carve(0, slot, n) else {
        BURST_AT.store(0, Relaxed);
        return;
    };
    let now = nanotime();
    classes().0[0]
        .hot
        .extend(carved_gs(base, n, slot).map(|gp| Hot { gp, since: now }));
}

/// The Gs of `n` slots just carved at `base`, highest first: free lists pop from the back, so
/// the lowest slot goes first, as one at a time would be carved.
fn carved_gs(base: usize, n: usize, slot: usize) -> impl Iterator<Item = *mut G> {
    (0..n).rev().map(move |i| top_g(base + i * slot, slot))
}

/// The G of the slot at `base`.
fn top_g(base: usize, slot: usize) -> *mut G {
    (base + slot - G_AREA) as *mut G
}

/// Carves at least one and at most `want` new slots of `class`, adjacent, with their guards
/// installed; returns the first one's base and how many there are.
///
/// Several at once means a burst of spawns is under way (the pool and the P's cache are
/// empty), so each new slot's top page will be touched within moments: one `process_madvise`
/// installs all the guards and one commits all the top pages. Measured on a million spawns,
/// that is about a quarter less time than a `madvise` and a page fault per slot.
fn carve(class: usize, slot: usize, want: usize) -> io::Result<(usize, usize)> {
    let (base, n) = match config().mechanism {
        Mechanism::GuardMarkers => {
            let (base, n) = {
                let mut c = classes();
                let k = &mut c.0[class];
                let full = k.slab.as_ref().is_none_or(|s| s.next == s.slots);
                if full {
                    // A large slab, or a small one where address space is scarce; if even that
                    // fails, smaller ones, down to a single slot.
                    let bytes = if constrained() {
                        SMALL_SLAB_BYTES
                    } else {
                        SLAB_BYTES
                    };
                    let mut slots = (bytes / slot).clamp(1, 65536);
                    let p = loop {
                        match mem::reserve(slots * slot) {
                            Ok(p) => break p,
                            Err(e) if slots == 1 => {
                                return Err(exhausted(&format!(
                                    "reserving {slot} bytes of address space for a stack failed: \
                                     {e} (check `ulimit -v` / RLIMIT_AS and vm.overcommit_memory)"
                                )));
                            }
                            Err(_) => {
                                SCARCE.store(true, Relaxed);
                                slots = (slots / 2).min(SMALL_SLAB_BYTES / slot).max(1);
                            }
                        }
                    };
                    k.slab = Some(Slab {
                        base: p as usize,
                        slots,
                        next: 0,
                    });
                }
                let s = k.slab.as_mut().expect("slab just ensured");
                let n = want.min(s.slots - s.next);
                let base = s.base + s.next * slot;
                s.next += n;
                (base, n)
            };
            let guards: Vec<_> = (0..n).map(|i| (base + i * slot, GUARD)).collect();
            // SAFETY: the slots were just carved from our slab; nothing uses them yet.
            if let Err(e) = unsafe { mem::guard_install_many(&guards) } {
                uncarve(class, slot, base, n);
                return Err(exhausted(&format!("installing a guard marker failed: {e}")));
            }
            if n > 1 {
                let page = page_size();
                let tops: Vec<_> = (1..=n).map(|i| (base + i * slot - page, page)).collect();
                // SAFETY: each top page is ordinary memory of a slot carved just now, above
                // its guard.
                unsafe { mem::populate_many(&tops) };
            }
            (base, n)
        }
        Mechanism::Mprotect => {
            let budget = config().budget;
            if MAPPED.fetch_add(1, Relaxed) >= budget {
                MAPPED.fetch_sub(1, Relaxed);
                return Err(exhausted(&format!(
                    "the budget of {budget} stacks (2 mappings each) is used up"
                )));
            }
            let p = mem::reserve(slot).map_err(|e| {
                MAPPED.fetch_sub(1, Relaxed);
                exhausted(&format!("mapping a {slot}-byte stack failed: {e}"))
            })?;
            // SAFETY: `p` is a fresh mapping of `slot` bytes that nothing uses yet.
            if let Err(e) = unsafe { mem::protect_none(p, GUARD) } {
                // SAFETY: as above; never handed out.
                unsafe { mem::release(p, slot) };
                MAPPED.fetch_sub(1, Relaxed);
                return Err(exhausted(&format!("mprotect of a guard failed: {e}")));
            }
            (p as usize, 1)
        }
    };
    SLOTS.fetch_add(n, Relaxed);
    ALL_SLOTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend((0..n).map(|i| top_g(base + i * slot, slot) as usize));
    Ok((base, n))
}

/// Set once a large slab could not be reserved.
static SCARCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether address space is scarce: an address-space limit (`ulimit -v`), strict overcommit
/// (which counts all of a `MAP_NORESERVE` reservation), or a large slab that failed already.
/// Halving a failed 16 GiB request until one fits would take about half of what is left.
fn constrained() -> bool {
    static LIMITED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    SCARCE.load(Relaxed)
        || *LIMITED.get_or_init(|| {
            mem::address_space_limited()
                || mem::read_proc_usize("/proc/sys/vm/overcommit_memory") == Some(2)
        })
}

/// Gives slots that failed to get their guards back to the slab, if nobody carved after them
/// (else their address space stays unused; no slot is handed out unguarded either way).
fn uncarve(class: usize, slot: usize, base: usize, n: usize) {
    let mut c = classes();
    if let Some(s) = c.0[class].slab.as_mut()
        && s.base + s.next * slot == base + n * slot
    {
        s.next -= n;
    }
}

/// Returns a finished G's slot to the pool (Go's gfput).
pub(crate) fn free(cache: Option<&mut SlotCache>, gp: *mut G) {
    // SAFETY: the G has exited; its slot is ours to pool.
    let class = unsafe { (*gp).class.load(Relaxed) };
    if let Some(cache) = cache.filter(|_| class == 0) {
        cache.push(gp);
        if cache.len() >= GFREE_MAX {
            let keep = GFREE_MAX / 2;
            let now = nanotime();
            let mut c = classes();
            c.0[0]
                .hot
                .extend(cache.drain(keep..).map(|gp| Hot { gp, since: now }));
        }
        return;
    }
    classes().0[class].hot.push_back(Hot {
        gp,
        since: nanotime(),
    });
}

/// Empties a P's cache into the pool (the P is going idle or being retired).
pub(crate) fn flush_p_cache(cache: &mut SlotCache) {
    let now = nanotime();
    let mut c = classes();
    c.0[0]
        .hot
        .extend(cache.drain(..).map(|gp| Hot { gp, since: now }));
}

/// When the oldest unused slot becomes the scavenger's to take (`i64::MAX` if there is none).
pub(crate) fn next_scavenge() -> i64 {
    classes()
        .0
        .iter()
        .filter_map(|k| k.hot.front())
        .map(|h| h.since + SCAVENGE_AFTER_NS)
        .min()
        .unwrap_or(i64::MAX)
}

/// One scavenger step (called by sysmon): moves up to `max` slots that sat unused for ~1 s from
/// `hot` to `cold`, returning their memory. Returns how many were scavenged.
pub(crate) fn scavenge(now: i64, max: usize) -> usize {
    let page = page_size();
    let mut done = 0;
    let nclasses = classes().0.len();
    for i in 0..nclasses {
        let (batch, slot, cold_len) = {
            let mut c = classes();
            let k = &mut c.0[i];
            let mut batch = Vec::new();
            while batch.len() < max - done {
                match k.hot.front() {
                    Some(h) if now - h.since >= SCAVENGE_AFTER_NS => {
                        batch.push(k.hot.pop_front().expect("front exists").gp)
                    }
                    _ => break,
                }
            }
            (batch, k.slot, k.cold.len())
        };
        if batch.is_empty() {
            continue;
        }
        let ranges: Vec<(usize, usize)> = batch
            .iter()
            .enumerate()
            .map(|(j, &gp)| {
                let top = gp as usize + G_AREA;
                let base = top - slot;
                let keep_top = cold_len + j < WARM_KEEP;
                let end = if keep_top { top - page } else { top };
                (base + GUARD, end - (base + GUARD))
            })
            .collect();
        // SAFETY: the slots are out of every free list (in `batch`), so nothing uses them; each
        // range is inside its slot above the guard.
        unsafe { mem::discard_many(&ranges) };
        done += batch.len();
        let mut c = classes();
        let k = &mut c.0[i];
        k.cold.extend(batch);
        if k.hot.len() < k.hot.capacity() / 4 {
            let len = k.hot.len();
            k.hot.shrink_to(len * 2);
        }
        drop(c);
        if done >= max {
            break;
        }
    }
    if done > 0 && done < max {
        // A burst has been fully scavenged: also give back the heap its goroutines' closures
        // used (glibc keeps freed chunks otherwise).
        trim_heap();
    }
    done
}

#[cfg(target_env = "gnu")]
fn trim_heap() {
    // SAFETY: malloc_trim only releases free memory of the allocator's own heaps.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(target_env = "gnu"))]
fn trim_heap() {}

/// Every slot's G ever created (free slots read as IDLE).
pub(crate) fn all_slots() -> Vec<*mut G> {
    let v = ALL_SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    v.iter().map(|&a| a as *mut G).collect()
}

/// Pool contents, for stats and tests: (hot, cold) slots across classes.
pub(crate) fn pooled() -> (usize, usize) {
    let c = classes();
    c.0.iter()
        .fold((0, 0), |(h, k), c| (h + c.hot.len(), k + c.cold.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{DEFAULT_STACK, guard_faults};

    /// Carves a batch and checks every slot: both ends of its guard fault, and (when the batch
    /// took more than one slot and the kernel takes vectored advice) its top page is committed.
    fn check_batch(want: usize, vectored: bool) {
        let slot = slot_size(DEFAULT_STACK);
        let (base, n) = carve(0, slot, want).expect("carve");
        if config().mechanism == Mechanism::GuardMarkers {
            // Fewer only at the end of a slab (other tests carve from the same one).
            let slab_end = classes().0[0]
                .slab
                .as_ref()
                .is_some_and(|s| s.base + s.next * slot == base + n * slot && s.next == s.slots);
            assert!(n == want || slab_end, "carved {n} of {want}");
        }
        let page = page_size();
        for i in 0..n {
            let lo = base + i * slot;
            assert!(guard_faults(lo as *mut u8), "slot {i}: guard's first page");
            assert!(
                guard_faults((lo + GUARD - page) as *mut u8),
                "slot {i}: guard's last page"
            );
            assert!(!guard_faults((lo + GUARD) as *mut u8), "slot {i}: stack");
            if n > 1 && vectored {
                assert!(mem::resident(lo + slot - page), "slot {i}: top page");
            }
        }
    }

    #[test]
    fn idle_processors_carve_ahead_only_during_a_burst_and_up_to_a_cap() {
        let now = 10 * HELP_WINDOW_NS;
        let many = 100 * HELP_LOW;
        let batch = GFREE_MAX / 2;
        assert_eq!(help_size(now, now, 0, many), batch);
        assert_eq!(help_size(now - HELP_WINDOW_NS, now, 0, many), batch);
        // No burst, or one that ended.
        assert_eq!(help_size(0, now, 0, many), 0);
        assert_eq!(help_size(now - HELP_WINDOW_NS - 1, now, 0, many), 0);
        // What is left below the cap, and nothing at it.
        assert_eq!(help_size(now, now, HELP_LOW - 5, many), 5);
        assert_eq!(help_size(now, now, HELP_LOW, many), 0);
        // A few slots made so far: a quarter of them at most.
        assert_eq!(help_size(now, now, 7, 40), 3);
        assert_eq!(help_size(now, now, 10, 40), 0);
        assert_eq!(help_size(now, now, 0, 3), 0);
    }

    #[test]
    fn a_carved_batch_guards_every_slot_and_commits_its_top_pages() {
        init(DEFAULT_STACK);
        // A refusal of the vectored call turns it off; the probe carve finds out.
        check_batch(1, false);
        check_batch(GFREE_MAX / 2, mem::vectored());
        // The fallback: one madvise per guard, pages faulted in on first touch.
        let before = mem::set_vectored(false);
        check_batch(GFREE_MAX / 2, false);
        mem::set_vectored(before);
    }
}
