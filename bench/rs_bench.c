/*
 * rs_bench.c — ringsched's side of the benchmark: runs one bench/graph.h pattern through the daemon (a
 * client in its own process, like any application) and prints one JSON line in the peers' format, or one of
 * the micro measurements (--calibrate, --submit-cost, --roundtrip, --futex-floor).
 *
 *   rs_bench --pattern NAME [--n N] [--width W] [--steps S] [--grain ITERS] [--seed X] [--config NAME] [--hosted]
 *   rs_bench --calibrate | --submit-cost 0|1|4 | --roundtrip hot|idle|load [--n REPS] | --futex-floor
 *
 * Every task is kernel `busy` with scalars (grain, index) and one 1-element i64 view per access of the
 * graph; runs of consecutive IN buffers are one 2-D view (rows x 1, row stride 8 elements) so the fanout
 * sink's 1000 inputs fit the 16-view limit. The independent pattern with grain 0 is `noop` without views.
 * With --hosted the same two kernels run in this process as hosted kernels (rs_kernel_local): the bodies
 * are the daemon's own (kernels/builtin.c's rs_builtin_table, linked in), so hosted vs built-in measures
 * where a task runs — an executor of this process under a core lease, or a scheduler thread of the daemon —
 * and nothing else.
 * Exit status: 0 ok, 1 verification failed or a task failed, 2 usage / setup error.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "graph.h"
#include "ringsched.h"
#include "rs_kernel.h"

#define LINE_U64 8u              /* one 64-byte line per buffer */
#define WAIT_MS 300000           /* bound on any rs_wait_all of the bench */
#define WARMUP_TASKS 20000u
#define SUBMIT_TASKS 200000u
#define SUBMIT_BATCH 64u

static const char *g_config = "default";
/* CLOCK_MONOTONIC at the end of the last timed graph run, reported as end_ns (see bench/peers/peer.h pk_end_ns). */
static uint64_t g_end_ns;
static int g_hosted; /* --hosted */

extern const rs_plugin_table rs_builtin_table; /* kernels/builtin.c */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "rs_bench: %s: %s%s%s\n", what, rc ? rs_strerror(rc) : "", rc ? " — " : "", rs_last_error());
	exit(2);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v in place; returns the value at quantile q (nearest rank). */
static uint64_t quantile(uint64_t *v, size_t n, double q)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* arena_need: bytes the run will rs_alloc; 0 or anything the default 64M arena holds keeps the default. */
static rs_client *connect_or_die(size_t arena_need)
{
	rs_options o;
	rs_client *c;

	memset(&o, 0, sizeof(o)); /* daemon defaults: ring 1024, window 4096, arena 64M (enough for 2^16 lines) */
	if (arena_need > (32u << 20)) /* leave room for the allocator; multiple of 4096 */
		o.arena_bytes = ((uint64_t)arena_need * 2 + 4095) & ~(uint64_t)4095;
	o.name = "rs_bench";
	o.timeout_ms = WAIT_MS;
	c = rs_connect(NULL, &o);
	if (!c)
		die("cannot connect to the daemon ($RINGSCHED_SOCKET)", 0);
	return c;
}

/* The daemon's kernel `name`, or with --hosted the same body registered as a hosted kernel of this process. */
static int kernel_or_die(rs_client *c, const char *name)
{
	int k = -RS_ENOKERNEL;

	if (!g_hosted) {
		k = rs_kernel(c, name);
		if (k < 0) {
			fprintf(stderr,
				"rs_bench: the daemon has no kernel '%s' (%s): this daemon predates the bench kernels; "
				"merge main (built-in 'busy' and view-accepting 'noop')\n",
				name, rs_strerror(k));
			exit(2);
		}
		return k;
	}
	for (uint32_t i = 0; i < rs_builtin_table.n_kernels; i++) {
		const rs_kernel_desc *d = &rs_builtin_table.kernels[i];
		if (strcmp(d->name, name))
			continue;
		k = rs_kernel_local(c, name, d->fn, d->n_views, d->n_scalars);
		if (k < 0) {
			fprintf(stderr, "rs_bench: --hosted: rs_kernel_local(%s): %s %s\n", name, rs_strerror(k),
				rs_last_error());
			exit(2);
		}
		return k;
	}
	fprintf(stderr, "rs_bench: --hosted: no built-in kernel '%s' to host\n", name);
	exit(2);
}

/* ---- graph runs ---- */

struct gctx {
	rs_client *c;
	int k_busy, k_noop;
	uint64_t *bufs; /* session memory: buffer b at bufs + b * LINE_U64 */
};

