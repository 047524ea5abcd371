//! CPU time and memory of a process, read from `/proc`.
//!
//! CPU comes from `/proc/PID/task/*/schedstat` (nanoseconds of run time per
//! thread) rather than `/proc/PID/stat`, whose 10 ms ticks are too coarse for
//! windows of a few seconds. Threads that exit inside a window are missed, which
//! the servers measured here (fixed worker pools) do not do.

use std::path::PathBuf;
use std::time::Instant;

/// A process to watch: `None` is this process.
#[derive(Debug, Clone, Copy)]
pub struct Proc(pub Option<u32>);

impl Proc {
    fn dir(&self) -> PathBuf {
        match self.0 {
            Some(pid) => PathBuf::from(format!("/proc/{pid}")),
            None => PathBuf::from("/proc/self"),
        }
    }

    /// Total CPU time of all the process's threads so far, in nanoseconds; `None`
    /// if the process is gone or `/proc` is unreadable.
    pub fn cpu_ns(&self) -> Option<u64> {
        let mut total = 0u64;
        for task in std::fs::read_dir(self.dir().join("task")).ok()? {
            let Ok(task) = task else { continue };
            let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            total += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
        Some(total)
    }

    /// A field of `/proc/PID/status` in kB (`VmRSS`, `VmHWM`).
    pub fn status_kb(&self, field: &str) -> Option<u64> {
        let s = std::fs::read_to_string(self.dir().join("status")).ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// Resident set size now, in kB.
    pub fn rss_kb(&self) -> Option<u64> {
        self.status_kb("VmRSS")
    }

    /// Peak resident set size, in kB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        self.status_kb("VmHWM")
    }
}

/// CPU use of one process over a window.
#[derive(Debug, Clone, Copy)]
pub struct CpuWindow {
    proc_: Proc,
    start_ns: Option<u64>,
    start: Instant,
}

/// What a window measured.
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    /// CPU time used in the window, in nanoseconds.
    pub cpu_ns: u64,
    /// Percent of one core over the window.
    pub pct: f64,
}

impl CpuWindow {
    /// Starts measuring `p`.
    pub fn start(p: Proc) -> CpuWindow {
        CpuWindow {
            proc_: p,
            start_ns: p.cpu_ns(),
            start: Instant::now(),
        }
    }

    /// CPU used since [`start`](Self::start); `None` if it could not be read.
    pub fn stop(&self) -> Option<CpuUse> {
        let end = self.proc_.cpu_ns()?;
        let cpu_ns = end.saturating_sub(self.start_ns?);
        let wall = self.start.elapsed().as_nanos().max(1) as f64;
        Some(CpuUse {
            cpu_ns,
            pct: cpu_ns as f64 / wall * 100.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_readable_and_busy_work_shows() {
        let me = Proc(None);
        assert!(me.rss_kb().unwrap() > 0);
        assert!(me.peak_rss_kb().unwrap() >= me.rss_kb().unwrap() / 2);
        let w = CpuWindow::start(me);
        let start_ns = me.cpu_ns().unwrap();
        // Spin until this process has run 20 ms more (wall time varies with load).
        let t = Instant::now();
        let mut x = 0u64;
        while me.cpu_ns().unwrap() < start_ns + 20_000_000 && t.elapsed().as_secs() < 10 {
            for _ in 0..10_000 {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
        }
        std::hint::black_box(x);
        let used = w.stop().unwrap();
        assert!(used.cpu_ns >= 20_000_000, "{used:?}");
        assert!(used.pct > 0.0);
    }

    #[test]
    fn a_missing_process_reads_as_none() {
        assert!(Proc(Some(u32::MAX - 1)).cpu_ns().is_none());
        assert!(Proc(Some(u32::MAX - 1)).rss_kb().is_none());
    }
}
