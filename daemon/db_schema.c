/*
 * db_schema.c - the schema: what a file must hold to be ours
 * (application_id, user_version, no foreign tables) and the numbered
 * migrations keyed on PRAGMA user_version. A newer schema is refused and
 * the file left untouched.
 */
#include <stdint.h>

#include "db_priv.h"
#include "util.h"

/* PRAGMA application_id of a famcontactd database: "FCD1". */
#define DB_APPLICATION_ID 0x46434431

#define APPEND_ONLY "contacts are append-only; log a correction instead"
#define LOG_APPEND_ONLY "the change log is append-only"
/* The statement of the triggers that count schedule changes (schema 8). */
#define EPOCH_BUMP \
	"UPDATE meta SET value = value + 1 WHERE key = 'sched_epoch';"
#define DATE_GLOB "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"
/* What a family's next look rests on (schema 8, and 9 again). */
#define WAKE_EDIT_HEAD \
	"CREATE TRIGGER family_wake_edit AFTER UPDATE OF caseworker_id,\n" \
	"  every_days, status, pause_until, last_contact, first_due ON family\n" \
	"WHEN OLD.caseworker_id IS NOT NEW.caseworker_id\n" \
	"  OR OLD.every_days IS NOT NEW.every_days\n" \
	"  OR OLD.status IS NOT NEW.status\n" \
	"  OR OLD.pause_until IS NOT NEW.pause_until\n" \
	"  OR OLD.last_contact IS NOT NEW.last_contact\n" \
	"  OR OLD.first_due IS NOT NEW.first_due\n"
/*
 * Take one family out of due_count (schema 9): the one of status S, due
 * day D (as counted: '' for none; NULL = not counted, nothing done) and
 * caseworker C; a count that falls to 0 goes.
 */
#define UNCOUNT(S, D, C) \
	"UPDATE due_count SET n = n - 1 WHERE status = " S \
	"  AND due_day = " D " AND caseworker_id = " C ";\n" \
	"DELETE FROM due_count WHERE status = " S " AND due_day = " D \
	"  AND caseworker_id = " C " AND n <= 0;\n"
/* The family of a new contact, as it is, if it has a stored due day. */
#define CONTACT_FAMILY(col) \
	"(SELECT " col " FROM family WHERE id = NEW.family_id" \
	" AND due_day IS NOT '')"
#define UNCOUNT_CONTACT \
	UNCOUNT(CONTACT_FAMILY("status"), \
	    CONTACT_FAMILY("ifnull(due_day, '')"), \
	    CONTACT_FAMILY("caseworker_id"))
/*
 * Take family F of caseworker C out of wake (schema 11): a seek to C's
 * rows and a look through them, wake having no index on family_id.
 */
#define WAKE_GO(C, F) \
	"DELETE FROM wake WHERE caseworker_id = " C " AND family_id = " F ";"
/* The row as it was (OLD), if it had a stored due day. */
#define UNCOUNT_OLD \
	UNCOUNT("OLD.status", \
	    "(SELECT ifnull(OLD.due_day, '') WHERE OLD.due_day IS NOT '')", \
	    "OLD.caseworker_id")

/*
 * Schema steps: migrations[i] takes a database from user_version i to
 * i + 1, in one transaction that also sets user_version. Never edit a
 * released step; add one.
 */