static rs_view line_view(struct gctx *g, uint32_t b, uint32_t rows)
{
	if (rows == 1)
		return rs_view_1d(g->bufs + (size_t)b * LINE_U64, RS_I64, 1);
	return rs_view_2d(g->bufs + (size_t)b * LINE_U64, RS_I64, rows, 1, LINE_U64);
}

/*
 * The graph is expanded into compact records before the clock starts (as the peers do, bench/peers/peer.h):
 * the timed loop pays for building the rs_args and rs_submit, not for bg_next. A record is one view: a run
 * of `rows` consecutive buffers from `buf` with one mode (rows > 1 only for IN).
 */
struct vrec {
	uint32_t buf, rows;
	uint8_t mode;
};

struct grecs {
	uint64_t ntasks, grain;
	uint32_t *nv;      /* views of task i */
	uint64_t *off;     /* first record of task i in v */
	struct vrec *v;
	uint64_t nvrec, cap;
};

static void expand(const struct bg_params *p, struct bg_task *t, struct grecs *g)
{
	struct bg_iter it;

	g->ntasks = bg_tasks(p);
	g->grain = p->grain;
	g->nv = malloc(g->ntasks * sizeof(*g->nv));
	g->off = malloc(g->ntasks * sizeof(*g->off));
	g->cap = 1024;
	g->nvrec = 0;
	g->v = malloc(g->cap * sizeof(*g->v));
	if (!g->nv || !g->off || !g->v)
		die("out of memory", 0);
	bg_begin(&it, p);
	while (bg_next(&it, t)) {
		uint32_t nv = 0;
		g->off[t->index] = g->nvrec;
		for (uint32_t k = 0; k < t->n;) {
			uint32_t b = t->acc[k].buf, rows = 1;
			uint8_t m = t->acc[k].mode;
			if (m == BG_IN)
				while (k + rows < t->n && t->acc[k + rows].mode == BG_IN && t->acc[k + rows].buf == b + rows)
					rows++;
			if (nv == 16) {
				fprintf(stderr, "rs_bench: task %" PRIu64 " needs more than 16 views\n", t->index);
				exit(2);
			}
			if (g->nvrec == g->cap) {
				g->cap *= 2;
				g->v = realloc(g->v, g->cap * sizeof(*g->v));
				if (!g->v)
					die("out of memory", 0);
			}
			g->v[g->nvrec++] = (struct vrec){ .buf = b, .rows = rows, .mode = m };
			nv++;
			k += rows;
		}
		g->nv[t->index] = nv;
	}
}

static void grecs_free(struct grecs *g)
{
	free(g->nv);
	free(g->off);
	free(g->v);
}

static int64_t submit_rec(struct gctx *g, const struct grecs *r, uint64_t i)
{
	rs_arg args[16 + 2];
	unsigned na = 0;
	uint32_t nv = r->nv[i];
	const struct vrec *v = &r->v[r->off[i]];

	if (nv == 0 && r->grain == 0)
		return rs_submit(g->c, g->k_noop, NULL, 0);
	for (uint32_t k = 0; k < nv; k++) {
		rs_view vw = line_view(g, v[k].buf, v[k].rows);
		args[na++] = v[k].mode == BG_IN ? rs_in(vw) : v[k].mode == BG_OUT ? rs_out(vw) : rs_inout(vw);
	}
	args[na++] = rs_u64(r->grain);
	args[na++] = rs_u64(i);
	return rs_submit(g->c, g->k_busy, args, na);
}

/* Submits the whole graph and waits; returns wall ns, or exits on a failure. */
static uint64_t run_graph(struct gctx *g, const struct bg_params *p, struct bg_task *t)
{
	struct grecs r;
	uint64_t t0, t1;
	int rc;

	expand(p, t, &r);
	t0 = now_ns();
	for (uint64_t i = 0; i < r.ntasks; i++) {
		int64_t s = submit_rec(g, &r, i);
		if (s < 0) {
			fprintf(stderr, "rs_bench: rs_submit of task %" PRIu64 ": %s %s\n", i, rs_strerror((int)s),
				rs_last_error());
			exit(1);
		}
	}
	rc = rs_wait_all(g->c, WAIT_MS);
	t1 = g_end_ns = now_ns();
	if (rc) {
		fprintf(stderr, "rs_bench: rs_wait_all: %s %s\n", rs_strerror(rc), rs_last_error());
		exit(1);
	}
	grecs_free(&r);
	return t1 - t0;
}

