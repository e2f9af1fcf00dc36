/*
 * fclimits.h - every size limit of famcontactd, named, with its reason.
 */
#ifndef FC_LIMITS_H
#define FC_LIMITS_H

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets including "<" and ">". */
#define FC_EMAIL_MAX 254
/* Reference codes are what emails and logs show: short, ASCII, safe. */
#define FC_REF_MAX 32
/* Display names of families and caseworkers, in bytes of UTF-8. */
#define FC_NAME_MAX 200
/* Longest IANA zone name in tzdata 2024 is 32 bytes; leave room. */
#define FC_ZONE_MAX 64
/* Free-text contact notes; they never leave the database by mail. */
#define FC_NOTE_MAX 4000
/* Reason given for pausing a family. */
#define FC_REASON_MAX 500
/* Who logged a contact: a login name (POSIX LOGIN_NAME_MAX is 256). */
#define FC_LOGIN_MAX 256
/* Cadence of contact, in days. */
#define FC_CADENCE_MIN 1
#define FC_CADENCE_MAX 365
/* "Display Name <addr>" in delivery.from and delivery.reply_to. */
#define FC_MAILBOX_MAX 512
/* Coordinators who receive escalations and the weekly overview. */
#define FC_COORDINATORS_MAX 32
/* Error messages handed back to callers. */
#define FC_ERRMSG_MAX 1024
/* Paths in the configuration (PATH_MAX is 4096 on Linux). */
#define FC_PATH_MAX 4096
/* An SMTP URL: scheme, host, port and an optional path. */
#define FC_URL_MAX 1024
/*
 * Room for a value refused at the door and quoted back in an error
 * message (text_quote() escapes it and cuts it with "..."): an e-mail
 * address (FC_EMAIL_MAX) fits whole.
 */
#define FC_QUOTE_MAX 300
/* The EHLO name: RFC 1035 2.3.4's 255 octets, room for an IPv6 literal. */
#define FC_HELO_MAX 255

/* Commands in one reply: a caseworker's weekly round, with room to spare. */
#define FC_REPLY_COMMANDS_MAX 200
/* One line of a reply that is read as a command: a note and its words. */
#define FC_REPLY_LINE_MAX (FC_NOTE_MAX + 256)
/* An inbound message, whole (famcontactctl mail-in exits 65 above it). */
#define FC_MAIL_IN_MAX (10 * 1024 * 1024)
/* RFC 5322 3.6.4: a msg-id; 998 is the longest a header line may be. */
#define FC_MSGID_MAX 998
/* Subject, Diagnostic-Code and other header text kept from inbound mail. */
#define FC_HEADER_TEXT_MAX 998
/* Message-IDs kept from References: the thread's newest ones suffice. */
#define FC_REFERENCES_MAX 32
/* Recipients reported in one delivery status notification. */
#define FC_DSN_RECIPIENTS_MAX 32
/* Unseen messages fetched in one IMAP poll; the rest wait for the next. */
#define FC_IMAP_BATCH_MAX 500
/* A reply or bounce key: 128 random bits in URL-safe base64, unpadded. */
#define FC_INBOUND_KEY_LEN 22
/* RFC 5321 4.5.3.1.1: the local part of an address, in octets. */
#define FC_LOCAL_PART_MAX 64
/* Answers (confirmations, notices) to one caseworker per day, at most:
   two robots answering each other stop here. */
#define FC_NOTICES_PER_DAY 20

#endif
