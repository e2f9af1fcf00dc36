-- A schema 3 database (inbound mail, before retention): the schema 2
-- file upgraded by migration 3, with a sent reminder listing a family
-- that has a contact, a note and a correction, for the migration test.
-- Fictional.
PRAGMA application_id = 1178813489;
PRAGMA user_version = 3;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE caseworker (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL COLLATE NOCASE UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  timezone TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL
);
INSERT INTO caseworker VALUES(1,'amira@example.org','Amira (fictional)','Europe/Berlin',1,1795666360);
CREATE TABLE caseworker_run (
  caseworker_id INTEGER PRIMARY KEY
    REFERENCES caseworker(id) ON DELETE CASCADE,
  run_day TEXT NOT NULL CHECK (run_day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')
);
INSERT INTO caseworker_run VALUES(1,'2026-11-30');
CREATE TABLE contact (
  id INTEGER PRIMARY KEY,
  family_id INTEGER NOT NULL
    REFERENCES family(id) ON DELETE RESTRICT,
  at INTEGER NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('phone', 'video',
    'message', 'email', 'in-person', 'letter', 'other')),
  outcome TEXT NOT NULL
    CHECK (outcome IN ('reached', 'attempted', 'void')),
  note TEXT NOT NULL DEFAULT '',
  by_email TEXT NOT NULL DEFAULT '',
  logged_by TEXT NOT NULL DEFAULT '',
  logged_at INTEGER NOT NULL,
  voids INTEGER REFERENCES contact(id) ON DELETE RESTRICT,
  CHECK (outcome <> 'void' OR voids IS NOT NULL)
);
INSERT INTO contact VALUES(1,1,1795172400,'phone','attempted','','amira@example.org','root',1795666360,NULL);
INSERT INTO contact VALUES(2,1,1795258800,'phone','reached','Spoke with the mother; fictional note','amira@example.org','root',1795666400,NULL);
INSERT INTO contact VALUES(3,1,1795258800,'phone','void','','amira@example.org','root',1795666500,2);
CREATE TABLE family (
  id INTEGER PRIMARY KEY,
  ref TEXT NOT NULL COLLATE NOCASE UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  caseworker_id INTEGER NOT NULL
    REFERENCES caseworker(id) ON DELETE RESTRICT,
  every_days INTEGER NOT NULL DEFAULT 0
    CHECK (every_days BETWEEN 0 AND 365),
  timezone TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'paused', 'closed')),
  pause_reason TEXT NOT NULL DEFAULT '',
  pause_until TEXT CHECK (pause_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  last_contact TEXT CHECK (last_contact GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  first_due TEXT NOT NULL CHECK (first_due GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  created_at INTEGER NOT NULL
);
INSERT INTO family VALUES(1,'FXD-001','Familie Test (fictional)',1,14,'','active','',NULL,'2026-10-01','2026-11-26',1795666360);
CREATE TABLE family_reminder (
  family_id INTEGER PRIMARY KEY
    REFERENCES family(id) ON DELETE CASCADE,
  listed_day TEXT CHECK (listed_day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  escalated_mark INTEGER
);
INSERT INTO family_reminder VALUES(1,'2026-11-30',NULL);
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT
);
INSERT INTO meta VALUES('install_id','0123456789abcdef');
CREATE TABLE summary_run (
  recipient TEXT PRIMARY KEY,
  week TEXT NOT NULL,
  figures TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS "outbox" (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('reminder', 'escalation',
    'summary', 'overview', 'alert', 'test', 'confirmation')),
  recipient TEXT NOT NULL,
  message TEXT NOT NULL,
  idem_key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued',
    'sending', 'sent', 'dead', 'cancelled', 'bounced')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  sent_at INTEGER,
  alerted INTEGER NOT NULL DEFAULT 0,
  bounced_at INTEGER,
  bounce_status TEXT NOT NULL DEFAULT '',
  bounce_diagnostic TEXT NOT NULL DEFAULT ''
);
INSERT INTO outbox VALUES(1,'test','x@example.org',replace('Subject: t\n\nhello\n','\n',char(10)),'test:1','dead',3,0,'550 no',1795000000,1795000000,NULL,0,NULL,'','');
INSERT INTO outbox VALUES(2,'reminder','amira@example.org',replace('Subject: Reminder (fictional)\n\nFXD-001\n','\n',char(10)),'reminder:1:2026-11-30','sent',1,1796025600,'',1796025600,1796030000,1796030000,0,NULL,'','');
CREATE TABLE outbox_family (
  outbox_id INTEGER NOT NULL REFERENCES outbox(id),
  family_id INTEGER NOT NULL REFERENCES family(id),
  PRIMARY KEY (outbox_id, family_id)
) WITHOUT ROWID;
INSERT INTO outbox_family VALUES(2,1);
CREATE TABLE outbox_key (
  key TEXT PRIMARY KEY,
  outbox_id INTEGER NOT NULL REFERENCES outbox(id),
  caseworker_id INTEGER REFERENCES caseworker(id),
  kind TEXT NOT NULL CHECK (kind IN ('reply', 'bounce')),
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO outbox_key VALUES('k0123456789abcdefghijklmnopqrstu',2,1,'reply',1795666360);
CREATE TABLE mail_in (
  message_id TEXT PRIMARY KEY,
  handled_at INTEGER NOT NULL,
  outcome TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE notice_count (
  caseworker_id INTEGER NOT NULL
    REFERENCES caseworker(id) ON DELETE CASCADE,
  day TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  sent INTEGER NOT NULL DEFAULT 0 CHECK (sent >= 0),
  PRIMARY KEY (caseworker_id, day)
) WITHOUT ROWID;
CREATE INDEX family_caseworker ON family(caseworker_id, ref);
CREATE INDEX contact_family_outcome_at
  ON contact(family_id, outcome, at);
CREATE UNIQUE INDEX contact_voids ON contact(voids);
CREATE TRIGGER contact_no_update BEFORE UPDATE ON contact
BEGIN SELECT RAISE(ABORT, 'contacts are append-only; log a correction instead'); END;
CREATE TRIGGER contact_no_delete BEFORE DELETE ON contact
BEGIN SELECT RAISE(ABORT, 'contacts are append-only; log a correction instead'); END;
CREATE TRIGGER contact_voids_same_family BEFORE INSERT ON contact
WHEN NEW.voids IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contact
  WHERE id = NEW.voids AND family_id = NEW.family_id)
BEGIN SELECT RAISE(ABORT,
  'a correction must void a contact of the same family'); END;
CREATE INDEX outbox_queue ON outbox(created_at, id)
  WHERE state = 'queued';
CREATE INDEX outbox_due ON outbox(next_attempt_at)
  WHERE state = 'queued';
CREATE UNIQUE INDEX outbox_key_message ON outbox_key(outbox_id, kind);
COMMIT;
