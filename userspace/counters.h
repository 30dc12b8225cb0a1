/* counters.h - every counter relaywatch keeps, in one list.
 *
 * Each worker owns one struct rw_counters, written without atomics or
 * locks (even the rule state the workers share counts into the counters of
 * the worker whose fact touched it). The stats record sums them over
 * workers. Counter names are "module.reason" so the stats JSON groups them
 * by module, one object per dot; a name must not also be the prefix of
 * another ("a.b" next to "a.b.c" would write the key "b" twice in one
 * object: tests/eve_schema_test.sh rejects that).
 *
 * Add a counter: one X() line in the module's section, and a row in
 * README.md's "EVE extensions" table if it opens a new stats group.
 */
#ifndef RW_COUNTERS_H
#define RW_COUNTERS_H

#include <stdint.h>

#define RW_COUNTERS(X) \
	/* capture / decode */ \
	X(PKTS, "capture.packets") \
	X(BYTES, "capture.bytes") \
	X(CAP_KERNEL_DROP, "capture.drop.kernel") \
	X(CAP_IF_DROP, "capture.drop.interface") \
	X(PKT_TCP, "decode.tcp") \
	X(PKT_NON_IP, "decode.skipped.non_ip") \
	X(PKT_NON_TCP, "decode.skipped.non_tcp") \
	X(PKT_LINKTYPE, "decode.skipped.unsupported_linktype") \
	X(PKT_TRUNC_LINK, "decode.drop.truncated_link") \
	X(PKT_TRUNC_IP, "decode.drop.truncated_ip") \
	X(PKT_BAD_IP, "decode.drop.bad_ip_header") \
	X(PKT_TRUNC_TCP, "decode.drop.truncated_tcp") \
	X(PKT_BAD_TCP, "decode.drop.bad_tcp_header") \
	X(PKT_IPV4_FRAG, "decode.skipped.ipv4_fragment") \
	X(PKT_IPV6_FRAG, "decode.skipped.ipv6_fragment") \
	X(PKT_IPV6_EXT_LOOP, "decode.drop.ipv6_ext_chain_too_long") \
	X(PKT_VLAN_DEEP, "decode.drop.vlan_too_deep") \
	X(PKT_SNAP_CUT, "decode.payload_truncated_by_snaplen") \
	/* flows */ \
	X(FLOW_NEW, "flow.created") \
	X(FLOW_MIDSTREAM, "flow.midstream_pickup") \
	X(FLOW_TIMEOUT, "flow.closed.timeout") \
	X(FLOW_FIN, "flow.closed.fin") \
	X(FLOW_RST, "flow.closed.rst") \
	X(FLOW_END_OF_INPUT, "flow.closed.end_of_input") \
	X(FLOW_EVICT, "flow.evicted.table_full") \
	X(FLOW_EVICT_EMBRYONIC, "flow.evicted.embryonic") \
	X(FLOW_EVICT_STATE, "flow.evicted.parser_states_full") \
	X(FLOW_EMBRYONIC_TIMEOUT, "flow.closed.embryonic_timeout") \
	X(FLOW_EXPIRE_DEFERRED, "flow.expiry_deferred") \
	X(FLOW_NO_PAYLOAD_SKIP, "flow.skipped.packet_without_flow") \
	/* checksums (csum.h) */ \
	X(CSUM_BAD_IP, "checksum.drop.ipv4") \
	X(CSUM_BAD_TCP, "checksum.drop.tcp") \
	X(CSUM_UNVERIFIABLE, "checksum.unverifiable") \
	X(CSUM_OFFLOAD_HOSTS, "checksum.offload_hosts") \
	X(CSUM_OFFLOAD_ACCEPTED, "checksum.offload_not_checked") \
	X(CSUM_UNPROVEN_ACCEPTED, "checksum.unproven_not_checked") \
	/* TCP state */ \
	X(TCP_ACK_BEYOND, "tcp.ack_beyond_sent") \
	X(TCP_RST_IGNORED, "tcp.rst_out_of_window") \
	/* reassembly */ \
	X(RA_SEGMENTS, "reassembly.segments") \
	X(RA_INORDER, "reassembly.in_order") \
	X(RA_OOO, "reassembly.out_of_order_buffered") \
	X(RA_RETRANS, "reassembly.retransmission") \
	X(RA_OVERLAP, "reassembly.overlap_trimmed") \
	X(RA_OVERLAP_CONFLICT, "reassembly.overlap_conflict") \
	X(RA_GAP, "reassembly.gap") \
	X(RA_GAP_BYTES, "reassembly.gap_bytes") \
	X(RA_FLOW_CAP, "reassembly.drop.flow_ooo_cap") \
	X(RA_PRUNED, "reassembly.drop.pruned_blocks") \
	X(RA_OUT_OF_WINDOW, "reassembly.drop.out_of_window") \
	X(RA_POOL_CAP, "reassembly.drop.memory_cap") \
	X(RA_BYTES, "reassembly.bytes_delivered") \
	/* detection */ \
	X(DET_SMTP_PORT, "detect.smtp.by_port") \
	X(DET_SMTP_CONTENT, "detect.smtp.by_content") \
	X(DET_HTTP_PROXY_PORT, "detect.http_proxy.by_port") \
	X(DET_HTTP_PROXY_CONTENT, "detect.http_proxy.by_content") \
	X(DET_SOCKS_PORT, "detect.socks.by_port") \
	X(DET_SOCKS_CONTENT, "detect.socks.by_content") \
	X(DET_NONE, "detect.unknown") \
	X(DET_REVERSED, "detect.reversed_roles.flows") \
	X(DET_REVERSE_PREAMBLE, "detect.reversed_roles.preamble_bytes") \
	X(DET_STATE_CAP, "detect.drop.parser_state_cap") \
	X(TUNNEL_OPEN, "tunnel.opened") \
	X(TUNNEL_DEPTH_CAP, "tunnel.drop.nesting_too_deep") \
	/* smtp */ \
	X(SMTP_SESSIONS, "smtp.sessions") \
	X(SMTP_TX, "smtp.transactions") \
	X(SMTP_CMDS, "smtp.commands") \
	X(SMTP_REPLIES, "smtp.replies") \
	X(SMTP_LINE_TOO_LONG, "smtp.anomaly.line_too_long") \
	X(SMTP_BARE_LF, "smtp.anomaly.bare_lf") \
	X(SMTP_EARLY_TALKER, "smtp.anomaly.early_talker") \
	X(SMTP_OUT_OF_SEQ, "smtp.anomaly.command_out_of_sequence") \
	X(SMTP_UNKNOWN_CMD, "smtp.anomaly.unknown_command") \
	X(SMTP_UNPAIRED_REPLY, "smtp.anomaly.reply_without_command") \
	X(SMTP_PENDING_CAP, "smtp.drop.pipelined_commands_cap") \
	X(SMTP_RCPT_CAP, "smtp.drop.recipients_cap") \
	X(SMTP_STR_CAP, "smtp.truncated.field") \
	X(SMTP_GAP, "smtp.gap_resync") \
	X(SMTP_TLS, "smtp.tls") \
	X(SMTP_BODY_BYTES, "smtp.body_bytes") \
	X(SMTP_BAD_REPLY, "smtp.anomaly.malformed_reply") \
	X(SMTP_CMD_SYNTAX, "smtp.anomaly.command_syntax") \
	X(SMTP_DATA_UNTERM, "smtp.anomaly.data_unterminated") \
	X(SMTP_UNANSWERED, "smtp.drop.unanswered_commands") \
	X(SMTP_PAIRING_LOST, "smtp.anomaly.pairing_lost") \
	X(SMTP_REPLY_LOST, "smtp.drop.reply_pairing_unknown") \
	X(SMTP_PAST_DATA, "smtp.anomaly.pipelined_past_data") \
	X(SMTP_RCPT_DOMAIN_ONLY, "smtp.drop.inflight_rcpt_domain_only") \
	X(SMTP_RCPT_UNKNOWN, "smtp.drop.inflight_rcpt_unknown") \
	X(SMTP_MAIL_UNKNOWN, "smtp.drop.inflight_mail_unknown") \
	/* http proxy */ \
	X(HTTP_REQUESTS, "http.requests") \
	X(HTTP_RESPONSES, "http.responses") \
	X(HTTP_LINE_TOO_LONG, "http.anomaly.line_too_long") \
	X(HTTP_BAD_TARGET, "http.anomaly.malformed_target") \
	X(HTTP_EARLY_DATA, "http.anomaly.tunnel_early_data") \
	X(HTTP_GAP, "http.gap_resync") \
	X(HTTP_MALFORMED, "http.anomaly.malformed_start_line") \
	X(HTTP_PENDING_CAP, "http.drop.pipelined_requests_cap") \
	X(HTTP_EARLY_DATA_CAP, "http.drop.tunnel_early_data_cap") \
	X(HTTP_UNRECORDED_RESPONSE, "http.pipeline.response_to_unrecorded_request") \
	X(HTTP_UNPAIRED, "http.pipeline.unpaired") \
	X(HTTP_ORIGIN_NOT_RECORDED, "http.origin_form_not_recorded") \
	X(HTTP_BYPASS_PLAIN_WEB, "http.bypass.plain_web") \
	/* socks */ \
	X(SOCKS_REQUESTS, "socks.requests") \
	X(SOCKS_MALFORMED, "socks.anomaly.malformed") \
	X(SOCKS_GAP, "socks.gap") \
	X(SOCKS_REPLIES, "socks.replies") \
	X(SOCKS_AUTH_FAIL, "socks.auth_failed") \
	X(SOCKS_EARLY_DATA, "socks.anomaly.tunnel_early_data") \
	X(SOCKS_EARLY_DATA_CAP, "socks.drop.tunnel_early_data_cap") \
	X(SOCKS_STR_CAP, "socks.truncated.field") \
	/* rules */ \
	X(RULE_EVALS, "rules.evaluations") \
	X(RULE_MATCHES, "rules.matches") \
	X(RULE_ALERTS, "rules.alerts") \
	X(RULE_ALERTS_WRITTEN, "rules.alerts_written") /* alert records */ \
	X(RULE_SUPP_RATE, "rules.suppressed.ratelimit") \
	X(RULE_SUPP_PASS, "rules.suppressed.pass") \
	X(RULE_CORR_HITS, "rules.correlation.matched") \
	X(RULE_THR_EVICT, "rules.threshold.evicted_table_full") \
	X(RULE_RATE_EVICT, "rules.ratelimit.evicted_table_full") \
	X(RULE_CORR_EVICT, "rules.correlation.evicted_table_full") \
	X(RULE_DISTINCT_CAP, "rules.threshold.distinct_cap") \
	X(RULE_LIST_CAP, "rules.list_elements_cap") \
	X(RULE_REGEX_ERR, "rules.regex.match_limit") \
	/* inline (NFQUEUE) */ \
	X(INLINE_BLOCKED_FLOW, "inline.drop.blocked_flow") \
	X(NFQ_PKTS, "nfqueue.packets") \
	X(NFQ_ACCEPT, "nfqueue.verdict.accept") \
	X(NFQ_DROP, "nfqueue.verdict.drop") \
	X(NFQ_BATCH, "nfqueue.verdict.batches") \
	X(NFQ_REPEAT_DROP, "nfqueue.verdict.marked_drop") \
	X(NFQ_MONITOR_DROP, "nfqueue.verdict.monitor_would_drop") \
	X(NFQ_DONE_MARK, "nfqueue.verdict.bypass_marked") \
	X(NFQ_STALL, "nfqueue.stalled_unbound") \
	X(NFQ_KERNEL_DROP, "nfqueue.drop.queue_full") \
	X(NFQ_USER_DROP, "nfqueue.drop.netlink_buffer") \
	X(NFQ_ERR, "nfqueue.error.netlink") \
	X(NFQ_REC_DROP, "output.drop.inline_queue_full") \
	/* output */ \
	X(OUT_RECORDS, "output.records") \
	X(OUT_DROPPED, "output.drop.write_error") \
	X(OUT_TOO_LARGE, "output.drop.record_too_large")

enum rw_counter {
#define RW_CTR_ENUM(id, name) CTR_##id,
	RW_COUNTERS(RW_CTR_ENUM)
#undef RW_CTR_ENUM
	CTR__COUNT
};

struct rw_counters {
	uint64_t v[CTR__COUNT];
};

extern const char *const rw_counter_names[CTR__COUNT];

static inline void ctr_inc(struct rw_counters *c, enum rw_counter id)
{
	if (c)
		c->v[id]++;
}

static inline void ctr_add(struct rw_counters *c, enum rw_counter id, uint64_t n)
{
	if (c)
		c->v[id] += n;
}

void counters_sum(struct rw_counters *dst, const struct rw_counters *src);

#endif
