/* smtp.h - passive SMTP parser: both sides of a session, paired in order.
 *
 * Implements smtp_ops (proto.h). The parser follows the client's commands
 * and the server's replies, pairs each reply with its command (PIPELINING
 * included: replies come in command order, RFC 2920), skips message bodies
 * (DATA until CRLF.CRLF, BDAT by length), stops at STARTTLS, and reports:
 *
 *   EV_SMTP_COMMAND  a client command was parsed (before its reply)
 *   EV_SMTP_REPLY    a reply was paired with its command (or the greeting
 *                    with the connection: last_cmd.verb == SMTP_CMD_CONNECT)
 *   EV_SMTP_RECORD   a transaction is finished (see "records" below)
 *
 * The state follows the server. A command only changes the transaction
 * when its reply arrives, and only as the reply says: a refused MAIL inside
 * a transaction (503 nested MAIL) leaves the first sender in place, a
 * refused RSET/EHLO/HELO resets nothing, an accepted one (2xx) ends the
 * transaction (RFC 5321 4.1.4). Command events are raised at once (inline
 * mode acts on them); they carry the transaction as the server has
 * confirmed it so far, and the command's own argument in last_cmd.
 *
 * Every event passes a const struct smtp_tx *: the transaction the reply
 * belongs to (or the current one), with last_cmd / last_reply describing
 * the trigger. tx->session (session-level facts: greeting, HELO, AUTH, TLS)
 * is valid, like the tx itself, only during the event call.
 *
 * Records. A transaction starts when the server answers a MAIL (or an
 * out-of-sequence RCPT/DATA/BDAT: flagged, but followed since the server
 * may accept it) and ends when the server answers the end of the message
 * (CRLF.CRLF or BDAT LAST), an accepted RSET/HELO/EHLO, a MAIL that starts
 * another transaction, QUIT or STARTTLS. Its EV_SMTP_RECORD is raised then,
 * so every RCPT carries its own code. At ops->end() the commands still
 * waiting for a reply are applied as sent ("unanswered") and the records
 * are written with whatever is known. A session record (transaction == 0,
 * no mail_from) is raised when the session ends (QUIT reply, STARTTLS
 * accepted, end of flow) if the session produced no transaction record yet,
 * or if AUTH/STARTTLS happened after the last one. Implicit TLS (port 465)
 * gives one session record with tls "implicit" at end of flow.
 *
 * In-flight commands. Commands wait for their reply in a bounded queue
 * (struct smtp_queue): runs of identical commands are stored once with a
 * count, arguments (addresses) in a byte ring. When it is full:
 *   - a RCPT keeps its domain only (smtp.rcpt "@domain", counter
 *     smtp.drop.inflight_rcpt_domain_only), else nothing (smtp.rcpt.unknown
 *     is true on its reply: relay rules treat it as foreign; counter
 *     smtp.drop.inflight_rcpt_unknown); 10,000 pipelined 256-byte RCPTs
 *     with one foreign recipient still name its domain on its reply;
 *   - other commands are merged into a "mixed" run that only keeps their
 *     number and how many were RCPT: its replies are paired by count, a
 *     reply that may answer a RCPT is reported as a RCPT with an unknown
 *     address (fail closed), counter smtp.drop.pipelined_commands_cap.
 * Lines the client sends after DATA before its reply are queued as
 * commands and marked: a 354 turns them into message text (up to a "."
 * line), a refusal leaves them commands.
 *
 * Gaps. A reply is never paired with a command it may not answer. After a
 * capture gap that may have lost commands (client side) or replies (server
 * side), a midstream pickup, or a message end the server saw and we did
 * not, pairing is "lost" (anomaly pairing_lost, counter
 * smtp.anomaly.pairing_lost): commands are applied as sent, replies are
 * counted (smtp.drop.reply_pairing_unknown) but not paired, until a 354
 * (the server then reads a message: nothing is in flight).
 *
 * Memory: the whole state is struct smtp_state (fixed size, no pointers
 * kept across calls, no malloc); its size is SMTP_STATE_SIZE (18352 bytes
 * on x86-64, < 18 KiB: a unit test checks it; 24384 with the two
 * transaction slots this replaced).
 * Caps, each with a counter and a record flag:
 *   SMTP_LINE_MAX      a command/reply line; longer lines keep their first
 *                      SMTP_LINE_MAX - 1 bytes, the rest up to LF is
 *                      discarded (CTR_SMTP_LINE_TOO_LONG, "line_too_long")
 *   SMTP_QUEUE_RUNS,   the in-flight queue, see above
 *   SMTP_QUEUE_ARGS
 *   SMTP_RCPT_MAX      recipients listed per record; beyond it they are
 *                      counted (CTR_SMTP_RCPT_CAP) but still tallied in
 *                      rcpt_total / rcpt_accepted / rcpt_refused and still
 *                      named in their reply events
 *   string fields      truncated to their array size (CTR_SMTP_STR_CAP)
 *
 * Credentials: AUTH initial responses and continuation lines are never
 * stored. Only the user name of PLAIN (authcid) and LOGIN (first response)
 * is decoded, by a bounded decoder that stops before the password.
 */
