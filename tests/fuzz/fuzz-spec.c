/*
 * libFuzzer target for storage_spec_parse, the parser of a disk spec string
 * (the backend's `params` node). Input: byte 0 sets the error buffer's length
 * (16..271 bytes, allocated exactly so that ASan sees an overrun), the rest is
 * the spec text. The contract is checked after each call; a violation abort()s,
 * and LeakSanitizer reports whatever the spec did not free.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../storage/storage.h"
#include "fuzz-check.h"


/* The contract of a spec that parsed. */
static void check_spec(const struct storage_spec *spec)
{
	uint64_t size;
	char text[32];

	CHECK(spec->engine && spec->engine->name && spec->engine->usage);
	CHECK(storage_engine(spec->engine->name) == spec->engine);
	CHECK(!spec->path == !spec->engine->needs_path);
	CHECK(!spec->uri == !spec->engine->needs_uri);
	if (spec->path)
		CHECK(spec->path[0] == '/' && !strchr(spec->path, ','));
	if (spec->uri)
		CHECK(strstr(spec->uri, "://") && !strchr(spec->uri, ','));
	CHECK(!spec->timeout_s || spec->engine->needs_uri);
	if (spec->engine->needs_path || spec->engine->needs_uri) {
		CHECK(!spec->size && !spec->name);
	} else {
		CHECK(!spec->direct);
		CHECK(spec->size || spec->name);
	}
	CHECK(spec->size % 512 == 0);
	if (spec->size) {	/* the size reads back as itself */
		snprintf(text, sizeof(text), "%llu", (unsigned long long)spec->size);
		CHECK(storage_parse_size(text, &size) == 0 && size == spec->size);
	}
	if (spec->name)
		CHECK(spec->name[0] && !strpbrk(spec->name, "/ \t,"));
	if (spec->fault_count) {
		CHECK(spec->fault_start <= (UINT64_MAX >> 9) - spec->fault_count);
		CHECK(spec->fault >= STORAGE_FAULT_EIO && spec->fault <= STORAGE_FAULT_STALL);
	} else {
		CHECK(!spec->fault_start);
	}
	/* I/O limits: within their bounds, a burst only with its rate (0: the default). */
	CHECK(spec->limits.iops <= STORAGE_IOPS_MAX);
	CHECK(spec->limits.iops_burst <= STORAGE_IOPS_BURST_MAX);
	CHECK(spec->limits.iops || !spec->limits.iops_burst);
	CHECK(!spec->limits.bps || (spec->limits.bps >= STORAGE_BPS_MIN &&
				    spec->limits.bps <= STORAGE_BPS_MAX));
	CHECK(spec->limits.bps_burst <= STORAGE_BPS_BURST_MAX);
	CHECK(spec->limits.bps || !spec->limits.bps_burst);
	CHECK(!spec->limits.bps_burst || spec->limits.bps_burst >= STORAGE_BPS_MIN);
}

/* One input: parse, check, free (twice: freeing is idempotent). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct storage_spec spec;
	size_t errlen;
	char *text, *err;
	int rc;

	if (!size)
		return 0;
	errlen = 16 + data[0];
	text = strndup((const char *)data + 1, size - 1);
	err = malloc(errlen);
	CHECK(text && err);
	err[0] = '\0';
	memset(&spec, 0xa5, sizeof(spec));
	rc = storage_spec_parse(text, &spec, err, errlen);
	if (rc) {
		CHECK(rc == -EINVAL || rc == -ENOMEM);
		CHECK(err[0] != '\0' && strlen(err) < errlen);
		CHECK(!spec.path && !spec.name);	/* freed on failure */
	} else {
		check_spec(&spec);
	}
	storage_spec_free(&spec);
	storage_spec_free(&spec);
	CHECK(!spec.path && !spec.name);
	free(err);
	free(text);
	return 0;
}
