/* rules.h - the rule language: loading, checking, evaluating.
 *
 * The language is documented in docs/relaywatch.rules.5. In short:
 *
 *   set TRUSTED_NETS cidr [192.0.2.0/24, 2001:db8::/32]
 *   rule relay.open {
 *       sid 1000001
 *       on smtp.reply
 *       when smtp.command == "RCPT" and smtp.reply.class == 2
 *        and src_ip not in $TRUSTED_NETS and not smtp.authenticated
 *        and smtp.rcpt.domain not in $LOCAL_DOMAINS and dest_ip in $HOME_NET
 *       action alert  severity 1  category "Open SMTP relay"
 *       msg "open relay: {dest_ip} accepted RCPT {smtp.rcpt} from {src_ip}"
 *       ratelimit 1 per 1h by (dest_ip, src_ip)
 *   }
 *
 * Life cycle.
 *   ruleset_load() parses every file, checks everything, and either returns a
 *   complete immutable struct ruleset or NULL with every error in the
 *   diagnostics ("file:line:col: message"): a rule file with errors never
 *   half-loads. Sets come from (lowest precedence first) built-in defaults,
 *   `set` statements in rule files, then struct rule_vars (config file and
 *   --set, in the order they were added: the last one wins).
 *
 * Live reload (design; the engine implements the swap). A ruleset is
 *   immutable and refcounted (ruleset_ref/unref are atomic). The control
 *   thread loads a new set, publishes it in one atomic pointer and bumps a
 *   generation counter. Each worker re-reads the pointer at its next fact
 *   when the generation moved and records the generation it has seen; it
 *   takes its own reference on the new set and drops the old one. The control thread drops
 *   the publisher's reference on the old set once every worker's seen
 *   generation has passed the swap (an epoch scheme: no worker can be
 *   between "load pointer" and "take reference" on a set being freed).
 *   The rule state (thresholds, rate limits, correlation; one per engine,
 *   or one shared by all the workers, see below) is keyed by the rules'
 *   sids, not by their index, so it survives a reload: a rule that keeps
 *   its sid keeps its counters.
 *
 * Evaluation (rule_eval, rule_eval.c) runs in the worker, per fact. Rules are
 *   indexed by trigger; expressions are precompiled (sets as sorted interval
 *   arrays and hash tables, regexes JIT-compiled); nothing is allocated per
 *   evaluation. State tables are bounded (caps in struct rule_ctx_config):
 *   when a table is full the entry closest to expiry in the probed
 *   neighbourhood is evicted and counted.
 *
 * Multiple workers. Thresholds, rate limits and correlations live in one
 *   struct rule_state that all the workers' contexts share (the dispatcher
 *   creates it): a client's connections and the two flows of a correlation
 *   land on different workers, and the counts and joins must still be
 *   exact. Its mutex is taken only for the stateful steps of a rule whose
 *   condition matched, never per packet, and each such step first waits
 *   for its turn (rule_ctx_set_turn): the tables see the facts in packet
 *   order, so several workers give the alerts of one (see rule_eval.c).
 *   Its counters (evictions, caps) go to the counters of the worker whose
 *   fact touched it.
 */
#ifndef RW_RULES_H
#define RW_RULES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "counters.h"
#include "fields.h"

#define RULE_MSG_MAX 512       /* rendered message, truncated past this */
#define RULE_KEY_MAX 256       /* rendered key text */
#define RULE_MAX_KEYS 4        /* fields in a "by (...)" or "key (...)" */
#define RULE_DISTINCT_MAX 128  /* distinct values remembered per key */
#define RULE_LIST_MAX 256      /* list elements looked at per field */
#define RULE_DIAG_MAX 1000     /* diagnostics kept per load */
#define RULE_FILE_MAX (4u << 20) /* bytes per rule file */
#define RULE_EXPR_MAX 2000     /* expression nodes per rule (bounds the
                                * evaluator's recursion) */

/* Ordered by strength: the verdict of an evaluation is the strongest
 * action that matched. pass wins over everything (and stops evaluation of
 * the flow for good); block over alert; note only feeds correlation. */
enum rule_action {
	RA_NONE = 0,
	RA_NOTE,    /* remember the match for "after" rules; no output */
	RA_ALERT,
	RA_BLOCK,   /* inline: drop; passive modes: an alert */
	RA_PASS,    /* allowlist: suppress every later rule on this flow */
};

const char *rule_action_name(enum rule_action a);

/* ---- sets ---- */

enum set_kind { SET_CIDR = 1, SET_DOMAIN, SET_STRING, SET_PORT };

struct set_v4 { uint32_t lo, hi; };
struct set_v6 { uint64_t lo_hi, lo_lo, hi_hi, hi_lo; }; /* [lo, hi] 128-bit */
struct set_int { int64_t lo, hi; };

