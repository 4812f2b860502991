/* Unit test: log_limited lets the first message through and holds back a burst after it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../blkback/log.h"
#include "check.h"

/* Read what stderr got since it was redirected into fd; returns the line count. */
static int lines_in(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);
	int lines = 0;

	buf[n > 0 ? n : 0] = '\0';
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	return lines;
}

int main(void)
{
	char path[] = "/tmp/test-log-XXXXXX", buf[4096];
	struct log_limit a = { 0 }, b = { 0 };
	int fd = mkstemp(path), saved = dup(2);

	if (fd < 0 || saved < 0 || dup2(fd, 2) < 0)
		return 1;
	unlink(path);
	/* A burst: the first of each limit is logged, the rest held (a burst takes well under LOG_LIMIT_S). */
	for (int i = 0; i < 1000; i++) {
		log_limited(&a, 4, "bad request %d", i);
		if (i % 2)
			log_limited(&b, 3, "storage failed %d", i);
	}
	dup2(saved, 2);
	CHECK_INT(lines_in(fd, buf, sizeof(buf)), 2, "lines logged for a burst on two limits");
	CHECK(strstr(buf, "warning: bad request 0\n") != NULL, "first message missing: %s", buf);
	CHECK(strstr(buf, "error: storage failed 1\n") != NULL, "first message missing: %s", buf);
	CHECK_U64(a.held, 999, "messages held back on a");
	CHECK_U64(b.held, 499, "messages held back on b");
	/* Once the interval has passed, the next message says how many were held back. */
	a.next_s = 0;
	if (dup2(fd, 2) < 0)
		return 1;
	log_limited(&a, 4, "bad request again");
	dup2(saved, 2);
	lines_in(fd, buf, sizeof(buf));
	CHECK(strstr(buf, "bad request again (and 999 more like it held back)") != NULL,
	      "no count of what was held back: %s", buf);
	CHECK_U64(a.held, 0, "held back after a message");
	close(fd);
	return check_done("test-log");
}
