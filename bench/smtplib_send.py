#!/usr/bin/env python3
"""The smtplib reference: send COUNT benchmark messages over one connection.

    smtplib_send.py HOST PORT COUNT

The messages are built before connecting (famcontactd finds its own ready
in the outbox). Exits 0 when the server accepted every one, 1 otherwise.
"""

import os
import smtplib
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mkdata  # noqa: E402


def main():
    if len(sys.argv) != 4:
        print("usage: smtplib_send.py HOST PORT COUNT", file=sys.stderr)
        return 64
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    messages = [(mkdata.recipient(i), mkdata.message(i)) for i in range(count)]
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        smtp.ehlo("bench.example.org")
        for to, msg in messages:
            refused = smtp.sendmail(mkdata.FROM_ADDR, [to], msg)
            if refused:
                print(f"smtplib_send: refused: {refused}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, smtplib.SMTPException) as e:
        print(f"smtplib_send: {e}", file=sys.stderr)
        sys.exit(1)
