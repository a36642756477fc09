/* Tests of the managed-object helpers (kreconcile/managed.h) and of the
 * apply against a caller's own last-applied annotation
 * (kr_patch_last_applied): labels, ownership, the placement annotation,
 * finalizer patches, the three-way patch per kind, and allocation
 * failures. */
#include <check.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

#define ANN "example.com/last-applied"

static const char *label(const json_t *obj, const char *name)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), name));
}

START_TEST(labels_are_added_beside_the_objects_own)
{
    json_t *obj = json_pack("{s:{s:s, s:{s:s}}}", "metadata", "name", "a", "labels", "app", "x");
    kr_managed_source src = {"kr-syncer", "hub", "uid-1"};
    ck_assert_int_eq(kr_managed_set_labels(obj, &src, NULL), 0);
    ck_assert_str_eq(label(obj, "app"), "x");
    ck_assert_str_eq(label(obj, KR_LABEL_MANAGED_BY), "kr-syncer");
    ck_assert_str_eq(label(obj, KR_LABEL_SOURCE_UID), "uid-1");
    ck_assert_str_eq(label(obj, KR_LABEL_SOURCE_CLUSTER), "hub");
    json_t *bare = json_object();
    ck_assert_int_eq(kr_managed_set_labels(bare, &src, NULL), 0);
    ck_assert_str_eq(label(bare, KR_LABEL_MANAGED_BY), "kr-syncer");
    kr_managed_source no_uid = {"kr-syncer", "hub", NULL};
    kr_error_t err = {0};
    ck_assert_int_eq(kr_managed_set_labels(bare, &no_uid, &err), KR_EINVAL);
    json_t *array = json_array();
    ck_assert_int_eq(kr_managed_set_labels(array, &src, NULL), KR_EINVAL);
    json_decref(array);
    json_decref(obj);
    json_decref(bare);
}
END_TEST

START_TEST(ownership_needs_manager_and_source_cluster)
{
    json_t *obj = json_object();
    kr_managed_source src = {"kr-syncer", "hub", "uid-1"};
    ck_assert_int_eq(kr_managed_owner_of(obj, &src), KR_MANAGED_FOREIGN);
    ck_assert_int_eq(kr_managed_owner_of(NULL, &src), KR_MANAGED_FOREIGN);
    kr_managed_set_labels(obj, &src, NULL);
    ck_assert_int_eq(kr_managed_owner_of(obj, &src), KR_MANAGED_OURS);
    kr_managed_source any = {"kr-syncer", "hub", NULL};
    ck_assert_int_eq(kr_managed_owner_of(obj, &any), KR_MANAGED_OURS);
    kr_managed_source other_uid = {"kr-syncer", "hub", "uid-2"};
    ck_assert_int_eq(kr_managed_owner_of(obj, &other_uid), KR_MANAGED_OURS_OTHER_SOURCE);
    kr_managed_source other_hub = {"kr-syncer", "hub2", "uid-1"};
    ck_assert_int_eq(kr_managed_owner_of(obj, &other_hub), KR_MANAGED_FOREIGN);
    kr_managed_source other_manager = {"kr-submitter", "hub", "uid-1"};
    ck_assert_int_eq(kr_managed_owner_of(obj, &other_manager), KR_MANAGED_FOREIGN);
    /* someone's object labelled by hand with two of the three is not ours */
    json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    json_object_set_new(labels, KR_LABEL_SOURCE_UID, json_string(""));
    ck_assert_int_eq(kr_managed_owner_of(obj, &any), KR_MANAGED_FOREIGN);
    json_object_del(labels, KR_LABEL_SOURCE_UID);
    ck_assert_int_eq(kr_managed_owner_of(obj, &any), KR_MANAGED_FOREIGN);
    ck_assert_int_eq(kr_managed_owner_of(obj, &src), KR_MANAGED_FOREIGN);
    char buf[64];
    ck_assert_str_eq(kr_managed_selector("kr-syncer", buf, sizeof(buf)),
                     "kreconcile.io/managed-by=kr-syncer");
    ck_assert_ptr_null(kr_managed_selector("kr-syncer", buf, 10));
    json_decref(obj);
}
END_TEST

static json_t *placed_by(json_t *value)
{
    return json_pack("{s:{s:s, s:{s:o}}}", "metadata", "name", "a", "annotations",
                     KR_ANNOTATION_CLUSTERS, value);
}

