# kres — plain Makefile. `make` builds build/kres; `make test` runs the suite twice
# (optimised build, then ASan+UBSan build); `make bench` runs the speed comparison.
CC      ?= gcc
STD     := -std=c11 -D_POSIX_C_SOURCE=200809L
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS  += $(STD) $(WARN) $(OPT) -fopenmp -Isrc -MMD -MP
LDLIBS  := -Wl,--as-needed -lsamplerate -llbfgs -ldnnl -lopenblas -lz -lm -fopenmp

BUILD   ?= build
LIB_SRC := $(wildcard src/common/*.c src/data/*.c src/nn/*.c src/train/*.c src/eval/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
TEST_SRC:= $(wildcard tests/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.SECONDARY:
.PHONY: all test test-fast test-asan demo bench clean
# the bench tools are built (and smoke-tested, tests/bench_tools_test.sh) with everything
# else, so that they cannot rot between benchmark runs
all: $(BUILD)/kres $(TESTS) $(BUILD)/bench_kres $(BUILD)/layer_profile

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libkres.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/kres: $(CLI_OBJ) $(BUILD)/libkres.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libkres.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Normal build, then the same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
test:
	$(MAKE) test-fast
	$(MAKE) test-asan

test-fast: all
	KRES=$(BUILD)/kres tests/run.sh $(BUILD)/tests

test-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    LDFLAGS="-fsanitize=address,undefined" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 KRES_SANITIZED=1 \
	    KRES=build-asan/kres tests/run.sh build-asan/tests

# The README's main job: the paper's experiment on the bundled sample (docs/experiment.md);
# about 10 minutes on 2 idle cores. Rerunning resumes: finished runs are skipped.
demo: $(BUILD)/kres
	$(BUILD)/kres experiment --data data/ptbxl-sample --out runs/demo --preset demo

# bench/bench_kres.c: the C side of the speed comparison (bench/run.sh runs it with the twin).
$(BUILD)/bench_kres: $(BUILD)/obj/bench/bench_kres.o $(BUILD)/libkres.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# bench/layer_profile.c: per-layer times of one inference forward (docs/performance.md).
$(BUILD)/layer_profile: $(BUILD)/obj/bench/layer_profile.o $(BUILD)/libkres.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bench: all
	BUILD=$(BUILD) bash bench/run.sh

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_SRC:%.c=$(BUILD)/obj/%.d) $(BUILD)/obj/bench/bench_kres.d $(BUILD)/obj/bench/layer_profile.d
