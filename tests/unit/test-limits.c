/*
 * Unit test: no value is cut without a word. Specs with paths up to PATH_MAX - 1 bytes
 * parse whole (a trailing ,ro too); longer ones are refused saying so; the messages of a
 * long path keep their reason; a log line of any length is written whole; and the
 * xenstore helpers know how much a node holds.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "../../blkback/config.h"
#include "../../blkback/log.h"
#include "../../blkback/xs.h"
#include "../../storage/storage.h"
#include "check.h"

/* A path of len bytes under /nonexistent: /nonexistent/aaaa.../aaaa. */
static char *long_path(size_t len)
{
	char *p = malloc(len + 1);

	memset(p, 'a', len);
	memcpy(p, "/nonexistent", 12);
	for (size_t i = 12; i < len; i += 200)
		p[i] = '/';
	p[len] = '\0';
	return p;
}

/* Paths of every length up to PATH_MAX - 1 parse whole, with the options after them. */
static void test_spec_paths(void)
{
	static const size_t lens[] = { 255, 256, 300, 4000, PATH_MAX - 1 };
	char err[STORAGE_ERR_LEN], *text;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct storage_spec spec;
		char *path = long_path(lens[i]);

		if (asprintf(&text, "file:%s,direct,ro", path) < 0)
			abort();
		err[0] = '\0';
		CHECK_INT(storage_spec_parse(text, &spec, err, sizeof(err)), 0, "a long path");
		CHECK(spec.path && !strcmp(spec.path, path), "path of %zu bytes cut", lens[i]);
		CHECK(spec.readonly && spec.direct, "the options after a %zu-byte path are lost",
		      lens[i]);
		storage_spec_free(&spec);
		free(text);
		free(path);
	}
}

/* A path of PATH_MAX bytes or a spec above STORAGE_SPEC_MAX is refused, saying why. */
static void test_spec_too_long(void)
{
	char err[STORAGE_ERR_LEN], *path = long_path(PATH_MAX), *text;
	struct storage_spec spec;

	if (asprintf(&text, "file:%s", path) < 0)
		abort();
	CHECK_INT(storage_spec_parse(text, &spec, err, sizeof(err)), -EINVAL, "PATH_MAX path");
	CHECK(strstr(err, "is 4096 bytes, longer than the 4095 a path may have (PATH_MAX)"),
	      "%s", err);
	free(text);
	free(path);
	text = malloc(STORAGE_SPEC_MAX + 2);
	memset(text, 'x', STORAGE_SPEC_MAX + 1);
	memcpy(text, "mem:name=", 9);
	text[STORAGE_SPEC_MAX + 1] = '\0';
	CHECK_INT(storage_spec_parse(text, &spec, err, sizeof(err)), -EINVAL, "long spec");
	CHECK(strstr(err, "longer than the") && strstr(err, "accepted"), "%s", err);
	free(text);
}

/* Opening a missing file at a 4000-byte path: the message has the whole path and the reason. */
static void test_long_open_error(void)
{
	char err[STORAGE_ERR_LEN], *path = long_path(4000), *text, *want;
	struct storage_spec spec;
	struct storage *disk;

	if (asprintf(&text, "file:%s", path) < 0 ||
	    asprintf(&want, "cannot open %s: No such file or directory; check the path", path) < 0)
		abort();
	CHECK_INT(storage_spec_parse(text, &spec, err, sizeof(err)), 0, "4000-byte path");
	CHECK_INT(storage_open(&spec, &disk, err, sizeof(err)), -ENOENT, "open");
	CHECK(!strcmp(err, want), "message cut: ...%s", err + strlen(err) - 40);
	/* Too small a buffer: the message says it was cut. */
	CHECK_INT(storage_open(&spec, &disk, err, 512), -ENOENT, "open");
	CHECK(strlen(err) == 511 && !strcmp(err + 508, "..."), "cut without a word: %s",
	      err + 480);
	storage_spec_free(&spec);
	free(text);
	free(want);
	free(path);
}

/* How much a xenstore node holds: one message carries the path, a NUL and the value. */
static void test_value_max(void)
{
	const char *dir = "/local/domain/0/backend/vbd3/1/51728";
	char *path = long_path(XENSTORE_PAYLOAD_MAX);

	CHECK_U64(bxs_value_max(dir, "params"), XENSTORE_PAYLOAD_MAX - strlen(dir) - 8, "params");
	CHECK_U64(bxs_value_max(path, "x"), 0, "path too long");
	free(path);
}

/* A log line of 20000 bytes reaches stderr whole. */
static void test_long_log(void)
{
	char path[] = "/tmp/test-limits-XXXXXX", *line = malloc(20001), *got = malloc(30000);
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	if (fd < 0 || saved < 0 || dup2(fd, 2) < 0)
		abort();
	unlink(path);
	memset(line, 'L', 20000);
	line[19999] = 'E';
	line[20000] = '\0';
	log_err("%s", line);
	dup2(saved, 2);
	n = pread(fd, got, 29999, 0);
	got[n > 0 ? n : 0] = '\0';
	CHECK(strstr(got, line) && strstr(got, "E\n"), "log line cut at %zd bytes", n);
	close(fd);
	free(line);
	free(got);
}

/* A node map of one node: multi-queue-num-queues holds a long string. */
static char *read_long(void *arg, const char *path)
{
	return strstr(path, "multi-queue-num-queues") ? strdup(arg) : NULL;
}

/* A guest's long value in a refusal is cut with "...", never silently. */
static void test_config_clip(void)
{
	char value[201], why[512];
	struct cfg_nodes n = { .read = read_long, .arg = value, .bepath = "/be",
			       .fepath = "/local/domain/1/device/vbd/51728" };
	unsigned int nr;

	memset(value, '7', 200);
	value[200] = '\0';
	CHECK_INT(cfg_nr_queues(&n, 4, &nr, why, sizeof(why)), -EINVAL, "200 sevens");
	CHECK(strstr(why, "'7777777777777777777777777777777777777777777777777777777777777777...'"),
	      "%s", why);
	value[20] = '\0';
	CHECK_INT(cfg_nr_queues(&n, 4, &nr, why, sizeof(why)), -EINVAL, "20 sevens");
	CHECK(strstr(why, "'77777777777777777777'; this backend"), "%s", why);
}

int main(void)
{
	test_config_clip();
	test_spec_paths();
	test_spec_too_long();
	test_long_open_error();
	test_value_max();
	test_long_log();
	return check_done("test-limits");
}
