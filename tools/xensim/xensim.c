/* xensim.c: the xensim command line: starts the daemon and talks to it. */
#include "../../blkback/version.h"
#include "daemon.h"
#include "xensim.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef XENSIM_LIBDIR
#define XENSIM_LIBDIR "/usr/local/lib/xensim"
#endif

static const char usage[] =
	"usage: xensim [--dir DIR] COMMAND [ARGS]\n"
	"  start [--foreground] [-d] [--log FILE]  start the daemon (dom0 exists at once)\n"
	"  stop                                    destroy every domain, stop the daemon\n"
	"  create NAME                             create a domain, print its id\n"
	"  destroy NAME|ID                         destroy a domain (its processes are killed)\n"
	"  shutdown NAME|ID REASON                 mark a domain shut down, as Xen does, with\n"
	"                                          REASON poweroff, reboot, suspend, crash,\n"
	"                                          watchdog or soft_reset (what libxenctrl\n"
	"                                          reports; its processes go on)\n"
	"  list                                    id and name of every domain\n"
	"  env NAME|ID                             the environment of a process in that domain\n"
	"  run NAME|ID -- CMD [ARGS]               run CMD in that domain\n"
	"  counters [NAME|ID] [--json]             what the hypervisor charged each domain\n"
	"  xs-fault PATH ERROR [COUNT]             the next COUNT (1) xenstore reads of PATH\n"
	"                                          fail with ERROR (EIO...); COUNT 0: none\n"
	"The run directory is --dir, else $XENSIM_DIR, else /run/xensim (root), else\n"
	"$XDG_RUNTIME_DIR/xensim, else /tmp/xensim-$UID.\n"
	"--version prints the version. Exit status: 0 done, 1 failed, 2 bad command line.\n";

static const char *const counter_names[] = { "map_calls", "maps", "unmaps", "copy_calls",
					     "copies", "notifies", "shares", "unshares",
					     "map_errors" };
#define NCOUNTERS (sizeof(counter_names) / sizeof(counter_names[0]))

struct opts {
	const char *dir, *log;
	bool foreground, debug, json;
	char *pos[4];
	int npos;
	char **cmd; /* after "--" */
};

