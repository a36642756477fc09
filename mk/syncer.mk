# bench_syncer links kr-syncer's logic (examples/kr-syncer/*.c but main.c),
# as the test suites marked KR_TEST_PROGRAM do. Paths are spelled out here:
# this fragment is read before the Makefile defines its helpers.
SYNCER_LOGIC_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,\
    $(filter-out examples/kr-syncer/main.c,$(sort $(wildcard examples/kr-syncer/*.c))))
SYNCER_BENCH_SUPPORT := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard bench/support/*.c)))

$(BUILD)/bench/bench_syncer: $(BUILD)/obj/bench/bench_syncer.o $(SYNCER_LOGIC_OBJS) \
                             $(SYNCER_BENCH_SUPPORT) $(BUILD)/lib/libkreconcile-testserver.a \
                             $(BUILD)/lib/libkreconcile.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(SYNCER_LOGIC_OBJS) $(SYNCER_BENCH_SUPPORT) \
	    $(BUILD)/lib/libkreconcile-testserver.a $(BUILD)/lib/libkreconcile.a $(TS_LIBS) \
	    $(PKG_LIBS) -pthread -lm