#ifndef RW_SMTP_H
#define RW_SMTP_H

#include <stddef.h>
#include <stdint.h>
#include "proto.h"

/* RFC 5321 4.5.3.1.4/5: command and reply lines are at most 512 octets;
 * we keep twice that so that legitimate extensions are not cut. */
#define SMTP_LINE_MAX     1024
#define SMTP_ADDR_MAX     256   /* RFC 5321 path limit is 256 */
#define SMTP_PARAMS_MAX   192   /* MAIL FROM parameters, raw */
#define SMTP_HELO_MAX     256
#define SMTP_TEXT_MAX     192   /* reply text (multi-line joined by \n) */
#define SMTP_ARG_MAX      256   /* last_cmd.arg */
#define SMTP_VERB_MAX     16
#define SMTP_ENH_MAX      12    /* "5.255.255" */
#define SMTP_MECH_MAX     24
#define SMTP_USER_MAX     128
#define SMTP_RCPT_MAX     32    /* recipients listed in a record */
#define SMTP_QUEUE_RUNS   128   /* runs of in-flight commands */
#define SMTP_QUEUE_ARGS   3072  /* bytes of in-flight arguments */
#define SMTP_UNKNOWN_MAX  4     /* unknown verbs listed per record */

enum smtp_verb {
	SMTP_CMD_NONE = 0,
	SMTP_CMD_CONNECT,   /* pseudo: the greeting is its reply */
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_LHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_DATA_END,  /* pseudo: the CRLF.CRLF ending the message */
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_QUIT,
	SMTP_CMD_NOOP,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_ETRN,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_AUTH_DATA, /* pseudo: a client line inside an AUTH exchange
	                     * (its content is never stored) */
	SMTP_CMD_UNKNOWN,
	SMTP_CMD__COUNT
};

/* anomaly bits (tx->anomalies); names from smtp_anomaly_name() */
enum smtp_anomaly {
	SMTP_ANOM_LINE_TOO_LONG  = 1u << 0,
	SMTP_ANOM_BARE_LF        = 1u << 1,
	SMTP_ANOM_EARLY_TALKER   = 1u << 2,
	SMTP_ANOM_OUT_OF_SEQ     = 1u << 3,  /* incl. a refused nested MAIL */
	SMTP_ANOM_UNKNOWN_CMD    = 1u << 4,
	SMTP_ANOM_UNPAIRED_REPLY = 1u << 5,
	SMTP_ANOM_PENDING_CAP    = 1u << 6,  /* a mixed run (queue full) */
	SMTP_ANOM_RCPT_CAP       = 1u << 7,
	SMTP_ANOM_FIELD_TRUNC    = 1u << 8,
	SMTP_ANOM_GAP            = 1u << 9,
	SMTP_ANOM_BAD_REPLY      = 1u << 10, /* server line not "ddd[ -]" */
	SMTP_ANOM_CMD_SYNTAX     = 1u << 11, /* e.g. MAIL without FROM:, BDAT n? */
	SMTP_ANOM_UNANSWERED     = 1u << 12, /* commands applied without reply */
	SMTP_ANOM_DATA_UNTERM    = 1u << 13, /* message end not seen */
	SMTP_ANOM_TLS_PIPELINED  = 1u << 14, /* plaintext sent after STARTTLS
	                                      * before its 220 (command
	                                      * injection, CVE-2011-0411) */
	SMTP_ANOM_PAIRING_LOST   = 1u << 15, /* replies could not be paired */
	SMTP_ANOM_PAST_DATA      = 1u << 16, /* lines sent after DATA before
	                                      * its reply (message text) */
	SMTP_ANOM_INFLIGHT_CAP   = 1u << 17, /* an in-flight argument (address)
	                                      * was not kept whole */
	SMTP_ANOM__COUNT         = 18
};

enum smtp_tls {
	SMTP_TLS_NONE = 0,
	SMTP_TLS_STARTTLS,
	SMTP_TLS_IMPLICIT,
};

