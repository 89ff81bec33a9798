/*
 * accounts.h - what the user and group types share: running shadow-utils
 * against the managed root, reading fields of ROOT/etc/passwd and
 * ROOT/etc/shadow that userdb does not keep (the GECOS comment, the
 * password hash), name and list helpers, and the parsing of
 * authorized_keys lines.
 *
 * tend never edits the account files itself: every change is a run of
 * useradd, usermod, userdel, groupadd, groupmod, groupdel, gpasswd or
 * chpasswd.  Only reading is done here.
 */
#ifndef TEND_RES_ACCOUNTS_H
#define TEND_RES_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "model/resource.h"
#include "util/buf.h"
#include "util/fsroot.h"

/* Longest account file line and file tend reads. */
#define ACCT_LINE_MAX 4096
#define ACCT_FILE_MAX ((size_t)64 << 20)
/* Longest authorized_keys file tend reads (and one key line). */
#define ACCT_KEYS_MAX ((size_t)1 << 20)
#define ACCT_KEY_LINE_MAX ((size_t)16 << 10)

/*
 * acct_run - run a shadow-utils tool (useradd, gpasswd, ...) with args
 * (NULL-terminated) against ctx's root: "--root ROOT" (gpasswd: "-Q ROOT")
 * is inserted unless the root is the host's "/".  stdin_data (may be NULL)
 * is fed to its standard input and never appears in messages.  The tool's
 * output goes to r->output; when it fails, r fails with a message that
 * quotes the tool's own error.  0 or -EIO (r failed).
 */
int acct_run(struct resource *r, struct res_ctx *ctx, const char *tool, const char *const *args,
	     const char *stdin_data);

/*
 * acct_field - field number field (0-based; 1 is the password, 4 the
 * GECOS) of name's line in the root's file (/etc/passwd, /etc/shadow),
 * malloc'd into *ret.  -ENOENT when the file or the line is missing,
 * other -errno when it cannot be read.
 */
int acct_field(struct fsroot *root, const char *file, const char *name, unsigned field, char **ret);

/*
 * acct_name_ok - whether s can be a user or group name in the account
 * files: not empty, at most 32 bytes, no ':', ',', '/', whitespace or
 * control characters, not starting with '-', not all digits.
 */
bool acct_name_ok(const char *s);

/* acct_text_ok - s holds no ':' and no newline or other control character. */
bool acct_text_ok(const char *s);

/* acct_has - whether the NULL-terminated (or n-long) list v holds s. */
bool acct_has(char *const *v, size_t n, const char *s);

/*
 * acct_list_str - "[a,b]" of n strings into b (for plans).  An empty list
 * is "[]".
 */
void acct_list_str(struct buf *b, char *const *v, size_t n);

/*
 * acct_same_set - whether lists a and b hold the same strings (order and
 * duplicates ignored).
 */
bool acct_same_set(char *const *a, size_t na, char *const *b, size_t nb);

/* How a declared user resource places its account in a group. */
enum acct_placement {
	ACCT_ANY,     /* says nothing about the group */
	ACCT_PRIMARY, /* it is the primary group (group, or named like the user) only */
	ACCT_IN,      /* names it in groups or groups_add */
	ACCT_OUT,     /* an exact groups list leaves it out */
	ACCT_ABSENT,  /* ensure: absent */
};

/*
 * acct_user_placement - what the user resource u (decoded; a user type
 * resource) says about membership of group g (a name).  Lives in user.c,
 * which owns the user's desired state; group.c uses it to order itself
 * and to reject contradicting declarations.
 */
enum acct_placement acct_user_placement(const struct resource *u, const char *g);

/*
 * acct_group_lists - whether the group resource g (decoded; a group type
 * resource) wants user among its members (ensure present, members set
 * and naming user).  Lives in group.c.
 */
bool acct_group_lists(const struct resource *g, const char *user);

/* An authorized_keys entry. */
struct acct_key {
	char *line;  /* "TYPE BASE64[ COMMENT]", whitespace normalised */
	char *label; /* the comment, or "SHA256:..." when there is none */
	char *fp;    /* "SHA256:..." as ssh-keygen -l prints it */
};

/*
 * acct_key_parse - parse one "TYPE BASE64 [COMMENT]" key.  TYPE must be a
 * known OpenSSH key type; BASE64 must decode to a key blob that starts
 * with TYPE.  Options before the type are not accepted.  On failure a
 * reason goes to why and -EINVAL is returned; ret is set only on success.
 */
int acct_key_parse(const char *s, struct acct_key *ret, char *why, size_t whylen);
void acct_key_free(struct acct_key *k);

/*
 * acct_keys_parse_text - the entries of an authorized_keys file: blank
 * lines and '#' comments are skipped; a line that is not a key this
 * parser knows (options, garbage) is kept whole as its line, labelled
 * "line N".  *ret is malloc'd (free with acct_keys_free).
 */
void acct_keys_parse_text(const char *data, size_t len, struct acct_key **ret, size_t *ret_n);
void acct_keys_free(struct acct_key *v, size_t n);

/* acct_key_in - whether k's line is among v's. */
bool acct_key_in(const struct acct_key *k, const struct acct_key *v, size_t n);

/* acct_keys_same - whether a and b hold the same key lines (order and repeats ignored). */
bool acct_keys_same(const struct acct_key *a, size_t na, const struct acct_key *b, size_t nb);

enum acct_fkind { ACCT_MISSING, ACCT_FOUND, ACCT_OTHER /* a symlink or not the right kind */ };

/* What HOME/.ssh/authorized_keys looks like. */
struct acct_keys_file {
	bool home_exists;
	enum acct_fkind ssh_kind, keys_kind;
	struct stat ssh_st, keys_st;
	struct acct_key *keys; /* when keys_kind is ACCT_FOUND */
	size_t nkeys;
};

/*
 * acct_keys_read - look at home/.ssh and home/.ssh/authorized_keys in the
 * root without following a symlink at either (the user owns them).  A
 * missing home, .ssh or file is not an error.  ret is reset first (free
 * with acct_keys_file_free).  0, or -errno with a reason in why.
 */
int acct_keys_read(struct fsroot *root, const char *home, struct acct_keys_file *ret, char *why,
		   size_t whylen);
void acct_keys_file_free(struct acct_keys_file *f);

/*
 * acct_keys_write - make home/.ssh (0700) and home/.ssh/authorized_keys
 * (0600), both owned uid:gid, hold exactly the n keys of want (one a line,
 * in order), touching only what differs.  Every step works on descriptors
 * opened without following symlinks, so a link the user planted is
 * replaced (the file) or refused (.ssh), never followed by root.  With no
 * keys and no home, nothing to do.  0, or -errno with a reason in why.
 */
int acct_keys_write(struct fsroot *root, const char *home, uid_t uid, gid_t gid,
		    const struct acct_key *want, size_t n, char *why, size_t whylen);

#endif
