#!/usr/bin/env bash
# The disk spec parser's fuzz target, for tests/run.sh.
exec bash "$(dirname "$0")/run-one.sh" spec
