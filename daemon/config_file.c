/*
 * config_file.c — the libconfig reader of ringschedd's configuration: rs_config_load.
 *
 * Reads a file over the current values of a struct rs_config: every group and setting must name a key of
 * config.c's table (config_keys.h), every value must have the key's type, format and range. Before libconfig
 * parses the file, a small lexer scans its text for integer literals too wide for 32 bits, which libconfig
 * 1.5 would silently truncate.
 *
 * Threads: main thread only (at start, on --check-config and on SIGHUP).
 *
 * Guarantees:
 *   - all or nothing: the file is applied to a private copy, which replaces *c only after every key and the
 *     cross-key rules passed. A bad file on SIGHUP leaves the running configuration untouched;
 *   - every error names where it comes from: "FILE:LINE: message" for a setting (or the literal lint),
 *     "FILE: message" for the file as a whole and the cross-key rules;
 *   - config files are input: nothing here asserts on their content; a file over CONFIG_FILE_MAX is refused.
 */
#include "config_keys.h"

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A config file larger than this is refused before parsing: real ones are a few KiB. */
#define CONFIG_FILE_MAX (1u << 20)

/* ---- error reports ---- */

/* err = "FILE:LINE: msg" (line > 0), "FILE: msg" (line 0) or "msg" (no file). Never overflows err. */
static void put_err(char *err, size_t err_len, const char *file, int line, const char *msg)
{
	if (!err || err_len == 0)
		return;
	if (file && line > 0)
		snprintf(err, err_len, "%s:%d: %s", file, line, msg);
	else if (file)
		snprintf(err, err_len, "%s: %s", file, msg);
	else
		snprintf(err, err_len, "%s", msg);
}

/* ---- the file reader ---- */

struct reader {
	const char *path; /* file name for messages */
	char *err;
	size_t err_len;
};

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT: return "an integer";
	case CONFIG_TYPE_INT64: return "a 64-bit integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "nothing";
	}
}

/* Report msg at setting s ("FILE:LINE: msg"); returns -EINVAL for the caller to pass up. */
static int fail_at(const struct reader *r, const config_setting_t *s, const char *msg)
{
	const char *file = config_setting_source_file(s);

	put_err(r->err, r->err_len, file ? file : r->path, (int)config_setting_source_line(s), msg);
	return -EINVAL;
}

static int fail_type(const struct reader *r, const config_setting_t *s, const char *what, const char *want)
{
	char msg[RS_CONFIG_MSG_MAX];

	rs_config_msgf(msg, sizeof(msg), "%s must be %s, got %s", what, want, type_name(config_setting_type(s)));
	return fail_at(r, s, msg);
}

