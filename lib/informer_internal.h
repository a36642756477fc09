/* libkreconcile — what the informer tells modules above it beyond its
 * public header (the inventory's informer-mode producer). Never
 * installed; nothing here is part of the ABI. */
#ifndef KR_LIB_INFORMER_INTERNAL_H
#define KR_LIB_INFORMER_INTERNAL_H

#include "kreconcile/informer.h"

/* The namespace the informer watches (kr_informer_opts.namespace_),
 * NULL when it watches every namespace or cluster-scoped objects.
 * Valid while the informer lives. [any thread] */
const char *kr_informer_namespace(const kr_informer_t *inf);

/* The selectors it lists and watches with (kr_informer_opts), NULL for
 * none. Valid while the informer lives. [any thread] */
const char *kr_informer_label_selector(const kr_informer_t *inf);
const char *kr_informer_field_selector(const kr_informer_t *inf);

/* True in a handler's on_add while kr_informer_add_handler delivers the
 * cache to that new handler (client-go's isInInitialList), false for the
 * adds of real events, which may run right after on the same thread
 * before kr_informer_add_handler has returned to its caller. [the thread
 * of the handler's callbacks] */
bool kr_informer_replaying(const kr_informer_t *inf);

/* Within the informer module: the lists and watches of a
 * kr_listwatch_client_new listwatch decode objects without
 * metadata.managedFields (the informer sets it when its store drops them
 * anyway). Before any list or watch starts. */
void kr_listwatch_client_drop_managed_fields(kr_listwatch *lw);

#endif /* KR_LIB_INFORMER_INTERNAL_H */
