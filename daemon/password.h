/*
 * password.h - the SMTP and IMAP passwords, read from a file or from
 * systemd's credential, with the safety checks of a secret-bearing file.
 * The caller owns the buffer and wipes it (explicit_bzero) after use.
 */
#ifndef FC_PASSWORD_H
#define FC_PASSWORD_H

#include <stddef.h>

struct fc_error;

/* systemd's LoadCredential= puts the password in this file of $CREDENTIALS_DIRECTORY. */
#define PASSWORD_CREDENTIAL_NAME "smtp-password"
/* The same for the IMAP password of inbound.imap (famcontactd.conf(5)). */
#define PASSWORD_IMAP_CREDENTIAL_NAME "imap-password"

/*
 * Read the SMTP password into buf (size bytes): from password_file (the
 * configuration's smtp.password_file), else from
 * $CREDENTIALS_DIRECTORY/smtp-password, else "" (no AUTH). A file readable
 * or writable by group or others, or not owned by this user, is refused
 * (FC_EPERM) with a message saying how to fix it; the trailing newline is
 * removed. Used error codes: FC_EPERM (also a symbolic link), FC_ENOINPUT,
 * FC_EIO, FC_EINVAL (empty, several lines, too long, not a regular file:
 * a FIFO or a device is refused at once, never waited on), FC_EINTERNAL
 * (size < 2).
 */
int password_read(
    const char *password_file, char *buf, size_t size, struct fc_error *e);

/*
 * The same for any password: from password_file, else the credential
 * named credential (PASSWORD_IMAP_CREDENTIAL_NAME), else ""; what names
 * it in messages ("IMAP password").
 */
int password_read_cred(const char *password_file, const char *credential,
    const char *what, char *buf, size_t size, struct fc_error *e);

#endif
