/* output.c - record outputs (see output.h) */
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct file_output {
	struct output base;
	FILE *f;
	int is_stdout;
	char path[256];
};

static int file_write(struct output *o, const char *line, size_t len)
{
	struct file_output *fo = (struct file_output *)o;

	if (fwrite(line, 1, len, fo->f) != len || putc('\n', fo->f) == EOF)
		return -EIO;
	return 0;
}

static int file_flush(struct output *o)
{
	struct file_output *fo = (struct file_output *)o;
	return fflush(fo->f) ? -errno : 0;
}

static void file_close(struct output *o)
{
	struct file_output *fo = (struct file_output *)o;

	if (fo->is_stdout)
		fflush(fo->f);
	else
		fclose(fo->f);
	free(fo);
}

struct output *output_file_open(const char *path)
{
	struct file_output *fo = calloc(1, sizeof(*fo));

	if (!fo)
		return NULL;
	if (strcmp(path, "-") == 0) {
		fo->f = stdout;
		fo->is_stdout = 1;
	} else if (!(fo->f = fopen(path, "w"))) {
		int e = errno;
		free(fo);
		errno = e;
		return NULL;
	}
	snprintf(fo->path, sizeof(fo->path), "%s", path);
	setvbuf(fo->f, NULL, _IOFBF, 1 << 16);
	fo->base.name = fo->path;
	fo->base.write = file_write;
	fo->base.flush = file_flush;
	fo->base.close = file_close;
	return &fo->base;
}

int output_set_add(struct output_set *s, struct output *o)
{
	if (s->n >= OUTPUT_MAX)
		return -ENOSPC;
	s->o[s->n++] = o;
	return 0;
}

void output_set_write(struct output_set *s, const char *line, size_t len)
{
	s->records++;
	for (int i = 0; i < s->n; i++) {
		struct output *o = s->o[i];
		if (o->write(o, line, len) < 0) {
			o->dropped++;
			if (!o->reported) {
				o->reported = 1;
				fprintf(stderr, "relaywatch: output %s: write "
					"failed: %s (records are dropped and "
					"counted)\n", o->name, strerror(errno));
			}
		} else {
			o->written++;
		}
	}
}

void output_set_flush(struct output_set *s)
{
	for (int i = 0; i < s->n; i++)
		s->o[i]->flush(s->o[i]);
}

void output_set_close(struct output_set *s)
{
	for (int i = 0; i < s->n; i++)
		s->o[i]->close(s->o[i]);
	s->n = 0;
}

uint64_t output_set_dropped(const struct output_set *s)
{
	uint64_t d = 0;
	for (int i = 0; i < s->n; i++)
		d += s->o[i]->dropped;
	return d;
}
