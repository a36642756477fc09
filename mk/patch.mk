# Patch engines: the built-in strategic merge patch schema is generated at
# build time from data/k8s-patch-metadata.json by a small host program.
# The generator is built without sanitizers or fuzzing flags (it only runs
# during the build); its output is written atomically (temp file + mv) so
# that parallel makes never compile a half-written source.

PATCH_SCHEMA_JSON := data/k8s-patch-metadata.json
PATCH_SCHEMA_GEN  := $(BUILD)/gen/gen_patch_schema
PATCH_SCHEMA_C    := $(BUILD)/gen/patch_schema_builtin.c

LIB_GEN_SRCS += $(PATCH_SCHEMA_C)

$(PATCH_SCHEMA_GEN): tools/gen/gen_patch_schema.c lib/patch_schema_internal.h \
                     include/kreconcile/patch.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 $(WARN) -Iinclude -Ilib \
	    $(shell $(PKG_CONFIG) --cflags jansson) -o $@.tmp $< \
	    $(shell $(PKG_CONFIG) --libs jansson) && mv -f $@.tmp $@

$(PATCH_SCHEMA_C): $(PATCH_SCHEMA_GEN) $(PATCH_SCHEMA_JSON)
	@mkdir -p $(@D)
	$(PATCH_SCHEMA_GEN) $(PATCH_SCHEMA_JSON) $@.tmp && mv -f $@.tmp $@
