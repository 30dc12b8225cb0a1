/* smtp_eve.c - SMTP names and the "smtp" EVE object of a record. */
#include "smtp_int.h"

#include <stdio.h>

#include "json.h"

const char *const smtp_verb_names[SMTP_CMD__COUNT] = {
	[SMTP_CMD_NONE] = "",
	[SMTP_CMD_CONNECT] = "CONNECT",
	[SMTP_CMD_HELO] = "HELO",
	[SMTP_CMD_EHLO] = "EHLO",
	[SMTP_CMD_LHLO] = "LHLO",
	[SMTP_CMD_MAIL] = "MAIL",
	[SMTP_CMD_RCPT] = "RCPT",
	[SMTP_CMD_DATA] = "DATA",
	[SMTP_CMD_DATA_END] = ".",
	[SMTP_CMD_BDAT] = "BDAT",
	[SMTP_CMD_RSET] = "RSET",
	[SMTP_CMD_QUIT] = "QUIT",
	[SMTP_CMD_NOOP] = "NOOP",
	[SMTP_CMD_VRFY] = "VRFY",
	[SMTP_CMD_EXPN] = "EXPN",
	[SMTP_CMD_HELP] = "HELP",
	[SMTP_CMD_ETRN] = "ETRN",
	[SMTP_CMD_STARTTLS] = "STARTTLS",
	[SMTP_CMD_AUTH] = "AUTH",
	[SMTP_CMD_AUTH_DATA] = "",
	[SMTP_CMD_UNKNOWN] = "",
};

const char *const smtp_anomaly_names[SMTP_ANOM__COUNT] = {
	"line_too_long",
	"bare_lf",
	"early_talker",
	"command_out_of_sequence",
	"unknown_command",
	"reply_without_command",
	"pipelined_commands_cap",
	"recipients_cap",
	"field_truncated",
	"gap",
	"malformed_reply",
	"command_syntax",
	"unanswered",
	"data_unterminated",
	"starttls_pipelined",
	"pairing_lost",
	"pipelined_past_data",
	"inflight_cap",
};

const char *smtp_verb_name(enum smtp_verb v)
{
	if ((unsigned)v >= SMTP_CMD__COUNT)
		return "";
	return smtp_verb_names[v];
}

const char *smtp_anomaly_name(uint32_t bit)
{
	for (int i = 0; i < SMTP_ANOM__COUNT; i++)
		if (bit == (1u << i))
			return smtp_anomaly_names[i];
	return NULL;
}

static void eve_bracketed(struct json *j, const char *key, const char *a)
{
	char b[SMTP_ADDR_MAX + 2];

	snprintf(b, sizeof(b), "<%s>", a);
	json_str(j, key, b);
}

static void eve_code(struct json *j, int code, const char *enh)
{
	if (code)
		json_u64(j, "code", (uint64_t)code);
	if (enh && enh[0])
		json_str(j, "enhanced", enh);
}

const char *smtp_eve(struct json *j, enum proto_event type, const void *obj)
{
	const struct smtp_tx *tx = obj;
	const struct smtp_session *ss;

	if (type != EV_SMTP_RECORD || !tx || !tx->session)
		return NULL;
	ss = tx->session;
	json_obj_open(j, "smtp");
	/* Suricata's fields first (paths as Suricata logs them: with <>) */
	if (ss->helo_verb[0])
		json_str(j, "helo", ss->helo);
	if (tx->has_mail && !tx->mail_unknown)
		eve_bracketed(j, "mail_from", tx->mail_from);
	if (tx->n_recipients) {
		json_arr_open(j, "rcpt_to");
		for (uint32_t i = 0; i < tx->n_recipients; i++)
			eve_bracketed(j, NULL, tx->recipients[i].address);
		json_arr_close(j);
	}
	/* relaywatch extensions */
	json_u64(j, "transaction", tx->number);
	if (tx->has_mail) {
		json_obj_open(j, "mail");
		if (!tx->mail_unknown)
			json_str(j, "address", tx->mail_from);
		if (tx->mail_params[0])
			json_str(j, "params", tx->mail_params);
		eve_code(j, tx->mail_code, tx->mail_enhanced);
		json_obj_close(j);
	}
	if (tx->rcpt_total) {
		json_arr_open(j, "recipients");
		for (uint32_t i = 0; i < tx->n_recipients; i++) {
			const struct smtp_rcpt *r = &tx->recipients[i];

			json_obj_open(j, NULL);
			json_str(j, "address", r->address);
			eve_code(j, r->code, r->enhanced);
			json_bool(j, "accepted", r->accepted);
			json_obj_close(j);
		}
		json_arr_close(j);
		json_obj_open(j, "rcpt_count");
		json_u64(j, "total", tx->rcpt_total);
		json_u64(j, "accepted", tx->rcpt_accepted);
		json_u64(j, "refused", tx->rcpt_refused);
		json_obj_close(j);
	}
	if (tx->data.command != SMTP_DATA_NONE) {
		const struct smtp_data *d = &tx->data;

		json_obj_open(j, "data");
		json_str(j, "command",
			 d->command == SMTP_DATA_BDAT ? "BDAT" : "DATA");
		json_u64(j, "bytes", d->body_bytes);
		if (d->command == SMTP_DATA_BDAT)
			json_u64(j, "chunks", d->chunks);
		eve_code(j, d->code, d->enhanced);
		if (d->code)
			json_str(j, "text", d->text);
		json_bool(j, "complete", d->complete);
		json_obj_close(j);
	}
	if (ss->auth.attempts) {
		const struct smtp_auth *a = &ss->auth;

		json_obj_open(j, "auth");
		json_str(j, "mechanism", a->mechanism);
		if (a->user[0])
			json_str(j, "user", a->user);
		eve_code(j, a->code, a->enhanced);
		json_bool(j, "ok", a->ok);
		json_u64(j, "attempts", a->attempts);
		json_u64(j, "failures", a->failures);
		json_obj_close(j);
	}
	if (ss->tls != SMTP_TLS_NONE)
		json_str(j, "tls", ss->tls == SMTP_TLS_IMPLICIT ? "implicit" :
			 "starttls");
	if (ss->greeting_code) {
		json_obj_open(j, "greeting");
		json_u64(j, "code", (uint64_t)ss->greeting_code);
		json_str(j, "text", ss->greeting_text);
		json_obj_close(j);
	}
	json_flags(j, "anomalies", tx->anomalies, smtp_anomaly_names,
		   SMTP_ANOM__COUNT);
	if (tx->n_unknown) {
		uint32_t k = tx->n_unknown < SMTP_UNKNOWN_MAX ? tx->n_unknown :
			     SMTP_UNKNOWN_MAX;

		json_arr_open(j, "unknown_commands");
		for (uint32_t i = 0; i < k; i++)
			json_str(j, NULL, tx->unknown[i]);
		json_arr_close(j);
		json_u64(j, "unknown_count", tx->n_unknown);
	}
	json_bool(j, "client_authenticated", ss->client_authenticated);
	json_bool(j, "early_talker", ss->early_talker);
	json_obj_close(j);
	return "smtp";
}
