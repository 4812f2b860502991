/*
 * An in-process stand-in for libxengnttab and libxenevtchn, for unit tests:
 * grant refs index a table of "guest pages", mappings of data grants are
 * copies (written back on unmap when mapped writable), the ring grant is
 * mapped as the real page, and event channels are eventfds.
 */
#ifndef TESTS_UNIT_FAKE_XEN_H
#define TESTS_UNIT_FAKE_XEN_H

#include <stdbool.h>
#include <stdint.h>

/* Start a fresh world with nr_grants zeroed guest pages, refs 0..nr_grants-1. */
int fake_xen_init(uint32_t nr_grants);

/* Tear the world down; returns what was left behind (open handles, live mappings). */
unsigned int fake_xen_fini(void);

/* The guest page behind a grant ref, or NULL if the ref is not in the table. */
uint8_t *fake_grant_page(uint32_t ref);

/* Make a grant read-only for the backend (or writable again). */
void fake_grant_set_readonly(uint32_t ref, bool readonly);

/* How many backend mappings hold this ref right now. */
unsigned int fake_grant_mapped(uint32_t ref);

/* How many times the backend ever mapped this ref (live or since unmapped). */
unsigned int fake_grant_map_count(uint32_t ref);

/* How many grant copy segments ever named this ref (failed ones too). */
unsigned int fake_grant_copy_count(uint32_t ref);

/* Grant pages the backend ever mapped, of any kind (the ring's included). */
unsigned int fake_maps_total(void);

/* Live backend mappings of any kind (the ring's included), and pages in them. */
unsigned int fake_regions_live(void);

/* Calls that broke the libraries' contracts (bad unmap, wrong port, ...). */
unsigned int fake_misuse(void);

/* The frontend signals the backend's bound event channel; 0 or -1. */
int fake_evtchn_kick(void);

/* An fd that polls readable after the backend notified the frontend. */
int fake_evtchn_notify_fd(void);

/* How many times the backend notified the frontend. */
uint64_t fake_evtchn_notifies(void);

/*
 * Make the next n polls that wait on the backend's event channel fd fail with err
 * (UINT_MAX: every one from now on; 0: none). Other polls are untouched.
 */
void fake_poll_fail(unsigned int n, int err);

/* Polls failed so far by fake_poll_fail. */
unsigned int fake_poll_failures(void);

/* An fd that polls readable after each failed poll. */
int fake_poll_fail_fd(void);

/* Open grant-table plus event-channel handles. */
unsigned int fake_handles_open(void);

#endif
