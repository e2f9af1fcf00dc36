/*
 * ctl.h - famcontactctl: shared state and helpers of the command modules.
 *
 * Each command returns a sysexits.h status; messages go to stderr as
 * "famcontactctl: ...", results to stdout.
 */
#ifndef FC_CTL_H
#define FC_CTL_H

#include <getopt.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "db.h"
#include "err.h"
#include "model.h"

struct ctl {
	struct conf conf;
	struct db *db; /* opened by ctl_db() */
	int64_t now;   /* UTC seconds when the command started */
	char login[FC_LOGIN_MAX + 1];
	/*
	 * family import: the last caseworker ctl_caseworker() found, reused
	 * for the next row that names the same address (the file is read
	 * inside one transaction, which no other writer can change).
	 */
	bool cw_memo_on, cw_memo_set;
	struct caseworker cw_memo;
};

typedef int (*ctl_fn)(struct ctl *ctl, int argc, char **argv);

struct ctl_command {
	const char *name;
	ctl_fn fn;
	const char *usage;   /* arguments, for the group's help */
	const char *summary; /* one line */
};

/* Run the command argv[0] names from table, or print the group's help. */
int ctl_dispatch(struct ctl *ctl, const char *group,
    const struct ctl_command *table, int argc, char **argv);

/*
 * Run as root, become the owner of the database or its folder (their
 * owner's primary group, no supplementary groups), for good; before any
 * other file is read. FC_EPERM: a symbolic link there, or no way to.
 */
int ctl_drop_root(const struct ctl *ctl, struct fc_error *e);
/* Open the database once; mode DB_OPEN_EXISTING for commands that only read. */
int ctl_db(struct ctl *ctl, enum db_open_mode mode, struct fc_error *e);

/*
 * Every value from the database, a CSV file or an argument goes to the
 * terminal through ctl_esc() (or ctl_json_string()), every message through
 * ctl_fail()/ctl_error()/ctl_usage()/ctl_print_errors(), which escape the
 * whole line: no control, bidi or zero-width character is printed raw.
 */
/* How many ctl_esc() results stay valid at once. */
#define CTL_ESC_SLOTS 16
/* s escaped for a terminal (text_escape_terminal); valid until CTL_ESC_SLOTS more calls. */
const char *ctl_esc(const char *s);
/* ctl_esc() for one line: CR, LF and TAB (a server's folded reply) as spaces. */
const char *ctl_esc_line(const char *s);

/*
 * Print the lines of s to stdout, each escaped, the ones after the first
 * indented; a final LF is kept.
 */
void ctl_print_lines(const char *s, const char *indent);
/* A composed message's text: as ctl_print_lines() without an indent, but
 * the composer's bidi isolates (U+2068, U+2069) shown as they are. */
void ctl_print_message(const char *s);

/*
 * Tables for a terminal (ctl_table.c). Columns keep their order; each
 * has a priority: 0 for a key column, always shown, and 1, 2, ... for
 * the others, added lowest first, each as wide as its widest value or as
 * there is room for, if there is room for its minimum width; values
 * wider than their column are cut with an ellipsis. Key columns alone
 * too wide for the line are cut, the widest first, to their minimum
 * width, then the last ones to a few characters: list them by
 * importance. Width 0 (--wide): everything whole. Widths count display
 * columns (a CJK character two, a combining mark none); a value is never
 * cut inside a UTF-8 sequence. Two spaces separate columns. Every cell
 * is escaped with ctl_esc().
 */
