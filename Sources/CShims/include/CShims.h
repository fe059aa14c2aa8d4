#ifndef FLASHSALE_CSHIMS_H
#define FLASHSALE_CSHIMS_H
// The C the Swift modules need and Swift's Glibc module does not give: one target, built with
// _GNU_SOURCE where it matters (CShims.c), so no symbol is looked up at run time.
#include <stddef.h>
#include <stdint.h>

/// Hints the CPU to start loading the cache line at `p` for writing: lanes call it a few requests
/// ahead so that the random per-organisation state is in cache when its request is decided.
static inline __attribute__((always_inline)) void flashsale_prefetch(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

/// Hints the CPU to start loading the cache line at `p` for reading (data about to be read once).
static inline __attribute__((always_inline)) void flashsale_prefetch_read(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// 1 when this CPU has a CRC-32C instruction that `flashsale_crc32c_hw` uses (x86-64 SSE4.2,
/// AArch64 CRC32 extension), else 0. Decided once at run time, so one binary runs on any CPU.
int flashsale_crc32c_hw_available(void);

/// Continues a CRC-32C (Castagnoli): `crc` is a finished CRC value (0 to start) over earlier
/// bytes, the result covers them and `count` more bytes at `p`. Only call it when
/// `flashsale_crc32c_hw_available()` returned 1.
uint32_t flashsale_crc32c_hw(uint32_t crc, const void *p, size_t count);

/// Starts writing back `length` bytes of `fd` from `offset` without waiting (Linux
/// `sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that a later fsync waits less. Returns 0, or -1 with
/// errno set; elsewhere it does nothing and returns 0.
int flashsale_start_writeback(int fd, int64_t offset, int64_t length);

/// Waits until one of `count` descriptors at `fds` is ready or `timeout_nanos` passed (Linux `ppoll`:
/// a nanosecond time-out, where poll(2) takes milliseconds). `fds` points at `struct pollfd`s. Returns
/// what ppoll returns (-1 with errno set on failure, EINTR included).
int flashsale_poll_nanos(void *fds, unsigned long count, int64_t timeout_nanos);

/// Maps `bytes` of zeroed anonymous memory aligned to 2 MiB and asks the kernel to back it with
/// transparent huge pages (Linux `madvise(MADV_HUGEPAGE)`; a hint: without THP it stays 4 KiB pages).
/// For large tables read at random (one organisation's state per request): a 2 MiB page covers 512
/// times what a 4 KiB one does, so most lookups no longer miss the TLB as well as the cache. Returns
/// NULL on failure; `*mapping` and `*mapping_bytes` receive what `flashsale_unmap` must be given.
void *flashsale_map_huge(size_t bytes, void **mapping, size_t *mapping_bytes);

/// Makes the pages under `bytes` bytes at `p` resident and writable now, keeping their contents (Linux
/// `madvise(MADV_POPULATE_WRITE)`, else a read and write back of one byte per page): memory a run will
/// write is faulted in (and zeroed by the kernel) before its clock starts, not on the hot path. For
/// memory no other thread uses yet.
void flashsale_prefault(void *p, size_t bytes);

/// open(2) with O_DIRECT (and O_CLOEXEC) added to `flags`: transfers go between the caller's
/// buffer and the device, past the page cache, so offsets, lengths and buffer addresses must be
/// multiples of the logical block size (4096 is safe). Returns the descriptor, or -1 with errno set:
/// EINVAL when the file system refuses O_DIRECT, and always EINVAL where there is no O_DIRECT.
int flashsale_open_direct(const char *path, int flags, unsigned int mode);

/// Unmaps what `flashsale_map_huge` mapped.
void flashsale_unmap(void *mapping, size_t mapping_bytes);

#endif