struct rule_set {
	const char *name;          /* "" for a literal list */
	enum set_kind kind;
	/* SET_CIDR: sorted, merged, non-overlapping intervals */
	struct set_v4 *v4;
	uint32_t n4;
	struct set_v6 *v6;
	uint32_t n6;
	/* SET_PORT: sorted, merged intervals */
	struct set_int *ints;
	uint32_t nints;
	/* SET_DOMAIN / SET_STRING: open-addressing hash of lower-cased
	 * strings; slot holds index+1 into strs, 0 = empty */
	const char **strs;
	uint32_t *lens;
	uint64_t *hashes;
	uint32_t nstrs;
	uint32_t *slots;
	uint32_t mask;
	uint32_t nitems;           /* items as written (for warnings) */
};

int rule_set_has_ip(const struct rule_set *s, const struct rule_ip *ip);
int rule_set_has_int(const struct rule_set *s, int64_t v);
/* SET_STRING: case-insensitive exact; SET_DOMAIN: the value or any parent
 * domain of it is in the set ("example.com" matches "mx.example.com") */
int rule_set_has_str(const struct rule_set *s, const char *p, size_t n);

/* ---- compiled rules ---- */

enum expr_op {
	EX_AND = 1, EX_OR, EX_NOT,
	EX_TRUE,      /* bare bool field */
	EX_EQ, EX_LT, EX_LE, EX_GT, EX_GE,
	EX_IN,
	EX_IS,        /* case-insensitive equality */
	EX_STARTS, EX_ENDS, EX_CONTAINS,  /* case-insensitive */
	EX_MATCH,     /* PCRE2 */
	EX_EXISTS,    /* the field has a value at this moment */
};

struct rule_expr {
	uint8_t op;
	uint8_t neg;          /* EX_EQ: !=, EX_IN: not in (per element) */
	uint16_t field;
	int32_t l, r;         /* children (AND/OR: both, NOT: l) */
	struct rule_value lit;
	const struct rule_set *set;
	void *re;             /* pcre2_code_8 */
	uint32_t line, col;   /* where it was written (checker) */
};

struct tmpl_seg {
	int field;            /* -1: literal text */
	const char *text;
	uint32_t len;
};

struct rule_keys {
	uint8_t n;
	uint16_t f[RULE_MAX_KEYS];
};

enum thr_kind { THR_NONE = 0, THR_COUNT, THR_DISTINCT };

struct corr_spec {
	int a, b;                 /* rule indexes: A then B */
	struct rule_keys ak, bk;  /* A's fields == B's fields */
	uint64_t window_us;
	uint64_t id;              /* stable across reloads: from both sids */
};

struct rule {
	const char *id;
	uint32_t sid;
	uint32_t triggers;        /* TM() mask */
	enum rule_action action;
	int severity;             /* 1 (high) .. 3 (low) */
	const char *category;
	struct tmpl_seg *msg;
	int nmsg;
	int32_t expr;             /* root, -1: always */
	struct {
		enum thr_kind kind;
		uint16_t field;   /* THR_DISTINCT */
		struct rule_keys by;
		int64_t limit;    /* fires when the count exceeds limit */
		uint64_t window_us;
	} thr;
	int after;                /* corr_spec index where this rule is B, -1 */
	int *remember;            /* corr_spec indexes where this rule is A */
	int nremember;
	struct {
		uint32_t n;       /* 0: no rate limit */
		uint64_t window_us;
		struct rule_keys by;
	} rate;
	const char *file;
	uint32_t line;
};

#define RULE_VERB_INDEX_MAX 32

struct arena;

struct ruleset {
	atomic_int refs;
	struct arena *arena;
	struct rule *rules;
	int nrules;
	struct rule_expr *exprs;
	int nexprs;
	struct corr_spec *specs;
	int nspecs;
	struct rule_set **sets;   /* named sets */
	int nsets;
	/* per trigger: rule indexes, pass rules first, then load order */
	uint32_t *by_trigger[TRIG__COUNT];
	uint32_t n_by_trigger[TRIG__COUNT];
	/* smtp.command / smtp.reply: the same lists split by the SMTP verb a
	 * rule requires (a top-level `smtp.command == "RCPT"` test): one list
	 * per verb holds the rules guarded by it plus the unguarded ones, in
	 * by_trigger order; other verbs use the unguarded list. A fact then
	 * runs only the rules that can match its verb. */
	struct verb_index {
		int nverbs;                  /* -1: no index (use by_trigger) */
		char verb[RULE_VERB_INDEX_MAX][16];
		uint32_t *list[RULE_VERB_INDEX_MAX + 1]; /* [nverbs]: unguarded */
		uint32_t n[RULE_VERB_INDEX_MAX + 1];
	} by_verb[TRIG__COUNT];
	const struct rule_set *home_net;
	void **regexes;           /* every pcre2 code, for freeing */
	int nregexes;
};

/* ---- diagnostics ---- */