static const char *const migrations[] = {
    /* 1: the data model (docs/design.md, "Data model"). */
    "CREATE TABLE caseworker (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  email TEXT NOT NULL COLLATE NOCASE UNIQUE,\n"
    "  name TEXT NOT NULL DEFAULT '',\n"
    "  timezone TEXT NOT NULL DEFAULT '',\n"
    "  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE family (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  ref TEXT NOT NULL COLLATE NOCASE UNIQUE,\n"
    "  name TEXT NOT NULL DEFAULT '',\n"
    "  caseworker_id INTEGER NOT NULL\n"
    "    REFERENCES caseworker(id) ON DELETE RESTRICT,\n"
    "  every_days INTEGER NOT NULL DEFAULT 0\n"
    "    CHECK (every_days BETWEEN 0 AND 365),\n"
    "  timezone TEXT NOT NULL DEFAULT '',\n"
    "  status TEXT NOT NULL DEFAULT 'active'\n"
    "    CHECK (status IN ('active', 'paused', 'closed')),\n"
    "  pause_reason TEXT NOT NULL DEFAULT '',\n"
    "  pause_until TEXT CHECK (pause_until GLOB " DATE_GLOB "),\n"
    "  last_contact TEXT CHECK (last_contact GLOB " DATE_GLOB "),\n"
    "  first_due TEXT NOT NULL CHECK (first_due GLOB " DATE_GLOB "),\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX family_caseworker ON family(caseworker_id, ref);\n"
    "CREATE TABLE contact (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  family_id INTEGER NOT NULL\n"
    "    REFERENCES family(id) ON DELETE RESTRICT,\n"
    "  at INTEGER NOT NULL,\n"
    "  channel TEXT NOT NULL CHECK (channel IN ('phone', 'video',\n"
    "    'message', 'email', 'in-person', 'letter', 'other')),\n"
    "  outcome TEXT NOT NULL\n"
    "    CHECK (outcome IN ('reached', 'attempted', 'void')),\n"
    "  note TEXT NOT NULL DEFAULT '',\n"
    "  by_email TEXT NOT NULL DEFAULT '',\n"
    "  logged_by TEXT NOT NULL DEFAULT '',\n"
    "  logged_at INTEGER NOT NULL,\n"
    "  voids INTEGER REFERENCES contact(id) ON DELETE RESTRICT,\n"
    "  CHECK (outcome <> 'void' OR voids IS NOT NULL)\n"
    ");\n"
    /* Finds a family's latest contact of one outcome in one seek. */
    "CREATE INDEX contact_family_outcome_at\n"
    "  ON contact(family_id, outcome, at);\n"
    /* A contact is voided at most once: a later fix voids the fix. */
    "CREATE UNIQUE INDEX contact_voids ON contact(voids);\n"
    "CREATE TRIGGER contact_no_update BEFORE UPDATE ON contact\n"
    "BEGIN SELECT RAISE(ABORT, '" APPEND_ONLY "'); END;\n"
    "CREATE TRIGGER contact_no_delete BEFORE DELETE ON contact\n"
    "BEGIN SELECT RAISE(ABORT, '" APPEND_ONLY "'); END;\n"
    "CREATE TRIGGER contact_voids_same_family BEFORE INSERT ON contact\n"
    "WHEN NEW.voids IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contact\n"
    "  WHERE id = NEW.voids AND family_id = NEW.family_id)\n"
    "BEGIN SELECT RAISE(ABORT,\n"
    "  'a correction must void a contact of the same family'); END;\n"
    "CREATE TABLE outbox (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  kind TEXT NOT NULL CHECK (kind IN ('reminder', 'escalation',\n"
    "    'summary', 'overview', 'alert', 'test')),\n"
    "  recipient TEXT NOT NULL,\n"
    "  message TEXT NOT NULL,\n"
    "  idem_key TEXT NOT NULL UNIQUE,\n"
    "  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued',\n"
    "    'sending', 'sent', 'dead', 'cancelled')),\n"
    "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,\n"
    "  last_error TEXT NOT NULL DEFAULT '',\n"
    "  created_at INTEGER NOT NULL,\n"
    "  updated_at INTEGER NOT NULL,\n"
    "  sent_at INTEGER\n"
    ");\n"
    "CREATE INDEX outbox_state ON outbox(state, next_attempt_at);\n"
    "CREATE TABLE meta (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value TEXT\n"
    ");\n",
    /* 2: the reminder engine's memory. */
    /* When each family was last listed, and which overdue stretch (its
	 * due day, as a day number) was last escalated. */
    "CREATE TABLE family_reminder (\n"
    "  family_id INTEGER PRIMARY KEY\n"
    "    REFERENCES family(id) ON DELETE CASCADE,\n"
    "  listed_day TEXT CHECK (listed_day GLOB " DATE_GLOB "),\n"
    "  escalated_mark INTEGER\n"
    ");\n"
    /* The caseworker's local day of their last daily run. */
    "CREATE TABLE caseworker_run (\n"
    "  caseworker_id INTEGER PRIMARY KEY\n"
    "    REFERENCES caseworker(id) ON DELETE CASCADE,\n"
    "  run_day TEXT NOT NULL CHECK (run_day GLOB " DATE_GLOB ")\n"
    ");\n"
    /* The families a reminder or escalation lists: checked again
	 * before it is sent. */
    "CREATE TABLE outbox_family (\n"
    "  outbox_id INTEGER NOT NULL REFERENCES outbox(id),\n"
    "  family_id INTEGER NOT NULL REFERENCES family(id),\n"
    "  PRIMARY KEY (outbox_id, family_id)\n"
    ") WITHOUT ROWID;\n"
    /*
	 * The queue, in delivery order (oldest first) and by due time: the
	 * indexes hold queued rows only, so that sending a message touches
	 * them once, and the rows sent over the years do not weigh on them.
	 */
    "DROP INDEX outbox_state;\n"
    "CREATE INDEX outbox_queue ON outbox(created_at, id)\n"
    "  WHERE state = 'queued';\n"
    "CREATE INDEX outbox_due ON outbox(next_attempt_at)\n"
    "  WHERE state = 'queued';\n"
    /* Dead letters already reported to the coordinators. */
    "ALTER TABLE outbox ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0;\n"
    /* Part of every Message-ID: a new database never repeats one. */
    "INSERT OR IGNORE INTO meta (key, value)\n"
    "  VALUES ('install_id', lower(hex(randomblob(8))));\n"
    /* The ISO week of each recipient's last weekly summary ("cw:<id>",
	 * "overview"), and the figures it showed (the next one's trend). */
    "CREATE TABLE summary_run (\n"
    "  recipient TEXT PRIMARY KEY,\n"
    "  week TEXT NOT NULL,\n"
    "  figures TEXT NOT NULL DEFAULT ''\n"
    ");\n",
    /*
	 * 3: inbound mail (docs/design.md, "Inbound mail"). The outbox gets
	 * the state 'bounced' and the kind 'confirmation': SQLite changes a
	 * CHECK only by rebuilding the table. outbox_family, which refers to
	 * outbox, is set aside and rebuilt too, so that dropping the old
	 * outbox leaves no row pointing nowhere; its two partial indexes are
	 * made again. No trigger or view refers to either table.
	 */
    "CREATE TABLE outbox_family_v2 AS SELECT outbox_id, family_id\n"
    "  FROM outbox_family;\n"
    "DROP TABLE outbox_family;\n"
    "CREATE TABLE outbox_v3 (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  kind TEXT NOT NULL CHECK (kind IN ('reminder', 'escalation',\n"
    "    'summary', 'overview', 'alert', 'test', 'confirmation')),\n"
    "  recipient TEXT NOT NULL,\n"
    "  message TEXT NOT NULL,\n"
    "  idem_key TEXT NOT NULL UNIQUE,\n"
    "  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued',\n"
    "    'sending', 'sent', 'dead', 'cancelled', 'bounced')),\n"
    "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,\n"
    "  last_error TEXT NOT NULL DEFAULT '',\n"
    "  created_at INTEGER NOT NULL,\n"
    "  updated_at INTEGER NOT NULL,\n"
    "  sent_at INTEGER,\n"
    "  alerted INTEGER NOT NULL DEFAULT 0,\n"
    /* The bounce: when it came, its status (5.1.1) and diagnostic. */
    "  bounced_at INTEGER,\n"
    "  bounce_status TEXT NOT NULL DEFAULT '',\n"
    "  bounce_diagnostic TEXT NOT NULL DEFAULT ''\n"
    ");\n"
    "INSERT INTO outbox_v3 (id, kind, recipient, message, idem_key, state,\n"
    "  attempts, next_attempt_at, last_error, created_at, updated_at,\n"
    "  sent_at, alerted)\n"
    "  SELECT id, kind, recipient, message, idem_key, state, attempts,\n"
    "  next_attempt_at, last_error, created_at, updated_at, sent_at,\n"
    "  alerted FROM outbox;\n"
    "DROP TABLE outbox;\n"
    "ALTER TABLE outbox_v3 RENAME TO outbox;\n"
    "CREATE INDEX outbox_queue ON outbox(created_at, id)\n"
    "  WHERE state = 'queued';\n"
    "CREATE INDEX outbox_due ON outbox(next_attempt_at)\n"
    "  WHERE state = 'queued';\n"
    "CREATE TABLE outbox_family (\n"
    "  outbox_id INTEGER NOT NULL REFERENCES outbox(id),\n"
    "  family_id INTEGER NOT NULL REFERENCES family(id),\n"
    "  PRIMARY KEY (outbox_id, family_id)\n"
    ") WITHOUT ROWID;\n"
    "INSERT INTO outbox_family SELECT outbox_id, family_id\n"
    "  FROM outbox_family_v2;\n"
    "DROP TABLE outbox_family_v2;\n"
    /*
	 * The keys a message carries: 'reply' in its Reply-To and
	 * Message-ID, bound to the caseworker it went to; 'bounce' in its
	 * envelope sender. A key names one message, forever.
	 */
    "CREATE TABLE outbox_key (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  outbox_id INTEGER NOT NULL REFERENCES outbox(id),\n"
    "  caseworker_id INTEGER REFERENCES caseworker(id),\n"
    "  kind TEXT NOT NULL CHECK (kind IN ('reply', 'bounce')),\n"
    "  created_at INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n"
    "CREATE UNIQUE INDEX outbox_key_message ON outbox_key(outbox_id, kind);\n"
    /* Inbound messages handled, by Message-ID: none is handled twice. */
    "CREATE TABLE mail_in (\n"
    "  message_id TEXT PRIMARY KEY,\n"
    "  handled_at INTEGER NOT NULL,\n"
    "  outcome TEXT NOT NULL\n"
    ") WITHOUT ROWID;\n"
    /* Refusal notices sent per caseworker and day (a cap against
	 * two robots mailing each other forever). */
    "CREATE TABLE notice_count (\n"
    "  caseworker_id INTEGER NOT NULL\n"
    "    REFERENCES caseworker(id) ON DELETE CASCADE,\n"
    "  day TEXT NOT NULL CHECK (day GLOB " DATE_GLOB "),\n"
    "  sent INTEGER NOT NULL DEFAULT 0 CHECK (sent >= 0),\n"
    "  PRIMARY KEY (caseworker_id, day)\n"
    ") WITHOUT ROWID;\n",
    /*
	 * 4: retention and forgetting (docs/design.md, "Retention and
	 * forgetting"). A message's text, once erased, is '' and the row
	 * says when and why: 'retention' (past retention.sent_days or
	 * dead_days) or 'forget' (it listed a family that was forgotten).
	 */
    "ALTER TABLE outbox ADD COLUMN erased_at INTEGER;\n"
    "ALTER TABLE outbox ADD COLUMN erased_for TEXT NOT NULL DEFAULT ''\n"
    "  CHECK (erased_for IN ('', 'retention', 'forget'));\n"
    /*
	 * The messages whose text is kept, oldest first: retention reads
	 * those made before its cut only. Keyed on what a message's state
	 * changes leave alone, so that sending one writes no more pages.
	 */
    "CREATE INDEX outbox_kept ON outbox(created_at)\n"
    "  WHERE erased_at IS NULL;\n"
    /*
	 * Contacts stay append-only, except those of a family being
	 * forgotten: its id is in forgetting for the length of the
	 * transaction that deletes them (empty at every commit).
	 */
    /* The messages that list a family, for forgetting it. */
    "CREATE INDEX outbox_family_family ON outbox_family(family_id);\n"
    "CREATE TABLE forgetting (\n"
    "  family_id INTEGER PRIMARY KEY\n"
    ");\n"
    "DROP TRIGGER contact_no_delete;\n"
    "CREATE TRIGGER contact_no_delete BEFORE DELETE ON contact\n"
    "WHEN NOT EXISTS (SELECT 1 FROM forgetting\n"
    "  WHERE family_id = OLD.family_id)\n"
    "BEGIN SELECT RAISE(ABORT, '" APPEND_ONLY "'); END;\n",
    /*
	 * 5: OpenPGP keys (docs/design.md, "OpenPGP"): the public keys of the
	 * people mail goes to, and the service's own key, the only row with
	 * a secret part. emails: the addresses of its user IDs, lowercase,
	 * one a line.
	 */
    "CREATE TABLE pgp_key (\n"
    "  fpr TEXT PRIMARY KEY CHECK (fpr = upper(fpr) AND length(fpr) >= 32),\n"
    "  emails TEXT NOT NULL,\n"
    "  created INTEGER NOT NULL,\n"
    "  expires INTEGER NOT NULL DEFAULT 0,\n"
    "  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),\n"
    "  can_encrypt INTEGER NOT NULL DEFAULT 0 CHECK (can_encrypt IN (0, 1)),\n"
    "  data TEXT NOT NULL,\n"
    "  secret TEXT,\n"
    "  service INTEGER NOT NULL DEFAULT 0 CHECK (service IN (0, 1)),\n"
    "  imported_at INTEGER NOT NULL,\n"
    "  imported_by TEXT NOT NULL DEFAULT '',\n"
    "  warned_at INTEGER NOT NULL DEFAULT 0,\n"
    "  CHECK (secret IS NULL OR service = 1)\n"
    ") WITHOUT ROWID;\n"
    "CREATE UNIQUE INDEX pgp_key_service ON pgp_key(service)\n"
    "  WHERE service = 1;\n",
    /*
	 * 6: a contact's calendar day, fixed when it is logged, in the zone
	 * of the caseworker then in charge (docs/design.md, "Data model"):
	 * handing the family to a caseworker in another zone moves no
	 * contact to another day. NULL for contacts logged before: their
	 * day is reckoned in the zone of the caseworker in charge now.
	 */
    "ALTER TABLE contact ADD COLUMN day TEXT CHECK (day GLOB " DATE_GLOB ");\n",
    /*
	 * 7: the change log (docs/design.md, "The change log"): who changed
	 * the register, and when, written by the transaction that makes the
	 * change. what: a verb (family.add, contact.void, ...); family_ref:
	 * the family concerned, by code only; detail: field names, counts,
	 * an outcome, never a name, a note or other free text. Append-only:
	 * the rows of a family being forgotten (named in forgetting, its
	 * row still there) are the only ones that may be deleted.
	 */
    "CREATE TABLE change_log (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  at INTEGER NOT NULL,\n"
    "  who TEXT NOT NULL,\n"
    "  what TEXT NOT NULL CHECK (what GLOB '[a-z]*.[a-z]*'),\n"
    "  family_ref TEXT COLLATE NOCASE,\n"
    "  detail TEXT NOT NULL DEFAULT ''\n"
    ");\n"
    "CREATE INDEX change_log_family ON change_log(family_ref, id)\n"
    "  WHERE family_ref IS NOT NULL;\n"
    "CREATE TRIGGER change_log_no_update BEFORE UPDATE ON change_log\n"
    "BEGIN SELECT RAISE(ABORT, '" LOG_APPEND_ONLY "'); END;\n"
    "CREATE TRIGGER change_log_no_delete BEFORE DELETE ON change_log\n"
    "WHEN NOT EXISTS (SELECT 1 FROM forgetting g JOIN family f\n"
    "  ON f.id = g.family_id WHERE f.ref = OLD.family_ref)\n"
    "BEGIN SELECT RAISE(ABORT, '" LOG_APPEND_ONLY "'); END;\n",
    /*
	 * 8: what a pass reads (docs/design.md, "Reading only what is
	 * due"). family.wake_day: the first day, in the caseworker's zone,
	 * on which the family may be listed or escalated, as the daemon
	 * last worked it out; '' = work it out at the next run (every
	 * change to what it depends on sets that, by the triggers below);
	 * NULL = never (closed, or paused without a review date). A daily
	 * run reads only the families with wake_day <= its day.
	 * meta sched_epoch: counts the changes that can move a daily run
	 * (caseworkers, and whether one has any family not closed), so that
	 * the daemon's turn after any other change skips the schedule.
	 */
    "ALTER TABLE family ADD COLUMN wake_day TEXT DEFAULT ''\n"
    "  CHECK (wake_day = '' OR wake_day GLOB " DATE_GLOB ");\n"
    "CREATE INDEX family_wake ON family(caseworker_id, wake_day);\n"
    "CREATE TRIGGER family_wake_contact AFTER INSERT ON contact\n"
    "BEGIN UPDATE family SET wake_day = '' WHERE id = NEW.family_id\n"
    "  AND wake_day IS NOT ''; END;\n" WAKE_EDIT_HEAD
    "BEGIN UPDATE family SET wake_day = '' WHERE id = NEW.id; END;\n"
    "CREATE TRIGGER family_wake_caseworker AFTER UPDATE OF timezone,\n"
    "  active ON caseworker\n"
    "WHEN OLD.timezone IS NOT NEW.timezone OR OLD.active IS NOT NEW.active\n"
    "BEGIN UPDATE family SET wake_day = '' WHERE caseworker_id = NEW.id\n"
    "  AND wake_day IS NOT ''; END;\n"
    "INSERT INTO meta (key, value) VALUES ('sched_epoch', 0);\n"
    "CREATE TRIGGER sched_epoch_caseworker_add AFTER INSERT ON caseworker\n"
    "BEGIN " EPOCH_BUMP " END;\n"
    "CREATE TRIGGER sched_epoch_caseworker_remove AFTER DELETE\n"
    "  ON caseworker\n"
    "BEGIN " EPOCH_BUMP " END;\n"
    "CREATE TRIGGER sched_epoch_caseworker_edit AFTER UPDATE OF timezone,\n"
    "  active, created_at ON caseworker\n"
    "WHEN OLD.timezone IS NOT NEW.timezone OR OLD.active IS NOT NEW.active\n"
    "  OR OLD.created_at IS NOT NEW.created_at\n"
    "BEGIN " EPOCH_BUMP " END;\n"
    /* A caseworker's first family not closed: a daily run begins. */
    "CREATE TRIGGER sched_epoch_family_add AFTER INSERT ON family\n"
    "WHEN NEW.status <> 'closed' AND NOT EXISTS (SELECT 1 FROM family\n"
    "  WHERE caseworker_id = NEW.caseworker_id AND id <> NEW.id\n"
    "  AND status <> 'closed')\n"
    "BEGIN " EPOCH_BUMP " END;\n"
    "CREATE TRIGGER sched_epoch_family_remove AFTER DELETE ON family\n"
    "WHEN OLD.status <> 'closed' AND NOT EXISTS (SELECT 1 FROM family\n"
    "  WHERE caseworker_id = OLD.caseworker_id AND status <> 'closed')\n"
    "BEGIN " EPOCH_BUMP " END;\n"
    "CREATE TRIGGER sched_epoch_family_edit AFTER UPDATE OF caseworker_id,\n"
    "  status ON family\n"
    "WHEN OLD.caseworker_id IS NOT NEW.caseworker_id\n"
    "  OR ((OLD.status = 'closed') <> (NEW.status = 'closed')\n"
    "    AND NOT EXISTS (SELECT 1 FROM family\n"
    "      WHERE caseworker_id = NEW.caseworker_id AND id <> NEW.id\n"
    "      AND status <> 'closed'))\n"
    "BEGIN " EPOCH_BUMP " END;\n",
    /*
	 * 9: counting without reading every family (docs/design.md 16).
	 * family.due_day: the day the family falls due (active) or its
	 * pause's review date (paused), under the policy named by meta
	 * wake_policy, as the daemon last worked it out; NULL = none (closed,
	 * paused without a review date); '' = unknown, worked out by whoever
	 * reads it. due_count: how many families of each status and
	 * caseworker have each stored due day ('' there = none), the unknown
	 * ones not counted. The triggers that clear a family's days (made
	 * again here to clear both) take it out of its count first, with the
	 * values it was counted under, as does removing it. Setting a day is
	 * the daemon's part, and it counts what it sets in the same
	 * transaction, a caseworker's days at once (db_due_count_add()): a
	 * trigger there would give every UPDATE a statement journal, 3.5
	 * times the time of a pass that works out every family. The policy
	 * name is dropped: the next pass works every family out again.
	 */
    "ALTER TABLE family ADD COLUMN due_day TEXT DEFAULT ''\n"
    "  CHECK (due_day = '' OR due_day GLOB " DATE_GLOB ");\n"
    "CREATE INDEX family_due ON family(status, due_day, caseworker_id, ref);\n"
    "CREATE TABLE due_count (\n"
    "  status TEXT NOT NULL,\n"
    "  due_day TEXT NOT NULL,\n"
    "  caseworker_id INTEGER NOT NULL,\n"
    "  n INTEGER NOT NULL,\n"
    "  PRIMARY KEY (status, due_day, caseworker_id)\n"
    ") WITHOUT ROWID;\n"
    "DROP TRIGGER family_wake_contact;\n"
    "DROP TRIGGER family_wake_edit;\n"
    "DROP TRIGGER family_wake_caseworker;\n"
    "CREATE TRIGGER family_wake_contact AFTER INSERT ON contact\n"
    "BEGIN " UNCOUNT_CONTACT "UPDATE family SET wake_day = '', due_day = ''\n"
    "  WHERE id = NEW.family_id\n"
    "  AND (wake_day IS NOT '' OR due_day IS NOT ''); END;\n" WAKE_EDIT_HEAD
    "BEGIN " UNCOUNT_OLD "UPDATE family SET wake_day = '', due_day = ''\n"
    "  WHERE id = NEW.id; END;\n"
    "CREATE TRIGGER family_wake_caseworker AFTER UPDATE OF timezone,\n"
    "  active ON caseworker\n"
    "WHEN OLD.timezone IS NOT NEW.timezone OR OLD.active IS NOT NEW.active\n"
    "BEGIN DELETE FROM due_count WHERE caseworker_id = NEW.id;\n"
    "  UPDATE family SET wake_day = '', due_day = ''\n"
    "  WHERE caseworker_id = NEW.id\n"
    "  AND (wake_day IS NOT '' OR due_day IS NOT ''); END;\n"
    "CREATE TRIGGER due_count_remove AFTER DELETE ON family\n"
    "WHEN OLD.due_day IS NOT ''\n"
    "BEGIN " UNCOUNT_OLD "END;\n"
    "DELETE FROM meta WHERE key = 'wake_policy';\n",
    /*
	 * 10: the outbox's few, found without reading the rest
	 * (docs/design.md 4): a daemon's turn looked for messages left
	 * 'sending', for the alert's news and for the next text to erase by
	 * reading every row of the outbox, message text and all, three to
	 * four times a turn, and famcontactctl health once. Each index holds
	 * only the rows it finds, in the words of the queries (db_priv.h);
	 * sending a message adds an entry to outbox_finished and to
	 * outbox_sent, and passes through outbox_sending.
	 */
    "CREATE INDEX outbox_sending ON outbox(id) WHERE state = 'sending';\n"
    "CREATE INDEX outbox_alerts ON outbox(created_at) WHERE kind = 'alert';\n"
    "CREATE INDEX outbox_unalerted ON outbox(id)\n"
    "  WHERE " UNALERTED " AND alerted = 0;\n"
    "CREATE INDEX outbox_finished ON outbox(state, updated_at)\n"
    "  WHERE " KEPT_FINISHED ";\n"
    /* For famcontactctl health: the dead and bounced of late, the last
     * delivery. */
    "CREATE INDEX outbox_dead ON outbox(updated_at) WHERE state = 'dead';\n"
    "CREATE INDEX outbox_bounced ON outbox(bounced_at)\n"
    "  WHERE state = 'bounced';\n"
    "CREATE INDEX outbox_sent ON outbox(sent_at) WHERE sent_at IS NOT NULL;\n",
    /*
	 * 11: the next looks in a table of their own (docs/design.md 15). A
	 * pass wrote each due family's wake_day into its row in family, and
	 * a due family is one in thirty, spread over every page: at a
	 * million families, 31,000 pages of 4 KiB written to the log, then
	 * again to the file, for 30,000 families. wake holds what the pass
	 * reads and writes, in the order it reads it (caseworker, day): the
	 * families read at a run are side by side, and so are the days
	 * written, and a pass writes a few hundred pages. A family has one
	 * row, or none when its next look is never (closed, paused without
	 * a review date); day '' = work it out at the next run. The
	 * triggers that cleared family.wake_day now clear a family's row to
	 * '' (a contact: a seek to its caseworker and a look through their
	 * rows, no index on family_id, which would be written at every
	 * move); adding a family gives it one, removing it takes it away.
	 * family.wake_day stays, no longer read or written: dropping it
	 * rewrites every row of family, and inside this step's transaction
	 * SQLite keeps a statement journal of every page, in memory
	 * (sqlite_config() in db.c): 135 MiB at a million families.
	 */
    "DROP TRIGGER family_wake_contact;\n"
    "DROP TRIGGER family_wake_edit;\n"
    "DROP TRIGGER family_wake_caseworker;\n"
    "DROP INDEX family_wake;\n"
    "CREATE TABLE wake (\n"
    "  caseworker_id INTEGER NOT NULL,\n"
    "  day TEXT NOT NULL CHECK (day = '' OR day GLOB " DATE_GLOB "),\n"
    "  family_id INTEGER NOT NULL,\n"
    "  PRIMARY KEY (caseworker_id, day, family_id)\n"
    ") WITHOUT ROWID;\n"
    "INSERT INTO wake SELECT caseworker_id, wake_day, id FROM family\n"
    "  WHERE wake_day IS NOT NULL ORDER BY 1, 2, 3;\n"
    "CREATE TRIGGER wake_family_add AFTER INSERT ON family\n"
    "BEGIN INSERT INTO wake VALUES (NEW.caseworker_id, '', NEW.id); END;\n"
    "CREATE TRIGGER wake_family_remove AFTER DELETE ON family\n"
    "BEGIN " WAKE_GO("OLD.caseworker_id",
	"OLD.id") " END;\n"
		  "CREATE TRIGGER family_wake_contact AFTER INSERT ON contact\n"
		  "BEGIN " UNCOUNT_CONTACT "UPDATE family SET due_day = ''\n"
		  "  WHERE id = NEW.family_id AND due_day IS NOT '';\n" WAKE_GO(
		      "(SELECT caseworker_id FROM family WHERE id = NEW.family_id)",
		      "NEW.family_id") "\n"
				       "INSERT INTO wake SELECT caseworker_id, '', id FROM family\n"
				       "  WHERE id = NEW.family_id; END;\n" WAKE_EDIT_HEAD
				       "BEGIN " UNCOUNT_OLD
				       "UPDATE family SET due_day = '' WHERE id = NEW.id;\n"
				       "  " WAKE_GO("OLD.caseworker_id",
					   "OLD.id") "\n"
						     "  INSERT INTO wake VALUES (NEW.caseworker_id, '', NEW.id); END;\n"
						     "CREATE TRIGGER family_wake_caseworker AFTER UPDATE OF timezone,\n"
						     "  active ON caseworker\n"
						     "WHEN OLD.timezone IS NOT NEW.timezone OR OLD.active IS NOT NEW.active\n"
						     "BEGIN DELETE FROM due_count WHERE caseworker_id = NEW.id;\n"
						     "  UPDATE family SET due_day = ''\n"
						     "  WHERE caseworker_id = NEW.id AND due_day IS NOT '';\n"
						     "  DELETE FROM wake WHERE caseworker_id = NEW.id;\n"
						     "  INSERT INTO wake SELECT NEW.id, '', id FROM family\n"
						     "  WHERE caseworker_id = NEW.id; END;\n",
};

