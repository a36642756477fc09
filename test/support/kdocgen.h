/* libkreconcile tests — random Kubernetes-shaped documents (Pods and
 * Deployments with containers, env, ports, volumes, volumeMounts,
 * tolerations, finalizers, labels...), modified copies of them, and random
 * patches, for property and differential tests. Deterministic for a given
 * kr_test_rng state. Test-only; never part of the library. */
#ifndef KR_TEST_KDOCGEN_H
#define KR_TEST_KDOCGEN_H

#include <jansson.h>

#include "kr_test.h"

/* A random v1 Pod. New reference. */
json_t *kdocgen_pod(kr_test_rng *rng);
/* A random apps/v1 Deployment. New reference. */
json_t *kdocgen_deployment(kr_test_rng *rng);
/* A Pod or a Deployment. New reference. */
json_t *kdocgen_document(kr_test_rng *rng);

/* A modified deep copy of `doc` (borrowed), as a user would edit it:
 * fields added, changed and removed, list elements added, removed,
 * changed and reordered. Lists with a merge key keep unique keys, merging
 * primitive lists keep unique items, and no value is null, so that the
 * result is something a strategic merge patch can express. New reference. */
json_t *kdocgen_modify(kr_test_rng *rng, const json_t *doc);

/* A random strategic merge patch for `doc` (borrowed), written by hand
 * the way users write them: plain changes, null deletions, and the
 * directives $patch (replace, delete), $retainKeys,
 * $deleteFromPrimitiveList and $setElementOrder. Never combines a
 * deletion list with additions of the same items (Kubernetes' result
 * would depend on its map iteration order). New reference. */
json_t *kdocgen_strategic_patch(kr_test_rng *rng, const json_t *doc);
/* A random JSON merge patch (RFC 7386) for `doc`. New reference. */
json_t *kdocgen_merge_patch(kr_test_rng *rng, const json_t *doc);
/* A random JSON patch (RFC 6902) for `doc` that may or may not apply.
 * New reference. */
json_t *kdocgen_json_patch(kr_test_rng *rng, const json_t *doc);

/* Make one adversarial edit somewhere inside `root` (modified in place):
 * a directive in an odd place or with a bad value, a value of another
 * type, an unknown field, a null list element, a $setElementOrder or
 * $retainKeys that may not match, a removed key. For error paths and
 * differential tests. */
void kdocgen_perturb(kr_test_rng *rng, json_t *root);

#endif /* KR_TEST_KDOCGEN_H */
