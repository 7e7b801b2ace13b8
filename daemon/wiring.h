/*
 * wiring.h — the wiring role (DESIGN §3, §5, §6): the only consumer of every session's submission ring.
 * See wiring.c.
 */
#ifndef RS_WIRING_H
#define RS_WIRING_H

#include <stdatomic.h>
#include <stdint.h>

struct rs_daemon;
struct rs_session;
struct rs_session_list;
struct rs_thread;

/* W: one round over every session: consume, validate, classify. Returns the work done (0: nothing to do). */
int rs_wiring_round(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list);
/* A folded wiring round of session s alone, if the wiring token is free (taken and put here): what a core
 * lease holder does between its sleeps, so that with folded wiring its session's new submissions are wired
 * during the lease — inside a lease it may touch no other session (per-session quiescence, qsbr.c).
 * Returns the work done (0 also when another thread holds the token). */
int rs_wiring_round_one(struct rs_daemon *d, struct rs_thread *self, struct rs_session *s);
/* W: would a round do anything for this session right now? (the re-check of the wiring sleep, park.c) */
int rs_wiring_session_has_work(struct rs_session *s);
/* The dedicated wiring thread. */
void *rs_wiring_thread_main(void *arg);

/*
 * Folded wiring (DESIGN §3): the wiring role is a token (rs_daemon.wiring_token) any idle scheduler takes for
 * one round, so no CPU is held back and no kernel blocks wiring. Taking it acquires what the previous holder
 * released: the W-only state passes between threads with it.
 */
static inline int rs_wiring_token_take(_Atomic uint32_t *token)
{
	uint32_t free_ = 0;

	/* acquire: pairs with the release in rs_wiring_token_put */
	return !atomic_load_explicit(token, memory_order_relaxed) &&
	       atomic_compare_exchange_strong_explicit(token, &free_, 1, memory_order_acquire, memory_order_relaxed);
}

static inline void rs_wiring_token_put(_Atomic uint32_t *token)
{
	/* release: pairs with the acquire CAS of the next rs_wiring_token_take */
	atomic_store_explicit(token, 0, memory_order_release);
}

#endif /* RS_WIRING_H */
