/*
 * rs_shm.h — the one vocabulary for memory that another thread or process reads or writes concurrently, and
 * the clock. Used by the daemon, the client library, the kernels and the tests alike.
 *
 * Shared-memory words (every field of rs_abi.h, the CQ's completion flags) are plain integer types in the ABI
 * and are touched ONLY through these accessors — never by a plain load or store while another side may be
 * running, and never as C11 _Atomic objects (the ABI is read by both sides from their own mappings, and the
 * layout must not depend on how a compiler lays out _Atomic). Daemon-private concurrent state (run queues,
 * wake lists, parked words) uses C11 _Atomic objects with explicit orders instead; the two never mix on one
 * word.
 *
 * Every acquire or release names its partner in a comment at the call site ("pairs with ... in file.c").
 *
 *   rs_load_acquire(p)       load that orders every later access after it; pairs with a release store
 *   rs_store_release(p, v)   store that orders every earlier access before it
 *   rs_read_once(p)          relaxed load: a whole value, no ordering (counters, hints, single-writer words)
 *   rs_write_once(p, v)      relaxed store
 *   rs_bump_once(p, n)       add n to a word this thread alone writes (relaxed load + relaxed store; readers
 *                            see either value, never a torn one); not an atomic read-modify-write
 *   rs_fence_full()          sequentially consistent fence: the store-then-load order of an eventcount
 *   rs_compiler_barrier()    stops the compiler only (the client's half of an asymmetric fence)
 *   rs_cpu_relax()           pause instruction inside a spin loop
 *   rs_now_ns()              CLOCK_MONOTONIC in nanoseconds (vDSO: no system call)
 */
#ifndef RS_SHM_H
#define RS_SHM_H

#include <stdint.h>
#include <time.h>

#define rs_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define rs_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define rs_read_once(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define rs_write_once(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define rs_bump_once(p, n) rs_write_once((p), rs_read_once(p) + (n))
#define rs_fence_full() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rs_compiler_barrier() __asm__ __volatile__("" ::: "memory")

static inline void rs_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline uint64_t rs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif /* RS_SHM_H */