/* The warm-up graph: same pattern, about WARMUP_TASKS tasks, empty bodies (warms rings, pages, threads). */
static struct bg_params warmup_params(const struct bg_params *p)
{
	struct bg_params w = *p;

	w.grain = 0;
	switch (p->pattern) {
	case BG_INDEPENDENT:
	case BG_CHAIN:
	case BG_RANDOM: w.n = p->n < WARMUP_TASKS ? p->n : WARMUP_TASKS; break;
	case BG_STENCIL: {
		uint32_t s = WARMUP_TASKS / (p->width ? p->width : 1);
		w.steps = s < 1 ? 1 : s < p->steps ? s : p->steps;
		break;
	}
	case BG_FANOUT: {
		uint32_t s = WARMUP_TASKS / (p->width + 2);
		w.steps = s < 1 ? 1 : s < p->steps ? s : p->steps;
		break;
	}
	case BG_TREE: w.width = p->width < 13 ? p->width : 13; break;
	}
	return w;
}

static int run_pattern(const struct bg_params *p)
{
	struct gctx g;
	struct bg_task *t = malloc(sizeof(*t));
	uint32_t nb = bg_buffers(p);
	uint64_t *ref = calloc(nb ? nb : 1, sizeof(uint64_t));
	uint64_t tasks = bg_tasks(p), wall;
	struct bg_params w = warmup_params(p);
	rs_session_stats st = { 0 };
	int verified = 1;

	if (!t || !ref)
		die("out of memory", 0);
	g.c = connect_or_die((size_t)nb * LINE_U64 * sizeof(uint64_t));
	g.k_noop = kernel_or_die(g.c, "noop");
	g.k_busy = (p->pattern == BG_INDEPENDENT && p->grain == 0) ? -1 : kernel_or_die(g.c, "busy");
	g.bufs = NULL;
	if (nb) {
		g.bufs = rs_alloc(g.c, (size_t)nb * LINE_U64 * sizeof(uint64_t));
		if (!g.bufs)
			die("rs_alloc of the buffers", 0);
	}
	if (nb)
		memset(g.bufs, 0, (size_t)nb * LINE_U64 * sizeof(uint64_t));
	(void)run_graph(&g, &w, t);
	if (nb) /* nothing in flight after rs_wait_all: the timed run starts from zeroed buffers */
		memset(g.bufs, 0, (size_t)nb * LINE_U64 * sizeof(uint64_t));
	wall = run_graph(&g, p, t);
	if (bg_reference(p, ref))
		die("out of memory", 0);
	for (uint32_t b = 0; b < nb; b++)
		if (g.bufs[(size_t)b * LINE_U64] != ref[b]) {
			if (verified)
				fprintf(stderr, "rs_bench: %s: buffer %u is %" PRIu64 ", reference %" PRIu64 "\n",
					bg_pattern_name(p->pattern), b, g.bufs[(size_t)b * LINE_U64], ref[b]);
			verified = 0;
		}
	rs_session_stats_get(g.c, &st);
	printf("{\"runtime\":\"ringsched\",\"config\":\"%s\",\"pattern\":\"%s\",\"width\":%u,\"steps\":%u,\"n\":%" PRIu64
	       ",\"grain\":%" PRIu64 ",\"tasks\":%" PRIu64 ",\"wall_ns\":%" PRIu64 ",\"end_ns\":%" PRIu64
	       ",\"ns_per_task\":%.1f,\"threads\":%u,"
	       "\"verified\":%s}\n",
	       g_config, bg_pattern_name(p->pattern),
	       (p->pattern == BG_STENCIL || p->pattern == BG_FANOUT || p->pattern == BG_TREE) ? p->width : 0,
	       (p->pattern == BG_STENCIL || p->pattern == BG_FANOUT) ? p->steps : 0,
	       (p->pattern == BG_INDEPENDENT || p->pattern == BG_CHAIN || p->pattern == BG_RANDOM) ? p->n : 0, p->grain,
	       tasks, wall, g_end_ns, (double)wall / (double)(tasks ? tasks : 1), st.scheduler_threads, verified ? "true" : "false");
	fflush(stdout);
	rs_disconnect(g.c);
	free(t);
	free(ref);
	return verified ? 0 : 1;
}

/* ---- --calibrate ---- */