/* what last_cmd.arg holds for a RCPT */
enum smtp_addr_state {
	SMTP_ADDR_WHOLE = 0,   /* the address */
	SMTP_ADDR_DOMAIN,      /* "@domain": the local part was not kept */
	SMTP_ADDR_UNKNOWN,     /* "": nothing was kept (or the reply may
	                        * answer a RCPT we could not keep track of) */
};

struct smtp_cmd {
	enum smtp_verb verb;
	char name[SMTP_VERB_MAX];  /* verb as sent, upper-cased ("." for
	                            * DATA_END, "" for AUTH_DATA) */
	/* EV_SMTP_COMMAND: MAIL/RCPT: the address without <> (parameters are
	 * in mail_params); AUTH: the mechanism only, never the initial
	 * response; AUTH_DATA: empty; others: the argument as sent.
	 * EV_SMTP_REPLY: what the in-flight queue kept: the MAIL/RCPT address
	 * (see addr), the HELO name, the AUTH mechanism, else empty. */
	char arg[SMTP_ARG_MAX];
	uint8_t addr;              /* RCPT: enum smtp_addr_state */
	int rcpt;                  /* RCPT reply: index in recipients[], -1 if
	                            * none (over the cap, not kept, command) */
	int bdat_last;             /* BDAT ... LAST */
	uint64_t bdat_size;
};

struct smtp_reply {
	int code;                  /* 0 = none yet */
	char enhanced[SMTP_ENH_MAX]; /* "5.7.1" or "" */
	char text[SMTP_TEXT_MAX];  /* after code and enhanced code */
	int lines;
};

struct smtp_rcpt {
	char address[SMTP_ADDR_MAX]; /* without <> */
	int code;                    /* 0 = no reply */
	char enhanced[SMTP_ENH_MAX];
	uint8_t accepted;            /* 2xx */
};

struct smtp_auth {
	char mechanism[SMTP_MECH_MAX]; /* upper-cased */
	char user[SMTP_USER_MAX];      /* PLAIN/LOGIN only, may be "" */
	int code;                      /* final reply: 235, 535, ... 0 = none */
	char enhanced[SMTP_ENH_MAX];
	uint8_t ok;                    /* 235 */
	uint32_t attempts, failures;   /* over the session */
};

enum smtp_data_cmd {
	SMTP_DATA_NONE = 0,
	SMTP_DATA_DATA,
	SMTP_DATA_BDAT,
};

struct smtp_data {
	enum smtp_data_cmd command;
	uint64_t body_bytes;       /* wire bytes of the message: DATA without
	                            * the ".\r\n" terminator (dot-stuffing kept),
	                            * BDAT the sum of chunk sizes seen */
	uint32_t chunks;           /* BDAT commands */
	int code;                  /* last reply about the data: DATA's own
	                            * (354 / refusal), then end-of-data / BDAT */
	char enhanced[SMTP_ENH_MAX];
	char text[SMTP_TEXT_MAX];
	uint8_t complete;          /* terminator / BDAT LAST chunk fully seen */
};

struct smtp_session {
	int greeting_code;         /* 0 = no greeting seen */
	char greeting_text[SMTP_TEXT_MAX];
	char helo[SMTP_HELO_MAX];  /* last HELO/EHLO/LHLO name accepted (or
	                            * never answered) */
	char helo_verb[8];
	int helo_code;
	struct smtp_auth auth;     /* the last AUTH attempt */
	enum smtp_tls tls;
	uint32_t transactions;     /* transactions started so far */
	uint32_t records;          /* EV_SMTP_RECORD raised so far */
	uint32_t commands, replies;
	uint8_t client_authenticated; /* some AUTH got 235 */
	uint8_t early_talker;      /* client spoke before the greeting */
	uint8_t midstream;
};

struct smtp_tx {
	const struct smtp_session *session; /* valid during the event only */
	uint32_t number;           /* 1.. ; 0 for a session record */
	uint8_t started;           /* the server answered MAIL (or an
	                            * out-of-sequence RCPT/DATA/BDAT) */
	/* MAIL FROM */
	uint8_t has_mail;
	uint8_t mail_unknown;      /* the sender was not kept (queue full) */
	char mail_from[SMTP_ADDR_MAX]; /* without <>, "" for the null sender */
	char mail_params[SMTP_PARAMS_MAX]; /* raw, e.g. "SIZE=443 BODY=8BITMIME" */
	int mail_code;
	char mail_enhanced[SMTP_ENH_MAX];
	/* RCPT TO, in reply order */
	struct smtp_rcpt recipients[SMTP_RCPT_MAX];
	uint32_t n_recipients;     /* kept in recipients[] */
	uint32_t rcpt_total, rcpt_accepted, rcpt_refused; /* incl. over cap */
	struct smtp_data data;
	uint32_t anomalies;        /* SMTP_ANOM_* */
	uint32_t n_unknown;
	char unknown[SMTP_UNKNOWN_MAX][SMTP_VERB_MAX];
	/* the trigger of the current event */
	struct smtp_cmd last_cmd;
	struct smtp_reply last_reply;
};

