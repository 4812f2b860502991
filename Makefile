# blkbackd: a userspace Xen block backend.
# make, make check, make demo, make bench, make install (PREFIX, DESTDIR). V=1 shows commands.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
USRBINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
XENSIM_LIBDIR ?= $(LIBDIR)/xensim
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
B := build
SUITE := unit

PKGS := xenstore xengnttab xenevtchn liburing libnbd
# Read from pkg-config when first used, not when the Makefile is read: on a fresh machine the
# libraries arrive only with deps-build, which every compile waits for (see below).
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null))$(PKG_LIBS)

CC ?= cc
CFLAGS ?= -O2 -g
# The project's own flags stay in force when CFLAGS is given on the command line.
WFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -D_GNU_SOURCE -D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ -pthread
ALL_CFLAGS = $(WFLAGS) $(PKG_CFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -pthread $(LDLIBS)

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2)
endif

BLKBACK := num abi parse grant grant-copy grant-limit journal ring ring-poll ring-takeover xs vdev config \
	device device-life device-stats memkeep task backend control procstat log
# The I/O limits (iolimit.c) and a ring's use of them (ring-limit.c).
BLKBACK += ring-limit iolimit
STORAGE := storage queue module mem filecommon filelock file uring fault nbd nbd-conn qsd image
# Engines built as loadable modules (storage/module.c loads ENGINE.so from ENGINE_DIR):
# their libraries stay out of blkbackd. rbd: librbd and librados (Debian ships no .pc).
ENGINE_DIR ?= $(LIBDIR)/blkbackd/engines
ENGINES := $(B)/engines/rbd.so
ENGINE_LIBS_rbd := -lrbd -lrados
LIB_OBJS := $(BLKBACK:%=$(B)/blkback/%.o) $(STORAGE:%=$(B)/storage/%.o)
TOOLS := $(B)/blkbackd $(B)/blkbackctl
# The simulator (daemon + drop-in libraries) and the userspace frontend.
SIMLIB := $(B)/sim/lib
SIM := $(B)/xensim $(SIMLIB)/libxengnttab.so.1 $(SIMLIB)/libxenevtchn.so.1 \
	$(SIMLIB)/libxenctrl.so.4.17 $(B)/blkfront
