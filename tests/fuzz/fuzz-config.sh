#!/usr/bin/env bash
# The xenstore configuration's fuzz target (blkback/config.c), for tests/run.sh.
exec bash "$(dirname "$0")/run-one.sh" config