/* One run of in-flight commands: count identical commands (same verb,
 * flags and argument), or a "mixed" run (verb SMTP_Q_MIXED) of commands
 * merged when the queue was full. */
#define SMTP_Q_MIXED SMTP_CMD__COUNT
struct smtp_qent {
	uint8_t verb;              /* enum smtp_verb or SMTP_Q_MIXED */
	uint8_t mixed;             /* mixed run: SMTP_QX_* it swallowed */
	uint16_t flags;            /* SMTP_QF_* (smtp_int.h) */
	uint16_t alen;             /* argument bytes, once for the run */
	uint16_t pad;
	uint32_t count;            /* commands left in the run */
	uint32_t nrcpt;            /* mixed run: RCPTs among them (at most) */
};

struct smtp_queue {
	struct smtp_qent run[SMTP_QUEUE_RUNS];
	uint16_t head, n;          /* runs, ring */
	uint16_t ahead, abytes;    /* argument bytes, ring, in run order */
	uint8_t args[SMTP_QUEUE_ARGS];
};

/* per-direction line assembler */
struct smtp_line {
	char buf[SMTP_LINE_MAX];
	uint16_t len;
	uint8_t too_long;          /* discarding to LF */
	uint8_t last_cr;           /* previous byte was CR */
	uint8_t resync;            /* after a gap: discard to the next LF */
	uint64_t seen;             /* bytes of the current line (cut ones too) */
};

enum smtp_cli_mode {
	SMTP_CLI_CMD = 0,
	SMTP_CLI_BODY,             /* after 354: until CRLF.CRLF */
	SMTP_CLI_CHUNK,            /* BDAT: skip chunk_left bytes */
	SMTP_CLI_DONE,             /* TLS or implicit TLS: ignore */
};

struct smtp_state {
	struct proto_sink sink;    /* copied at init */
	struct rw_counters *ctr;
	struct smtp_session sess;
	struct smtp_tx tx;         /* the transaction the server is in */
	uint64_t ts;               /* timestamp of the current call */
	enum smtp_cli_mode cli_mode;
	uint64_t chunk_left;
	uint64_t body_line;        /* body: bytes in the current line */
	/* DATA window: a DATA waits for its reply and no "." line followed */
	uint64_t win_bytes;        /* client bytes since that DATA's line */
	uint64_t cli_line_bytes;   /* the client line being handled, LF incl. */
	uint8_t win_open;
	uint8_t win_chunk;         /* a BDAT chunk was skipped in the window */
	uint8_t done;              /* TLS: nothing more parsed */
	uint8_t greeting_done;     /* a greeting (or first reply) was seen */
	uint8_t auth_exchange;     /* last AUTH reply was 334: next client
	                            * line is AUTH data */
	uint8_t auth_login_user;   /* LOGIN: next AUTH data is the user */
	uint8_t auth_plain_user;   /* PLAIN: next AUTH data is the response */
	uint8_t session_dirty;     /* AUTH/STARTTLS since the last record */
	uint8_t body_dot;          /* body: line so far is "." */
	uint8_t body_cr;           /* body: line so far is ".\r" */
	uint8_t body_last_cr;      /* body: previous byte was CR */
	uint8_t body_gap;          /* body: bytes were lost in it */
	uint8_t chunk_last;        /* the chunk being skipped is BDAT LAST */
	uint8_t implicit_tls;
	uint8_t rep_open;          /* a "ddd-" line was seen */
	uint8_t rep_trunc;         /* reply text truncation counted */
	uint8_t ended;             /* ops->end() ran */
	uint8_t wipe_line;         /* the line held a credential: zero it */
	uint8_t lost;              /* pairing lost (see "Gaps") */
	uint8_t lost_starttls;     /* STARTTLS sent while pairing was lost */
	struct smtp_reply rep;     /* reply assembly (multi-line) */
	struct smtp_line line[2];  /* [DIR_TO_SERVER], [DIR_TO_CLIENT] */
	struct smtp_queue q;       /* commands waiting for their reply */
};

#define SMTP_STATE_SIZE sizeof(struct smtp_state)

const char *smtp_verb_name(enum smtp_verb v);
/* name of one SMTP_ANOM_* bit, NULL if unknown */
const char *smtp_anomaly_name(uint32_t bit);

#endif