START_TEST(placement_ignores_whitespace_of_any_kind_around_names)
{
    /* What a YAML `|` block gives: a newline after every name. */
    json_t *block = placed_by(json_string("dc1,\ndc2\n"));
    ck_assert(kr_managed_placed(block, "dc1"));
    ck_assert(kr_managed_placed(block, "dc2"));
    ck_assert(!kr_managed_placed(block, "dc3"));
    json_t *tabs = placed_by(json_string("\tdc1\t,\r\n dc2 \v,\fdc3"));
    ck_assert(kr_managed_placed(tabs, "dc1"));
    ck_assert(kr_managed_placed(tabs, "dc2"));
    ck_assert(kr_managed_placed(tabs, "dc3"));
    json_t *spaces = placed_by(json_string(" dc1 , dc3,"));
    ck_assert(kr_managed_placed(spaces, "dc1"));
    ck_assert(kr_managed_placed(spaces, "dc3"));
    ck_assert(!kr_managed_placed(spaces, "dc2"));
    /* A name is whole: neither a prefix nor one with inner space matches. */
    ck_assert(!kr_managed_placed(spaces, "dc"));
    ck_assert(!kr_managed_placed(spaces, " dc1"));
    /* whitespace separates as a comma does: "dc1 dc2" is a typo away from
     * "dc1,dc2", and must not place on no cluster at all */
    json_t *inner = placed_by(json_string("dc1 dc2\ndc3;x"));
    ck_assert(kr_managed_placed(inner, "dc1"));
    ck_assert(kr_managed_placed(inner, "dc2"));
    ck_assert(!kr_managed_placed(inner, "dc1 dc2"));
    ck_assert(!kr_managed_placed(inner, "dc3"));
    ck_assert(kr_managed_placed(inner, "dc3;x"));
    /* the names one by one, as kr_managed_placed reads them */
    const char *list = ",dc1  dc2,\n,dc3\t", *name;
    const char *want[] = {"dc1", "dc2", "dc3"};
    size_t len, n = 0;
    while ((name = kr_managed_placement_next(&list, &len))) {
        ck_assert_uint_lt(n, 3);
        ck_assert_uint_eq(len, strlen(want[n]));
        ck_assert(memcmp(name, want[n], len) == 0);
        n++;
    }
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_null(kr_managed_placement_next(&list, &len)); /* and stays at the end */
    const char *none = NULL;
    ck_assert_ptr_null(kr_managed_placement_next(&none, &len));
    json_decref(block);
    json_decref(tabs);
    json_decref(spaces);
    json_decref(inner);
}
END_TEST

START_TEST(placement_empty_items_name_nothing_and_absent_means_everywhere)
{
    json_t *gaps = placed_by(json_string(",dc1,,\n, ,dc2,"));
    ck_assert(kr_managed_placed(gaps, "dc1"));
    ck_assert(kr_managed_placed(gaps, "dc2"));
    ck_assert(!kr_managed_placed(gaps, ""));
    ck_assert(!kr_managed_placed(gaps, NULL));
    /* Absent (no annotation, no annotations, no metadata): every cluster. */
    json_t *absent =
        json_pack("{s:{s:s, s:{s:s}}}", "metadata", "name", "a", "annotations", "other", "dc1");
    json_t *bare = json_object();
    ck_assert(kr_managed_placed(absent, "dc1"));
    ck_assert(kr_managed_placed(bare, "dc2"));
    ck_assert(kr_managed_placed(NULL, "dc1"));
    /* Not a string: read as absent, the reading that deletes nothing. */
    json_t *number = placed_by(json_integer(1));
    json_t *list = placed_by(json_pack("[s]", "dc1"));
    json_t *null = placed_by(json_null());
    ck_assert(kr_managed_placed(number, "dc1"));
    ck_assert(kr_managed_placed(list, "dc2"));
    ck_assert(kr_managed_placed(null, "dc2"));
    /* Empty or blank: no cluster. */
    json_t *empty = placed_by(json_string(""));
    json_t *blank = placed_by(json_string(" ,\n\t"));
    ck_assert(!kr_managed_placed(empty, "dc1"));
    ck_assert(!kr_managed_placed(blank, "dc1"));
    json_decref(gaps);
    json_decref(absent);
    json_decref(bare);
    json_decref(number);
    json_decref(list);
    json_decref(null);
    json_decref(empty);
    json_decref(blank);
}
END_TEST