static double calibrate(int reps, uint64_t ms)
{
	uint64_t iters = 1000, v[16];
	volatile uint64_t sink = 0;

	for (;;) { /* find an iteration count of about `ms` milliseconds */
		uint64_t t0 = now_ns();
		sink += bg_busy(iters, 1);
		uint64_t dt = now_ns() - t0;
		if (dt >= ms * 1000000ull / 4)
			break;
		iters *= 2;
	}
	{
		uint64_t t0 = now_ns();
		sink += bg_busy(iters, 1);
		uint64_t dt = now_ns() - t0;
		iters = (uint64_t)((double)iters * (double)(ms * 1000000ull) / (double)(dt ? dt : 1));
	}
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = now_ns();
		sink += bg_busy(iters, (uint64_t)r);
		uint64_t dt = now_ns() - t0;
		/* iterations per µs scaled by 1000 to keep precision in an integer */
		v[r] = (uint64_t)((double)iters * 1000.0 * 1000.0 / (double)(dt ? dt : 1));
	}
	(void)sink;
	return (double)quantile(v, (size_t)reps, 0.5) / 1000.0;
}

/* ---- --submit-cost ---- */

static int submit_cost(int views)
{
	struct gctx g;
	uint64_t total = 0;
	const uint32_t W = 64;
	const char *name = views == 0 ? "submit_0views" : views == 1 ? "submit_1view" : "submit_4views";
	rs_arg args[6];
	int k, rc;

	g.c = connect_or_die(0);
	k = views == 0 ? kernel_or_die(g.c, "noop") : kernel_or_die(g.c, "busy");
	g.bufs = rs_alloc(g.c, 2 * W * LINE_U64 * sizeof(uint64_t));
	if (!g.bufs)
		die("rs_alloc", 0);
	memset(g.bufs, 0, 2 * W * LINE_U64 * sizeof(uint64_t));
	for (int pass = 0; pass < 2; pass++) { /* pass 0: untimed warm-up of WARMUP_TASKS */
		uint64_t n = pass == 0 ? WARMUP_TASKS : SUBMIT_TASKS;
		for (uint64_t i = 0; i < n; i += SUBMIT_BATCH) {
			uint64_t t0 = now_ns();
			for (uint64_t j = i; j < i + SUBMIT_BATCH && j < n; j++) {
				unsigned na = 0;
				int64_t s;
				if (views == 1) {
					args[na++] = rs_inout(line_view(&g, 0, 1));
				} else if (views == 4) {
					uint32_t step = (uint32_t)(j / W), col = (uint32_t)(j % W);
					args[na++] = rs_out(line_view(&g, (step % 2) * W + col, 1));
					for (int d = -1; d <= 1; d++)
						args[na++] = rs_in(line_view(&g, ((step + 1) % 2) * W + (col + W + (uint32_t)d) % W, 1));
				}
				if (views) {
					args[na++] = rs_u64(0);
					args[na++] = rs_u64(j);
				}
				s = rs_submit(g.c, k, na ? args : NULL, na);
				if (s < 0) {
					fprintf(stderr, "rs_bench: rs_submit: %s %s\n", rs_strerror((int)s), rs_last_error());
					exit(1);
				}
			}
			if (pass == 1)
				total += now_ns() - t0;
		}
		rc = rs_wait_all(g.c, WAIT_MS);
		if (rc) {
			fprintf(stderr, "rs_bench: rs_wait_all: %s\n", rs_strerror(rc));
			exit(1);
		}
	}
	printf("{\"runtime\":\"ringsched\",\"config\":\"%s\",\"pattern\":\"%s\",\"tasks\":%u,\"ns_per_task\":%.1f,"
	       "\"verified\":true}\n",
	       g_config, name, SUBMIT_TASKS, (double)total / SUBMIT_TASKS);
	rs_disconnect(g.c);
	return 0;
}

/* ---- --roundtrip ---- */

/* Child of --roundtrip load: its own session running ~50 µs `busy` tasks continuously until killed. */
static void load_child(int ready_fd, uint64_t iters)
{
	rs_client *c = connect_or_die(0);
	int k = kernel_or_die(c, "busy");
	rs_arg args[2] = { rs_u64(iters), rs_u64(0) };
	char x = 1;

	for (uint64_t i = 0;; i++) {
		int64_t s = rs_submit(c, k, args, 2);
		if (s < 0)
			_exit(1);
		if (i == 8 && write(ready_fd, &x, 1) != 1)
			_exit(1);
		if (s > 16 && rs_wait(c, s - 16, WAIT_MS) != 0) /* keep ~16 in flight */
			_exit(1);
	}
}

