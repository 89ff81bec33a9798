/*
 * facts_fs.c - mounted file systems of the running machine, from
 * proc/self/mountinfo, with their sizes from fstatvfs(2).
 *
 * Left out, because no template or admin asks about them: pseudo file
 * systems (proc, sysfs, cgroup, devpts, debugfs, ...) and anything mounted
 * beneath /proc, /sys or /dev.  Kept: real and in-memory ones (tmpfs on
 * /tmp or /run, overlay in a container).  Network file systems are listed
 * without sizes: statvfs on an NFS mount whose server is gone blocks, and
 * facts must not.  A mount point mounted over twice shows the top mount,
 * the one mountinfo lists last.
 */
#include "facts/facts_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static bool pseudo_fs(const char *fstype)
{
	static const char *const pseudo[] = {
		"proc",	     "sysfs",	    "cgroup",	       "cgroup2",     "devpts",
		"devtmpfs",  "mqueue",	    "debugfs",	       "tracefs",     "securityfs",
		"pstore",    "bpf",	    "configfs",	       "fusectl",     "hugetlbfs",
		"autofs",    "binfmt_misc", "efivarfs",	       "rpc_pipefs",  "nsfs",
		"selinuxfs", "fuse.lxcfs",  "fuse.gvfsd-fuse", "fuse.portal", "nfsd",
		NULL,
	};

	return in_list(fstype, pseudo);
}

static bool network_fs(const char *fstype)
{
	static const char *const net[] = {
		"nfs",	     "nfs4",	    "cifs",	   "smb3",	 "smbfs",
		"ncpfs",     "afs",	    "ceph",	   "glusterfs",	 "lustre",
		"gpfs",	     "9p",	    "davfs",	   "fuse.sshfs", "fuse.glusterfs",
		"fuse.s3fs", "fuse.rclone", "fuse.cephfs", NULL,
	};

	return in_list(fstype, net);
}

static bool under(const char *mp, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(mp, dir, n) && (mp[n] == '/' || mp[n] == '\0');
}

/* unescape - mountinfo writes ' ', '\t', '\n' and '\\' as \ooo octal. */
static void unescape(char *s)
{
	char *w = s;

	for (char *c = s; *c; c++) {
		if (c[0] == '\\' && c[1] >= '0' && c[1] <= '3' && c[2] >= '0' && c[2] <= '7' &&
		    c[3] >= '0' && c[3] <= '7') {
			*w++ = (char)((c[1] - '0') * 64 + (c[2] - '0') * 8 + (c[3] - '0'));
			c += 3;
		} else {
			*w++ = *c;
		}
	}
	*w = '\0';
}

static void mount_sizes(int host, const char *mp, json_t *m)
{
	const char *rel = mp[1] ? mp + 1 : ".";
	int fd = openat(host, rel, O_PATH | O_CLOEXEC);
	struct statvfs sv;
	unsigned long long frsize;

	if (fd < 0)
		return;
	if (fstatvfs(fd, &sv) == 0) {
		frsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
		json_object_set_new(m, "size", json_integer((json_int_t)(sv.f_blocks * frsize)));
		json_object_set_new(m, "free", json_integer((json_int_t)(sv.f_bfree * frsize)));
		json_object_set_new(m, "available",
				    json_integer((json_int_t)(sv.f_bavail * frsize)));
	}
	close(fd);
}

/*
 * parse_line - one mountinfo line:
 *   ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
 * Pointers into line (unescaped in place); false when malformed.
 */
static bool parse_line(char *line, char **mp, char **opts, char **fstype, char **source)
{
	char *save = NULL, *w[6];
	char *tok;
	int i;

	for (i = 0; i < 6; i++)
		if (!(w[i] = strtok_r(i ? NULL : line, " ", &save)))
			return false;
	while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "-"))
		;
	if (!tok)
		return false;
	*fstype = strtok_r(NULL, " ", &save);
	*source = strtok_r(NULL, " ", &save);
	if (!*fstype || !*source)
		return false;
	*mp = w[4];
	*opts = w[5];
	unescape(*mp);
	unescape(*source);
	return (*mp)[0] == '/';
}

void facts_mounts(int host, json_t *f)
{
	struct buf b;
	char *cur, *line;
	json_t *all;

	if (facts_read_at(host, "proc/self/mountinfo", FACTS_BIG_FILE_MAX, &b) < 0)
		return;
	all = facts_group(f, "mounts");
	cur = b.data;
	while ((line = facts_next_line(&cur))) {
		char *mp, *opts, *fstype, *source;
		json_t *m;

		if (!parse_line(line, &mp, &opts, &fstype, &source))
			continue;
		if (pseudo_fs(fstype) || under(mp, "/proc") || under(mp, "/sys") ||
		    under(mp, "/dev"))
			continue;
		m = json_object();
		json_object_set_new(m, "device", facts_string(source));
		json_object_set_new(m, "fstype", facts_string(fstype));
		json_object_set_new(m, "options", facts_string(opts));
		if (network_fs(fstype))
			json_object_set_new(m, "network", json_true());
		else
			mount_sizes(host, mp, m);
		json_object_set_new(all, mp, m);
	}
	buf_free(&b);
}