#define CTL_TABLE_COLS_MAX 12
/* The width of a table when $COLUMNS is unset and stdout no terminal. */
#define CTL_COLUMNS_DEFAULT 80
struct ctl_col {
	const char *head;
	int prio;    /* 0: a key column */
	int min;     /* the narrowest it is cut to; 0: its heading's width */
	bool right;  /* aligned right (numbers) */
	bool sparse; /* not shown when every cell is empty */
};
struct ctl_table {
	const struct ctl_col *cols;
	size_t ncols, nrows, cap;
	char **cell;		       /* nrows * ncols, escaped */
	int width[CTL_TABLE_COLS_MAX]; /* after layout; -1: not shown */
	size_t window;		       /* ctl_table_stream(); 0: none */
	int columns;		       /* of a streamed table */
	bool printed; /* the heading is out: rows go as they come */
};
/* $COLUMNS, else the terminal's width when stdout is one, else 80. */
int ctl_columns(void);
/* Display columns of s (UTF-8; a byte that is not counts one). */
int ctl_width(const char *s);
void
ctl_table_init(struct ctl_table *t, const struct ctl_col *cols, size_t ncols);
/* Add a row: one value per column (NULL = ""). */
void ctl_table_row(struct ctl_table *t, const char *const *cells);
/* Choose the columns shown and their widths for columns (0: --wide). */
void ctl_table_layout(struct ctl_table *t, int columns);
void ctl_table_print_head(const struct ctl_table *t);
void ctl_table_print_row(const struct ctl_table *t, size_t row);
/*
 * Print the table while its rows come: the first window rows are laid
 * out for columns (not 0) and printed once there are that many, with the
 * heading; every later row is printed at once in that layout (a wider
 * value cut). A table of at most window rows is printed, at
 * ctl_table_print(), as it would be without this. Memory stays at
 * window rows however many there are.
 */
void ctl_table_stream(struct ctl_table *t, int columns, size_t window);
/* Layout, heading and every row (of a streamed table: those not out yet). */
void ctl_table_print(struct ctl_table *t, int columns);
void ctl_table_free(struct ctl_table *t);
/*
 * ctl_print_lines(), each line escaped and broken at spaces to fit in
 * columns (0: not broken), the lines after the first indented; every line
 * ends in LF.
 */
void ctl_print_wrapped(const char *s, const char *indent, int columns);

/* Print e as "famcontactctl: message" and return its exit status. */
int ctl_fail(const struct fc_error *e);
/* Print a formatted message and return status. */
int ctl_error(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Print a usage error and a pointer to "famcontactctl CMD --help", both
 * lines "famcontactctl: ..."; EX_USAGE.
 */
int ctl_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* --format of the listing commands: table (the default), csv or json. */
enum ctl_format { FORMAT_TABLE, FORMAT_CSV, FORMAT_JSON };
/* Parse --format's ARG for cmd into *out: 0, or ctl_usage()'s exit code. */
int ctl_parse_format(const char *cmd, const char *arg, enum ctl_format *out);

/*
 * Parse a command's options with getopt_long (reset first). Returns the
 * option character, -1 at the end of options, or '?' for an option that
 * is unknown or lacks its value: then ctl_usage(cmd, "bad option") says
 * which, as "famcontactctl: ..." (getopt's own messages are off), with
 * the closest option, or that -c goes before the command.
 * "-h"/"--help" is handled by the caller as 'h'.
 */
int ctl_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts);
/* A group's help (its commands and their usage), to stdout. */
void ctl_print_group_help(const char *group, const struct ctl_command *table);
/* Say that word is no command of group (NULL: a top-level one); EX_USAGE. */
int ctl_unknown_command(
    const char *group, const char *word, const struct ctl_command *table);

/*
 * "Did you mean ...?" (ctl_hint.c): the known name closest to a typo,
 * at most a quarter of its length (1 to 3) edits away, letters compared
 * without regard to case, two swapped letters one edit.
 */
int ctl_distance(const char *a, const char *b);
struct ctl_hint {
	const char *word;
	char best[256];
	int best_d;
	size_t count; /* for the caller: candidates seen */
};
void ctl_hint_init(struct ctl_hint *h, const char *word);
/* Consider cand (never word itself) as a suggestion for word. */
void ctl_hint_try(struct ctl_hint *h, const char *cand);
/* The closest candidate tried, or NULL when none was close enough. */
const char *ctl_hint_best(const struct ctl_hint *h);
/*
 * The zone of the time zone database closest to typed, a whole name or a
 * city alone ("berlin": Europe/Berlin), into buf; NULL when none is near.
 */
