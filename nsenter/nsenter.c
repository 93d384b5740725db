// nsenter: the part of `husk init` that must run before the Go runtime starts.
//
// Joining a mount or user namespace with setns(2) and unsharing a user
// namespace require a single-threaded process, and the Go runtime starts
// threads before main. So this constructor runs first, and only when the
// parent set _HUSK_INITPIPE (the bootstrap socket): a plain `husk` command
// never takes this path.
//
// Protocol on the bootstrap socket (see libcontainer/bootstrap.go):
//   parent -> here: u32 length, then that many bytes of NUL-terminated
//                   "key=value" entries:
//                     clone=<flags>        namespaces to unshare (CLONE_NEW*)
//                     ns=<flag>:<path>     a namespace to join (repeatable)
//                     timens=<text>        written to /proc/self/timens_offsets
//   here -> parent: records {u32 type, i32 value, u32 len, len bytes of text}:
//                     MSG_USERMAP value=pid   "write my uid/gid maps", then we
//                                             wait for one byte of ack
//                     MSG_PID     value=pid   the container's init process
//                     MSG_ERROR   value=errno text says what failed
// After MSG_PID the socket belongs to the Go side of init (the child).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

enum { MSG_USERMAP = 1, MSG_PID = 2, MSG_ERROR = 3 };

#define MAX_NS 16

static int sockfd = -1;

static void sendmsg_rec(uint32_t type, int32_t value, const char *text)
{
	uint32_t len = text ? strlen(text) : 0;
	char buf[12 + 1024];
	if (len > 1024)
		len = 1024;
	memcpy(buf, &type, 4);
	memcpy(buf + 4, &value, 4);
	memcpy(buf + 8, &len, 4);
	if (len)
		memcpy(buf + 12, text, len);
	// One write: the parent reads whole records; a short write on a local
	// stream socket of this size does not happen.
	if (write(sockfd, buf, 12 + len) < 0)
		_exit(1);
}

// bail reports "what: strerror(errno)" to the parent and exits. The parent
// turns it into the one-line error the user sees.
static void bail(const char *fmt, ...)
{
	int err = errno;
	char msg[900], full[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(full, sizeof full, "%s: %s", msg, strerror(err));
	sendmsg_rec(MSG_ERROR, err, full);
	_exit(1);
}

static void readall(void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(sockfd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		// EOF: the parent died or gave up; there is nobody to report to.
		if (r <= 0)
			_exit(1);
		p += r;
		n -= r;
	}
}

static const char *nsname(int flag)
{
	switch (flag) {
	case CLONE_NEWUSER: return "user";
	case CLONE_NEWNS: return "mount";
	case CLONE_NEWPID: return "pid";
	case CLONE_NEWNET: return "network";
	case CLONE_NEWIPC: return "ipc";
	case CLONE_NEWUTS: return "uts";
	case CLONE_NEWCGROUP: return "cgroup";
	case CLONE_NEWTIME: return "time";
	}
	return "unknown";
}

__attribute__((constructor)) static void nsenter(void)
{
	const char *env = getenv("_HUSK_INITPIPE");
	if (env == NULL || *env == '\0')
		return;
	sockfd = atoi(env);

	// Step 1: read the bootstrap message.
	uint32_t len;
	readall(&len, sizeof len);
	if (len == 0 || len > 1 << 20) {
		errno = EINVAL;
		bail("bootstrap message of %u bytes", len);
	}
	char *data = malloc(len);
	if (data == NULL)
		bail("allocate bootstrap buffer");
	readall(data, len);

	int cloneflags = 0;
	const char *timens = NULL;
	int nsflag[MAX_NS], nsfd[MAX_NS], nns = 0;
	const char *nspath[MAX_NS];

	// Step 2: parse it, and open every namespace to join before joining
	// any: after setns into a mount namespace the paths may not resolve.
	for (char *p = data; p < data + len; p += strlen(p) + 1) {
		if (strncmp(p, "clone=", 6) == 0) {
			cloneflags = (int)strtol(p + 6, NULL, 10);
		} else if (strncmp(p, "timens=", 7) == 0) {
			timens = p + 7;
		} else if (strncmp(p, "ns=", 3) == 0) {
			char *colon = strchr(p + 3, ':');
			if (colon == NULL || nns == MAX_NS) {
				errno = EINVAL;
				bail("bad namespace entry %s", p);
			}
			nsflag[nns] = (int)strtol(p + 3, NULL, 10);
			nspath[nns] = colon + 1;
			nsfd[nns] = open(colon + 1, O_RDONLY | O_CLOEXEC);
			if (nsfd[nns] < 0)
				bail("open %s namespace %s", nsname(nsflag[nns]), colon + 1);
			nns++;
		}
	}

	// Step 3: join namespaces by path. The user namespace goes first so
	// that we hold capabilities over the namespaces it owns.
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < nns; i++) {
			if ((nsflag[i] == CLONE_NEWUSER) != (pass == 0))
				continue;
			// Passing the type makes the kernel refuse a path that names
			// a namespace of another type.
			if (setns(nsfd[i], nsflag[i]) < 0)
				bail("join %s namespace %s", nsname(nsflag[i]), nspath[i]);
			close(nsfd[i]);
		}
	}

	// Step 4: a new user namespace is unshared alone, and the parent writes
	// our uid_map/gid_map (only a process outside may map more than one id).
	// Once mapped we become root in it.
	if (cloneflags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			bail("unshare user namespace");
		// Unsharing a user namespace may reset dumpability; the parent
		// needs to open /proc/<pid>/uid_map, so make sure it can.
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		sendmsg_rec(MSG_USERMAP, getpid(), NULL);
		char ack;
		readall(&ack, 1);
		if (ack != 0) {
			errno = EPERM;
			_exit(1); // the parent has the error; it reports it
		}
		if (setresgid(0, 0, 0) < 0)
			bail("setresgid to root in the user namespace");
		if (setresuid(0, 0, 0) < 0)
			bail("setresuid to root in the user namespace");
		cloneflags &= ~CLONE_NEWUSER;
	}

	// Step 5: unshare the remaining namespaces. The pid and time
	// namespaces apply to children only, hence the fork below.
	if (cloneflags && unshare(cloneflags) < 0)
		bail("unshare namespaces (flags %#x)", cloneflags);

	// Step 6: time namespace offsets may only be written before the first
	// process enters it.
	if (timens != NULL) {
		int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, timens, strlen(timens)) < 0)
			bail("write time namespace offsets \"%s\"", timens);
		close(fd);
	}

	// Step 7: fork the container's init. The child returns into the Go
	// runtime (husk init); this process reports the child's pid, as seen
	// from the parent's pid namespace, and exits.
	pid_t pid = fork();
	if (pid < 0)
		bail("fork container init");
	if (pid > 0) {
		sendmsg_rec(MSG_PID, pid, NULL);
		_exit(0);
	}
	free(data);
}