static int roundtrip(const char *mode, uint64_t reps_idle, int n_given)
{
	int hot = !strcmp(mode, "hot"), idle = !strcmp(mode, "idle"), load = !strcmp(mode, "load");
	uint64_t reps = idle ? (n_given ? reps_idle : 10) : 2000, *v;
	pid_t child = -1;
	rs_client *c;
	int k;

	if (!hot && !idle && !load) {
		fprintf(stderr, "rs_bench: --roundtrip hot|idle|load\n");
		return 2;
	}
	if (load) {
		double ipu = calibrate(3, 20);
		int fds[2];
		char x;
		if (pipe(fds))
			die("pipe", -errno);
		child = fork();
		if (child < 0)
			die("fork", -errno);
		if (child == 0) {
			close(fds[0]);
			load_child(fds[1], (uint64_t)(ipu * 50.0));
		}
		close(fds[1]);
		if (read(fds[0], &x, 1) != 1) {
			fprintf(stderr, "rs_bench: the load child failed to start\n");
			waitpid(child, NULL, 0);
			return 2;
		}
		close(fds[0]);
	}
	v = calloc(reps, sizeof(*v));
	c = connect_or_die(0);
	k = kernel_or_die(c, "noop");
	for (int w = 0; w < 200; w++) { /* warm-up */
		int64_t s = rs_submit(c, k, NULL, 0);
		if (s < 0 || rs_wait(c, s, WAIT_MS))
			die("warm-up round trip", s < 0 ? (int)s : 0);
	}
	for (uint64_t r = 0; r < reps; r++) {
		if (idle)
			sleep(1);
		uint64_t t0 = now_ns();
		int64_t s = rs_submit(c, k, NULL, 0);
		int rc = s < 0 ? (int)s : rs_wait(c, s, WAIT_MS);
		v[r] = now_ns() - t0;
		if (rc) {
			fprintf(stderr, "rs_bench: round trip: %s\n", rs_strerror(rc));
			if (child > 0)
				kill(child, SIGKILL), waitpid(child, NULL, 0);
			exit(1);
		}
	}
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	{
		uint64_t med = quantile(v, reps, 0.5), p90 = quantile(v, reps, 0.9), mn = v[0];
		printf("{\"runtime\":\"ringsched\",\"config\":\"%s\",\"pattern\":\"roundtrip_%s\",\"tasks\":%" PRIu64
		       ",\"ns_per_task\":%" PRIu64 ",\"p90_ns\":%" PRIu64 ",\"min_ns\":%" PRIu64 ",\"verified\":true}\n",
		       g_config, mode, reps, med, p90, mn);
	}
	rs_disconnect(c);
	free(v);
	return 0;
}

/* ---- --futex-floor ---- */

#define FUTEX_REPS 2000
#define FUTEX_GAP_NS 50000ull /* the waker waits this long first, so the waiter is surely asleep */

static _Atomic uint32_t fx_word;
static _Atomic uint64_t fx_stamp;
static uint64_t fx_lat[2][FUTEX_REPS];

