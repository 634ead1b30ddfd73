/* sandbox/cli/view.c: the terminal view and the plain output of `wsbox run`
 * (see view.h). Every write is one write() of whole lines, so output of
 * concurrent tasks never mixes within a line. */
#include "sandbox/cli/view.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* The live region is redrawn at most this often, and at least this often
 * while tasks run so their elapsed times move. */
#define VIEW_MIN_FRAME 0.1
#define VIEW_MAX_FRAME 1.0

void view_init(struct view *v, bool tty, const char *const *names, size_t n,
	       double now)
{
	memset(v, 0, sizeof *v);
	v->tty = tty;
	v->out = STDOUT_FILENO;
	v->err = STDERR_FILENO;
	v->n = n;
	v->t0 = now;
	v->t = xcalloc(n + 1, sizeof *v->t);
	for (size_t i = 0; i < n; i++)
		v->t[i].name = names[i];
	struct winsize ws = {0};
	v->cols = 80;
	v->rows = 24;
	if (tty && ioctl(v->out, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 &&
	    ws.ws_row > 4) {
		v->cols = ws.ws_col;
		v->rows = ws.ws_row;
	}
}

void view_free(struct view *v)
{
	for (size_t i = 0; i < v->n; i++)
		for (size_t k = 0; k < VIEW_TAIL; k++)
			free(v->t[i].tail[k]);
	free(v->t);
	free(v->above);
	memset(v, 0, sizeof *v);
}

/* "1.2s", "3m04s". */
static void fmt_secs(char *buf, size_t cap, double s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, cap, "%.1fs", s);
	else
		snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

/* Queue a permanent line for the terminal, or write it (plain). */
__attribute__((format(printf, 2, 3))) static void say(struct view *v,
						      const char *fmt, ...)
{
	char line[VIEW_LINE_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len > sizeof line - 2)
		len = (int)sizeof line - 2;
	line[len++] = '\n';
	if (!v->tty) {
		(void)write_all(v->out, line, (size_t)len);
		return;
	}
	v->above = xreallocarray(v->above, v->above_len + (size_t)len + 1, 1);
	memcpy(v->above + v->above_len, line, (size_t)len);
	v->above_len += (size_t)len;
	v->dirty = true;
}

/* One whole output line of task i. */
static void output_line(struct view *v, size_t i, int stream, const char *s,
			size_t len)
{
	struct view_task *t = &v->t[i];
	t->lines++;
	if (!v->tty) {
		/* Built with memcpy: a line may hold NUL bytes. */
		size_t name = strlen(t->name);
		_cleanup_free_ char *line = xcalloc(name + len + 4, 1);
		line[0] = '[';
		memcpy(line + 1, t->name, name);
		memcpy(line + 1 + name, "] ", 2);
		memcpy(line + 3 + name, s, len);
		line[3 + name + len] = '\n';
		(void)write_all(stream == 2 ? v->err : v->out, line,
				name + len + 4);
		return;
	}
	free(t->tail[t->tail_next]);
	t->tail[t->tail_next] = xasprintf("%.*s", (int)len, s);
	t->tail_next = (t->tail_next + 1) % VIEW_TAIL;
}

void view_output(struct view *v, size_t i, int stream, const char *buf,
		 size_t len)
{
	struct view_task *t = &v->t[i];
	int k = stream == 2 ? 1 : 0;
	for (size_t off = 0; off < len; off++) {
		if (buf[off] != '\n') {
			t->part[k][t->part_len[k]++] = buf[off];
			if (t->part_len[k] < VIEW_LINE_MAX)
				continue;
		}
		output_line(v, i, stream, t->part[k], t->part_len[k]);
		t->part_len[k] = 0;
	}
}

void view_started(struct view *v, size_t i, double now)
{
	v->t[i].state = SCHED_RUNNING;
	v->t[i].started = now;
	v->dirty = true;
}

void view_finished(struct view *v, size_t i, enum sched_state st,
		   int exit_status, double now)
{
	struct view_task *t = &v->t[i];
	if (t->reported)
		return;
	for (int k = 0; k < 2; k++)
		if (t->part_len[k]) {
			output_line(v, i, k + 1, t->part[k], t->part_len[k]);
			t->part_len[k] = 0;
		}
	t->reported = true;
	t->state = st;
	t->exit_status = exit_status;
	t->secs = t->started ? now - t->started : 0;
	v->done++;
	char el[32];
	fmt_secs(el, sizeof el, t->secs);
	switch (st) {
	case SCHED_SUCCEEDED:
		say(v, "\u2713 %s (%s)", t->name, el);
		break;
	case SCHED_CACHED:
		say(v, "\u00b7 %s (cached)", t->name);
		break;
	case SCHED_KEPT:
		say(v, "\u00b7 %s (kept)", t->name);
		break;
	case SCHED_FAILED:
		if (v->interrupted)
			say(v, "\u2717 %s (interrupted)", t->name);
		else if (exit_status > 128 && exit_status < 160)
			say(v, "\u2717 %s (exit %d, signal %d)", t->name,
			    exit_status, exit_status - 128);
		else
			say(v, "\u2717 %s (exit %d)", t->name, exit_status);
		break;
	default:
		say(v, "- %s (skipped)", t->name);
		break;
	}
}

/* The live region: the root line, then one line per running task (as
 * many as fit). Names are cut so no line wraps: the cursor arithmetic of
 * the redraw counts lines. */
static int draw_region(struct view *v, FILE *f, double now)
{
	char el[32];
	int lines = 1;
	fmt_secs(el, sizeof el, now - v->t0);
	fprintf(f, "%zu/%zu tasks (%s)\n", v->done, v->n, el);
	int width = v->cols - 16 > 8 ? v->cols - 16 : 8;
	size_t running = 0, shown = 0;
	for (size_t i = 0; i < v->n; i++)
		running += v->t[i].state == SCHED_RUNNING;
	for (size_t i = 0; i < v->n; i++) {
		const struct view_task *t = &v->t[i];
		if (t->state != SCHED_RUNNING)
			continue;
		if (lines >= v->rows - 2 && shown + 1 < running) {
			fprintf(f, "  \u2026 and %zu more\n", running - shown);
			return lines + 1;
		}
		fmt_secs(el, sizeof el, now - t->started);
		fprintf(f, "  %.*s (%s)\n", width, t->name, el);
		lines++;
		shown++;
	}
	return lines;
}

static void draw(struct view *v, double now)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	if (v->drawn)
		fprintf(f, "\r\033[%dA", v->drawn);
	fputs("\033[J", f);
	if (v->above_len)
		fwrite(v->above, 1, v->above_len, f);
	v->drawn = draw_region(v, f, now);
	if (fclose(f) != 0)
		return;
	(void)write_all(v->out, buf, len);
	v->above_len = 0;
	v->dirty = false;
	v->last_draw = now;
}