const char *ctl_closest_zone(const char *typed, char *buf, size_t size);

/* Resolve a caseworker by email; FC_ENOTFOUND with a hint to add one. */
int ctl_caseworker(struct ctl *ctl, const char *email, struct caseworker *out,
    struct fc_error *e);
/* Resolve a family by reference code; FC_ENOTFOUND names it. */
int ctl_family(
    struct ctl *ctl, const char *ref, struct family *out, struct fc_error *e);
/* The zone of a caseworker (the config's timezone when unset). */
const char *ctl_cw_zone(const struct ctl *ctl, const struct caseworker *cw);
/*
 * Whether the families' stored due days (family.due_day) were worked out
 * under this configuration's policy and zone, so that status and family
 * list --overdue may count on them (docs/design.md 16).
 */
bool ctl_due_stored(struct ctl *ctl);

/*
 * A CSV file with a header row, for imports: columns are looked up by
 * name; every problem is collected as "FILE:LINE: column: problem".
 */
#define CTL_COLUMNS_MAX 16
struct ctl_csv {
	const char *path;
	char *text;
	size_t len;
	bool mapped;	/* text is the file mapped (a regular file) */
	size_t dropped; /* bytes of the mapping let go of so far */
	struct csv_reader *reader;
	size_t ncols;
	char *col[CTL_COLUMNS_MAX];
};
struct csv_record;
struct strlist;

/*
 * Open path ("-" = stdin) and read its header; known lists the accepted
 * column names, required those that must be present. Problems go to errs.
 */
int ctl_csv_open(struct ctl_csv *t, const char *path, const char *const *known,
    const char *const *required, struct strlist *errs);
/* The index of column name, or -1 when the file has no such column. */
int ctl_csv_col(const struct ctl_csv *t, const char *name);
/* The value of column name in rec ("" when absent or short). */
const char *ctl_csv_get(
    const struct ctl_csv *t, const struct csv_record *rec, const char *name);
/* Call row for each record after the header; FC_EINVAL when errs is not empty. */
int ctl_csv_each(struct ctl_csv *t,
    void (*row)(struct ctl_csv *t, const struct csv_record *rec, void *ctx,
	struct strlist *errs),
    void *ctx, struct strlist *errs);
/* Read the rows again from the first after the header (ctl_csv_each). */
void ctl_csv_rewind(struct ctl_csv *t);
void ctl_csv_close(struct ctl_csv *t);
/* Print every message of errs, and a count, to stderr. */
void ctl_print_errors(const struct strlist *errs, const char *what);

/*
 * The problems with the fields that add, edit and import set (the same
 * checks for an option and for a CSV column): each is recorded in errs as
 * "WHERE LABEL: message", where WHERE is "" for a command's options and
 * "FILE:LINE: " for an import row, and LABEL names the option or column.
 */
struct ctl_fields {
	const char *where;
	struct strlist *errs;
	int code; /* FC_E* of the last problem; 0 while there is none */
};

