/* output.h - where records go. Outputs are pluggable: each is a small
 * struct of callbacks; the daemon fans every record out to all of them.
 * Today: EVE JSON lines to a file or stdout. (syslog joins here.) A write
 * error never stops the engine: the record is counted as dropped and the
 * first error is reported once on stderr. */
#ifndef RW_OUTPUT_H
#define RW_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct output {
	const char *name;
	int (*write)(struct output *o, const char *line, size_t len);
	int (*flush)(struct output *o);
	void (*close)(struct output *o);
	uint64_t written, dropped;
	int reported;
};

/* "-" is stdout. Returns NULL with errno set on failure. */
struct output *output_file_open(const char *path);

#define OUTPUT_MAX 8
struct output_set {
	struct output *o[OUTPUT_MAX];
	int n;
	uint64_t records;
};

int output_set_add(struct output_set *s, struct output *o);
void output_set_write(struct output_set *s, const char *line, size_t len);
void output_set_flush(struct output_set *s);
void output_set_close(struct output_set *s);
uint64_t output_set_dropped(const struct output_set *s);

#endif
