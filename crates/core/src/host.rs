//! Facts about this machine that several kinds send to their control
//! planes, read in one place so they all say the same.

/// The kernel's hostname (what `hostname` prints), if there is one.
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Go's name for this architecture (`runtime.GOARCH`), as the Go agents of
/// wrenn and certctl report it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Go's name for this operating system (`runtime.GOOS`).
pub fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// The machine's memory in MiB (0 when /proc/meminfo cannot tell).
pub fn memory_mb() -> i32 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<i64>().ok())
        })
        .map_or(0, |kb| (kb / 1024) as i32)
}

/// CPU cores this process may use.
pub fn cpu_cores() -> i32 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as i32
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hostname_is_the_kernels() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(super::hostname().as_deref(), Some(kernel.trim()));
    }

    #[test]
    fn memory_and_cores_are_this_machines() {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let kb: i64 = meminfo
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(i64::from(super::memory_mb()), kb / 1024);
        assert!(super::cpu_cores() >= 1);
        assert_eq!(super::go_os(), "linux");
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(super::go_arch(), "amd64");
        }
    }
}
