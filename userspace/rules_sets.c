/* rules_sets.c - rule sets (cidr, domain, string, port): building them
 * item by item from rule files and --set values, finalizing them (sorted,
 * merged interval arrays for addresses and ports, an open-addressing hash
 * for strings and domains), and the lookups rule evaluation uses
 * (rule_set_has_ip/int/str).
 *
 * Building runs at load time and may allocate; the lookups run per fact
 * and allocate nothing.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "rules_int.h"

/* ------------------------------------------------------------------ */
/* string hashing: FNV-1a over lower-cased bytes, from the END of the
 * string, so that every domain suffix's hash falls out of one scan */

#define FNV_OFF 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t hash_rev_ci(const char *p, size_t n)
{
	uint64_t h = FNV_OFF;
	while (n--) {
		h ^= (uint8_t)tolower((unsigned char)p[n]);
		h *= FNV_PRIME;
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* sets */

void rl_setb_free(struct setb *b)
{
	if (!b)
		return;
	free(b->s.v4);
	free(b->s.v6);
	free(b->s.ints);
	free(b->s.strs);
	free(b->s.lens);
	free(b->s.hashes);
	free(b->s.slots);
	free(b);
}

void rl_setb_clear(struct setb *b)
{
	b->s.n4 = b->s.n6 = b->s.nints = b->s.nstrs = b->s.nitems = 0;
}

static int grow(void **arr, uint32_t n, uint32_t *cap, size_t el)
{
	if (n < *cap)
		return 0;
	uint32_t nc = *cap ? *cap * 2 : 8;
	void *na = realloc(*arr, (size_t)nc * el);
	if (!na)
		return -ENOMEM;
	*arr = na;
	*cap = nc;
	return 0;
}

int rl_ip_parse(const char *s, size_t n, struct rule_ip *ip)
{
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, tmp, ip->a) == 1) {
		ip->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, ip->a) == 1) {
		ip->family = 6;
		return 0;
	}
	return -EINVAL;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* "a.b.c.d[/n]" or "v6[/n]": returns 0 or -EINVAL with *why set */