# The malicious frontend: one program of every tests/hostile/*.c, on libblkfront.a.
HOSTILE := $(B)/tests/hostile/hostile
objs = $(patsubst %.c,$(B)/%.o,$(1))
XENSIM_OBJS := $(call objs,$(wildcard tools/xensim/*.c))
SIMLIB_COMMON := $(call objs,$(wildcard tools/xensim/lib/common*.c))
GNTTAB_OBJS := $(call objs,$(wildcard tools/xensim/lib/gnt*.c)) $(SIMLIB_COMMON)
EVTCHN_OBJS := $(call objs,$(wildcard tools/xensim/lib/evtchn*.c)) $(SIMLIB_COMMON)
XC_OBJS := $(call objs,tools/xensim/lib/xc.c) $(SIMLIB_COMMON)
BLKFRONT_LIB_OBJS := $(call objs,$(filter-out tools/blkfront/blkfront.c,$(wildcard tools/blkfront/*.c)))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test-*.c))

.PHONY: all sim check check-unit check-unit-asan check-sim run-sim check-xen demo bench deps \
	deps-build install \
	uninstall deb check-deb clean fuzz check-fuzz fuzz-bins fuzz-seeds
all: $(TOOLS) $(SIM) $(ENGINES)
sim: $(SIM)

# Every compile waits for the build dependencies: a fresh machine gets them on the first make.
$(B)/%.o: %.c | deps-build
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libblkback.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(B)/blkbackd: $(B)/tools/blkbackd.o $(B)/tools/pidfile.o $(B)/tools/detach.o \
		$(B)/tools/kernel-backend.o $(B)/libblkback.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# blkbackctl: main and every tools/ctl-*.c (its commands and their shared helpers).
$(B)/blkbackctl: $(B)/tools/blkbackctl.o $(call objs,$(wildcard tools/ctl-*.c)) \
		$(B)/tools/pidfile.o \
		$(B)/libblkback.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libblkback.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/xensim: $(XENSIM_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -pthread $(LDLIBS)

# Where the daemon loads its engine modules from; the tests point BLKBACKD_ENGINE_DIR at
# $(B)/engines instead.
$(B)/storage/module.o: ALL_CFLAGS += -DBLKBACK_ENGINE_DIR='"$(ENGINE_DIR)"'

# An engine module: its one file, position independent, linked with its libraries.
$(B)/engines/%.o: storage/%.c | deps-build
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c -o $@ $<
$(B)/engines/%.so: $(B)/engines/%.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -shared -o $@ $< $(ENGINE_LIBS_$*) -pthread $(LDLIBS)

# Where an installed xensim finds its drop-in libraries.
$(B)/tools/xensim/xensim.o: ALL_CFLAGS += -DXENSIM_LIBDIR='"$(XENSIM_LIBDIR)"'

# The drop-in libraries: position independent, only the versioned public symbols exported.
$(B)/tools/xensim/lib/%.o: ALL_CFLAGS += -fPIC -fvisibility=hidden
$(SIMLIB)/libxengnttab.so.1: $(GNTTAB_OBJS) tools/xensim/lib/libxengnttab.map
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libxengnttab.so.1 \
		-Wl,--version-script=tools/xensim/lib/libxengnttab.map -o $@ $(GNTTAB_OBJS) -pthread

$(SIMLIB)/libxenevtchn.so.1: $(EVTCHN_OBJS) tools/xensim/lib/libxenevtchn.map
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libxenevtchn.so.1 \
		-Wl,--version-script=tools/xensim/lib/libxenevtchn.map -o $@ $(EVTCHN_OBJS) -pthread

# Debian 12's soname: blkbackd loads the libxenctrl.so.* beside its libxengnttab.
$(SIMLIB)/libxenctrl.so.4.17: $(XC_OBJS) tools/xensim/lib/libxenctrl.map
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libxenctrl.so.4.17 \
		-Wl,--version-script=tools/xensim/lib/libxenctrl.map -o $@ $(XC_OBJS) -pthread

$(B)/libblkfront.a: $(BLKFRONT_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(B)/blkfront: $(B)/tools/blkfront/blkfront.o $(B)/libblkfront.a $(B)/libblkback.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs xenstore xengnttab xenevtchn) -lm \
		-pthread $(LDLIBS)

$(HOSTILE): $(call objs,$(wildcard tests/hostile/*.c)) $(B)/libblkfront.a $(B)/libblkback.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs xenstore xengnttab xenevtchn) -lm \
		-pthread $(LDLIBS)

# test-ring* link the in-process fake of libxengnttab/libxenevtchn instead of the real ones.
RING_TESTS := $(filter $(B)/tests/test-ring%,$(UNIT_TESTS))
$(RING_TESTS): $(B)/tests/%: $(B)/tests/unit/%.o $(B)/tests/unit/fake-xen.o $(B)/libblkback.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs xenstore liburing libnbd) -pthread $(LDLIBS)

# The blkfront unit tests test libblkfront.a's pure parts (no Xen calls are reached).
$(B)/tests/test-blkfront-%: $(B)/tests/unit/test-blkfront-%.o $(B)/libblkfront.a $(B)/libblkback.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm $(LDLIBS)

# C tests of the simulated hypervisor (tests/sim/hv-*.c), written on the real Xen API.
SIM_TESTS := $(patsubst tests/sim/%.c,$(B)/tests/sim/%,\
	$(filter-out %-xcstub.c,$(wildcard tests/sim/hv-*.c))) $(B)/tests/sim/hv-xcstub.so
$(B)/tests/sim/hv-%: $(B)/tests/sim/hv-%.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs xengnttab xenevtchn) -pthread $(LDLIBS)

# tests/sim/blkback-cycles.sh's attach/detach cycler and tests/sim/torture.sh's randomised
# guest and operator, frontends on libblkfront.a.
SIM_PROGS := $(B)/tests/sim/attach-cycles $(B)/tests/sim/torture
# (Objects first: a program's further objects, such as torture-guest.o, use the libraries.)
$(SIM_PROGS): $(B)/tests/sim/%: $(B)/tests/sim/%.o $(B)/libblkfront.a $(B)/libblkback.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) \
		$(shell pkg-config --libs xenstore xengnttab xenevtchn) -lm -pthread $(LDLIBS)
$(B)/tests/sim/torture: $(B)/tests/sim/torture-guest.o

# tests/sim/nbd-conformance.sh's and qcow2-conformance.sh's programs: the engine harness of
# tests/unit on nbd: disks and on image disks;
# tests/sim/rbd-*.c: engine tests against a Ceph cluster, on the core and the rbd module.
NBD_PROGS := $(B)/tests/sim/nbd-engine $(B)/tests/sim/qcow2-engine
RBD_PROGS := $(patsubst tests/sim/%.c,$(B)/tests/sim/%,$(wildcard tests/sim/rbd-*.c))
$(NBD_PROGS) $(RBD_PROGS): $(B)/tests/sim/%: $(B)/tests/sim/%.o $(B)/libblkback.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The FUSE file system that holds system calls inside the kernel (tests/sim/lib-hangfs.sh).
# libfuse3 is looked up when the recipe runs, not when the Makefile is read: a fresh machine
# runs make before make deps has installed it.
HANGFS := $(B)/tests/sim/hangfs
$(HANGFS): tests/sim/hangfs.c | deps-build
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $$(pkg-config --cflags fuse3) $(LDFLAGS) -o $@ $< \
		$$(pkg-config --libs fuse3) $(LDLIBS)

$(B)/tests/sim/hv-xcstub.so: tests/sim/hv-xcstub.c | deps-build
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $<

# Install what the build (deps-build) or the build and the tests (deps) need on Debian 12,
# saying what; nothing when all is there.
deps: deps-build
	$(Q)tools/install-deps.sh
deps-build:
	$(Q)tools/install-deps.sh --build

check: check-unit check-fuzz check-unit-asan check-sim check-deb check-xen

check-unit: deps $(UNIT_TESTS) $(TOOLS) $(B)/blkfront $(B)/xensim
	$(Q)BLKBACK_BUILD=$(B) tests/run.sh $(SUITE) $(UNIT_TESTS) tests/unit/*.sh

# The unit suite again, built with AddressSanitizer and UBSan; any report fails it.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-unit-asan: deps
	$(Q)$(MAKE) --no-print-directory B=build/asan CFLAGS="-O1 -g $(SAN)" \
		LDFLAGS="$(SAN)" SUITE=unit-asan check-unit

# The simulator suites (fidelity proof + end to end), everything built with ASan and UBSan.
check-sim: deps
	$(Q)$(MAKE) --no-print-directory B=build/asan CFLAGS="-O1 -g $(SAN)" \
		LDFLAGS="$(SAN)" SUITE=sim run-sim

run-sim: $(TOOLS) $(SIM) $(SIM_TESTS) $(SIM_PROGS) $(NBD_PROGS) $(HANGFS) $(HOSTILE) $(ENGINES) \
		$(RBD_PROGS)
	$(Q)BLKBACK_BUILD=$(B) BLKBACK_SAN="$(SAN)" tests/run.sh $(SUITE) \
		$(filter-out tests/sim/lib%.sh tests/sim/fetch.sh,$(wildcard tests/sim/*.sh))

# Fuzzing (tests/fuzz): libFuzzer targets built with clang, ASan and UBSan. Each target
# tests/fuzz/fuzz-NAME.c has a seed generator tests/fuzz/seed-NAME.c and regression inputs
# under tests/fuzz/regress/NAME/, and may have a dictionary tests/fuzz/NAME.dict. `make fuzz`
# runs each for FUZZ_TIME seconds on a corpus kept in .cache/fuzz/NAME; `make check-fuzz`
# runs them all in about 60 s (FUZZ_CHECK_TIME seconds of fuzzing, shared out between the
# targets, and their start-up and replays).
FUZZ_CC ?= clang
FUZZ_TIME ?= 600
FUZZ_CHECK_TIME ?= 48
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz-%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz-%)
FUZZ_SEEDS := $(FUZZ_TARGETS:%=$(B)/fuzz/seeds/%/.stamp)

$(B)/fuzz/fuzz-parse: blkback/parse.c blkback/abi.c tests/fuzz/fuzz-parse.h blkback/parse.h \
	blkback/abi.h
$(B)/fuzz/fuzz-spec: $(STORAGE:%=storage/%.c) blkback/num.c blkback/log.c storage/storage.h \
	storage/filecommon.h storage/nbd-int.h storage/qsd.h \
	blkback/num.h
$(B)/fuzz/fuzz-config: blkback/config.c blkback/xs.c blkback/abi.c blkback/num.c blkback/log.c \
	$(STORAGE:%=storage/%.c) blkback/config.h blkback/xs.h blkback/abi.h blkback/num.h \
	storage/storage.h tests/fuzz/fuzz-config.h
$(B)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz-check.h
	$(call msg,FUZZCC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(WFLAGS) $(PKG_CFLAGS) $(FUZZ_FLAGS) -o $@ $(filter %.c,$^) $(LIBS)

$(B)/fuzz/seed-%: $(B)/tests/fuzz/seed-%.o
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/fuzz/seeds/%/.stamp: $(B)/fuzz/seed-%
	$(Q)rm -rf $(dir $@) && mkdir -p $(dir $@) && $< $(dir $@) && touch $@

fuzz-seeds: $(FUZZ_SEEDS)
fuzz-bins: $(FUZZ_BINS) $(FUZZ_SEEDS)

# Build the targets only where clang can link libFuzzer; tests/fuzz/run-one.sh skips otherwise.
check-fuzz: deps
	$(Q)if tests/fuzz/have-fuzzer.sh $(FUZZ_CC); then $(MAKE) --no-print-directory fuzz-bins; \
		else $(MAKE) --no-print-directory fuzz-seeds; fi
	$(Q)BLKBACK_BUILD=$(B) FUZZ_CC=$(FUZZ_CC) \
		FUZZ_SECONDS=$$(( $(FUZZ_CHECK_TIME) / $(words $(FUZZ_TARGETS)) )) \
		tests/run.sh fuzz $(FUZZ_TARGETS:%=tests/fuzz/fuzz-%.sh)

fuzz: deps fuzz-bins
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p .cache/fuzz/$$t $(B)/fuzz/crash-$$t && \
		$(B)/fuzz/fuzz-$$t -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(B)/fuzz/crash-$$t/ \
			$$([ -f tests/fuzz/$$t.dict ] && echo -dict=tests/fuzz/$$t.dict) \
			.cache/fuzz/$$t $(B)/fuzz/seeds/$$t tests/fuzz/regress/$$t || exit 1; \
	done

# The real-Xen suite: two boots under QEMU, the check scenario on Xen 4.17 (Debian 12) and the
# xl scenario on Xen 4.20 (Debian 13); both run even when the first fails.
# Both dom0s run blkbackd from the Debian package (deb), the guests the build's blkfront.
check-xen: deps deb $(TOOLS) $(B)/blkfront $(HOSTILE)
	$(Q)rc=0; export XEN_BENCH_DEB=$(CURDIR)/$(DEB); \
		BLKBACK_BUILD=$(B) tests/xen/run.sh check 4.17 || rc=1; \
		BLKBACK_BUILD=$(B) tests/xen/run.sh xl 4.20 || rc=1; exit $$rc

# Measure the data path in the simulator beside fio; rewrites the table in docs/performance.md.
bench: deps $(TOOLS) $(SIM) $(ENGINES)
	$(Q)BLKBACK_BUILD=$(B) tests/bench/run.sh

demo: deps $(TOOLS)
	$(Q)tests/xen/run.sh demo

# Where make install puts the systemd unit (Debian 12's packages: /lib/systemd/system), the
# xl hotplug script (libxl runs it from /etc/xen/scripts) and the man pages.
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
XEN_SCRIPTDIR ?= /etc/xen/scripts
HOTPLUG := $(wildcard tools/hotplug/blkbackd)
MAN8 := $(wildcard docs/*.8)
MAN1 := $(wildcard docs/*.1)

install: $(TOOLS) $(SIM) $(ENGINES)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(USRBINDIR) $(DESTDIR)$(XENSIM_LIBDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(ENGINE_DIR)
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(ENGINES) $(DESTDIR)$(ENGINE_DIR)/
	install -m 755 $(B)/xensim $(B)/blkfront $(DESTDIR)$(USRBINDIR)/
	install -m 644 $(SIMLIB)/libxengnttab.so.1 $(SIMLIB)/libxenevtchn.so.1 \
		$(SIMLIB)/libxenctrl.so.4.17 $(DESTDIR)$(XENSIM_LIBDIR)/
	install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	sed 's|@SBINDIR@|$(BINDIR)|g' dist/blkbackd.service.in \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/blkbackd.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/blkbackd.service
ifneq ($(HOTPLUG),)
	install -d $(DESTDIR)$(XEN_SCRIPTDIR)
	install -m 755 $(HOTPLUG) $(DESTDIR)$(XEN_SCRIPTDIR)/blkbackd
endif

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/blkbackd $(DESTDIR)$(BINDIR)/blkbackctl \
	      $(DESTDIR)$(USRBINDIR)/xensim $(DESTDIR)$(USRBINDIR)/blkfront \
	      $(DESTDIR)$(XENSIM_LIBDIR)/libxengnttab.so.1 \
	      $(DESTDIR)$(XENSIM_LIBDIR)/libxenevtchn.so.1 \
	      $(DESTDIR)$(XENSIM_LIBDIR)/libxenctrl.so.4.17 \
	      $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	      $(DESTDIR)$(SYSTEMDUNITDIR)/blkbackd.service \
	      $(addprefix $(DESTDIR)$(ENGINE_DIR)/,$(notdir $(ENGINES))) \
	      $(if $(HOTPLUG),$(DESTDIR)$(XEN_SCRIPTDIR)/blkbackd)
	-rmdir $(DESTDIR)$(XENSIM_LIBDIR) $(DESTDIR)$(ENGINE_DIR) $(dir $(DESTDIR)$(ENGINE_DIR))

# The Debian package (debian/): dpkg-buildpackage in a copy of the tree under .cache/deb,
# since it writes the .deb into the parent directory of the tree it builds; the .deb is left
# at $(DEB) and its path printed. check-deb runs tests/deb/*.sh on it (lintian, contents).
# (Both read dpkg and the version only when a recipe runs, never when make reads this file.)
DEB_VERSION = $(shell sed -n 's/^\#define BLKBACK_VERSION "\(.*\)"$$/\1/p' blkback/version.h)
DEB = .cache/deb/blkbackd_$(DEB_VERSION)_$(shell dpkg --print-architecture).deb
deb:
	$(Q)tools/install-deps.sh --deb
	$(Q)rm -rf .cache/deb && mkdir -p .cache/deb/src
	$(Q)tar -c --exclude=./.cache --exclude=./build --exclude=./.git . | tar -x -C .cache/deb/src
	@echo "  DEB     $(DEB) (log: .cache/deb/build.log)"
	$(Q)cd .cache/deb/src && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -n 40 ../build.log; echo "make deb: dpkg-buildpackage failed: .cache/deb/build.log"; exit 1; }
	$(Q)test -f $(DEB) || { echo "make deb: no $(DEB) after dpkg-buildpackage"; exit 1; }
	@echo $(DEB)

check-deb: deb
	$(Q)BLKBACK_DEB=$(DEB) tests/run.sh deb tests/deb/*.sh

clean:
	rm -rf $(B)

.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