static void fx_wait_for(uint32_t want)
{
	uint32_t v;

	while ((v = atomic_load(&fx_word)) != want)
		syscall(SYS_futex, &fx_word, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void fx_wake_with(uint32_t val)
{
	uint64_t until = now_ns() + FUTEX_GAP_NS;

	while (now_ns() < until)
		;
	atomic_store(&fx_stamp, now_ns());
	atomic_store(&fx_word, val);
	syscall(SYS_futex, &fx_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static int fx_ncpu;

/* Side 1: waits for odd values, answers with the next even one. */
static void *fx_thread(void *arg)
{
	(void)arg;
	if (fx_ncpu >= 2)
		pin(1);
	for (uint32_t r = 0; r < FUTEX_REPS; r++) {
		fx_wait_for(2 * r + 1);
		fx_lat[1][r] = now_ns() - atomic_load(&fx_stamp);
		fx_wake_with(2 * r + 2);
	}
	return NULL;
}

static int futex_floor(void)
{
	cpu_set_t s;
	pthread_t th;
	uint64_t all[2 * FUTEX_REPS];

	sched_getaffinity(0, sizeof(s), &s);
	fx_ncpu = CPU_COUNT(&s);
	if (fx_ncpu >= 2)
		pin(0);
	pthread_create(&th, NULL, fx_thread, NULL);
	for (uint32_t r = 0; r < FUTEX_REPS; r++) {
		fx_wake_with(2 * r + 1);
		fx_wait_for(2 * r + 2);
		fx_lat[0][r] = now_ns() - atomic_load(&fx_stamp);
	}
	pthread_join(th, NULL);
	memcpy(all, fx_lat[0], sizeof(fx_lat[0]));
	memcpy(all + FUTEX_REPS, fx_lat[1], sizeof(fx_lat[1]));
	{
		uint64_t med = quantile(all, 2 * FUTEX_REPS, 0.5), p90 = quantile(all, 2 * FUTEX_REPS, 0.9);
		printf("{\"runtime\":\"ringsched\",\"config\":\"%s\",\"pattern\":\"futex_wake_floor\",\"tasks\":%d,"
		       "\"ns_per_task\":%" PRIu64 ",\"p90_ns\":%" PRIu64 ",\"min_ns\":%" PRIu64 ",\"cpus_pinned\":%s,"
		       "\"verified\":true}\n",
		       g_config, 2 * FUTEX_REPS, med, p90, all[0], fx_ncpu >= 2 ? "true" : "false");
	}
	return 0;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: rs_bench --pattern NAME [--n N] [--width W] [--steps S] [--grain ITERS] [--seed X] [--config NAME]\n"
		"                [--hosted]\n"
		"       rs_bench --calibrate | --submit-cost 0|1|4 | --roundtrip hot|idle|load [--n REPS] | --futex-floor\n"
		"patterns: independent chain stencil fanout tree random\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bg_params p = { .pattern = BG_INDEPENDENT, .n = 200000, .width = 8, .steps = 2000, .grain = 0, .seed = 1 };
	int have_pattern = 0, width_given = 0, n_given = 0, submit_views = -1, do_cal = 0, do_fx = 0;
	const char *rt = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDVAL()                                                                                                        \
	do {                                                                                                             \
		if (!val)                                                                                                \
			usage();                                                                                         \
		i++;                                                                                                     \
	} while (0)
		if (!strcmp(a, "--pattern")) {
			NEEDVAL();
			int pt = bg_pattern_parse(val);
			if (pt < 0)
				usage();
			p.pattern = (enum bg_pattern)pt;
			have_pattern = 1;
		} else if (!strcmp(a, "--n")) {
			NEEDVAL();
			p.n = strtoull(val, NULL, 0);
			n_given = 1;
		} else if (!strcmp(a, "--width")) {
			NEEDVAL();
			p.width = (uint32_t)strtoul(val, NULL, 0);
			width_given = 1;
		} else if (!strcmp(a, "--steps")) {
			NEEDVAL();
			p.steps = (uint32_t)strtoul(val, NULL, 0);
		} else if (!strcmp(a, "--grain")) {
			NEEDVAL();
			p.grain = strtoull(val, NULL, 0);
		} else if (!strcmp(a, "--seed")) {
			NEEDVAL();
			p.seed = strtoull(val, NULL, 0);
		} else if (!strcmp(a, "--config")) {
			NEEDVAL();
			g_config = val;
		} else if (!strcmp(a, "--hosted")) {
			g_hosted = 1;
		} else if (!strcmp(a, "--calibrate")) {
			do_cal = 1;
		} else if (!strcmp(a, "--submit-cost")) {
			NEEDVAL();
			submit_views = atoi(val);
			if (submit_views != 0 && submit_views != 1 && submit_views != 4)
				usage();
		} else if (!strcmp(a, "--roundtrip")) {
			NEEDVAL();
			rt = val;
		} else if (!strcmp(a, "--futex-floor")) {
			do_fx = 1;
		} else {
			usage();
		}
	}
	if (do_cal) {
		printf("{\"iters_per_us\": %.3f}\n", calibrate(7, 50));
		return 0;
	}
	if (do_fx)
		return futex_floor();
	if (submit_views >= 0)
		return submit_cost(submit_views);
	if (rt)
		return roundtrip(rt, p.n, n_given);
	if (!have_pattern)
		usage();
	if (p.pattern == BG_TREE && !width_given)
		p.width = 8;
	if (p.pattern == BG_TREE && p.width > 20) {
		fprintf(stderr, "rs_bench: tree depth at most 20\n");
		return 2;
	}
	if (p.pattern == BG_FANOUT && p.width + 1 > BG_MAX_ACCESS) {
		fprintf(stderr, "rs_bench: fanout width at most %u\n", BG_MAX_ACCESS - 1);
		return 2;
	}
	if ((p.pattern == BG_STENCIL || p.pattern == BG_FANOUT) && (p.width == 0 || p.steps == 0))
		usage();
	return run_pattern(&p);
}