void view_tick(struct view *v, double now, bool force)
{
	if (!v->tty)
		return;
	double since = now - v->last_draw;
	if (!force && since < VIEW_MIN_FRAME)
		return;
	if (!force && !v->dirty && since < VIEW_MAX_FRAME)
		return;
	draw(v, now);
}

/* A failed task's last lines, and where the rest is. */
static void replay(struct view *v, size_t i)
{
	struct view_task *t = &v->t[i];
	size_t kept = t->lines < VIEW_TAIL ? t->lines : VIEW_TAIL;
	_cleanup_free_ char *store =
	    v->store ? xasprintf(" --store %s", v->store) : xstrdup("");
	if (!t->lines) {
		say(v, "--- %s: no output", t->name);
		return;
	}
	if (kept < t->lines)
		say(v, "--- %s: last %zu of %zu lines ---", t->name, kept,
		    t->lines);
	else
		say(v, "--- %s: output ---", t->name);
	for (size_t k = 0; k < VIEW_TAIL; k++) {
		const char *line = t->tail[(t->tail_next + k) % VIEW_TAIL];
		if (line)
			say(v, "%s", line);
	}
	say(v, "--- all of it: wsbox logs%s --run %s --task %s", store, v->run,
	    t->name);
}

void view_close(struct view *v, struct sched_tally y, double now,
		bool interrupted)
{
	if (v->tty) {
		/* The last frame stays: finished lines and the root line;
		 * what follows goes below it. */
		draw(v, now);
		v->drawn = 0;
		for (size_t i = 0; i < v->n; i++)
			if (v->t[i].state == SCHED_FAILED)
				replay(v, i);
	}
	char el[32];
	snprintf(el, sizeof el, "%.1f", now - v->t0);
	say(v,
	    "%zu tasks: %zu ran, %zu cached, %zu failed, %zu skipped in "
	    "%s s%s",
	    v->n, y.ran, y.cached, y.failed, y.skipped, el,
	    interrupted ? " (interrupted)" : "");
	if (v->tty) {
		(void)write_all(v->out, v->above, v->above_len);
		v->above_len = 0;
	}
}
