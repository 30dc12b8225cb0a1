/* smtp_auth.c - SMTP AUTH on the client side: the mechanism, the user
 * name of PLAIN and LOGIN, never a password.
 *
 * The exchange is driven by the server: a 334 makes the client's next line
 * AUTH data (smtp_reply.c sets auth_exchange); that line is a credential,
 * wiped from the line buffer once handled and never kept or reported.
 */
#include "smtp_int.h"

#include <string.h>

static char up(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
}

static int is_sp(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- base64 (user names only) -------------------------------------------
 *
 * Decodes at most what is needed: for LOGIN the whole (user name) line,
 * for PLAIN ("authzid NUL authcid NUL password") it stops at the second
 * NUL, so the password is never decoded. The authcid is only kept if that
 * second NUL was seen (else it could be a malformed password) and the
 * scratch buffer is wiped. */
static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static void b64_user(const char *in, size_t n, int plain, char *out,
		     size_t cap)
{
	char tmp[SMTP_USER_MAX];
	size_t k = 0;
	int nuls = 0, ok = !plain;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v = b64_val(in[i]);

		if (v < 0)
			break;	/* '=' padding or junk: stop */
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits < 8)
			continue;
		bits -= 8;
		char b = (char)((acc >> bits) & 0xff);

		if (plain) {
			if (b == '\0') {
				if (++nuls == 2) {
					ok = 1;
					break;	/* the password follows */
				}
				continue;
			}
			if (nuls == 0)
				continue;	/* authzid */
		} else if (b == '\0') {
			b = '?';
		}
		if (k < sizeof(tmp) - 1)
			tmp[k++] = b;
	}
	tmp[k] = '\0';
	if (ok)
		smtp_field_cpy(out, cap, tmp);
	explicit_bzero(tmp, sizeof(tmp));
	acc = 0;
}

void smtp_auth_data_line(struct smtp_state *s, const char *l, size_t n)
{
	struct smtp_auth *a = &s->sess.auth;

	s->auth_exchange = 0;
	s->wipe_line = 1;	/* a credential: wipe it from the line buffer */
	if (s->auth_login_user)
		b64_user(l, n, 0, a->user, sizeof(a->user));
	else if (s->auth_plain_user)
		b64_user(l, n, 1, a->user, sizeof(a->user));
	s->auth_login_user = s->auth_plain_user = 0;
	/* the line is a credential: the event carries no argument */
	smtp_cmd_event(s, SMTP_CMD_AUTH_DATA, "", "", 0);
	smtp_queue_must(s, SMTP_CMD_AUTH_DATA, 0, NULL, 0);
}

void smtp_cmd_auth(struct smtp_state *s, const char *arg, size_t n)
{
	struct smtp_auth *a = &s->sess.auth;
	size_t i = 0, ml, rs;

	if (s->tx.started)
		smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
	while (i < n && !is_sp(arg[i]))
		i++;
	ml = i;
	while (i < n && is_sp(arg[i]))
		i++;
	rs = i;
	while (i < n && !is_sp(arg[i]))
		i++;
	a->attempts++;
	a->user[0] = '\0';
	a->code = 0;
	a->enhanced[0] = '\0';
	a->ok = 0;
	smtp_field_set(s, a->mechanism, sizeof(a->mechanism), arg, ml);
	for (char *p = a->mechanism; *p; p++)
		*p = up(*p);
	if (ml == 0)
		smtp_anom(s, SMTP_ANOM_CMD_SYNTAX, CTR_SMTP_CMD_SYNTAX);
	s->auth_login_user = s->auth_plain_user = 0;
	if (i > rs)
		s->wipe_line = 1;	/* an initial response */
	if (strcmp(a->mechanism, "PLAIN") == 0) {
		if (i > rs)
			b64_user(arg + rs, i - rs, 1, a->user, sizeof(a->user));
		else
			s->auth_plain_user = 1;
	} else if (strcmp(a->mechanism, "LOGIN") == 0) {
		if (i > rs)
			b64_user(arg + rs, i - rs, 0, a->user, sizeof(a->user));
		else
			s->auth_login_user = 1;
	}
	s->session_dirty = 1;
	/* never the initial response: it may hold the password */
	smtp_cmd_event(s, SMTP_CMD_AUTH, "AUTH", a->mechanism, strlen(a->mechanism));
	smtp_queue_must(s, SMTP_CMD_AUTH, 0, NULL, 0);
}

