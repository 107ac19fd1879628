//! A counter bumped from many threads without atomic read-modify-writes: each thread owns a
//! cell it alone writes (a plain load and store), and reading sums the cells.
//!
//! On the breaker's hottest path (a success in a healthy window) this is the only write.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_utils::CachePadded;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One thread's count, on its own cache line so threads do not slow each other down.
type Cell = Arc<CachePadded<AtomicU64>>;

thread_local! {
    /// This thread's cells, by tally id.
    static CELLS: RefCell<Vec<(u64, Cell)>> = const { RefCell::new(Vec::new()) };
}

/// A sum of per-thread cells.
#[derive(Debug)]
pub(crate) struct Tally {
    id: u64,
    cells: Mutex<Vec<Cell>>,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Tally {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            cells: Mutex::new(Vec::new()),
        }
    }

    #[inline]
    pub(crate) fn bump(&self) {
        let bumped = CELLS
            .try_with(|cells| {
                let mut cells = cells.borrow_mut();
                if let Some((_, cell)) = cells.iter().find(|(id, _)| *id == self.id) {
                    // Only this thread writes this cell: no read-modify-write needed.
                    cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                    return;
                }
                // Cells of tallies that no longer exist are dropped as new ones come.
                cells.retain(|(_, cell)| Arc::strong_count(cell) > 1);
                let cell: Cell = Arc::new(CachePadded::new(AtomicU64::new(1)));
                self.cells
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Arc::clone(&cell));
                cells.push((self.id, cell));
            })
            .is_ok();
        if !bumped {
            // The thread is exiting: its storage is gone; count in a shared cell.
            let cell: Cell = Arc::new(CachePadded::new(AtomicU64::new(1)));
            self.cells
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(cell);
        }
    }

    pub(crate) fn sum(&self) -> u64 {
        self.cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_every_threads_bumps() {
        let tally = Arc::new(Tally::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let t = Arc::clone(&tally);
                std::thread::spawn(move || (0..1000).for_each(|_| t.bump()))
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        tally.bump();
        assert_eq!(tally.sum(), 4001);
    }
}
