/*
 * The C client of `npm run bench rpc`: calls NULL or ECHO (32 bytes) of COUNTER_PROG over UDP
 * with rpcgen's stubs, from IN_FLIGHT threads (one CLIENT each, as libtirpc calls are
 * synchronous), for WARMUP_MS and then DURATION_MS, and prints one JSON line with the calls per
 * second and latency percentiles of the measured part, and the calls and CPU time (user + system,
 * all threads) of the whole run.
 * Usage: counter_bench_client HOST PORT null|echo IN_FLIGHT DURATION_MS WARMUP_MS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <rpc/rpc.h>
#include "counter.h"

#define MAX_SAMPLES (1 << 21)

static struct sockaddr_in addr;
static int use_echo;
static double t_start, t_measure, t_end;

struct worker {
	pthread_t thread;
	double *lat;
	long n;
	long all;
	long failures;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_in a = addr;
	int sock = RPC_ANYSOCK;
	struct timeval wait = { 1, 0 }, total = { 5, 0 };
	char data[32];
	counter_payload p;
	CLIENT *clnt = clntudp_create(&a, COUNTER_PROG, COUNTER_V1, wait, &sock);
	if (clnt == NULL) {
		clnt_pcreateerror("clntudp_create");
		exit(1);
	}
	memset(data, 0x5a, sizeof data);
	p.counter_payload_len = sizeof data;
	p.counter_payload_val = data;
	for (;;) {
		double t0 = now_ms(), t1;
		if (t0 >= t_end)
			break;
		/* A failed call is counted and not timed, as the Node clients do. */
		if (use_echo) {
			counter_payload res = { 0, NULL };
			if (clnt_call(clnt, ECHO, (xdrproc_t)xdr_counter_payload, (caddr_t)&p, (xdrproc_t)xdr_counter_payload, (caddr_t)&res, total) != RPC_SUCCESS) {
				w->failures++;
				continue;
			}
			xdr_free((xdrproc_t)xdr_counter_payload, (char *)&res);
		} else if (clnt_call(clnt, NULLPROC, (xdrproc_t)xdr_void, NULL, (xdrproc_t)xdr_void, NULL, total) != RPC_SUCCESS) {
			w->failures++;
			continue;
		}
		t1 = now_ms();
		w->all++;
		if (t0 >= t_measure && t1 <= t_end && w->n < MAX_SAMPLES)
			w->lat[w->n++] = t1 - t0;
	}
	clnt_destroy(clnt);
	return NULL;
}

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int i, threads;
	long total = 0, failures = 0, all_calls = 0;
	double *all, duration, cpu0;
	struct worker *ws;

	if (argc != 7) {
		fprintf(stderr, "usage: counter_bench_client HOST PORT null|echo IN_FLIGHT DURATION_MS WARMUP_MS\n");
		return 2;
	}
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &addr.sin_addr);
	use_echo = strcmp(argv[3], "echo") == 0;
	threads = atoi(argv[4]);
	duration = atof(argv[5]);
	t_start = now_ms();
	t_measure = t_start + atof(argv[6]);
	t_end = t_measure + duration;
	ws = calloc(threads, sizeof *ws);
	cpu0 = cpu_us();
	for (i = 0; i < threads; i++) {
		ws[i].lat = malloc(sizeof(double) * MAX_SAMPLES);
		pthread_create(&ws[i].thread, NULL, run, &ws[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(ws[i].thread, NULL);
		total += ws[i].n;
		all_calls += ws[i].all;
		failures += ws[i].failures;
	}
	cpu0 = cpu_us() - cpu0;
	all = malloc(sizeof(double) * (total + 1));
	total = 0;
	for (i = 0; i < threads; i++) {
		memcpy(all + total, ws[i].lat, sizeof(double) * ws[i].n);
		total += ws[i].n;
	}
	qsort(all, total, sizeof(double), cmp);
	printf("{\"calls\":%ld,\"callsPerSecond\":%.1f,\"p50Ms\":%.4f,\"p99Ms\":%.4f,\"failures\":%ld,\"allCalls\":%ld,\"cpuUs\":%.0f}\n", total, total / (duration / 1000), total ? all[total / 2] : -1.0, total ? all[(long)(total * 0.99)] : -1.0, failures, all_calls, cpu0);
	return 0;
}
