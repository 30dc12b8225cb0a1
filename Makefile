# relaywatch - see README.md
#   make            build build/relaywatch
#   make run        install deps if missing, build, run on the bundled example
#   make test       install deps if missing, build, run every test
#   make bench      benchmark (prints a table)
#   make fuzz       build and run the libFuzzer targets (FUZZ_SECONDS each)
#   make asan       sanitizer build of the unit tests
.DELETE_ON_ERROR:
.SUFFIXES:

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PKGS     := libpcap libbpf libpcre2-8 libcrypto libnetfilter_queue libmnl
OPT      ?= -O2
WERROR   ?= $(if $(CI),-Werror,)
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes $(WERROR)
# recursively expanded (=, not :=): evaluated when a recipe runs, so after
# `make run` / `make test` have installed the -dev packages (they call deps,
# then build in a sub-make that reads pkg-config afresh)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -Iuserspace -Isensor -Ibpf -I$(BUILD) -D_GNU_SOURCE
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 $(WARN) $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lpthread
FUZZ_SECONDS ?= 30

LIB_SRCS    := $(wildcard userspace/*.c)
SENSOR_SRCS := $(wildcard sensor/*.c)
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
TEST_SRCS   := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/%.o)
SENSOR_OBJS := $(SENSOR_SRCS:%.c=$(BUILD)/%.o)
SENSOR_LIB_OBJS := $(filter-out $(BUILD)/sensor/main.o,$(SENSOR_OBJS))
BPF_OBJS    := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
BPF_SKELS   := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)
TEST_BINS   := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all deps test-deps run test unit bench fuzz asan clean
all: $(BUILD)/relaywatch

deps:
	@scripts/deps.sh build
test-deps:
	@scripts/deps.sh test

$(BUILD)/relaywatch: $(SENSOR_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# eBPF: .bpf.c -> .bpf.o -> .skel.h (generated, never committed)
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h)
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu -Ibpf \
		-Wall -Wno-unused-function -c $< -o $@
$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@
# keep them: as pattern-chain intermediates make would delete them after
# every build and so regenerate the skeleton and rebuild what includes it
.SECONDARY: $(BPF_OBJS) $(BPF_SKELS)

# unit tests: one binary per tests/unit/test_*.c, linked with the engine
$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) $(SENSOR_LIB_OBJS) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-unused-function -Itests/unit -o $@ $< $(LIB_OBJS) $(SENSOR_LIB_OBJS) $(LDFLAGS) $(LDLIBS)

# relaywatch with tiny worker rings (dispatch.c rebuilt): the rings fill
# and wrap all the time, so tests/dispatch_test.sh can catch ordering bugs
# and deadlocks between the workers, the rule-state turns and the merger
STRESS_RW := $(BUILD)/stress/relaywatch
$(STRESS_RW): $(SENSOR_OBJS) $(filter-out $(BUILD)/userspace/dispatch.o,$(LIB_OBJS)) userspace/dispatch.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DDISPATCH_IN_RING_BYTES=65536u \
		-DDISPATCH_OUT_RING_BYTES=65536u -o $@ $^ $(LDFLAGS) $(LDLIBS)

TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))

# small helper programs (bench generator, no-op pcap reader)
$(BUILD)/tools/%: tests/tools/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LDLIBS)



unit: $(TEST_BINS)

# The bundled example: an internet client using an open relay, and spam
# sent through an open HTTP proxy, with the sets of the fixtures' network.
RUN_SETS := --set HOME_NET=10.0.0.0/24,203.0.113.25/32,203.0.113.26/32 \
	--set TRUSTED_NETS=10.0.0.0/24 --set LOCAL_DOMAINS=lan.example \
	--set SMTP_SERVERS=10.0.0.25/32,198.51.100.1/32 \
	--set PROXY_SERVERS=203.0.113.25/32
run: deps
	@$(MAKE) --no-print-directory $(BUILD)/relaywatch
	$(BUILD)/relaywatch -r tests/fixtures/smtp/open_relay.pcap \
		-r tests/fixtures/proxy/http_connect_smtp.pcap $(RUN_SETS) --no-stats

test: test-deps
	@$(MAKE) --no-print-directory $(BUILD)/relaywatch $(TEST_BINS) $(TOOLS) $(STRESS_RW)
	BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh

# libFuzzer targets under ASan+UBSan (clang), engine sources rebuilt with them
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11 $(CPPFLAGS) $(PKG_CFLAGS) -DRW_FUZZ
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(wildcard tests/fuzz/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(PKG_LIBS) -lpthread
fuzz: test-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$(basename $$f); \
		echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/fuzz/corpus-$$(basename $$f) tests/fuzz/seeds/$$(basename $$f) 2>&1 | tail -n 15 || exit 1; \
	done

asan:
	$(MAKE) BUILD=build-asan CC=clang OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address,undefined" unit

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory $(BUILD)/relaywatch $(TOOLS) $(BUILD)/tests/test_bpf
	BUILD=$(BUILD) bench/run.sh

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
