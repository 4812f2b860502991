#!/usr/bin/env bash
# Run one fuzz target briefly: replay its regression inputs, then fuzz from its seeds.
# usage: tests/fuzz/run-one.sh NAME   (env: BLKBACK_BUILD, FUZZ_CC, FUZZ_SECONDS)
# Exits 0 clean, 77 if clang's libFuzzer is missing, 1 on any crash or contract violation.
set -u
name=$1
build=${BLKBACK_BUILD:-build}/fuzz
bin=$build/fuzz-$name
seeds=$build/seeds/$name
regress=tests/fuzz/regress/$name
seconds=${FUZZ_SECONDS:-25}

if [ ! -x "$bin" ]; then
	if ! tests/fuzz/have-fuzzer.sh "${FUZZ_CC:-clang}"; then
		echo "clang with libFuzzer (-fsanitize=fuzzer) not found; install clang (make deps)"
		exit 77
	fi
	echo "fuzz-$name: $bin was not built although clang can build it"
	exit 1
fi

# Every regression input must now pass.
if compgen -G "$regress/*" >/dev/null; then
	echo "fuzz-$name: replaying $regress"
	"$bin" -runs=1 "$regress"/* || { echo "fuzz-$name: a regression input fails"; exit 1; }
fi

# A fresh corpus each run, grown from the seeds; a crash is kept in $build/crash-$name/.
corpus=$build/corpus-check/$name
artifacts=$build/crash-$name/
rm -rf "$corpus"
mkdir -p "$corpus" "$artifacts"
dict=()
[ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
"$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
	-artifact_prefix="$artifacts" "${dict[@]}" "$corpus" "$seeds" 2>&1 | grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)'
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	echo "fuzz-$name: crashed (exit $rc); the input is in $artifacts: add it to $regress/"
	exit 1
fi
echo "fuzz-$name: no crash in ${seconds}s"