static int is_integer(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* "8M" -> 8 << 20. Digits, then at most one of K, M, G (either case), nothing else. */
static int parse_size(const char *s, int64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return -ERANGE;
	}
	switch (*p) {
	case '\0': break;
	case 'K': case 'k': shift = 10; p++; break;
	case 'M': case 'm': shift = 20; p++; break;
	case 'G': case 'g': shift = 30; p++; break;
	default: return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (v > ((uint64_t)INT64_MAX >> shift))
		return -ERANGE;
	*out = (int64_t)(v << shift);
	return 0;
}

/* Octal permission bits as a string: "0660" or "660", at most max. */
static int parse_mode(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;
	const char *p = s;

	if (*p == '\0')
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '7')
			return -EINVAL;
		v = v * 8 + (*p - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = v;
	return 0;
}

/* Read one scalar number (integer, size or mode) from s into *v, reporting type and format errors. */
static int read_number(const struct reader *r, const struct rs_config_key *k, const config_setting_t *s,
		       const char *what, int64_t *v)
{
	char msg[RS_CONFIG_MSG_MAX];
	const char *str;

	if (is_integer(s)) {
		if (k->kind == RS_KIND_MODE) {
			/* libconfig 1.5 has no octal literals: 0660 would silently mean decimal 660 */
			rs_config_msgf(msg, sizeof(msg),
				       "%s must be a string of octal digits such as \"0660\" (libconfig reads 0660 as "
				       "decimal)",
				       what);
			return fail_at(r, s, msg);
		}
		*v = config_setting_get_int64(s);
		return 0;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING && k->kind == RS_KIND_SIZE) {
		str = config_setting_get_string(s);
		if (parse_size(str, v) < 0) {
			rs_config_msgf(msg, sizeof(msg),
				       "%s: bad size \"%s\" (want an integer with an optional K, M or G suffix, e.g. "
				       "\"8M\")",
				       what, str);
			return fail_at(r, s, msg);
		}
		return 0;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING && k->kind == RS_KIND_MODE) {
		str = config_setting_get_string(s);
		if (parse_mode(str, k->max, v) < 0) {
			rs_config_msgf(msg, sizeof(msg),
				       "%s must be octal permission bits in [\"0\", \"0777\"], got \"%s\"", what, str);
			return fail_at(r, s, msg);
		}
		return 0;
	}
	if (k->kind == RS_KIND_SIZE)
		return fail_type(r, s, what, "a size (an integer, or a string such as \"8M\")");
	if (k->kind == RS_KIND_MODE)
		return fail_type(r, s, what, "a string of octal digits such as \"0660\"");
	return fail_type(r, s, what, "an integer");
}

static int read_enum(const struct reader *r, const struct rs_config_key *k, const config_setting_t *s,
		     const char *what, int64_t *v)
{
	char msg[RS_CONFIG_MSG_MAX], choices[128];
	const char *str;
	int val;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail_type(r, s, what, "a string");
	str = config_setting_get_string(s);
	val = rs_config_enum_parse(k, str);
	if (val < 0) {
		rs_config_enum_choices(k, choices, sizeof(choices));
		rs_config_msgf(msg, sizeof(msg), "%s must be one of %s, got \"%s\"", what, choices, str);
		return fail_at(r, s, msg);
	}
	*v = val;
	return 0;
}

static int read_list(const struct reader *r, const struct rs_config_key *k, const config_setting_t *s,
		     const char *what, struct rs_config *c)
{
	int type = config_setting_type(s);
	int n = config_setting_length(s);
	char msg[RS_CONFIG_MSG_MAX], elem_what[80];
	const config_setting_t *e;
	const char *str;
	int64_t v;
	int rc;

	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return fail_type(r, s, what, k->kind == RS_KIND_PATH_LIST ? "a list of strings" : "a list of integers");
	if (n < 0 || (size_t)n > k->cap) {
		rs_config_msgf(msg, sizeof(msg), "%s has %d entries, at most %zu are allowed", what, n, k->cap);
		return fail_at(r, s, msg);
	}
	for (int i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		snprintf(elem_what, sizeof(elem_what), "%s[%d]", what, i);
		if (k->kind == RS_KIND_PATH_LIST) {
			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return fail_type(r, e, elem_what, "a string");
			str = config_setting_get_string(e);
			rc = rs_config_check_string(k, elem_what, str, RS_CONFIG_PATH_MAX, msg, sizeof(msg));
			if (rc < 0)
				return fail_at(r, e, msg);
			rs_config_set_elem_path(c, k, (size_t)i, str);
			continue;
		}
		if (!is_integer(e))
			return fail_type(r, e, elem_what, "an integer");
		v = config_setting_get_int64(e);
		rc = rs_config_check_number(k, elem_what, v, msg, sizeof(msg));
		if (rc < 0)
			return fail_at(r, e, msg);
		rs_config_set_elem_number(c, k, (size_t)i, v);
	}
	rs_config_set_count(c, k, (uint32_t)n);
	return 0;
}

/* Read setting s of key k into c, checking type, format and range. */
static int read_key(const struct reader *r, const struct rs_config_key *k, const config_setting_t *s,
		    struct rs_config *c)
{
	char what[64], msg[RS_CONFIG_MSG_MAX];
	const char *str;
	int64_t v = 0;
	int rc;

	snprintf(what, sizeof(what), "%s.%s", k->group, k->name);
	switch (k->kind) {
	case RS_KIND_STRING:
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail_type(r, s, what, "a string");
		str = config_setting_get_string(s);
		rc = rs_config_check_string(k, what, str, k->size, msg, sizeof(msg));
		if (rc < 0)
			return fail_at(r, s, msg);
		rs_config_set_string(c, k, str);
		return 0;
	case RS_KIND_INT_LIST:
	case RS_KIND_ID_LIST:
	case RS_KIND_PATH_LIST:
		return read_list(r, k, s, what, c);
	case RS_KIND_BOOL:
	case RS_KIND_FLAG:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail_type(r, s, what, "true or false");
		v = config_setting_get_bool(s);
		/* a deprecated boolean and the key replacing it in one group would override each other by order */
		if ((k->flags & RS_KEY_LEGACY_LEVEL) && config_setting_get_member(config_setting_parent(s), "level")) {
			rs_config_msgf(msg, sizeof(msg),
				       "%s is deprecated and %s.level is set too: remove %s (level = 2 is what "
				       "enabled = true meant)",
				       what, k->group, what);
			return fail_at(r, s, msg);
		}
		break;
	case RS_KIND_LOG_LEVEL:
	case RS_KIND_WIRING:
		rc = read_enum(r, k, s, what, &v);
		if (rc < 0)
			return rc;
		break;
	default:
		rc = read_number(r, k, s, what, &v);
		if (rc < 0)
			return rc;
		break;
	}
	rc = rs_config_check_number(k, what, v, msg, sizeof(msg));
	if (rc < 0)
		return fail_at(r, s, msg);
	rs_config_set_number(c, k, v);
	return 0;
}

static int read_groups(const struct reader *r, const config_t *cfg, struct rs_config *c)
{
	const config_setting_t *root = config_root_setting(cfg);
	const config_setting_t *g, *s;
	const struct rs_config_key *k;
	char msg[RS_CONFIG_MSG_MAX];
	int rc;

	for (int i = 0; i < config_setting_length(root); i++) {
		g = config_setting_get_elem(root, (unsigned)i);
		if (!rs_config_group_known(config_setting_name(g))) {
			char list[128];

			rs_config_group_names(list, sizeof(list));
			rs_config_msgf(msg, sizeof(msg), "unknown group '%s' (groups: %s)", config_setting_name(g),
				       list);
			return fail_at(r, g, msg);
		}
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail_type(r, g, config_setting_name(g), "a group { ... }");
		for (int j = 0; j < config_setting_length(g); j++) {
			s = config_setting_get_elem(g, (unsigned)j);
			k = rs_config_key_find(config_setting_name(g), config_setting_name(s));
			if (!k) {
				rs_config_msgf(msg, sizeof(msg), "unknown key '%s.%s'", config_setting_name(g),
					       config_setting_name(s));
				return fail_at(r, s, msg);
			}
			rc = read_key(r, k, s, c);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- the literal lint ---- */

/*
 * libconfig 1.5 stores an integer literal without the L suffix in 32 bits and silently wraps larger ones
 * (5000000000 reads as 705032704). Scan the text for such literals and refuse them, pointing at the fix.
 * A small lexer: skips comments and strings, looks at number tokens only. Files pulled in with @include
 * are not scanned.
 */
static int find_wide_literal(const char *text, size_t len, int *line_out, char *tok_out, size_t tok_len)
{
	const char *p = text, *end = text + len, *start;
	int line = 1;

	while (p < end) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (*p == '/' && p + 1 < end && p[1] == '/')) {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p < end && !(*p == '*' && p + 1 < end && p[1] == '/'); p++)
				line += *p == '\n';
			p += 2;
		} else if (*p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				line += *p == '\n';
			}
			p++;
		} else if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '*' || *p == '_' ||
			   *p == '@') {
			/* a setting name or keyword: may contain digits and '-' */
			while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
					   *p == '*' || *p == '_' || *p == '-' || *p == '@'))
				p++;
		} else if ((*p >= '0' && *p <= '9') || *p == '.' ||
			   ((*p == '-' || *p == '+') && p + 1 < end && p[1] >= '0' && p[1] <= '9')) {
			int hex, is_float = 0, is_long;
			uint64_t v = 0;
			const char *q;

			start = p;
			if (*p == '-' || *p == '+')
				p++;
			hex = p + 1 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
			while (p < end && ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
					   (*p >= 'a' && *p <= 'z') || *p == '.' ||
					   (!hex && (*p == '-' || *p == '+') && p > start &&
					    (p[-1] == 'e' || p[-1] == 'E')))) {
				if (*p == '.' || (!hex && (*p == 'e' || *p == 'E')))
					is_float = 1;
				p++;
			}
			is_long = p[-1] == 'L' || p[-1] == 'l';
			if (is_float || is_long)
				continue;
			q = start + (*start == '-' || *start == '+') + (hex ? 2 : 0);
			for (; q < p; q++) {
				unsigned d = (*q >= '0' && *q <= '9') ? (unsigned)(*q - '0')
					   : (*q >= 'a' && *q <= 'f') ? (unsigned)(*q - 'a' + 10)
					   : (*q >= 'A' && *q <= 'F') ? (unsigned)(*q - 'A' + 10) : 16u;
				if (d >= (hex ? 16u : 10u))
					break; /* not a number libconfig accepts; it already said so if it matters */
				if (__builtin_mul_overflow(v, hex ? 16u : 10u, &v) || __builtin_add_overflow(v, d, &v))
					v = UINT64_MAX;
			}
			/* hex literals are read as 32-bit patterns; decimal ones as signed 32-bit values */
			if (v > (hex ? (uint64_t)UINT32_MAX : (uint64_t)INT32_MAX + (*start == '-'))) {
				snprintf(tok_out, tok_len, "%.*s", (int)(p - start), start);
				*line_out = line;
				return 1;
			}
		} else {
			p++;
		}
	}
	return 0;
}