/* A placement is judged before it is obeyed: a name that is no cluster
 * name is malformed, told with any byte outside printable ASCII escaped
 * (whole escapes, never past the buffer); names that are none of the
 * configured clusters are all unknown; empty, absent, or one configured
 * name among unknown ones is a placement. */
START_TEST(placement_check_tells_a_typo_from_a_placement)
{
    const char *const clusters[] = {"dc1", "dc2"};
    char why[200];
    json_t *semi = placed_by(json_string("dc2;dc1"));
    ck_assert_int_eq(kr_managed_placement_check(semi, clusters, 2, why, sizeof(why)),
                     KR_PLACEMENT_MALFORMED);
    ck_assert_ptr_nonnull(strstr(why, "\"dc2;dc1\" is not a cluster name"));
    json_t *nbsp = placed_by(json_string("dc1\xc2\xa0"
                                         "dc2"));
    ck_assert_int_eq(kr_managed_placement_check(nbsp, clusters, 2, why, sizeof(why)),
                     KR_PLACEMENT_MALFORMED);
    ck_assert_ptr_nonnull(strstr(why, "\"dc1\\xc2\\xa0dc2\""));
    char longer[80];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    json_t *too_long = placed_by(json_string(longer));
    ck_assert_int_eq(kr_managed_placement_check(too_long, clusters, 2, NULL, 0),
                     KR_PLACEMENT_MALFORMED);
    for (size_t len = 0; len < 80; len++) {
        char small[80];
        memset(small, 'x', sizeof(small));
        ck_assert_int_eq(kr_managed_placement_check(nbsp, clusters, 2, small, len),
                         KR_PLACEMENT_MALFORMED);
        if (len)
            ck_assert_uint_lt(strlen(small), len);
        if (len > 9) /* cut, it still begins with what it is about */
            ck_assert_int_eq(strncmp(small, "placement", 9), 0);
        for (size_t i = len; i < sizeof(small); i++)
            ck_assert_int_eq(small[i], 'x');
    }
    json_t *upper = placed_by(json_string("DC2, DC1"));
    ck_assert_int_eq(kr_managed_placement_check(upper, clusters, 2, why, sizeof(why)),
                     KR_PLACEMENT_ALL_UNKNOWN);
    ck_assert_int_eq(kr_managed_placement_check(upper, NULL, 0, why, sizeof(why)), KR_PLACEMENT_OK);
    json_t *one = placed_by(json_string("DC2, dc1"));
    json_t *empty = placed_by(json_string(" , "));
    json_t *bare = json_object();
    ck_assert_int_eq(kr_managed_placement_check(one, clusters, 2, why, sizeof(why)),
                     KR_PLACEMENT_OK);
    ck_assert_int_eq(kr_managed_placement_check(empty, clusters, 2, why, sizeof(why)),
                     KR_PLACEMENT_OK);
    ck_assert_int_eq(kr_managed_placement_check(bare, clusters, 2, why, sizeof(why)),
                     KR_PLACEMENT_OK);
    json_decref(semi);
    json_decref(nbsp);
    json_decref(too_long);
    json_decref(upper);
    json_decref(one);
    json_decref(empty);
    json_decref(bare);
}
END_TEST

