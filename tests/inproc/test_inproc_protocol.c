/*
 * test_inproc_protocol.c — the daemon core and the client library in ONE process (DESIGN §8), so that
 * ThreadSanitizer sees both sides of every ring-protocol ordering: tail publication and need_wakeup/doorbell,
 * completion flags and the client's wait line, sq_head/ack window reuse, watermark batching, wake lists,
 * session teardown while tasks are in flight, and core leases (client-hosted kernels: the run ring, the
 * executor's and the lease holder's futex sleeps, the completion ring, argument records reused per window).
 *
 * The daemon runs exactly as ringschedd does (rs_daemon + rs_server on a private socket, its libevent loop on
 * a thread of its own); client threads use the public API. Every scenario checks results exactly against a
 * sequential oracle computed with the same float operations.
 *
 * Configurations: 1 scheduler with folded wiring, 2 schedulers with a dedicated wiring thread, 4 schedulers
 * (more threads than CPUs) with a dedicated wiring thread.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "log.h"
#include "threads.h"
#include "ringsched.h"
#include "rs_kernel.h"

/* Failed CHECKs, counted from any client thread; a failed check does not stop its scenario, so one run
 * reports every broken ordering (tests/check.h). Relaxed: a count with no data riding on it, read by main
 * only after pthread_join has ordered every thread's increments before the read. */
static atomic_int failures;
#define CHECK_FAILED() atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed)
#include "tests/check.h"

static int sanitized(void)
{
	return getenv("RS_SANITIZER") && *getenv("RS_SANITIZER");
}

/* ---------------------------------------------------------------- daemon in a thread */

struct harness {
	struct rs_daemon d;
	struct rs_server *srv;
	pthread_t loop;
	char sock[108];
};

static void *loop_main(void *arg)
{
	struct harness *h = arg;
	rs_server_run(h->srv);
	return NULL;
}

/* The test probes plugin (the `fail` kernel of failure_propagation, tests/plugins/probes.c), as a config's
 * kernels.plugins would list it: BUILD/tests/plugins/probes.so, found from BUILD/tests/inproc/<this program>. */
static int probes_plugin_path(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return (size_t)snprintf(out, len, "%s/../plugins/probes.so", exe) < len ? 0 : -1;
}

static int harness_start(struct harness *h, unsigned schedulers, int wiring, uint32_t window, uint32_t ring)
{
	struct rs_config cfg;
	char err[512];

	memset(h, 0, sizeof(*h));
	rs_config_defaults(&cfg);
	cfg.schedulers = schedulers;
	cfg.wiring = wiring;
	cfg.spin_us = 2;
	cfg.task_window = window;
	cfg.ring_entries = ring;
	cfg.heap_bytes = 1 << 20;
	cfg.arena_bytes = 4 << 20;
	cfg.log_level = RS_LOG_WARN;
	cfg.shutdown_grace_ms = 2000;
	if (probes_plugin_path(cfg.plugins[0], sizeof(cfg.plugins[0])) < 0) {
		fprintf(stderr, "harness: cannot name the probes plugin next to /proc/self/exe\n");
		return -1;
	}
	cfg.n_plugins = 1;
	rs_log_set_level(cfg.log_level);
	snprintf(h->sock, sizeof(h->sock), "/tmp/rs-inproc-%d-%u.sock", (int)getpid(), schedulers);
	if (rs_daemon_init(&h->d, &cfg, err, sizeof(err)) < 0 ||
	    rs_server_create(&h->srv, &h->d, h->sock, NULL, 0, err, sizeof(err)) < 0 ||
	    rs_daemon_start_threads(&h->d) < 0) {
		fprintf(stderr, "harness: %s\n", err);
		return -1;
	}
	pthread_create(&h->loop, NULL, loop_main, h);
	return 0;
}

static void harness_stop(struct harness *h)
{
	rs_server_request_stop(h->srv);
	pthread_join(h->loop, NULL);
	CHECK(rs_daemon_stop_threads(&h->d, 30000) == 0, "a worker thread did not stop within 30 s");
	rs_server_destroy(h->srv);
	rs_daemon_destroy(&h->d);
}