/* ---- loading ---- */

/* Slurp the file ourselves first: an unreadable file gets its errno, and the text feeds the scan above. */
static int read_text(const char *path, char **text_out, size_t *len_out, char *msg, size_t msg_len)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len;
	int rc = 0;

	if (!f) {
		rc = -errno;
		rs_config_msgf(msg, msg_len, "cannot open: %s", strerror(errno));
		return rc;
	}
	text = malloc(CONFIG_FILE_MAX + 1);
	if (!text) {
		rc = -ENOMEM;
		rs_config_msgf(msg, msg_len, "out of memory reading the file");
		goto out_close;
	}
	errno = 0;
	len = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		rs_config_msgf(msg, msg_len, "cannot read: %s", strerror(-rc));
		goto out_free;
	}
	if (len > CONFIG_FILE_MAX) {
		rc = -EFBIG;
		rs_config_msgf(msg, msg_len, "file is larger than %u bytes", CONFIG_FILE_MAX);
		goto out_free;
	}
	text[len] = '\0';
	*text_out = text;
	*len_out = len;
	text = NULL;
out_free:
	free(text);
out_close:
	fclose(f);
	return rc;
}

int rs_config_load(struct rs_config *c, const char *path, char *err, size_t err_len)
{
	struct reader r = { .path = path, .err = err, .err_len = err_len };
	struct rs_config *next = NULL;
	char msg[RS_CONFIG_MSG_MAX], tok[64];
	char *text = NULL;
	size_t len = 0;
	config_t cfg;
	int rc, line;

	if (err && err_len)
		err[0] = '\0';
	if (!path) {
		put_err(err, err_len, NULL, 0, "no config file given");
		return -EINVAL;
	}
	rc = read_text(path, &text, &len, msg, sizeof(msg));
	if (rc < 0) {
		put_err(err, err_len, path, 0, msg);
		return rc;
	}
	/* stage on a copy: a bad file must leave *c exactly as it was (SIGHUP on a running daemon) */
	next = malloc(sizeof(*next));
	if (!next) {
		put_err(err, err_len, path, 0, "out of memory");
		rc = -ENOMEM;
		goto out_free_text;
	}
	*next = *c;

	config_init(&cfg);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			put_err(err, err_len, config_error_file(&cfg) ? config_error_file(&cfg) : path, 0,
				"cannot read file");
		else
			put_err(err, err_len, config_error_file(&cfg) ? config_error_file(&cfg) : path,
				config_error_line(&cfg), config_error_text(&cfg));
		rc = -EINVAL;
		goto out_destroy;
	}
	if (find_wide_literal(text, len, &line, tok, sizeof(tok))) {
		rs_config_msgf(msg, sizeof(msg),
			       "integer %s does not fit in 32 bits and libconfig would truncate it: write %sL, or a "
			       "size string such as \"4G\"",
			       tok, tok);
		put_err(err, err_len, path, line, msg);
		rc = -EINVAL;
		goto out_destroy;
	}
	rc = read_groups(&r, &cfg, next);
	if (rc < 0)
		goto out_destroy;
	/* keys the file did not set keep the caller's values: check the whole result, not just the file */
	rc = rs_config_check_all(next, msg, sizeof(msg));
	if (rc < 0) {
		put_err(err, err_len, path, 0, msg);
		goto out_destroy;
	}
	*c = *next;

out_destroy:
	config_destroy(&cfg);
	free(next);
out_free_text:
	free(text);
	return rc;
}