_Static_assert(ARRAY_SIZE(migrations) == DB_SCHEMA_VERSION,
    "one migration step per schema version");

static int
newer_schema(struct db *db, int64_t version, struct fc_error *e)
{
	return err_set(e, FC_EDB,
	    "%s: database schema version %lld is newer "
	    "than this famcontactd (knows %d); upgrade famcontactd",
	    db->path, (long long)version, DB_SCHEMA_VERSION);
}

/* Apply the missing schema steps, each in its own transaction. */
int
db_schema_migrate(struct db *db, int64_t *version, struct fc_error *e)
{
	for (int step = (int)*version + 1; step <= DB_SCHEMA_VERSION; step++) {
		char sql[64];
		int64_t now = 0;
		int rc;

		rc = db_exec(db, "BEGIN IMMEDIATE", e, db->path);
		/* Another process may have migrated while we waited. */
		if (rc == 0)
			rc = db_query_int(
			    db, NULL, "PRAGMA user_version", &now, e);
		if (rc == 0 && now > DB_SCHEMA_VERSION)
			rc = newer_schema(db, now, e);
		if (rc == 0 && now < step) {
			now = step;
			rc = sqlite3_exec(
			    db->h, migrations[step - 1], NULL, NULL, NULL);
			if (rc != SQLITE_OK)
				rc = db_fail(db, rc, e,
				    "%s: cannot upgrade the "
				    "database to schema version %d",
				    db->path, step);
			if (rc == 0 && step == 1) {
				xsnprintf(sql, sizeof(sql),
				    "PRAGMA application_id = %d",
				    DB_APPLICATION_ID);
				rc = db_exec(db, sql, e, db->path);
			}
			if (rc == 0) {
				xsnprintf(sql, sizeof(sql),
				    "PRAGMA user_version = %d", step);
				rc = db_exec(db, sql, e, db->path);
			}
		}
		if (rc == 0)
			rc = db_exec(db, "COMMIT", e, db->path);
		if (rc < 0) {
			db_rollback(db);
			return rc;
		}
		*version = now;
		step = (int)now;
	}
	return 0;
}

