# Inventory: the live page (data/inventory-page.html) is compiled into the
# library as a C string, so that kr-inventory serves it from its binary.
# Written atomically (temp file + mv) so that parallel makes never compile
# a half-written source.

INVENTORY_PAGE_HTML := data/inventory-page.html
INVENTORY_PAGE_C    := $(BUILD)/gen/inventory_page.c

LIB_GEN_SRCS += $(INVENTORY_PAGE_C)

$(INVENTORY_PAGE_C): $(INVENTORY_PAGE_HTML) mk/inventory.mk
	@mkdir -p $(@D)
	{ echo '/* Generated from $(INVENTORY_PAGE_HTML) by mk/inventory.mk: do not edit. */'; \
	  echo '#include "kreconcile/inventory.h"'; \
	  echo 'static const char page[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; \
	  echo 'const char *kr_inventory_page_html(void) { return page; }'; } > $@.tmp && mv -f $@.tmp $@