struct rule_diags {
	char **msg;               /* "file:line:col: message" / "warning: ..." */
	int n, cap;
	int nerrors, nwarnings, dropped;
};

void rule_diags_free(struct rule_diags *d);
void rule_diags_print(const struct rule_diags *d, FILE *out);

/* ---- set values from the config and the command line ---- */

struct rule_var {
	char *name, *values, *file;
	int line;
};

struct rule_vars {
	struct rule_var *v;
	int n;
};

/* NAME = "v1,v2,..." (the set's type decides how values parse; an empty
 * string empties the set). file/line say where it came from, for errors
 * ("--set", n). 0 or -ENOMEM. */
int rule_vars_set(struct rule_vars *vars, const char *name,
		  const char *values, const char *file, int line);
/* "NAME=V[,V...]" as given to --set; -EINVAL if there is no '=' */
int rule_vars_parse_arg(struct rule_vars *vars, const char *arg, int argno);
void rule_vars_free(struct rule_vars *vars);

/* ---- loading ---- */

struct rule_source {
	const char *name;         /* file name for messages */
	const char *text;
	size_t len;
};

/* path: a file, or a directory whose *.rules files load in name order.
 * Returns the ruleset (refs = 1) or NULL; d receives every error and
 * warning. */
struct ruleset *ruleset_load(const char *path, const struct rule_vars *vars,
			     struct rule_diags *d);
struct ruleset *ruleset_load_sources(const struct rule_source *src, int n,
				     const struct rule_vars *vars,
				     struct rule_diags *d);
/* --check-rules: load, print every diagnostic and a summary line to out;
 * returns the exit status (0 loaded, 1 errors) */
int rules_check(const char *path, const struct rule_vars *vars, FILE *out);
struct ruleset *ruleset_ref(struct ruleset *rs);
void ruleset_unref(struct ruleset *rs);
/* by string id; -ENOENT */
int ruleset_find(const struct ruleset *rs, const char *id);
const struct rule_set *ruleset_set(const struct ruleset *rs,
				   const char *name);

/* ---- evaluation (rule_eval.c) ---- */

/* Per-flow rule state; the engine embeds one per flow, zeroed. */
struct rule_flow {
	uint32_t pass_sid;        /* nonzero: a pass rule matched */
};

struct rule_ctx_config {
	uint32_t threshold_entries;   /* keys counted at once */
	uint32_t ratelimit_entries;
	uint32_t correlation_entries;
	uint32_t regex_match_limit;   /* PCRE2 match limit (backtracking) */
};

struct rule_match {
	const struct rule *rule;
	enum rule_action action;
	const char *msg;           /* rendered template, NUL-terminated */
	size_t msg_len;
	const char *key;           /* rendered "by" fields ("" if none) */
	uint64_t key_hash;
	/* "after" rules: when the earlier rule matched, and which */
	uint64_t corr_ts_us;
	uint32_t corr_sid;
	/* threshold rules: the count that crossed the limit */
	uint32_t count;
};

typedef void (*rule_match_fn)(void *arg, const struct rule_match *m);

struct rule_ctx;
struct rule_state;

void rule_ctx_config_default(struct rule_ctx_config *c);
/* set the zero fields of c to the defaults */
void rule_ctx_config_fill(struct rule_ctx_config *c);
/* Threshold, rate-limit and correlation tables sized by cfg (NULL: the
 * defaults), to share between contexts on several threads. */
struct rule_state *rule_state_new(const struct rule_ctx_config *cfg);
void rule_state_free(struct rule_state *st);
/* A context for one thread. shared: the state it uses (outlives the
 * context); NULL: the context makes its own. */
struct rule_ctx *rule_ctx_new(const struct rule_ctx_config *cfg,
			      struct rw_counters *ctr,
			      struct rule_state *shared);
void rule_ctx_free(struct rule_ctx *c);
/* wait(arg) runs before each step on the shared state. With several
 * workers it returns once every fact of a lower packet index has had its
 * turn, so the shared tables see the facts in packet order, as with one
 * worker (a correlation's second flow never overtakes its first). */
void rule_ctx_set_turn(struct rule_ctx *c, void (*wait)(void *arg),
		       void *arg);

/* Evaluate the rules of f->trigger against f. cb is called for each alert
 * or block match that passed its rate limit (msg valid during the call).
 * Returns the strongest action that matched (RA_NONE if none); a block
 * suppressed by its rate limit still returns RA_BLOCK. */
enum rule_action rule_eval(struct rule_ctx *c, const struct ruleset *rs,
			   const struct rule_fact *f, rule_match_fn cb,
			   void *arg);

/* Render r's message for f into buf (cap bytes incl. NUL); absent fields
 * render as "-". Returns the length. */
size_t rule_render(struct rule_ctx *c, const struct ruleset *rs,
		   const struct rule *r, const struct rule_fact *f, char *buf,
		   size_t cap);

#endif