/* ---------------------------------------------------------------- random DAG over overlapping tiles */

struct dag_args {
	const char *sock;
	unsigned tasks;
	uint64_t seed;
	rs_options opt;
	int use_scopes;
	int disconnect_early; /* teardown with tasks in flight; no verification */
	unsigned hosted;      /* per mille of tasks run by client-hosted twins of affine / add / copy */
};

/* Client-hosted twins of the built-in affine, add and copy on 1-D f32 views: the same float expressions
 * (kernels/builtin.c), run by the client library's executor threads under core leases. */
static int h_affine(const rs_kargs *a)
{
	const rs_kview *v = &a->views[0];
	float *y = v->data, fa = (float)rs_kscalar_f64(a, 0), fb = (float)rs_kscalar_f64(a, 1);
	for (uint32_t i = 0; i < v->shape[0]; i++)
		y[(size_t)i * v->stride[0]] = fa * y[(size_t)i * v->stride[0]] + fb;
	return 0;
}

static int h_add(const rs_kargs *a)
{
	const rs_kview *vx = &a->views[0], *vy = &a->views[1];
	const float *x = vx->data;
	float *y = vy->data;
	for (uint32_t i = 0; i < vy->shape[0]; i++)
		y[(size_t)i * vy->stride[0]] = y[(size_t)i * vy->stride[0]] + x[(size_t)i * vx->stride[0]];
	return 0;
}

static int h_copy(const rs_kargs *a)
{
	const rs_kview *vx = &a->views[0], *vy = &a->views[1];
	const float *x = vx->data;
	float *y = vy->data;
	for (uint32_t i = 0; i < vy->shape[0]; i++)
		y[(size_t)i * vy->stride[0]] = x[(size_t)i * vx->stride[0]];
	return 0;
}

