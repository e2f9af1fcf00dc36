/*
 * ctl_forget.c - famcontactctl family forget REF [--yes]: erase a family
 * and every trace of it in the database (retain.h). Without --yes it only
 * says what would be erased, in counts, never content, and exits 64.
 */
#include <stdio.h>
#include <sysexits.h>

#include "ctl.h"
#include "engine.h"
#include "retain.h"
#include "util.h"

/* The counts of what is (or would be) erased, one a line. */
static void
print_counts(const struct retain_forgot *r)
{
	const struct db_family_trace *t = &r->trace;

	printf("  %lld %s (%lld with a note)\n", (long long)t->contacts,
	    util_plural((long)t->contacts, "contact", "contacts"),
	    (long long)t->notes);
	if (t->paused)
		printf("  its pause and the reason given\n");
	if (t->marks)
		printf("  its reminder marks (when it was last listed)\n");
	if (t->changes > 0)
		printf("  %lld %s of the change log (one row stays, saying "
		       "that it was forgotten)\n",
		    (long long)t->changes,
		    util_plural((long)t->changes, "row", "rows"));
	printf("  %d queued %s composed again without it\n", r->recomposed,
	    util_plural(r->recomposed, "message", "messages"));
	printf("  %d queued %s cancelled (nobody else left in it)\n",
	    r->cancelled, util_plural(r->cancelled, "message", "messages"));
	printf("  the text of %d sent or finished %s\n", r->erased,
	    util_plural(r->erased, "message", "messages"));
}

int
ctl_forget_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"yes", no_argument, NULL, 'y'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct retain_forgot r;
	struct fc_error e = {0};
	struct engine en;
	struct family f;
	bool yes = false;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'y':
			yes = true;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl family forget REF [--yes]\n\n"
			    "Erase a family for good: the family, its contacts and their\n"
			    "notes, its pause, its reminder marks, and the text of every\n"
			    "message that lists it. A queued message that lists other\n"
			    "families too is composed again without it; one left with\n"
			    "nobody is cancelled. Without --yes, only say what would be\n"
			    "erased (counts, not content) and exit 64. Backups and exports\n"
			    "made before still hold the family: see famcontactctl(1).\n"
			    "Its rows in the change log go too; one row records, by its\n"
			    "reference code alone, that it was forgotten, by whom and when.\n\n"
			    "  --yes  erase it\n");
			return EX_OK;
		default:
			return ctl_usage("family forget", "bad option");
		}
	}
	if (argc - optind != 1)
		return ctl_usage("family forget", "expected one REF");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = ctl_family(ctl, argv[optind], &f, &e)) < 0 ||
	    (rc = engine_init(&en, &ctl->conf, ctl->db, false, &e)) < 0 ||
	    (rc = retain_forget(&en, &f, yes, ctl->now, &r, &e)) < 0)
		return ctl_fail(&e);
	if (!yes) {
		printf("family forget %s would erase, for good:\n",
		    ctl_esc(f.ref));
		print_counts(&r);
		if (r.sending > 0)
			printf("  (famcontactd is sending a message that lists "
			       "it right now)\n");
		return ctl_error(EX_USAGE,
		    "family forget: nothing was erased; add --yes to erase "
		    "all of it");
	}
	printf("forgot family %s; erased:\n", ctl_esc(f.ref));
	print_counts(&r);
	printf("Backups and exports made before still hold it "
	       "(famcontactctl(1), SECURITY CONSIDERATIONS).\n");
	if (r.log_kept)
		ctl_error(EX_OK,
		    "warning: the database's write-ahead log was in use; "
		    "until famcontactd's next erasure empties it, it may "
		    "still hold what was erased");
	return EX_OK;
}