/* Check what the file holds, before anything is written to it. */
int
db_schema_check(struct db *db, int64_t *version, struct fc_error *e)
{
	int64_t app_id = 0, tables = 0;
	int rc;

	rc = db_query_int_raw(db, "PRAGMA user_version", version);
	if ((rc & 0xff) == SQLITE_NOTADB)
		return err_set(e, FC_EDB,
		    "%s: not a famcontactd database "
		    "(file is not a database)",
		    db->path);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, e, "%s", db->path);
	if (sqlite3_db_readonly(db->h, "main") == 1)
		return err_set(e, FC_EPERM,
		    "%s: database is read-only for this "
		    "user",
		    db->path);
	if ((rc = db_query_int(db, NULL, "PRAGMA application_id", &app_id, e)) <
	    0)
		return rc;
	if ((app_id != 0 || *version > 0) && app_id != DB_APPLICATION_ID)
		return err_set(e, FC_EDB,
		    "%s: not a famcontactd database "
		    "(application_id 0x%08llx)",
		    db->path, (unsigned long long)app_id & 0xffffffffu);
	if (*version == 0) {
		if ((rc = db_query_int(db, NULL,
			 "SELECT count(*) FROM sqlite_master", &tables, e)) < 0)
			return rc;
		if (tables > 0)
			return err_set(e, FC_EDB,
			    "%s: not a famcontactd database "
			    "(it holds other tables)",
			    db->path);
	}
	if (*version > DB_SCHEMA_VERSION)
		return newer_schema(db, *version, e);
	return 0;
}