START_TEST(finalizer_patches_keep_the_others_and_carry_the_resource_version)
{
    json_t *obj =
        json_pack("{s:{s:s, s:[s]}}", "metadata", "resourceVersion", "41", "finalizers", "other/f");
    json_t *patch = NULL;
    ck_assert(!kr_managed_has_finalizer(obj, "mine/f"));
    ck_assert_int_eq(kr_managed_finalizer_patch(obj, "mine/f", true, &patch, NULL), 0);
    json_t *meta = json_object_get(patch, "metadata");
    ck_assert_str_eq(json_string_value(json_object_get(meta, "resourceVersion")), "41");
    json_t *list = json_object_get(meta, "finalizers");
    ck_assert_uint_eq(json_array_size(list), 2);
    ck_assert_str_eq(json_string_value(json_array_get(list, 0)), "other/f");
    ck_assert_str_eq(json_string_value(json_array_get(list, 1)), "mine/f");
    json_decref(patch);
    /* already absent: nothing to remove */
    ck_assert_int_eq(kr_managed_finalizer_patch(obj, "mine/f", false, &patch, NULL), 0);
    ck_assert_ptr_null(patch);
    json_array_append_new(json_object_get(json_object_get(obj, "metadata"), "finalizers"),
                          json_string("mine/f"));
    ck_assert(kr_managed_has_finalizer(obj, "mine/f"));
    ck_assert_int_eq(kr_managed_finalizer_patch(obj, "mine/f", false, &patch, NULL), 0);
    list = json_object_get(json_object_get(patch, "metadata"), "finalizers");
    ck_assert_uint_eq(json_array_size(list), 1);
    ck_assert_str_eq(json_string_value(json_array_get(list, 0)), "other/f");
    json_decref(patch);
    json_t *no_rv = json_object();
    ck_assert_int_eq(kr_managed_finalizer_patch(no_rv, "mine/f", true, &patch, NULL), KR_EINVAL);
    json_decref(no_rv);
    json_decref(obj);
}
END_TEST

static json_t *configmap(const char *value, const char *extra)
{
    json_t *o =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                  "metadata", "name", "a", "namespace", "ns", "data", "k", value);
    if (extra)
        json_object_set_new(json_object_get(o, "data"), extra, json_string("1"));
    return o;
}

/* What a server would hold after creating `modified` and someone adding
 * their own field. */
static json_t *live_from(const json_t *modified)
{
    json_t *live = json_deep_copy(modified);
    json_t *meta = json_object_get(live, "metadata");
    json_object_set_new(meta, "resourceVersion", json_string("9"));
    json_object_set_new(meta, "uid", json_string("u"));
    json_object_set_new(json_object_get(live, "data"), "theirs", json_string("t"));
    return live;
}

