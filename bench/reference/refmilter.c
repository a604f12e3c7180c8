/*
 * refmilter: the yardstick for bench/run.sh. A libmilter filter that asks for every stage (all
 * callbacks registered, no negotiate callback, so libmilter requests each stage and awaits each
 * reply, as most milters do), continues everywhere and accepts at end of message.
 *
 * With -g it greylists at RCPT in memory: the first sight of a (client /24 or /64, sender,
 * recipient) triplet answers 451 4.7.1 and remembers it; a triplet seen before passes. No delay,
 * no expiry: the cost of the protocol with almost no policy.
 *
 *   refmilter -p unix:/path/to.sock [-g] [-b backlog]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

/* ---- the greylist: a chained hash table of triplet keys behind one mutex ---- */

#define BUCKETS (1u << 20)

struct entry {
	struct entry *next;
	uint64_t hash;
	char key[];
};

static struct entry **table;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int greylisting;

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Returns 1 when the key was already known, 0 when it was new (and is now remembered). */
static int seen_before(const char *key)
{
	uint64_t h = fnv1a(key);
	size_t len = strlen(key);
	struct entry **slot = &table[h & (BUCKETS - 1)];
	int known = 0;

	pthread_mutex_lock(&table_lock);
	for (struct entry *e = *slot; e != NULL; e = e->next) {
		if (e->hash == h && strcmp(e->key, key) == 0) {
			known = 1;
			break;
		}
	}
	if (!known) {
		struct entry *e = malloc(sizeof *e + len + 1);
		if (e != NULL) {
			e->hash = h;
			memcpy(e->key, key, len + 1);
			e->next = *slot;
			*slot = e;
		}
	}
	pthread_mutex_unlock(&table_lock);
	return known;
}

/* ---- per-connection state ---- */

struct conn {
	char client[64];  /* the client network: "203.0.113.0/24" */
	char *sender;     /* the MAIL FROM argument of the current message */
};

static void client_network(const struct sockaddr *sa, char *out, size_t n)
{
	char text[INET6_ADDRSTRLEN];

	if (sa != NULL && sa->sa_family == AF_INET) {
		struct in_addr a = ((const struct sockaddr_in *)sa)->sin_addr;
		a.s_addr &= htonl(0xffffff00u);
		inet_ntop(AF_INET, &a, text, sizeof text);
		snprintf(out, n, "%s/24", text);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		struct in6_addr a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		memset(&a.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &a, text, sizeof text);
		snprintf(out, n, "%s/64", text);
	} else {
		snprintf(out, n, "local");
	}
}

static struct conn *conn_of(SMFICTX *ctx)
{
	return (struct conn *)smfi_getpriv(ctx);
}

static void forget_message(struct conn *c)
{
	if (c != NULL) {
		free(c->sender);
		c->sender = NULL;
	}
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)host;
	struct conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	client_network(addr, c->client, sizeof c->client);
	smfi_setpriv(ctx, c);
	return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *name)
{
	(void)ctx; (void)name;
	return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);
	if (c == NULL)
		return SMFIS_CONTINUE;
	forget_message(c);
	c->sender = strdup(argv[0] != NULL ? argv[0] : "<>");
	return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);
	char key[1024];

	if (!greylisting || c == NULL || argv[0] == NULL)
		return SMFIS_CONTINUE;
	snprintf(key, sizeof key, "%s|%s|%s", c->client, c->sender != NULL ? c->sender : "<>", argv[0]);
	if (seen_before(key))
		return SMFIS_CONTINUE;
	smfi_setreply(ctx, "451", "4.7.1", "Greylisted, please try again later");
	return SMFIS_TEMPFAIL;
}

static sfsistat on_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat on_unknown(SMFICTX *ctx, const char *line)
{
	(void)ctx; (void)line;
	return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx; (void)name; (void)value;
	return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx; (void)chunk; (void)len;
	return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx)
{
	forget_message(conn_of(ctx));
	return SMFIS_ACCEPT;
}

static sfsistat on_abort(SMFICTX *ctx)
{
	forget_message(conn_of(ctx));
	return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);
	forget_message(c);
	free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc description = {
	.xxfi_name = "refmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_connect = on_connect,
	.xxfi_helo = on_helo,
	.xxfi_envfrom = on_envfrom,
	.xxfi_envrcpt = on_envrcpt,
	.xxfi_header = on_header,
	.xxfi_eoh = on_eoh,
	.xxfi_body = on_body,
	.xxfi_eom = on_eom,
	.xxfi_abort = on_abort,
	.xxfi_close = on_close,
	.xxfi_unknown = on_unknown,
	.xxfi_data = on_data,
	.xxfi_negotiate = NULL,
};

static void usage(void)
{
	fprintf(stderr, "usage: refmilter -p unix:PATH|inet:PORT@HOST [-g] [-b backlog]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *conn = NULL;
	int backlog = 1024;
	int opt;

	while ((opt = getopt(argc, argv, "p:gb:")) != -1) {
		switch (opt) {
		case 'p': conn = optarg; break;
		case 'g': greylisting = 1; break;
		case 'b': backlog = atoi(optarg); break;
		default: usage();
		}
	}
	if (conn == NULL)
		usage();
	if (greylisting) {
		table = calloc(BUCKETS, sizeof *table);
		if (table == NULL) {
			perror("refmilter: greylist table");
			return 1;
		}
	}
	if (smfi_setconn((char *)conn) == MI_FAILURE || smfi_setbacklog(backlog) == MI_FAILURE) {
		fprintf(stderr, "refmilter: bad socket %s\n", conn);
		return 1;
	}
	if (smfi_register(description) == MI_FAILURE) {
		fprintf(stderr, "refmilter: smfi_register failed\n");
		return 1;
	}
	/* Remove a stale socket file left by an earlier run. */
	if (smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "refmilter: cannot open %s: %s\n", conn, strerror(errno));
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
