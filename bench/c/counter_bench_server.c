/*
 * The C side of `npm run bench rpc`: COUNTER_PROG (core/rpc/programs/counter.x) served by the
 * dispatcher `rpcgen -m` generates, on one UDP socket of libtirpc (svcudp), without the
 * portmapper. Prints "port N" and serves until killed.
 */
#include <stdio.h>
#include <rpc/rpc.h>
#include "counter.h"

extern void counter_prog_1(struct svc_req *, SVCXPRT *);

static quad_t value;

quad_t *increment_1_svc(int *by, struct svc_req *req) { (void)req; value += *by; return &value; }
quad_t *get_1_svc(void *arg, struct svc_req *req) { (void)arg; (void)req; return &value; }
void *reset_1_svc(void *arg, struct svc_req *req) { static char ok; (void)arg; (void)req; value = 0; return &ok; }

counter_payload *echo_1_svc(counter_payload *p, struct svc_req *req)
{
	static counter_payload result;
	(void)req;
	/* The reply goes out before the arguments are freed: a shallow copy is enough. */
	result = *p;
	return &result;
}

int counter_prog_1_freeresult(SVCXPRT *t, xdrproc_t x, caddr_t r) { (void)t; (void)x; (void)r; return 1; }

int main(void)
{
	SVCXPRT *udp = svcudp_create(RPC_ANYSOCK);
	if (udp == NULL || !svc_register(udp, COUNTER_PROG, COUNTER_V1, counter_prog_1, 0)) {
		fprintf(stderr, "cannot serve COUNTER_PROG\n");
		return 1;
	}
	printf("port %d\n", udp->xp_port);
	fflush(stdout);
	svc_run();
	return 1;
}