START_TEST(last_applied_patch_changes_ours_removes_what_we_dropped_and_keeps_theirs)
{
    json_t *desired = configmap("v1", "gone-later");
    json_t *modified = NULL, *patch = NULL;
    kr_patch_format format = 0;
    ck_assert_int_eq(
        kr_patch_last_applied(NULL, ANN, desired, NULL, &modified, &patch, &format, NULL), 0);
    ck_assert_ptr_null(patch);
    ck_assert_int_eq(format, KR_PATCH_STRATEGIC);
    const char *text = json_string_value(json_object_get(
        json_object_get(json_object_get(modified, "metadata"), "annotations"), ANN));
    ck_assert_ptr_nonnull(text);
    json_t *recorded = json_loads(text, 0, NULL);
    ck_assert(json_equal(recorded, desired));
    json_decref(recorded);

    json_t *live = live_from(modified);
    /* the same intent again: nothing to send */
    ck_assert_int_eq(kr_patch_last_applied(NULL, ANN, desired, live, NULL, &patch, &format, NULL),
                     0);
    ck_assert_ptr_null(patch);

    /* a new value, one key dropped: both in the patch, their key untouched */
    json_t *next = configmap("v2", NULL);
    ck_assert_int_eq(kr_patch_last_applied(NULL, ANN, next, live, NULL, &patch, &format, NULL), 0);
    ck_assert_ptr_nonnull(patch);
    json_t *result = NULL;
    ck_assert_int_eq(
        kr_patch_apply(format, kr_patch_schema_find(kr_patch_schema_builtin(), "v1", "ConfigMap"),
                       live, patch, &result, NULL),
        0);
    json_t *data = json_object_get(result, "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "k")), "v2");
    ck_assert_ptr_null(json_object_get(data, "gone-later"));
    ck_assert_str_eq(json_string_value(json_object_get(data, "theirs")), "t");
    json_decref(result);
    json_decref(patch);
    json_decref(next);
    json_decref(live);
    json_decref(modified);
    json_decref(desired);
}
END_TEST

START_TEST(last_applied_uses_a_merge_patch_for_custom_resources)
{
    json_t *desired = json_pack("{s:s, s:s, s:{s:s}, s:{s:[i, i]}}", "apiVersion", "example.com/v1",
                                "kind", "Widget", "metadata", "name", "w", "spec", "sizes", 1, 2);
    json_t *modified = NULL, *patch = NULL;
    kr_patch_format format = 0;
    ck_assert_int_eq(
        kr_patch_last_applied(NULL, ANN, desired, NULL, &modified, &patch, &format, NULL), 0);
    ck_assert_int_eq(format, KR_PATCH_MERGE);
    json_t *live = json_deep_copy(modified);
    json_object_set_new(json_object_get(live, "spec"), "theirs", json_true());
    json_array_append_new(json_object_get(json_object_get(desired, "spec"), "sizes"),
                          json_integer(3));
    ck_assert_int_eq(kr_patch_last_applied(NULL, ANN, desired, live, NULL, &patch, &format, NULL),
                     0);
    ck_assert_ptr_nonnull(patch);
    json_t *spec = json_object_get(patch, "spec");
    ck_assert_uint_eq(json_array_size(json_object_get(spec, "sizes")), 3);
    ck_assert_ptr_null(json_object_get(spec, "theirs"));
    json_decref(patch);
    json_decref(live);
    json_decref(modified);
    json_decref(desired);
}
END_TEST

/* An annotation recorded by another writer of the same intent (a Go
 * program writes a float64 1e20 as 100000000000000000000) is read as Go
 * reads it, not refused as unparsable: what the intent dropped is
 * deleted. */
START_TEST(last_applied_reads_an_integer_beyond_int64_in_the_annotation)
{
    json_t *desired = json_pack("{s:s, s:s, s:{s:s}, s:{s:f}}", "apiVersion", "example.com/v1",
                                "kind", "Widget", "metadata", "name", "w", "spec", "n", 1e20);
    json_t *live = json_pack(
        "{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:f, s:i}}", "apiVersion", "example.com/v1", "kind",
        "Widget", "metadata", "name", "w", "annotations", ANN,
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"},"
        "\"spec\":{\"n\":100000000000000000000,\"old\":1}}",
        "spec", "n", 1e20, "old", 1);
    json_t *patch = NULL;
    kr_patch_format format = 0;
    kr_error_t err = {0};
    ck_assert_msg(kr_patch_last_applied(NULL, ANN, desired, live, NULL, &patch, &format, &err) == 0,
                  "%s", err.message);
    ck_assert_int_eq(format, KR_PATCH_MERGE);
    ck_assert_ptr_nonnull(patch);
    json_t *spec = json_object_get(patch, "spec");
    ck_assert(json_is_null(json_object_get(spec, "old")));
    ck_assert_ptr_null(json_object_get(spec, "n"));
    json_decref(patch);
    json_decref(live);
    json_decref(desired);
}
END_TEST

START_TEST(last_applied_rejects_bad_arguments_and_survives_a_broken_annotation)
{
    json_t *patch = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_last_applied(NULL, ANN, NULL, NULL, NULL, &patch, NULL, &err),
                     KR_EINVAL);
    json_t *desired = configmap("v", NULL);
    ck_assert_int_eq(kr_patch_last_applied(NULL, "", desired, NULL, NULL, &patch, NULL, NULL),
                     KR_EINVAL);
    /* an unparsable base means no deletions, never a failure */
    json_t *live = configmap("old", "kept");
    json_object_set_new(json_object_get(live, "metadata"), "annotations",
                        json_pack("{s:s}", ANN, "{not json"));
    ck_assert_int_eq(kr_patch_last_applied(NULL, ANN, desired, live, NULL, &patch, NULL, NULL), 0);
    ck_assert_ptr_nonnull(patch);
    ck_assert_ptr_null(json_object_get(json_object_get(patch, "data"), "kept"));
    json_decref(patch);
    json_decref(live);
    json_decref(desired);
}
END_TEST