/* Print an error and exit 1. */
static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("xensim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* The run directory, as the spec orders the choices. */
static void pick_dir(struct opts *o, char *buf, size_t size)
{
	const char *env = getenv("XENSIM_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");

	if (o->dir)
		snprintf(buf, size, "%s", o->dir);
	else if (env && *env)
		snprintf(buf, size, "%s", env);
	else if (geteuid() == 0)
		snprintf(buf, size, "/run/xensim");
	else if (xdg && *xdg)
		snprintf(buf, size, "%s/xensim", xdg);
	else
		snprintf(buf, size, "/tmp/xensim-%u", (unsigned)getuid());
}

/* Send one command line to the daemon; its reply (after "ok") malloc'ed, or die. */
static char *ask(const char *dir, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *out = NULL;
	size_t len = 0, cap = 0;
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control", dir) >=
	    sizeof(sa.sun_path))
		die("run directory %s: path too long for a socket", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("no simulator runs in %s (%s): start one with 'xensim --dir %s start'", dir,
		    strerror(errno), dir);
	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0)
		die("cannot talk to the simulator in %s: %s", dir, strerror(errno));
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			out = realloc(out, cap);
			if (!out)
				die("out of memory");
		}
		n = read(fd, out + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("cannot read the simulator's reply: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!out || !len)
		die("the simulator in %s closed the connection without a reply", dir);
	out[len] = 0;
	if (!strncmp(out, "err ", 4)) {
		out[strcspn(out, "\n")] = 0;
		die("%s", out + 4);
	}
	if (strncmp(out, "ok", 2))
		die("unexpected reply from the simulator: %.80s", out);
	{
		size_t skip = 2 + (out[2] == ' ' || out[2] == '\n');

		memmove(out, out + skip, len + 1 - skip);
	}
	return out;
}

/* mkdir -p for the run directory. */
static void make_dir(const char *dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	if (mkdir(p, 0755) && errno != EEXIST)
		die("cannot create run directory %s: %s", dir, strerror(errno));
}

/* xensim start: fork the daemon and wait until it listens. */
static int cmd_start(struct opts *o, const char *dir)
{
	char abs[PATH_MAX], msg[PATH_MAX + 256];
	int pfd[2], lfd;
	ssize_t n;
	pid_t pid;

	make_dir(dir);
	if (!realpath(dir, abs))
		die("cannot resolve %s: %s", dir, strerror(errno));
	if (strlen(abs) > XENSIM_DIR_MAX)
		die("run directory %s is too long for Unix socket paths (at most %d characters): "
		    "pick a shorter --dir", abs, XENSIM_DIR_MAX);
	sim_debug = o->debug;
	if (o->foreground && !o->log)
		return daemon_run(abs, -1);
	if (pipe2(pfd, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	pid = o->foreground ? 0 : fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char def[PATH_MAX + 16];

		close(pfd[0]);
		if (!o->foreground)
			setsid();
		snprintf(def, sizeof(def), "%s/xensim.log", abs);
		lfd = open(o->log ? o->log : def, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (lfd < 0)
			die("cannot open log %s: %s", o->log ? o->log : def, strerror(errno));
		dup2(lfd, 2);
		close(lfd);
		if (!o->foreground) {
			int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

			dup2(nul, 0);
			dup2(nul, 1);
			close(nul);
		}
		exit(daemon_run(abs, o->foreground ? -1 : pfd[1]));
	}
	close(pfd[1]);
	n = read(pfd[0], msg, sizeof(msg) - 1);
	close(pfd[0]);
	if (n <= 0)
		die("the daemon exited while starting: see %s", o->log ? o->log : "xensim.log");
	msg[n] = 0;
	if (*msg)
		die("%s", msg);
	return 0;
}

/* xensim stop: ask, then wait for the daemon to exit (its pid file lock goes). */
static int cmd_stop(const char *dir)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/xensim.pid", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(ask(dir, "stop"));
	if (fd >= 0) {
		alarm(60);
		if (flock(fd, LOCK_SH))
			die("the daemon in %s did not exit: %s", dir, strerror(errno));
		close(fd);
	}
	return 0;
}

/* The directory holding the drop-in libraries. */
static void lib_dir(char *buf, size_t size)
{
	const char *env = getenv("XENSIM_LIBDIR");
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n;

	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		const char *d;

		exe[n] = 0;
		d = dirname(exe);
		snprintf(probe, sizeof(probe), "%s/sim/lib/libxengnttab.so.1", d);
		if (access(probe, F_OK) == 0) {
			snprintf(buf, size, "%s/sim/lib", d);
			return;
		}
	}
	snprintf(buf, size, "%s", XENSIM_LIBDIR);
}

/* Fill env[] with the environment of domain id; LD_LIBRARY_PATH last. */
static void dom_env(const char *dir, unsigned int id, char env[5][2][PATH_MAX + 64])
{
	char lib[PATH_MAX], abs[PATH_MAX];
	const char *old = getenv("LD_LIBRARY_PATH");

	if (!realpath(dir, abs))
		snprintf(abs, sizeof(abs), "%s", dir);
	lib_dir(lib, sizeof(lib));
	snprintf(env[0][0], sizeof(env[0][0]), "XENSTORED_PATH");
	snprintf(env[0][1], sizeof(env[0][1]), "%s/dom%u/xenstored", abs, id);
	snprintf(env[1][0], sizeof(env[1][0]), "XENSIM_DIR");
	snprintf(env[1][1], sizeof(env[1][1]), "%s", abs);
	snprintf(env[2][0], sizeof(env[2][0]), "XENSIM_DOMID");
	snprintf(env[2][1], sizeof(env[2][1]), "%u", id);
	snprintf(env[3][0], sizeof(env[3][0]), "XENSIM_HV");
	snprintf(env[3][1], sizeof(env[3][1]), "%s/dom%u/hv", abs, id);
	snprintf(env[4][0], sizeof(env[4][0]), "LD_LIBRARY_PATH");
	snprintf(env[4][1], sizeof(env[4][1]), "%s%s%s", lib, old && *old ? ":" : "",
		 old ? old : "");
}

/* The id of domain ref, asking the daemon. */
static unsigned int lookup(const char *dir, const char *ref)
{
	char cmd[128], *r;
	unsigned int id;

	snprintf(cmd, sizeof(cmd), "lookup %s", ref);
	r = ask(dir, cmd);
	if (sscanf(r, "%u", &id) != 1)
		die("unexpected reply from the simulator: %.80s", r);
	free(r);
	return id;
}

/* Print s in single quotes for a shell. */
static void shell_quote(const char *s)
{
	putchar('\'');
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	putchar('\'');
}

/* xensim counters: text table or JSON array. */
static int cmd_counters(struct opts *o, const char *dir)
{
	char cmd[128], *r, *line, *save = NULL;
	bool first = true;

	snprintf(cmd, sizeof(cmd), "counters%s%s", o->npos > 1 ? " " : "",
		 o->npos > 1 ? o->pos[1] : "");
	r = ask(dir, cmd);
	if (o->json)
		putchar('[');
	else
		printf("%-4s %-16s %10s %10s %10s %10s %10s %10s %10s %10s %10s\n", "id", "name",
		       "map_calls", "maps", "unmaps", "copy_calls", "copies", "notifies", "shares",
		       "unshares", "map_errors");
	for (line = strtok_r(r, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long v[NCOUNTERS];
		char name[XENSIM_NAME_MAX];
		unsigned int id;

		if (sscanf(line, "%u %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu", &id, name,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) != 11)
			continue;
		if (o->json) {
			printf("%s{\"domid\": %u, \"name\": \"%s\"", first ? "" : ", ", id, name);
			for (size_t i = 0; i < NCOUNTERS; i++)
				printf(", \"%s\": %llu", counter_names[i], v[i]);
			putchar('}');
		} else {
			printf("%-4u %-16s", id, name);
			for (size_t i = 0; i < NCOUNTERS; i++)
				printf(" %10llu", v[i]);
			putchar('\n');
		}
		first = false;
	}
	if (o->json)
		puts("]");
	free(r);
	return 0;
}

/* Parse options (anywhere before "--") and positional words. */
static void parse(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];

		if (!strcmp(a, "--")) {
			o->cmd = argv + i + 1;
			return;
		} else if (!strcmp(a, "--dir") && i + 1 < argc) {
			o->dir = argv[++i];
		} else if (!strcmp(a, "--log") && i + 1 < argc) {
			o->log = argv[++i];
		} else if (!strcmp(a, "--foreground")) {
			o->foreground = true;
		} else if (!strcmp(a, "-d")) {
			o->debug = true;
		} else if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			exit(0);
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			version_print("xensim");
			exit(0);
		} else if (a[0] == '-' || o->npos == 4) {
			fprintf(stderr, "xensim: unexpected argument '%s'\n%s", a, usage);
			exit(2);
		} else {
			o->pos[o->npos++] = a;
		}
	}
}

