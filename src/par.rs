//! Data parallelism without a dependency: scoped threads over a slice.

/// Stack of each worker thread.
const WORKER_STACK: usize = 16 << 20;

/// `f` over `items` on all cores, results in input order. Threads take the next item as they
/// finish the last, so one slow file does not hold up a fixed share of the work.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 || items.len() < 8 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                // As deep as the main thread: parsing and walking documents nested up to the
                // loader's depth limit recurse (only the pages touched are allocated).
                let worker = std::thread::Builder::new().stack_size(WORKER_STACK);
                worker.spawn_scoped(scope, || {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect::<std::io::Result<Vec<_>>>()
            .expect("cannot start a worker thread");
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}