static int apply_under_failures(void *arg)
{
    (void)arg;
    json_t *desired = configmap("v2", NULL);
    json_t *base = configmap("v1", "x");
    json_t *modified = NULL, *patch = NULL;
    /* the test's own inputs may be what failed */
    int rc = desired && base
                 ? kr_patch_last_applied(NULL, ANN, base, NULL, &modified, &patch, NULL, NULL)
                 : KR_ENOMEM;
    if (rc == 0)
        rc = kr_patch_last_applied(NULL, ANN, desired, modified, NULL, &patch, NULL, NULL);
    json_t *obj = json_pack("{s:{s:s}}", "metadata", "resourceVersion", "1");
    json_t *fpatch = NULL;
    if (rc == 0 && obj)
        rc = kr_managed_finalizer_patch(obj, "f", true, &fpatch, NULL);
    json_decref(obj);
    json_t *owner = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Node",
                              "metadata", "name", "n", "uid", "u");
    json_t *owned = json_object();
    if (rc == 0 && (!owner || !owned))
        rc = KR_ENOMEM;
    if (rc == 0)
        rc = kr_managed_set_owner(owned, owner, true, NULL);
    if (rc == 0)
        rc = kr_secret_data_set(owned, "k", "secret", 6, NULL);
    char *value = NULL;
    if (rc == 0)
        rc = kr_secret_data_get(owned, "k", &value, NULL, NULL);
    kr_free(value);
    json_decref(owner);
    json_decref(owned);
    json_decref(fpatch);
    json_decref(patch);
    json_decref(modified);
    json_decref(base);
    json_decref(desired);
    return rc == 0 || rc == KR_ENOMEM ? 0 : 1;
}

static json_t *object(const char *api_version, const char *kind, const char *ns, const char *name,
                      const char *uid)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", api_version, "kind", kind,
                          "metadata", "name", name, "uid", uid);
    if (ns)
        json_object_set_new(json_object_get(o, "metadata"), "namespace", json_string(ns));
    return o;
}

static const json_t *ref_at(const json_t *obj, size_t i)
{
    return json_array_get(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i);
}

/* SetControllerReference and SetOwnerReference as controller-runtime's:
 * the entry for one group, kind and name is replaced (a new version or
 * uid), a second controller is refused, and the namespaces must agree. */
START_TEST(owner_references_are_set_as_controller_runtime_sets_them)
{
    json_t *cm = object("v1", "ConfigMap", "shop", "cfg-mirror", "u-cm");
    json_t *app = object("apps/v1", "Deployment", "shop", "web", "u-web");
    kr_error_t err = {0};
    ck_assert_int_eq(kr_managed_set_owner(cm, app, true, &err), 0);
    const json_t *r = ref_at(cm, 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "apiVersion")), "apps/v1");
    ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "Deployment");
    ck_assert_str_eq(json_string_value(json_object_get(r, "name")), "web");
    ck_assert_str_eq(json_string_value(json_object_get(r, "uid")), "u-web");
    ck_assert(json_is_true(json_object_get(r, "controller")));
    ck_assert(json_is_true(json_object_get(r, "blockOwnerDeletion")));
    /* the same owner again, at another version and uid: one entry, updated */
    json_t *again = object("apps/v1beta2", "Deployment", "shop", "web", "u-web-2");
    ck_assert_int_eq(kr_managed_set_owner(cm, again, true, &err), 0);
    ck_assert_ptr_null(ref_at(cm, 1));
    ck_assert_str_eq(json_string_value(json_object_get(ref_at(cm, 0), "uid")), "u-web-2");
    /* a second controller is refused; a plain owner is added beside it */
    json_t *other = object("batch/v1", "Job", "shop", "nightly", "u-job");
    ck_assert_int_eq(kr_managed_set_owner(cm, other, true, &err), KR_ECONFLICT);
    ck_assert_str_eq(
        err.message,
        "Object shop/cfg-mirror is already owned by another Deployment controller web");
    ck_assert_int_eq(kr_managed_set_owner(cm, other, false, &err), 0);
    r = ref_at(cm, 1);
    ck_assert_str_eq(json_string_value(json_object_get(r, "name")), "nightly");
    ck_assert_ptr_null(json_object_get(r, "controller"));
    ck_assert_ptr_null(json_object_get(r, "blockOwnerDeletion"));
    /* namespaces */
    json_t *elsewhere = object("v1", "ConfigMap", "other", "x", "u-x");
    ck_assert_int_eq(kr_managed_set_owner(cm, elsewhere, false, &err), KR_EINVAL);
    ck_assert_str_eq(err.message, "cross-namespace owner references are disallowed, owner's "
                                  "namespace other, obj's namespace shop");
    json_t *node = object("v1", "Node", NULL, "n1", "u-n1");
    json_t *cluster_scoped =
        object("rbac.authorization.k8s.io/v1", "ClusterRole", NULL, "r", "u-r");
    ck_assert_int_eq(kr_managed_set_owner(cluster_scoped, app, false, &err), KR_EINVAL);
    ck_assert_str_eq(err.message, "cluster-scoped resource must not have a namespace-scoped "
                                  "owner, owner's namespace shop");
    ck_assert_int_eq(kr_managed_set_owner(cluster_scoped, node, true, &err), 0);
    ck_assert_int_eq(kr_managed_set_owner(cm, node, false, &err), 0); /* a cluster-scoped owner */
    json_t *bare = json_pack("{s:s}", "kind", "Deployment");
    ck_assert_int_eq(kr_managed_set_owner(cm, bare, true, &err), KR_EINVAL);
    ck_assert_int_eq(kr_managed_set_owner(NULL, app, true, NULL), KR_EINVAL);
    json_t *no_meta = json_object();
    ck_assert_int_eq(kr_managed_set_owner(no_meta, app, false, &err), KR_EINVAL); /* no ns */
    json_t *cluster_owned = json_object();
    ck_assert_int_eq(kr_managed_set_owner(cluster_owned, node, false, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(ref_at(cluster_owned, 0), "name")), "n1");
    json_t *all[] = {cm,   app,     again,        other, elsewhere, node, cluster_scoped,
                     bare, no_meta, cluster_owned};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        json_decref(all[i]);
}
END_TEST