/* Say what is wrong with the command line: an unknown command, or the command's usage. */
static void bad_command_line(const char *c)
{
	char key[32];
	const char *line, *end;

	snprintf(key, sizeof(key), "\n  %.20s ", c);
	line = strstr(usage, key);
	if (!line) {
		fprintf(stderr, "xensim: unknown command '%s'\n%s", c, usage);
		return;
	}
	line += 3;
	end = strstr(line, "  ");	/* the synopsis ends where its description column starts */
	fprintf(stderr, "xensim: %s: wrong arguments; usage: xensim %.*s\n", c,
		(int)(end ? end - line : (ptrdiff_t)strcspn(line, "\n")), line);
}

/* Entry point: dispatch the command. */
int main(int argc, char **argv)
{
	struct opts o = { 0 };
	char dir[PATH_MAX], env[5][2][PATH_MAX + 64];
	const char *c;

	parse(argc, argv, &o);
	if (!o.npos) {
		fputs(usage, stderr);
		return 2;
	}
	c = o.pos[0];
	pick_dir(&o, dir, sizeof(dir));
	if (!strcmp(c, "start") && o.npos == 1)
		return cmd_start(&o, dir);
	if (!strcmp(c, "stop") && o.npos == 1)
		return cmd_stop(dir);
	if (!strcmp(c, "counters") && o.npos <= 2)
		return cmd_counters(&o, dir);
	if (!strcmp(c, "list") && o.npos == 1) {
		char *r = ask(dir, "list");

		fputs(r, stdout);
		free(r);
		return 0;
	}
	if (!strcmp(c, "create") && o.npos == 2) {
		char cmd[128], *r;

		if (strlen(o.pos[1]) >= XENSIM_NAME_MAX || strchr(o.pos[1], ' '))
			die("bad domain name '%s'", o.pos[1]);
		snprintf(cmd, sizeof(cmd), "create %s", o.pos[1]);
		r = ask(dir, cmd);
		fputs(r, stdout);
		free(r);
		return 0;
	}
	if (!strcmp(c, "xs-fault") && (o.npos == 3 || o.npos == 4)) {
		char cmd[PATH_MAX + 64];

		if (strchr(o.pos[1], ' ') || strchr(o.pos[2], ' ') ||
		    (size_t)snprintf(cmd, sizeof(cmd), "xs-fault %s %s %s", o.pos[1], o.pos[2],
				     o.npos == 4 ? o.pos[3] : "1") >= sizeof(cmd))
			die("bad xs-fault arguments");
		free(ask(dir, cmd));
		return 0;
	}
	if (!strcmp(c, "destroy") && o.npos == 2) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "destroy %.100s", o.pos[1]);
		free(ask(dir, cmd));
		return 0;
	}
	if (!strcmp(c, "shutdown") && o.npos == 3) {
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "shutdown %.100s %.20s", o.pos[1], o.pos[2]);
		free(ask(dir, cmd));
		return 0;
	}
	if (!strcmp(c, "env") && o.npos == 2) {
		dom_env(dir, lookup(dir, o.pos[1]), env);
		for (int i = 0; i < 5; i++) {
			printf("export %s=", env[i][0]);
			shell_quote(env[i][1]);
			putchar('\n');
		}
		return 0;
	}
	if (!strcmp(c, "run") && o.npos == 2 && o.cmd && o.cmd[0]) {
		dom_env(dir, lookup(dir, o.pos[1]), env);
		for (int i = 0; i < 5; i++)
			setenv(env[i][0], env[i][1], 1);
		execvp(o.cmd[0], o.cmd);
		die("cannot run %s: %s", o.cmd[0], strerror(errno));
	}
	bad_command_line(c);
	return 2;
}
