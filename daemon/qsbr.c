/*
 * qsbr.c — the published session list and quiescent-state based reclamation (DESIGN §6 "teardown").
 *
 * Owns d->sessions, d->qs_epoch, d->retired_lists and every thread's qs word. The main thread publishes an
 * immutable snapshot of the live sessions (build a new array, store-release it); worker threads load it with
 * acquire and use it without locks. Between tasks a worker announces a quiescent point by storing the current
 * epoch in its qs word; before it sleeps it goes offline (qs = 0). The main thread advances the epoch with
 * each publication and frees an old list — or a session it unlinked (control.c) — only once every thread is
 * offline or has announced an epoch at or after the one of the unlink: no worker can still hold a pointer
 * into it. The main thread never blocks on this: it polls from a timer.
 *
 * Per session, not global: a scheduler inside a batch touches only the batch's session (scheduler.c
 * run_batch announces it in run_start_ns/run_session), so it holds up the freeing of that session alone —
 * a long kernel of one session does not delay freeing every other dead session, nor old lists. A
 * quarantined thread (stuck.c) stays "inside its batch" until it leaves, so only its own session waits for
 * it, possibly for the daemon's lifetime.
 */
#include <errno.h>
#include <stdlib.h>

#include "daemon.h"
#include "park.h"
#include "qsbr.h"
#include "threads.h"

/* A session list unlinked by a publication, freed once every worker passed a quiescent point since. */
struct rs_retired_list {
	struct rs_session_list *list;
	uint64_t epoch;
	struct rs_retired_list *next;
};

int rs_qsbr_init(struct rs_daemon *d)
{
	struct rs_session_list *empty = calloc(1, sizeof(*empty));

	if (!empty)
		return -ENOMEM;
	atomic_init(&d->sessions, empty);
	return 0;
}

void rs_qsbr_destroy(struct rs_daemon *d)
{
	rs_daemon_reap_lists(d, 1);
	free(atomic_load(&d->sessions));
	atomic_store(&d->sessions, NULL);
}

void rs_qs_online(struct rs_thread *self)
{
	/* seq_cst both: the main thread's epoch increment and its scan of the qs words must not be reordered
	 * with our later loads of the session list (pairs with the fetch_add in rs_daemon_publish_sessions
	 * and the acquire loads in rs_daemon_quiescent_since) */
	atomic_store_explicit(&self->qs, atomic_load_explicit(&self->d->qs_epoch, memory_order_seq_cst),
			      memory_order_seq_cst);
}

void rs_qs_offline(struct rs_thread *self)
{
	/* release: every use of session pointers before it is done; pairs with the acquire load in
	 * rs_daemon_quiescent_since */
	atomic_store_explicit(&self->qs, 0, memory_order_release);
}

/* Thread t holds no pointer into what was unlinked at epoch (and belongs to session sid, 0 = to none). */
static int thread_quiescent(struct rs_thread *t, uint64_t epoch, uint64_t sid)
{
	/* seq_cst loads, all three: ordered after our epoch increment and before the thread's batch-end exchange
	 * and its next rs_qs_online, so a thread seen inside a batch reads the new epoch when it leaves it */
	uint64_t q = atomic_load_explicit(&t->qs, memory_order_seq_cst); /* pairs with rs_qs_online/offline */
	if (q == 0 || q >= epoch)
		return 1;
	/* inside one batch from the first load to the second (start times are unique), of another session:
	 * acquire pairs with the release store at the batch's first task (scheduler.c run_batch) */
	uint64_t start = atomic_load_explicit(&t->run_start_ns, memory_order_seq_cst);
	if (!start)
		return 0;
	uint64_t in = atomic_load_explicit(&t->run_session, memory_order_relaxed);
	return atomic_load_explicit(&t->run_start_ns, memory_order_seq_cst) == start && in != sid;
}

int rs_daemon_quiescent_since(struct rs_daemon *d, uint64_t epoch, uint64_t session_id)
{
	for (uint32_t i = 0; i < d->n_slots; i++)
		if (!thread_quiescent(&d->threads[i], epoch, session_id))
			return 0;
	return 1;
}

void rs_daemon_reap_lists(struct rs_daemon *d, int force)
{
	struct rs_retired_list **pp = &d->retired_lists;

	while (*pp) {
		struct rs_retired_list *o = *pp;
		if (force || rs_daemon_quiescent_since(d, o->epoch, 0)) {
			*pp = o->next;
			free(o->list);
			free(o);
		} else {
			pp = &o->next;
		}
	}
}

int rs_daemon_publish_sessions(struct rs_daemon *d, struct rs_session *add, struct rs_session *remove)
{
	struct rs_session_list *old = atomic_load_explicit(&d->sessions, memory_order_relaxed); /* M's own */
	uint32_t n = old->n + (add ? 1 : 0);
	struct rs_session_list *nl = malloc(sizeof(*nl) + n * sizeof(nl->s[0]));
	struct rs_retired_list *o = malloc(sizeof(*o));

	if (!nl || !o) {
		free(nl);
		free(o);
		return -ENOMEM;
	}
	nl->n = 0;
	for (uint32_t i = 0; i < old->n; i++)
		if (old->s[i] != remove)
			nl->s[nl->n++] = old->s[i];
	if (add)
		nl->s[nl->n++] = add;
	/* pairs with the workers' acquire loads of d->sessions (scheduler.c, wiring.c, park.c) */
	atomic_store_explicit(&d->sessions, nl, memory_order_release);
	o->list = old;
	o->epoch = atomic_fetch_add_explicit(&d->qs_epoch, 1, memory_order_seq_cst) + 1;
	o->next = d->retired_lists;
	d->retired_lists = o;
	rs_wake_wiring_for_new_list(d);
	return 0;
}