/* Record a problem with the field label, of FC_E* code. */
void ctl_field_error(struct ctl_fields *fl, const char *label, int code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Check a display name (valid_name) and copy it into dst; false after recording why not. */
bool ctl_field_name(struct ctl_fields *fl, const char *label, const char *s,
    char *dst, size_t size);
/* Check a time zone ("" = none) and copy it into dst; false after recording why not. */
bool ctl_field_zone(struct ctl_fields *fl, const char *label, const char *s,
    char *dst, size_t size);
/* For a command's options: print every problem as "famcontactctl: ...", free them; the exit status. */
int ctl_fields_fail(struct ctl_fields *fl);

/* Write s as a JSON string literal; controls, bidi and zero-width characters as \uXXXX. */
void ctl_json_string(FILE *f, const char *s);
/*
 * Times for people, each naming its zone: "YYYY-MM-DD HH:MM (Zone)" for a
 * line of text; for a table cell "YYYY-MM-DD HH:MM ABBR", the zone's
 * abbreviation then (CET, CEST, +03, UTC), "-" for no time (t <= 0).
 * Both return buf (32 bytes are enough for the cell, 96 for the line).
 */
const char *ctl_when(int64_t t, const char *zone, char *buf, size_t size);
const char *ctl_when_cell(int64_t t, const char *zone, char *buf, size_t size);
/* Parse a DATE option value; 0 or an exit status after a message naming opt. */
int ctl_parse_day(const char *opt, const char *s, fc_day *out);

/*
 * Shell completion (ctl_complete.c) asks a command what it takes without
 * running it: while ctl_probe is set, ctl_dispatch() records its table
 * (and the command named, if any) and ctl_getopt() the command's options,
 * and each jumps back to ctl_probe->back (1: no command named, 2: the
 * options); ctl_db() opens nothing.
 */
struct ctl_probe {
	jmp_buf back;
	const struct ctl_command *table;   /* the group's commands */
	const struct ctl_command *command; /* the one named, or NULL */
	const struct option *longopts;
	const char *shortopts;
};
extern struct ctl_probe *ctl_probe;
/* famcontactctl complete CWORD WORD...: the candidates for WORD[CWORD]. */
int ctl_complete_main(struct ctl *ctl, const struct ctl_command *groups,
    const char *config, int argc, char **argv);

/* family forget (ctl_forget.c), in the family group's table. */
int ctl_forget_cmd(struct ctl *ctl, int argc, char **argv);

/* Command groups. */
int ctl_caseworker_main(struct ctl *ctl, int argc, char **argv);
int ctl_family_main(struct ctl *ctl, int argc, char **argv);
int ctl_contact_main(struct ctl *ctl, int argc, char **argv);
int ctl_status_main(struct ctl *ctl, int argc, char **argv);
int ctl_send_main(struct ctl *ctl, int argc, char **argv);
int ctl_outbox_main(struct ctl *ctl, int argc, char **argv);
int ctl_preview_main(struct ctl *ctl, int argc, char **argv);
int ctl_health_main(struct ctl *ctl, int argc, char **argv);
int ctl_mailin_main(struct ctl *ctl, int argc, char **argv);
int ctl_key_main(struct ctl *ctl, int argc, char **argv);
int ctl_log_main(struct ctl *ctl, int argc, char **argv);
/*
 * Whether famcontactd runs on the open database (ctl->db), by the meta
 * rows it keeps (its pid, which must name a running famcontactd, and its
 * next wake-up), as health judges them (ctl_health.c). 0, or FC_EDB
 * when they are garbled.
 */
enum ctl_daemon_state {
	CTL_DAEMON_NEVER,   /* it never ran on this database */
	CTL_DAEMON_STOPPED, /* it stopped on purpose (pid 0) */
	CTL_DAEMON_GONE,    /* its pid is gone: it died */
	CTL_DAEMON_REUSED,  /* its pid is another program now */
	CTL_DAEMON_STALLED, /* running, its next event long overdue */
	CTL_DAEMON_RUNNING,
};
struct ctl_daemon {
	enum ctl_daemon_state state;
	int64_t pid, seen, next; /* meta rows; seen: its last heartbeat */
};
int
ctl_daemon_state(struct ctl *ctl, struct ctl_daemon *out, struct fc_error *e);
int ctl_backup_main(struct ctl *ctl, int argc, char **argv);
int ctl_restore_main(struct ctl *ctl, int argc, char **argv);
/* health's verdict when the configuration cannot be loaded: UNKNOWN (3). */
int ctl_health_conf_failed(const char *path);
/* health's verdict when famcontactctl cannot work as the database's owner. */
int ctl_health_drop_failed(const struct fc_error *e);

#endif
