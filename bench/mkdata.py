"""Test data for the famcontactd benchmark: messages, the outbox, CSV files.

Every message of a run has exactly the same size, whichever program sends
it: famcontactd (from the outbox), smtp-source (from one file) and
smtplib (built here), so that the three throughput figures compare like
with like. All people, families and addresses are invented; addresses use
the reserved example.org domain.
"""

import datetime
import email.utils
import sqlite3
import time

FROM = "bench <bench@example.org>"
FROM_ADDR = "bench@example.org"
# A reminder listing a handful of families is about this size.
MESSAGE_SIZE = 1536

_BODY_HEAD = (
    "Hello,\n"
    "\n"
    "these families in your care are due for contact:\n"
    "\n"
)
_BODY_FOOT = (
    "\n"
    "Log a contact with: famcontactctl contact log REF --channel phone\n"
    "\n"
    "-- \n"
    "famcontactd benchmark (fictional data)\n"
)


def recipient(i):
    """The envelope and To: address of message i."""
    return f"caseworker{i % 100:03d}@example.org"


def _text(i, to, eol, size_want=None):
    """Message i to `to` with line ends `eol`, padded to size_want bytes
    (MESSAGE_SIZE by default)."""
    size_want = size_want or MESSAGE_SIZE
    head = (
        f"From: {FROM}\n"
        f"To: <{to}>\n"
        f"Subject: Families due for contact ({i % 7 + 1})\n"
        f"Date: {email.utils.formatdate(localtime=False)}\n"
        f"Message-ID: <bench.{i:08d}@example.org>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
    ).replace("\n", eol)
    head += _BODY_HEAD.replace("\n", eol)
    foot = _BODY_FOOT.replace("\n", eol)
    size = len(head) + len(foot)
    lines = []
    k = 0
    while True:
        line = (f"  BEN-{(i * 7 + k) % 100000:06d}  due since 2026-11-"
                f"{k % 28 + 1:02d}, days overdue: {k % 40 + 1}{eol}")
        if size + len(line) > size_want - 8:
            break
        lines.append(line)
        size += len(line)
        k += 1
    # Fill to the exact size with one last line (never starting with '.').
    lines.append("  " + "~" * (size_want - size - len(eol) - 2) + eol)
    text = head + "".join(lines) + foot
    assert len(text.encode()) == size_want, len(text.encode())
    return text


def message(i):
    """Message i as bytes with CRLF line ends (RFC 5322), MESSAGE_SIZE long."""
    return _text(i, recipient(i), "\r\n").encode()


def write_source_file(path, size=None):
    """The message file for smtp-source -F: LF line ends, which smtp-source
    turns into CRLF, so that it sends `size` bytes (MESSAGE_SIZE by
    default) like the others."""
    text = _text(0, recipient(0), "\r\n", size).replace("\r\n", "\n")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def insert_outbox(db_path, state, rows):
    """Insert test messages in state, one transaction; rows: (recipient,
    text, idem_key, at) each, `at` their created, updated and (when sent)
    sent time."""
    con = sqlite3.connect(db_path)
    try:
        with con:
            con.executemany(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, last_error, created_at,"
                " updated_at, sent_at) VALUES ('test', ?1, ?2, ?3, ?5,"
                " ?5 = 'sent', 0, '', ?4, ?4,"
                " CASE WHEN ?5 = 'sent' THEN ?4 END)",
                ((*row, state) for row in rows))
    finally:
        con.close()


def fill_outbox(db_path, count, tag):
    """Queue `count` test messages, due now, in one transaction."""
    now = int(time.time())
    insert_outbox(db_path, "queued",
                  ((recipient(i), message(i).decode(), f"bench-{tag}-{i}",
                    now) for i in range(count)))


def fill_sent(db_path, count, tag, days=29):
    """`count` test messages already sent, their text kept: sent over the
    last `days` days (inside the default retention of 30), as the outbox
    holds them some weeks into a campaign. One transaction."""
    now = int(time.time())
    span = days * 86400
    insert_outbox(db_path, "sent",
                  ((recipient(i), message(i).decode(), f"bench-{tag}-{i}",
                    now - span + (span * i) // max(count, 1))
                   for i in range(count)))


def outbox_states(db_path):
    """{state: count} of the outbox."""
    con = sqlite3.connect(db_path)
    try:
        return dict(con.execute(
            "SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    finally:
        con.close()


def caseworker_email(c):
    return f"cw{c:03d}@example.org"


def write_caseworkers(path, caseworkers):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("email,name,timezone\n")
        for c in range(caseworkers):
            f.write(f"{caseworker_email(c)},Caseworker {c:03d} (bench),UTC\n")


def write_families(path, caseworker, families, caseworkers, days_back=45,
                   today=None):
    """One caseworker's families. Their last contacts spread over the past
    `days_back` days with a 30-day cadence: about a third are due or
    overdue, a few overdue long enough to escalate."""
    today = today or datetime.date.today()
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("ref,name,caseworker,every_days,timezone,last_contact\n")
        for k in range(families):
            i = k * caseworkers + caseworker
            last = today - datetime.timedelta(days=k % days_back)
            f.write(f"BEN-{i:06d},Bench family {i:06d} (fictional),"
                    f"{caseworker_email(caseworker)},30,,{last.isoformat()}\n")
