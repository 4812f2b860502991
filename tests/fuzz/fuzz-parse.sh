#!/usr/bin/env bash
# The request parser's fuzz target, for tests/run.sh.
exec bash "$(dirname "$0")/run-one.sh" parse
