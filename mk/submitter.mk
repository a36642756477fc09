# kr-submitter: its decision modules (examples/kr-submitter/*.c but main.c)
# are linked into test_submitter too, so that the suite drives the
# reconcile and the API handlers directly against in-process test servers.
SUBMITTER_SRCS := $(filter-out examples/kr-submitter/main.c,$(wildcard examples/kr-submitter/*.c))
SUBMITTER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SUBMITTER_SRCS))

$(BUILD)/test/test_submitter: $(SUBMITTER_OBJS)
$(BUILD)/test/test_submitter: TEST_LINK = $(SUBMITTER_OBJS) $(SUPPORT_OBJS) $(TS_A) $(A_FILE)
$(BUILD)/obj/test/test_submitter.o: ALL_CFLAGS += -Iexamples/kr-submitter
