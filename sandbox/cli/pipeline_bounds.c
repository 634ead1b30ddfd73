/* sandbox/cli/pipeline_bounds.c: the pipeline file's first pass (see
 * pipeline_bounds.h). Two costs are out of proportion to a file's size:
 *
 * - libyaml's scanner checks every pending simple key at every token, and
 *   each open flow collection keeps one: a line of N `[` costs N^2 (20000
 *   took 0.6 s; the 4 MiB a file may have would take hours). Stopping at
 *   PIPELINE_MAX_DEPTH stops that after a few thousand steps.
 * - An alias is one node in the loaded document but a whole copy in the
 *   walk: 268 KB of tasks aliasing one task with a 10000-entry `env`
 *   expanded to 6.7 GB in a minute (a YAML "billion laughs"). Each anchored
 *   node's expanded size is counted when it ends, and each alias adds it.
 *
 * The events are walked, not the loaded document, because the scanner's
 * cost is paid while loading. */
#include "sandbox/cli/pipeline_bounds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sandbox/util/fs.h"

struct anchor {
	char *name;
	size_t size; /* expanded nodes, once the node has ended */
	bool ended;
};

struct frame {
	size_t size; /* expanded nodes so far, this collection included */
	int anchor;  /* index into anchors[], or -1 */
};

struct bounds {
	const char *file;
	struct wsbox_error *err;
	struct anchor anchors[PIPELINE_MAX_ANCHORS];
	size_t n_anchors;
	struct frame stack[PIPELINE_MAX_DEPTH];
	size_t depth;
	size_t total; /* expanded nodes of the whole stream so far */
};

static int refuse(struct bounds *b, const yaml_event_t *ev, const char *what,
		  const char *name)
{
	return wsbox_fail(b->err, 0, "%s:%zu: %s%s%s", b->file,
			  ev->start_mark.line + 1, what, name ? name : "",
			  name ? "`" : "");
}

/* The anchor a new node defines; -1 when none. A name defined again
 * stands for its newest node, as in YAML. */
static int define_anchor(struct bounds *b, const yaml_event_t *ev,
			 const yaml_char_t *name)
{
	if (!name)
		return -1;
	if (b->n_anchors == PIPELINE_MAX_ANCHORS) {
		refuse(b, ev, "more than 256 anchors (`&name`)", NULL);
		return -2;
	}
	struct anchor *a = &b->anchors[b->n_anchors];
	a->name = xstrdup((const char *)name);
	a->size = 0;
	a->ended = false;
	return (int)b->n_anchors++;
}

static struct anchor *find_anchor(struct bounds *b, const yaml_char_t *name)
{
	for (size_t i = b->n_anchors; i-- > 0;)
		if (!strcmp(b->anchors[i].name, (const char *)name))
			return &b->anchors[i];
	return NULL;
}

/* n more expanded nodes in the stream. */
static int count(struct bounds *b, const yaml_event_t *ev, size_t n)
{
	b->total += n;
	if (b->total > PIPELINE_MAX_NODES)
		return refuse(b, ev,
			      "more than 1000000 nodes once its aliases are "
			      "expanded",
			      NULL);
	return 0;
}

/* n more expanded nodes in the open collection, and in the stream. */
static int add_nodes(struct bounds *b, const yaml_event_t *ev, size_t n)
{
	if (b->depth)
		b->stack[b->depth - 1].size += n;
	return count(b, ev, n);
}

static int on_event(struct bounds *b, const yaml_event_t *ev)
{
	int a;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		a = define_anchor(b, ev, ev->data.scalar.anchor);
		if (a == -2)
			return -1;
		if (a >= 0) {
			b->anchors[a].size = 1;
			b->anchors[a].ended = true;
		}
		return add_nodes(b, ev, 1);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->depth == PIPELINE_MAX_DEPTH)
			return refuse(b, ev,
				      "collections nested more than 32 deep",
				      NULL);
		a = define_anchor(b, ev,
				  ev->type == YAML_SEQUENCE_START_EVENT
				      ? ev->data.sequence_start.anchor
				      : ev->data.mapping_start.anchor);
		if (a == -2)
			return -1;
		/* Counted in the stream now, in its parent when it ends. */
		b->stack[b->depth++] = (struct frame){.size = 1, .anchor = a};
		return count(b, ev, 1);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		if (!b->depth)
			return 0; /* libyaml pairs them; never trusted */
		struct frame f = b->stack[--b->depth];
		if (f.anchor >= 0) {
			b->anchors[f.anchor].size = f.size;
			b->anchors[f.anchor].ended = true;
		}
		if (b->depth)
			b->stack[b->depth - 1].size += f.size;
		return 0;
	}
	case YAML_ALIAS_EVENT: {
		struct anchor *an = find_anchor(b, ev->data.alias.anchor);
		if (!an)
			return 0; /* the loader names the undefined alias */
		if (!an->ended)
			return refuse(b, ev,
				      "an alias inside the node it names: `*",
				      (const char *)ev->data.alias.anchor);
		return add_nodes(b, ev, an->size);
	}
	default:
		return 0;
	}
}

int pipeline_check_bounds(const char *file, const char *text, size_t len,
			  struct wsbox_error *err)
{
	struct bounds b = {.file = file, .err = err};
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return wsbox_fail(err, ENOMEM, "yaml parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int r = 0;
	for (bool end = false; !end && r == 0;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			r = wsbox_fail(err, 0, "%s:%zu: %s", file,
				       parser.problem_mark.line + 1,
				       parser.problem ? parser.problem
						      : "not YAML");
			break;
		}
		end = ev.type == YAML_STREAM_END_EVENT;
		r = on_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	for (size_t i = 0; i < b.n_anchors; i++)
		free(b.anchors[i].name);
	return r;
}
