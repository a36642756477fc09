# libkreconcile-testserver: the client-certificate check calls GnuTLS
# directly (libmicrohttpd's TLS backend).
TS_LIBS += $(shell $(PKG_CONFIG) --libs gnutls 2>/dev/null)
# Base64 (kubeconfig CA data, protobuf bytes fields in JSON): OpenSSL's encoder.
TS_LIBS += $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null)

# Protobuf request bodies and OpenAPI documents: the tables are generated at
# build time from data/k8s-proto-schema.json and the patch strategies of
# data/k8s-patch-metadata.json (as the patch schema is, see patch.mk).
# That table is itself made by a maintainer tool from the generated.proto
# files and Go struct tags of k8s.io/api and k8s.io/apimachinery:
#   make proto-schema K8S_API_DIR=... K8S_APIMACHINERY_DIR=... K8S_SOURCE="..."
# and one more package (kube-aggregator's apiregistration/v1, for APIService)
# added to it:
#   make proto-schema-add PACKAGE_DIR=.../apiregistration/v1 K8S_SOURCE="..."
PROTO_SCHEMA_JSON := data/k8s-proto-schema.json
PROTO_TABLES_GEN  := $(BUILD)/gen/gen_proto_tables
PROTO_TABLES_C    := $(BUILD)/gen/ts_proto_tables.c

TS_GEN_SRCS += $(PROTO_TABLES_C)

$(PROTO_TABLES_GEN): tools/gen/gen_proto_tables.c lib/testserver/ts_proto.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 $(WARN) -Iinclude -Ilib \
	    $(shell $(PKG_CONFIG) --cflags jansson) -o $@.tmp $< \
	    $(shell $(PKG_CONFIG) --libs jansson) && mv -f $@.tmp $@

$(PROTO_TABLES_C): $(PROTO_TABLES_GEN) $(PROTO_SCHEMA_JSON) data/k8s-patch-metadata.json
	@mkdir -p $(@D)
	$(PROTO_TABLES_GEN) $(PROTO_SCHEMA_JSON) data/k8s-patch-metadata.json $@.tmp && mv -f $@.tmp $@

.PHONY: proto-schema proto-schema-add
$(BUILD)/gen/gen_proto_schema: tools/gen/gen_proto_schema.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 $(WARN) $(shell $(PKG_CONFIG) --cflags jansson) \
	    -o $@ $< $(shell $(PKG_CONFIG) --libs jansson)
proto-schema: $(BUILD)/gen/gen_proto_schema
	$(BUILD)/gen/gen_proto_schema $(PROTO_SCHEMA_JSON) "$(K8S_API_DIR)" \
	    "$(K8S_APIMACHINERY_DIR)" "$(K8S_SOURCE)"
proto-schema-add: $(BUILD)/gen/gen_proto_schema
	$(BUILD)/gen/gen_proto_schema --add $(PROTO_SCHEMA_JSON) "$(PACKAGE_DIR)" "$(K8S_SOURCE)"