static int h_fail(const rs_kargs *a)
{
	snprintf(a->err, a->err_len, "hosted failure on purpose");
	return -EIO;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#define DAG_ELEMS 4096
#define DAG_TILE_MAX 96

static void *dag_client(void *arg)
{
	struct dag_args *a = arg;
	rs_client *c = rs_connect(a->sock, &a->opt);
	uint64_t s = a->seed;

	CHECK(c, "connect: %s", rs_last_error());
	if (!c)
		return NULL;
	int k_affine = rs_kernel(c, "affine"), k_add = rs_kernel(c, "add"), k_copy = rs_kernel(c, "copy");
	CHECK(k_affine >= 0 && k_add >= 0 && k_copy >= 0, "kernels: %d %d %d", k_affine, k_add, k_copy);
	int h_ids[3] = { k_affine, k_add, k_copy };
	if (a->hosted) {
		h_ids[0] = rs_kernel_local(c, "h.affine", h_affine, 1, 2);
		h_ids[1] = rs_kernel_local(c, "h.add", h_add, 2, 0);
		h_ids[2] = rs_kernel_local(c, "h.copy", h_copy, 2, 0);
		CHECK(h_ids[0] > 0 && h_ids[1] > 0 && h_ids[2] > 0, "rs_kernel_local: %d %d %d (%s)", h_ids[0],
		      h_ids[1], h_ids[2], rs_last_error());
	}
	float *x = rs_alloc(c, DAG_ELEMS * sizeof(float));
	float *oracle = malloc(DAG_ELEMS * sizeof(float));
	CHECK(x && oracle, "alloc");
	if (!x || !oracle)
		goto out;
	for (unsigned i = 0; i < DAG_ELEMS; i++)
		x[i] = oracle[i] = (float)(i % 17) * 0.25f;

	for (unsigned t = 0; t < a->tasks; t++) {
		unsigned len = 1 + (unsigned)(rnd(&s) % DAG_TILE_MAX);
		unsigned o1 = (unsigned)(rnd(&s) % (DAG_ELEMS - len)), o2 = (unsigned)(rnd(&s) % (DAG_ELEMS - len));
		unsigned op = (unsigned)(rnd(&s) % 8);
		int hosted = a->hosted && rnd(&s) % 1000 < a->hosted;
		int64_t r;
		if (op < 4) { /* x[o1..] = a*x + b : order-sensitive */
			double ca = 0.5 + (double)(rnd(&s) % 1000) / 1000.0, cb = (double)(rnd(&s) % 100) / 100.0 - 0.5;
			rs_arg args[] = { rs_inout(rs_view_1d(x + o1, RS_F32, len)), rs_f64(ca), rs_f64(cb) };
			r = rs_submit(c, hosted ? h_ids[0] : k_affine, args, 3);
			for (unsigned i = 0; i < len; i++)
				oracle[o1 + i] = (float)ca * oracle[o1 + i] + (float)cb;
		} else if (op < 6 && (o1 + len <= o2 || o2 + len <= o1)) { /* y += x on disjoint tiles */
			rs_arg args[] = { rs_in(rs_view_1d(x + o1, RS_F32, len)), rs_inout(rs_view_1d(x + o2, RS_F32, len)) };
			r = rs_submit(c, hosted ? h_ids[1] : k_add, args, 2);
			for (unsigned i = 0; i < len; i++)
				oracle[o2 + i] = oracle[o2 + i] + oracle[o1 + i];
		} else if (a->use_scopes && op == 7) { /* via scratch: tmp = x[o1]; tmp = 2 tmp + 1; x[o2] += tmp */
			rs_scope_begin(c);
			float *tmp = rs_scratch(c, len * sizeof(float));
			CHECK(tmp, "scratch: %s", rs_last_error());
			if (!tmp)
				break;
			rs_arg c1[] = { rs_in(rs_view_1d(x + o1, RS_F32, len)), rs_out(rs_view_1d(tmp, RS_F32, len)) };
			rs_arg c2[] = { rs_inout(rs_view_1d(tmp, RS_F32, len)), rs_f64(2.0), rs_f64(1.0) };
			rs_arg c3[] = { rs_in(rs_view_1d(tmp, RS_F32, len)), rs_inout(rs_view_1d(x + o2, RS_F32, len)) };
			CHECK(rs_submit(c, k_copy, c1, 2) > 0, "copy submit");
			CHECK(rs_submit(c, k_affine, c2, 3) > 0, "affine submit");
			float tmpo[DAG_TILE_MAX];
			for (unsigned i = 0; i < len; i++)
				tmpo[i] = 2.0f * oracle[o1 + i] + 1.0f;
			r = rs_submit(c, k_add, c3, 2);
			for (unsigned i = 0; i < len; i++)
				oracle[o2 + i] = oracle[o2 + i] + tmpo[i];
			rs_scope_end(c);
		} else { /* x[o2] = x[o1] (overlap allowed only if disjoint) */
			if (!(o1 + len <= o2 || o2 + len <= o1))
				o2 = o1 + len <= DAG_ELEMS - len ? o1 + len : 0;
			if (!(o1 + len <= o2 || o2 + len <= o1))
				continue;
			rs_arg args[] = { rs_in(rs_view_1d(x + o1, RS_F32, len)), rs_out(rs_view_1d(x + o2, RS_F32, len)) };
			r = rs_submit(c, hosted ? h_ids[2] : k_copy, args, 2);
			memmove(oracle + o2, oracle + o1, len * sizeof(float));
		}
		CHECK(r > 0, "submit: %lld (%s)", (long long)r, rs_last_error());
		if (r <= 0)
			break;
		if (a->disconnect_early && t == a->tasks / 2)
			goto out; /* disconnect with work in flight */
		if (t % 5000 == 4999) {
			int w = rs_wait_all(c, 60000);
			CHECK(w == 0, "checkpoint wait_all: %d", w);
		}
	}
	int w = rs_wait_all(c, 60000);
	CHECK(w == 0, "wait_all: %d (%s)", w, rs_strerror(w));
	unsigned bad = 0;
	for (unsigned i = 0; i < DAG_ELEMS; i++)
		if (x[i] != oracle[i] && bad++ < 3)
			CHECK(0, "seed %llu: element %u is %.9g, oracle %.9g", (unsigned long long)a->seed, i, x[i],
			      oracle[i]);
out:
	free(oracle);
	rs_disconnect(c);
	return NULL;
}

static void run_dag_clients_hosted(struct harness *h, unsigned clients, unsigned tasks, rs_options opt,
				   int scopes, int disconnect_early, unsigned hosted)
{
	pthread_t th[8];
	struct dag_args a[8];

	for (unsigned i = 0; i < clients; i++) {
		a[i] = (struct dag_args){ .sock = h->sock, .tasks = tasks, .seed = 1000 + i * 7919 + tasks,
					  .opt = opt, .use_scopes = scopes, .disconnect_early = disconnect_early,
					  .hosted = hosted };
		pthread_create(&th[i], NULL, dag_client, &a[i]);
	}
	for (unsigned i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
}

static void run_dag_clients(struct harness *h, unsigned clients, unsigned tasks, rs_options opt, int scopes,
			    int disconnect_early)
{
	run_dag_clients_hosted(h, clients, tasks, opt, scopes, disconnect_early, 0);
}

/* ---------------------------------------------------------------- small graphs, failures */

static void small_graphs_publish(struct harness *h)
{
	rs_client *c = rs_connect(h->sock, NULL);
	CHECK(c, "connect: %s", rs_last_error());
	if (!c)
		return;
	int k = rs_kernel(c, "affine");
	float *x = rs_alloc(c, 64 * sizeof(float));
	for (unsigned n = 1; n <= 15; n++) {
		for (unsigned i = 0; i < 64; i++)
			x[i] = 1.0f;
		for (unsigned t = 0; t < n; t++) {
			rs_arg args[] = { rs_inout(rs_view_1d(x, RS_F32, 64)), rs_f64(2.0), rs_f64(0.0) };
			CHECK(rs_submit(c, k, args, 3) > 0, "submit");
		}
		int w = rs_wait_all(c, 10000);
		CHECK(w == 0, "graph of %u tasks: wait_all %d", n, w);
		CHECK(x[0] == (float)(1u << n), "graph of %u: x = %g", n, x[0]);
	}
	rs_disconnect(c);
}

static void failure_propagation(struct harness *h)
{
	rs_client *c = rs_connect(h->sock, NULL);
	CHECK(c, "connect");
	if (!c)
		return;
	int kf = rs_kernel(c, "fail"), ka = rs_kernel(c, "affine");
	float *x = rs_alloc(c, 16 * sizeof(float));
	rs_arg fa[] = { rs_u64((uint64_t)(int64_t)-EIO) };
	int64_t f = rs_submit(c, kf, fa, 1);
	rs_task dep = { .kernel = ka, .deps = &f, .ndeps = 1 };
	rs_arg aa[] = { rs_inout(rs_view_1d(x, RS_F32, 16)), rs_f64(1.0), rs_f64(1.0) };
	dep.args = aa;
	dep.nargs = 3;
	int64_t d1 = rs_submit_ex(c, &dep);
	int64_t d2 = rs_submit(c, ka, aa, 3); /* depends on d1 through x */
	CHECK(rs_wait(c, f, 10000) == -EIO, "failed task reports its code");
	CHECK(rs_wait(c, d2, 10000) == -RS_ECANCELED, "dependent of a dependent is cancelled");
	rs_error e;
	CHECK(rs_task_error(c, d2, &e) == 0 && e.root_task == f && !strcmp(e.kernel, "fail") && e.code == -EIO,
	      "root failure named: root %lld kernel %s code %d", (long long)e.root_task, e.kernel, e.code);
	CHECK(rs_wait_all(c, 10000) == -EIO, "wait_all reports the first failure");
	CHECK(rs_wait_all(c, 10000) == 0, "failures are not sticky");
	(void)d1;
	rs_disconnect(c);
}

/* A hosted kernel's failure: its code and text reach rs_task_error, a built-in dependent is cancelled. */
static void hosted_failure(struct harness *h)
{
	rs_client *c = rs_connect(h->sock, NULL);
	CHECK(c, "connect");
	if (!c)
		return;
	int kf = rs_kernel_local(c, "h.fail", h_fail, 1, 0), ka = rs_kernel(c, "affine");
	float *x = rs_alloc(c, 16 * sizeof(float));
	rs_arg fa[] = { rs_out(rs_view_1d(x, RS_F32, 16)) };
	int64_t f = rs_submit(c, kf, fa, 1);
	rs_arg aa[] = { rs_inout(rs_view_1d(x, RS_F32, 16)), rs_f64(1.0), rs_f64(1.0) };
	int64_t d = rs_submit(c, ka, aa, 3);
	CHECK(rs_wait(c, f, 10000) == -EIO, "hosted failure reports its code");
	CHECK(rs_wait(c, d, 10000) == -RS_ECANCELED, "dependent of a hosted failure is cancelled");
	rs_error e;
	CHECK(rs_task_error(c, d, &e) == 0 && e.root_task == f && !strcmp(e.kernel, "h.fail") && e.code == -EIO &&
		      !strcmp(e.message, "hosted failure on purpose"),
	      "hosted root failure named: root %lld kernel %s code %d message %s", (long long)e.root_task, e.kernel,
	      e.code, e.message);
	CHECK(rs_wait_all(c, 10000) == -EIO, "wait_all reports the hosted failure");
	rs_disconnect(c);
}

int main(void)
{
	struct {
		unsigned sched;
		int wiring;
	} cfgs[] = { { 1, RS_WIRING_SHARED }, { 2, RS_WIRING_DEDICATED }, { 4, RS_WIRING_DEDICATED } };
	unsigned tasks = sanitized() ? 3000 : 20000;

	for (unsigned i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		struct harness h;
		if (harness_start(&h, cfgs[i].sched, cfgs[i].wiring, 4096, 256) < 0)
			return 1;
		printf("config: %u schedulers, wiring %s\n", cfgs[i].sched, rs_wiring_mode_name(cfgs[i].wiring));
		run_dag_clients(&h, 1, tasks, (rs_options){ 0 }, 1, 0);
		run_dag_clients(&h, 3, tasks / 3, (rs_options){ 0 }, 1, 0);
		/* tiny window and ring: back-pressure and the ack/drain stalls */
		run_dag_clients(&h, 2, tasks / 4, (rs_options){ .task_window = 16, .ring_entries = 8 }, 1, 0);
		small_graphs_publish(&h);
		failure_propagation(&h);
		/* client-hosted kernels mixed with built-in ones across dependencies, one and three clients, the
		 * tiny window (argument records reused), a failure, and a teardown with leases in flight */
		run_dag_clients_hosted(&h, 1, tasks / 2, (rs_options){ 0 }, 1, 0, 500);
		run_dag_clients_hosted(&h, 3, tasks / 6, (rs_options){ 0 }, 1, 0, 500);
		run_dag_clients_hosted(&h, 2, tasks / 8, (rs_options){ .task_window = 16, .ring_entries = 8 }, 1, 0, 700);
		hosted_failure(&h);
		run_dag_clients_hosted(&h, 2, tasks / 8, (rs_options){ 0 }, 0, 1, 500);
		/* teardown with work in flight, while another client keeps going */
		run_dag_clients(&h, 2, tasks / 4, (rs_options){ 0 }, 0, 1);
		run_dag_clients(&h, 1, tasks / 10, (rs_options){ 0 }, 0, 0);
		harness_stop(&h);
	}
	int failed = atomic_load_explicit(&failures, memory_order_relaxed);
	if (failed)
		printf("%d checks failed\n", failed);
	else
		printf("all in-process protocol checks passed\n");
	return failed ? 1 : 0;
}