static int set_add_cidr(struct setb *b, const char *s, size_t n,
			const char **why)
{
	const char *slash = memchr(s, '/', n);
	size_t an = slash ? (size_t)(slash - s) : n;
	struct rule_ip ip;
	if (rl_ip_parse(s, an, &ip) < 0) {
		*why = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	int max = ip.family == 4 ? 32 : 128, plen = max;
	if (slash) {
		const char *q = slash + 1, *e = s + n;
		if (q == e || e - q > 3) {
			*why = "bad prefix length";
			return -EINVAL;
		}
		plen = 0;
		for (; q < e; q++) {
			if (!isdigit((unsigned char)*q)) {
				*why = "bad prefix length";
				return -EINVAL;
			}
			plen = plen * 10 + (*q - '0');
		}
		if (plen > max) {
			*why = "prefix length too long";
			return -EINVAL;
		}
	}
	if (ip.family == 4) {
		uint32_t a = (uint32_t)ip.a[0] << 24 | (uint32_t)ip.a[1] << 16 |
			     (uint32_t)ip.a[2] << 8 | ip.a[3];
		uint32_t m = plen ? ~(uint32_t)0 << (32 - plen) : 0;
		if (grow((void **)&b->s.v4, b->s.n4, &b->cap4, sizeof(*b->s.v4)))
			return -ENOMEM;
		b->s.v4[b->s.n4++] = (struct set_v4){ a & m, (a & m) | ~m };
	} else {
		uint64_t h = be64(ip.a), l = be64(ip.a + 8), mh, ml;
		if (plen == 0) {
			mh = ml = 0;
		} else if (plen <= 64) {
			mh = ~(uint64_t)0 << (64 - plen);
			ml = 0;
		} else {
			mh = ~(uint64_t)0;
			ml = plen == 128 ? ~(uint64_t)0 : ~(uint64_t)0 << (128 - plen);
		}
		if (grow((void **)&b->s.v6, b->s.n6, &b->cap6, sizeof(*b->s.v6)))
			return -ENOMEM;
		b->s.v6[b->s.n6++] = (struct set_v6){ h & mh, l & ml,
						       (h & mh) | ~mh,
						       (l & ml) | ~ml };
	}
	b->s.nitems++;
	return 0;
}

int rl_parse_i64(const char *s, size_t n, int64_t min, int64_t max,
		     int64_t *out)
{
	if (n == 0 || n > 18)
		return -EINVAL;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* "N" or "N-M" */
static int set_add_int(struct setb *b, const char *s, size_t n,
		       const char **why)
{
	const char *dash = memchr(s, '-', n);
	int64_t lo, hi;
	if (dash) {
		if (rl_parse_i64(s, (size_t)(dash - s), 0, INT32_MAX, &lo) ||
		    rl_parse_i64(dash + 1, (size_t)(s + n - dash - 1), 0,
				 INT32_MAX, &hi) || hi < lo) {
			*why = "bad range (expected N-M with N <= M)";
			return -EINVAL;
		}
	} else {
		if (rl_parse_i64(s, n, 0, INT32_MAX, &lo)) {
			*why = "not a number";
			return -EINVAL;
		}
		hi = lo;
	}
	if (grow((void **)&b->s.ints, b->s.nints, &b->capi, sizeof(*b->s.ints)))
		return -ENOMEM;
	b->s.ints[b->s.nints++] = (struct set_int){ lo, hi };
	b->s.nitems++;
	return 0;
}

static int set_add_str(struct setb *b, struct arena **ar, const char *s,
		       size_t n, const char **why)
{
	if (b->s.kind == SET_DOMAIN) {
		/* "*.example.com" and ".example.com" mean example.com: domain
		 * sets always match the domain and everything below it */
		if (n >= 2 && s[0] == '*' && s[1] == '.') {
			s += 2;
			n -= 2;
		} else if (n && s[0] == '.') {
			s++;
			n--;
		}
		if (n && s[n - 1] == '.')
			n--;
		if (n == 0 || memchr(s, '@', n) || memchr(s, ' ', n)) {
			*why = "not a domain name";
			return -EINVAL;
		}
	}
	if (grow((void **)&b->s.strs, b->s.nstrs, &b->caps, sizeof(char *)))
		return -ENOMEM;
	uint32_t capl = b->caps;
	void *nl = realloc(b->s.lens, (size_t)capl * sizeof(uint32_t));
	if (!nl)
		return -ENOMEM;
	b->s.lens = nl;
	char *c = rl_arena_strndup(ar, s, n);
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		c[i] = (char)tolower((unsigned char)c[i]);
	b->s.strs[b->s.nstrs] = c;
	b->s.lens[b->s.nstrs] = (uint32_t)n;
	b->s.nstrs++;
	b->s.nitems++;
	return 0;
}

int rl_set_add_item(struct setb *b, struct arena **ar, const char *s,
			size_t n, const char **why)
{
	switch (b->s.kind) {
	case SET_CIDR: return set_add_cidr(b, s, n, why);
	case SET_PORT: return set_add_int(b, s, n, why);
	case SET_DOMAIN:
	case SET_STRING: return set_add_str(b, ar, s, n, why);
	}
	*why = "bad set";
	return -EINVAL;
}

static int cmp_v4(const void *x, const void *y)
{
	const struct set_v4 *a = x, *b = y;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int cmp_u128(uint64_t ah, uint64_t al, uint64_t bh, uint64_t bl)
{
	if (ah != bh)
		return ah < bh ? -1 : 1;
	return al < bl ? -1 : al > bl;
}

static int cmp_v6(const void *x, const void *y)
{
	const struct set_v6 *a = x, *b = y;
	return cmp_u128(a->lo_hi, a->lo_lo, b->lo_hi, b->lo_lo);
}

static int cmp_int(const void *x, const void *y)
{
	const struct set_int *a = x, *b = y;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Sort and merge intervals, build the string hash. */
int rl_set_finalize(struct setb *b)
{
	struct rule_set *s = &b->s;
	if (s->n4) {
		qsort(s->v4, s->n4, sizeof(*s->v4), cmp_v4);
		uint32_t o = 0;
		for (uint32_t i = 1; i < s->n4; i++) {
			if (s->v4[o].hi == UINT32_MAX ||
			    s->v4[i].lo <= s->v4[o].hi + 1) {
				if (s->v4[i].hi > s->v4[o].hi)
					s->v4[o].hi = s->v4[i].hi;
			} else {
				s->v4[++o] = s->v4[i];
			}
		}
		s->n4 = o + 1;
	}
	if (s->n6) {
		qsort(s->v6, s->n6, sizeof(*s->v6), cmp_v6);
		uint32_t o = 0;
		for (uint32_t i = 1; i < s->n6; i++) {
			struct set_v6 *c = &s->v6[o], *x = &s->v6[i];
			/* overlapping (adjacency is not merged: harmless) */
			if (cmp_u128(x->lo_hi, x->lo_lo, c->hi_hi, c->hi_lo) <= 0) {
				if (cmp_u128(x->hi_hi, x->hi_lo, c->hi_hi,
					     c->hi_lo) > 0) {
					c->hi_hi = x->hi_hi;
					c->hi_lo = x->hi_lo;
				}
			} else {
				s->v6[++o] = *x;
			}
		}
		s->n6 = o + 1;
	}
	if (s->nints) {
		qsort(s->ints, s->nints, sizeof(*s->ints), cmp_int);
		uint32_t o = 0;
		for (uint32_t i = 1; i < s->nints; i++) {
			if (s->ints[i].lo <= s->ints[o].hi + 1) {
				if (s->ints[i].hi > s->ints[o].hi)
					s->ints[o].hi = s->ints[i].hi;
			} else {
				s->ints[++o] = s->ints[i];
			}
		}
		s->nints = o + 1;
	}
	free(s->slots);
	free(s->hashes);
	s->slots = NULL;
	s->hashes = NULL;
	s->mask = 0;
	if (s->nstrs) {
		uint32_t sz = 8;
		while (sz < s->nstrs * 2)
			sz *= 2;
		s->slots = calloc(sz, sizeof(uint32_t));
		s->hashes = calloc(s->nstrs, sizeof(uint64_t));
		if (!s->slots || !s->hashes)
			return -ENOMEM;
		s->mask = sz - 1;
		for (uint32_t i = 0; i < s->nstrs; i++) {
			uint64_t h = hash_rev_ci(s->strs[i], s->lens[i]);
			s->hashes[i] = h;
			uint32_t j = (uint32_t)h & s->mask;
			while (s->slots[j])
				j = (j + 1) & s->mask;
			s->slots[j] = i + 1;
		}
	}
	return 0;
}

static int mem_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int str_lookup(const struct rule_set *s, uint64_t h, const char *p,
		      size_t n)
{
	uint32_t j = (uint32_t)h & s->mask;
	for (;;) {
		uint32_t k = s->slots[j];
		if (!k)
			return 0;
		k--;
		if (s->hashes[k] == h && s->lens[k] == n &&
		    mem_ieq(s->strs[k], p, n))
			return 1;
		j = (j + 1) & s->mask;
	}
}

int rule_set_has_str(const struct rule_set *s, const char *p, size_t n)
{
	if (!s->nstrs)
		return 0;
	if (s->kind == SET_STRING)
		return str_lookup(s, hash_rev_ci(p, n), p, n);
	/* SET_DOMAIN: one scan from the end; at each label start, the hash
	 * so far is the hash of that suffix. A trailing dot is ignored. */
	if (n && p[n - 1] == '.')
		n--;
	uint64_t h = FNV_OFF;
	for (size_t i = n; i-- > 0;) {
		h ^= (uint8_t)tolower((unsigned char)p[i]);
		h *= FNV_PRIME;
		if ((i == 0 || p[i - 1] == '.') &&
		    str_lookup(s, h, p + i, n - i))
			return 1;
	}
	return 0;
}

int rule_set_has_ip(const struct rule_set *s, const struct rule_ip *ip)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	const uint8_t *a = ip->a;
	int fam = ip->family;
	if (fam == 6 && memcmp(a, mapped, 12) == 0) {
		fam = 4;       /* ::ffff:a.b.c.d is an IPv4 client */
		a += 12;
	}
	if (fam == 4) {
		uint32_t x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
			     (uint32_t)a[2] << 8 | a[3];
		uint32_t lo = 0, hi = s->n4;  /* first interval with lo > x */
		while (lo < hi) {
			uint32_t m = (lo + hi) / 2;
			if (s->v4[m].lo <= x)
				lo = m + 1;
			else
				hi = m;
		}
		return lo > 0 && x <= s->v4[lo - 1].hi;
	}
	if (fam != 6)
		return 0;
	uint64_t xh = be64(a), xl = be64(a + 8);
	uint32_t lo = 0, hi = s->n6;
	while (lo < hi) {
		uint32_t m = (lo + hi) / 2;
		if (cmp_u128(s->v6[m].lo_hi, s->v6[m].lo_lo, xh, xl) <= 0)
			lo = m + 1;
		else
			hi = m;
	}
	return lo > 0 && cmp_u128(xh, xl, s->v6[lo - 1].hi_hi,
				  s->v6[lo - 1].hi_lo) <= 0;
}

int rule_set_has_int(const struct rule_set *s, int64_t v)
{
	uint32_t lo = 0, hi = s->nints;
	while (lo < hi) {
		uint32_t m = (lo + hi) / 2;
		if (s->ints[m].lo <= v)
			lo = m + 1;
		else
			hi = m;
	}
	return lo > 0 && v <= s->ints[lo - 1].hi;
}

const char *rl_kind_name(enum set_kind k)
{
	switch (k) {
	case SET_CIDR: return "cidr";
	case SET_DOMAIN: return "domain";
	case SET_STRING: return "string";
	case SET_PORT: return "port";
	}
	return "?";
}