/* Secret data goes base64 on the wire and comes back byte for byte. */
START_TEST(secret_data_round_trips_bytes)
{
    json_t *secret = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", "Secret");
    kr_error_t err = {0};
    static const char bytes[] = {'p', 0, 'w', '\xff'};
    ck_assert_int_eq(kr_secret_data_set(secret, "password", bytes, sizeof(bytes), &err), 0);
    ck_assert_int_eq(kr_secret_data_set(secret, "empty", NULL, 0, &err), 0);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(secret, "data"), "password")),
        "cAB3/w==");
    char *value = NULL;
    size_t len = 0;
    ck_assert_int_eq(kr_secret_data_get(secret, "password", &value, &len, &err), 0);
    ck_assert_uint_eq(len, sizeof(bytes));
    ck_assert(memcmp(value, bytes, len) == 0);
    kr_free(value);
    ck_assert_int_eq(kr_secret_data_get(secret, "empty", &value, NULL, &err), 0);
    ck_assert_str_eq(value, "");
    kr_free(value);
    ck_assert_int_eq(kr_secret_data_get(secret, "missing", &value, &len, &err), KR_ENOTFOUND);
    ck_assert_ptr_null(value);
    json_object_set_new(json_object_get(secret, "data"), "bad", json_string("no*t"));
    ck_assert_int_eq(kr_secret_data_get(secret, "bad", &value, &len, &err), KR_EPARSE);
    ck_assert_str_eq(err.message, "secret data bad: illegal base64 data at input byte 2");
    ck_assert_int_eq(kr_secret_data_set(secret, "", "x", 1, &err), KR_EINVAL);
    ck_assert_int_eq(kr_secret_data_set(NULL, "k", "x", 1, &err), KR_EINVAL);
    json_decref(secret);
}
END_TEST

START_TEST(allocation_failures_are_reported_and_leak_nothing)
{
    ck_assert_int_gt(kr_test_alloc_failure_sweep(apply_under_failures, NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("managed");
    TCase *tc = tcase_create("managed");
    tcase_add_test(tc, labels_are_added_beside_the_objects_own);
    tcase_add_test(tc, ownership_needs_manager_and_source_cluster);
    tcase_add_test(tc, placement_ignores_whitespace_of_any_kind_around_names);
    tcase_add_test(tc, placement_empty_items_name_nothing_and_absent_means_everywhere);
    tcase_add_test(tc, placement_check_tells_a_typo_from_a_placement);
    tcase_add_test(tc, finalizer_patches_keep_the_others_and_carry_the_resource_version);
    tcase_add_test(tc, last_applied_patch_changes_ours_removes_what_we_dropped_and_keeps_theirs);
    tcase_add_test(tc, last_applied_uses_a_merge_patch_for_custom_resources);
    tcase_add_test(tc, last_applied_reads_an_integer_beyond_int64_in_the_annotation);
    tcase_add_test(tc, last_applied_rejects_bad_arguments_and_survives_a_broken_annotation);
    tcase_add_test(tc, owner_references_are_set_as_controller_runtime_sets_them);
    tcase_add_test(tc, secret_data_round_trips_bytes);
    tcase_add_test(tc, allocation_failures_are_reported_and_leak_nothing);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
