#ifndef FLASHSALE_CPREFETCH_H
#define FLASHSALE_CPREFETCH_H
/// Hints the CPU to start loading the cache line at `p` for writing: lanes call it a few requests
/// ahead so that the random per-organisation state is in cache when its request is decided.
static inline __attribute__((always_inline)) void flashsale_prefetch(const void *p) {
    __builtin_prefetch(p, 1, 3);
}
#endif
