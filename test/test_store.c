/* Tests for the store: keys, writes and their old/new objects, relists,
 * resource-version tracking, transforms, indexes (multi-valued, moving
 * objects), listers, accounting, snapshots under a concurrent writer, and
 * allocation failures. KR_TEST_THREADED: also runs under ThreadSanitizer. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kr_repr.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"
#include "store_internal.h"

static json_t *configmap(const char *ns, const char *name, const char *rv, const char *labels_json)
{
    json_t *labels = labels_json ? json_loads(labels_json, 0, NULL) : json_object();
    ck_assert_ptr_nonnull(labels);
    json_t *meta =
        json_pack("{s:s, s:s, s:o}", "name", name, "resourceVersion", rv, "labels", labels);
    ck_assert_ptr_nonnull(meta);
    if (ns)
        json_object_set_new(meta, "namespace", json_string(ns));
    json_t *obj = json_pack("{s:s, s:s, s:o, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                            "metadata", meta, "data", "k", name);
    ck_assert_ptr_nonnull(obj);
    return obj;
}

static kr_store_t *new_store(const kr_store_opts *opts)
{
    kr_store_t *s = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_store_new(opts, &s, &err) == 0, "%s", err.message);
    return s;
}

static void add(kr_store_t *s, json_t *obj)
{
    kr_error_t err = {0};
    ck_assert_msg(kr_store_add(s, obj, 0, NULL, NULL, &err) == 0, "%s", err.message);
}

/* Names of the objects in a JSON array, sorted and comma-joined. */
static char *names_of(json_t *arr)
{
    size_t n = json_array_size(arr);
    const char **names = calloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = json_string_value(
            json_object_get(json_object_get(json_array_get(arr, i), "metadata"), "name"));
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
            const char *t = names[k];
            names[k] = names[k - 1];
            names[k - 1] = t;
        }
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *out = calloc(len, 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, names[i]);
    }
    free(names);
    return out;
}

static void assert_names(json_t *arr, const char *expected)
{
    char *got = names_of(arr);
    ck_assert_msg(strcmp(got, expected) == 0, "got [%s], want [%s]", got, expected);
    free(got);
    json_decref(arr);
}

static void assert_strings(json_t *arr, const char *expected)
{
    /* Reuse names_of by wrapping strings as {metadata:{name}}. */
    json_t *wrapped = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        json_array_append_new(wrapped, json_pack("{s:{s:O}}", "metadata", "name", v));
    }
    json_decref(arr);
    assert_names(wrapped, expected);
}

START_TEST(key_is_namespace_slash_name_or_name)
{
    char *key = NULL;
    kr_error_t err = {0};
    json_t *o = configmap("prod", "web", "1", NULL);
    ck_assert_int_eq(kr_store_key_of(o, &key, &err), 0);
    ck_assert_str_eq(key, "prod/web");
    kr_free(key);
    json_decref(o);

    o = configmap(NULL, "node-1", "1", NULL);
    ck_assert_int_eq(kr_store_key_of(o, &key, &err), 0);
    ck_assert_str_eq(key, "node-1");
    kr_free(key);
    json_decref(o);

    o = json_pack("{s:{s:s,s:s}}", "metadata", "name", "a", "namespace", "");
    ck_assert_int_eq(kr_store_key_of(o, &key, &err), 0);
    ck_assert_str_eq(key, "a");
    kr_free(key);
    json_decref(o);

    const char *bad[] = {"{}",
                         "{\"metadata\":{}}",
                         "{\"metadata\":{\"name\":\"\"}}",
                         "{\"metadata\":{\"name\":3}}",
                         "{\"metadata\":{\"name\":\"a\",\"namespace\":1}}",
                         "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = json_loads(bad[i], 0, NULL);
        ck_assert_int_eq(kr_store_key_of(o, &key, &err), KR_EINVAL);
        ck_assert_ptr_null(key);
        json_decref(o);
    }
}
END_TEST

START_TEST(add_update_delete_return_old_and_new_objects)
{
    kr_store_t *s = new_store(NULL);
    kr_error_t err = {0};
    json_t *old = (json_t *)0x1, *cached = NULL;
    json_t *a1 = configmap("ns", "a", "10", NULL);
    ck_assert_int_eq(kr_store_add(s, a1, 100, &old, &cached, &err), 0);
    ck_assert_ptr_null(old);
    ck_assert_ptr_eq(cached, a1); /* the stolen object is what is cached */
    ck_assert_uint_eq(kr_store_len(s), 1);

    json_t *got = kr_store_get(s, "ns/a");
    ck_assert_ptr_eq(got, cached);
    json_decref(got);
    got = kr_store_get_by_name(s, "ns", "a");
    ck_assert_ptr_eq(got, cached);
    json_decref(got);
    ck_assert_ptr_null(kr_store_get(s, "a"));
    ck_assert_ptr_null(kr_store_get(s, "other/a"));

    json_t *a2 = configmap("ns", "a", "11", NULL);
    json_t *cached2 = NULL;
    ck_assert_int_eq(kr_store_add(s, a2, 100, &old, &cached2, &err), 0);
    /* compact: the old object is parsed again from its cached text */
    if (kr_test_compact())
        ck_assert(json_equal(old, cached));
    else
        ck_assert_ptr_eq(old, cached);
    ck_assert_ptr_eq(cached2, a2);
    json_decref(old);
    /* The caller's references to the replaced object stay valid. */
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(cached, "metadata"), "resourceVersion")),
        "10");
    json_decref(cached);

    json_t *b = configmap(NULL, "b", "12", NULL);
    add(s, b);
    ck_assert_uint_eq(kr_store_len(s), 2);
    got = kr_store_get_by_name(s, NULL, "b");
    ck_assert_ptr_eq(got, b);
    json_decref(got);

    json_t *del = configmap("ns", "a", "13", NULL);
    ck_assert_int_eq(kr_store_delete(s, del, &old, &err), 0);
    if (kr_test_compact())
        ck_assert(json_equal(old, cached2));
    else
        ck_assert_ptr_eq(old, cached2);
    json_decref(old);
    json_decref(cached2);
    ck_assert_int_eq(kr_store_delete(s, del, &old, &err), KR_ENOTFOUND);
    ck_assert_ptr_null(old);
    json_decref(del);
    ck_assert_int_eq(kr_store_delete_key(s, "b", NULL, &err), 0);
    ck_assert_int_eq(kr_store_delete_key(s, "b", NULL, &err), KR_ENOTFOUND);
    ck_assert_uint_eq(kr_store_len(s), 0);

    /* An object without a name is rejected and still consumed. */
    ck_assert_int_eq(kr_store_add(s, json_pack("{s:{}}", "metadata"), 0, NULL, NULL, &err),
                     KR_EINVAL);
    ck_assert_int_eq(kr_store_add(s, json_array(), 0, NULL, NULL, &err), KR_EINVAL);
    ck_assert_uint_eq(kr_store_len(s), 0);
    kr_store_free(s);
    kr_store_free(NULL);
}
END_TEST

START_TEST(replace_swaps_content_and_reports_vanished_objects)
{
    kr_store_t *s = new_store(NULL);
    kr_error_t err = {0};
    add(s, configmap("ns", "a", "1", NULL));
    add(s, configmap("ns", "b", "2", NULL));
    add(s, configmap("ns", "c", "3", NULL));
    json_t *items = json_array();
    json_array_append_new(items, configmap("ns", "b", "5", NULL));
    json_array_append_new(items, configmap("ns", "d", "6", NULL));
    json_array_append_new(items, configmap("ns", "d", "7", NULL)); /* last one wins */
    size_t wire[] = {10, 20, 30};
    json_t *removed = NULL;
    ck_assert_int_eq(kr_store_replace(s, items, wire, "9", &removed, &err), 0);
    assert_names(removed, "a,c");
    ck_assert_uint_eq(kr_store_len(s), 2);
    json_t *d = kr_store_get(s, "ns/d");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(d, "metadata"), "resourceVersion")), "7");
    json_decref(d);
    char *rv = kr_store_last_resource_version(s);
    ck_assert_str_eq(rv, "9");
    kr_free(rv);
    kr_store_stats st;
    kr_store_get_stats(s, &st, sizeof(st));
    ck_assert_uint_eq(st.objects, 2);
    ck_assert_uint_eq(st.wire_bytes, 40); /* b (10) and the surviving d (30) */
    ck_assert_uint_eq(st.received_bytes_total, 60);

    /* A bad item leaves the store as it was. */
    items = json_array();
    json_array_append_new(items, configmap("ns", "x", "1", NULL));
    json_array_append_new(items, json_pack("{s:{}}", "metadata"));
    ck_assert_int_eq(kr_store_replace(s, items, NULL, "10", &removed, &err), KR_EINVAL);
    ck_assert_ptr_null(removed);
    assert_names(kr_store_list(s, &items, &err) == 0 ? items : NULL, "b,d");
    rv = kr_store_last_resource_version(s);
    ck_assert_str_eq(rv, "9");
    kr_free(rv);

    ck_assert_int_eq(kr_store_replace(s, json_array(), NULL, NULL, NULL, &err), 0);
    ck_assert_uint_eq(kr_store_len(s), 0);
    ck_assert_int_eq(kr_store_replace(s, json_object(), NULL, NULL, NULL, &err), KR_EINVAL);
    kr_store_free(s);
}
END_TEST

START_TEST(resource_version_follows_the_last_write)
{
    kr_store_t *s = new_store(NULL);
    kr_error_t err = {0};
    ck_assert_ptr_null(kr_store_last_resource_version(s));
    add(s, configmap("ns", "a", "5", NULL));
    char *rv = kr_store_last_resource_version(s);
    ck_assert_str_eq(rv, "5");
    kr_free(rv);
    ck_assert_int_eq(kr_store_set_resource_version(s, "8", &err), 0); /* a bookmark */
    rv = kr_store_last_resource_version(s);
    ck_assert_str_eq(rv, "8");
    kr_free(rv);
    json_t *del = configmap("ns", "a", "12", NULL);
    ck_assert_int_eq(kr_store_delete(s, del, NULL, &err), 0);
    json_decref(del);
    rv = kr_store_last_resource_version(s);
    ck_assert_str_eq(rv, "12");
    kr_free(rv);
    /* A delete of an unknown object still records how far the watch got. */
    del = configmap("ns", "zz", "13", NULL);
    ck_assert_int_eq(kr_store_delete(s, del, NULL, &err), KR_ENOTFOUND);
    json_decref(del);
    rv = kr_store_last_resource_version(s);
    ck_assert_str_eq(rv, "13");
    kr_free(rv);
    ck_assert_int_eq(kr_store_set_resource_version(s, NULL, &err), KR_EINVAL);
    kr_store_free(s);
}
END_TEST

static json_t *with_managed_fields(void)
{
    json_t *o = configmap("ns", "a", "1", "{\"app\":\"web\"}");
    json_t *meta = json_object_get(o, "metadata");
    json_object_set_new(meta, "managedFields",
                        json_pack("[{s:s,s:s,s:{s:{}}}]", "manager", "kubectl", "operation",
                                  "Update", "fieldsV1", "f:data"));
    json_object_set_new(meta, "annotations", json_pack("{s:s}", "note", "x"));
    json_object_set_new(
        o, "spec", json_pack("{s:i,s:{s:[i,i]}}", "replicas", 3, "template", "ports", 80, 443));
    return o;
}

START_TEST(transform_default_drops_managed_fields)
{
    kr_store_t *s = new_store(NULL);
    add(s, with_managed_fields());
    json_t *got = kr_store_get(s, "ns/a");
    ck_assert_ptr_null(json_object_get(json_object_get(got, "metadata"), "managedFields"));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(got, "metadata"), "annotations"));
    json_decref(got);
    kr_store_free(s);

    kr_store_opts keep = {.keep_managed_fields = true};
    s = new_store(&keep);
    add(s, with_managed_fields());
    got = kr_store_get(s, "ns/a");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(got, "metadata"), "managedFields"));
    json_decref(got);
    kr_store_free(s);
}
END_TEST

START_TEST(keep_fields_caches_only_selected_fields)
{
    static const char *const fields[] = {"/spec/replicas", "spec.template.ports", "/data/k"};
    kr_store_opts opts = {.keep_fields = fields, .n_keep_fields = 3};
    kr_store_t *s = new_store(&opts);
    add(s, with_managed_fields());
    json_t *got = kr_store_get(s, "ns/a");
    json_t *want = json_loads(
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
        "\"namespace\":\"ns\",\"resourceVersion\":\"1\",\"labels\":{\"app\":\"web\"}},"
        "\"spec\":{\"replicas\":3,\"template\":{\"ports\":[80,443]}},\"data\":{\"k\":\"a\"}}",
        0, NULL);
    ck_assert_msg(json_equal(got, want), "kept %s", json_dumps(got, JSON_SORT_KEYS));
    json_decref(want);
    json_decref(got);
    kr_store_stats st;
    kr_store_get_stats(s, &st, sizeof(st));
    ck_assert_uint_gt(st.cached_json_bytes, 50);
    kr_store_free(s);

    static const char *const bad[] = {"/", "a..b", "/a~2"};
    for (size_t i = 0; i < 3; i++) {
        kr_store_opts b = {.keep_fields = &bad[i], .n_keep_fields = 1};
        kr_store_t *out = (kr_store_t *)0x1;
        ck_assert_int_eq(kr_store_new(&b, &out, NULL), KR_EINVAL);
        ck_assert_ptr_null(out);
    }
}
END_TEST

/* A broader path than one kept before it (an always-kept one or the
 * user's own) keeps the whole subtree, not just the narrower field. */
START_TEST(keep_fields_broader_path_keeps_the_whole_subtree)
{
    json_t *o = with_managed_fields();
    json_t *meta = json_object_get(o, "metadata");
    json_object_set_new(meta, "finalizers", json_pack("[s]", "example.com/f"));
    json_object_set_new(meta, "ownerReferences",
                        json_pack("[{s:s,s:s}]", "kind", "Deployment", "name", "web"));
    json_object_set_new(json_object_get(o, "spec"), "x", json_pack("{s:i}", "y", 1));

    static const char *const meta_fields[] = {"/metadata", "/spec/replicas"};
    kr_store_opts opts = {.keep_fields = meta_fields, .n_keep_fields = 2};
    kr_store_t *s = new_store(&opts);
    add(s, json_deep_copy(o));
    json_t *got = kr_store_get(s, "ns/a");
    json_t *gm = json_object_get(got, "metadata");
    ck_assert_ptr_nonnull(json_object_get(gm, "finalizers"));
    ck_assert_ptr_nonnull(json_object_get(gm, "ownerReferences"));
    ck_assert_ptr_nonnull(json_object_get(gm, "annotations"));
    ck_assert_ptr_null(json_object_get(gm, "managedFields"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(got, "spec"), "replicas")),
                     3);
    ck_assert_ptr_null(json_object_get(json_object_get(got, "spec"), "template"));
    json_decref(got);
    kr_store_free(s);

    static const char *const spec_fields[] = {"/spec/x", "/spec"};
    kr_store_opts o2 = {.keep_fields = spec_fields, .n_keep_fields = 2};
    s = new_store(&o2);
    add(s, json_deep_copy(o));
    got = kr_store_get(s, "ns/a");
    ck_assert_msg(json_equal(json_object_get(got, "spec"), json_object_get(o, "spec")), "kept %s",
                  json_dumps(got, JSON_SORT_KEYS));
    ck_assert_ptr_null(json_object_get(json_object_get(got, "metadata"), "annotations"));
    json_decref(got);
    kr_store_free(s);
    json_decref(o);
}
END_TEST

static int add_label_transform(json_t *obj, json_t **out, void *user)
{
    const char *reject = user;
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    if (reject && strcmp(name, reject) == 0) {
        json_decref(obj);
        return KR_EINVAL;
    }
    json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    json_object_set_new(labels, "seen", json_string("yes"));
    *out = obj;
    return 0;
}

START_TEST(user_transform_runs_and_can_reject)
{
    kr_store_opts opts = {.transform = add_label_transform, .transform_user = "bad"};
    kr_store_t *s = new_store(&opts);
    kr_error_t err = {0};
    add(s, configmap("ns", "good", "1", NULL));
    ck_assert_int_eq(kr_store_add(s, configmap("ns", "bad", "2", NULL), 0, NULL, NULL, &err),
                     KR_EINVAL);
    ck_assert_uint_eq(kr_store_len(s), 1);
    char *rv = kr_store_last_resource_version(s);
    ck_assert_str_eq(rv, "1");
    kr_free(rv);
    kr_selector_t *sel = NULL;
    ck_assert_int_eq(kr_selector_parse("seen=yes", &sel, NULL), 0);
    json_t *out = NULL;
    ck_assert_int_eq(kr_store_list_selector(s, NULL, sel, &out, &err), 0);
    assert_names(out, "good");
    kr_selector_free(sel);
    kr_store_free(s);
}
END_TEST

/* Index by every owner listed in data.owners ("alice,bob"): several values. */
static int owners_index(const json_t *obj, kr_store_index_values *out, void *user)
{
    (void)user;
    const char *owners = json_string_value(json_object_get(json_object_get(obj, "data"), "owners"));
    if (!owners)
        return 0;
    if (strcmp(owners, "FAIL") == 0)
        return KR_EINVALIDOBJ;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", owners);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int rc = kr_store_index_values_add(out, tok);
        if (rc)
            return rc;
    }
    return 0;
}

static json_t *owned(const char *ns, const char *name, const char *owners)
{
    json_t *o = configmap(ns, name, "1", NULL);
    json_object_set_new(json_object_get(o, "data"), "owners", json_string(owners));
    return o;
}

START_TEST(multi_value_index_tracks_updates_between_values)
{
    kr_store_t *s = new_store(NULL);
    kr_error_t err = {0};
    add(s, owned("ns", "early", "alice"));
    /* Added after objects exist: they are indexed at once. */
    ck_assert_int_eq(kr_store_add_indexer(s, "owner", owners_index, NULL, &err), 0);
    ck_assert_int_eq(kr_store_add_indexer(s, "owner", owners_index, NULL, &err), KR_EEXIST);
    ck_assert_int_eq(kr_store_add_indexer(s, "namespace", owners_index, NULL, &err), KR_EEXIST);
    add(s, owned("ns", "a", "alice,bob"));
    add(s, owned("ns", "b", "bob,bob,carol")); /* duplicates count once */
    add(s, owned("other", "c", "carol"));

    json_t *out = NULL;
    ck_assert_int_eq(kr_store_by_index(s, "owner", "alice", &out, &err), 0);
    assert_names(out, "a,early");
    ck_assert_int_eq(kr_store_by_index(s, "owner", "bob", &out, &err), 0);
    assert_names(out, "a,b");
    ck_assert_int_eq(kr_store_by_index(s, "owner", "nobody", &out, &err), 0);
    assert_names(out, "");
    ck_assert_int_eq(kr_store_list_index_values(s, "owner", &out, &err), 0);
    assert_strings(out, "alice,bob,carol");

    /* Moving "a" from {alice,bob} to {dave}: alice keeps early, bob keeps b. */
    add(s, owned("ns", "a", "dave"));
    ck_assert_int_eq(kr_store_by_index(s, "owner", "alice", &out, &err), 0);
    assert_names(out, "early");
    ck_assert_int_eq(kr_store_by_index(s, "owner", "bob", &out, &err), 0);
    assert_names(out, "b");
    ck_assert_int_eq(kr_store_by_index(s, "owner", "dave", &out, &err), 0);
    assert_names(out, "a");
    /* A value whose last object leaves disappears. */
    add(s, owned("ns", "early", "erin"));
    ck_assert_int_eq(kr_store_list_index_values(s, "owner", &out, &err), 0);
    assert_strings(out, "bob,carol,dave,erin");
    ck_assert_int_eq(kr_store_delete_key(s, "ns/a", NULL, &err), 0);
    ck_assert_int_eq(kr_store_list_index_values(s, "owner", &out, &err), 0);
    assert_strings(out, "bob,carol,erin");

    /* An index function's error rejects the write; nothing changes. */
    ck_assert_int_eq(kr_store_add(s, owned("ns", "b", "FAIL"), 0, NULL, NULL, &err),
                     KR_EINVALIDOBJ);
    ck_assert_int_eq(kr_store_by_index(s, "owner", "bob", &out, &err), 0);
    assert_names(out, "b");

    ck_assert_int_eq(kr_store_by_index(s, "missing", "x", &out, &err), KR_ENOTFOUND);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(kr_store_list_index_values(s, "missing", &out, &err), KR_ENOTFOUND);
    kr_store_free(s);
}
END_TEST

START_TEST(namespace_and_selector_listers)
{
    kr_store_t *s = new_store(NULL);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_store_add_indexer(s, "owner", owners_index, NULL, &err), 0);
    add(s, configmap("prod", "web", "1", "{\"app\":\"web\",\"tier\":\"front\"}"));
    add(s, configmap("prod", "db", "2", "{\"app\":\"db\",\"tier\":\"back\"}"));
    add(s, configmap("dev", "web", "3", "{\"app\":\"web\"}"));
    add(s, configmap(NULL, "node", "4", "{\"app\":\"node\"}"));
    json_t *o = owned("dev", "tool", "alice");
    json_object_set_new(json_object_get(o, "metadata"), "labels", json_pack("{s:s}", "app", "x"));
    add(s, o);

    json_t *out = NULL;
    ck_assert_int_eq(kr_store_list_namespace(s, "prod", &out, &err), 0);
    assert_names(out, "db,web");
    ck_assert_int_eq(kr_store_list_namespace(s, "", &out, &err), 0);
    assert_names(out, "node");
    ck_assert_int_eq(kr_store_list_namespace(s, "none", &out, &err), 0);
    assert_names(out, "");
    ck_assert_int_eq(kr_store_list_index_values(s, KR_STORE_NAMESPACE_INDEX, &out, &err), 0);
    assert_strings(out, ",dev,prod");

    kr_selector_t *sel = NULL;
    ck_assert_int_eq(kr_selector_parse("app in (web,node)", &sel, NULL), 0);
    ck_assert_int_eq(kr_store_list_selector(s, NULL, sel, &out, &err), 0);
    assert_names(out, "node,web,web");
    ck_assert_int_eq(kr_store_list_selector(s, "dev", sel, &out, &err), 0);
    assert_names(out, "web");
    kr_selector_free(sel);
    ck_assert_int_eq(kr_selector_parse("tier,app!=db", &sel, NULL), 0);
    ck_assert_int_eq(kr_store_list_selector(s, NULL, sel, &out, &err), 0);
    assert_names(out, "web");
    kr_selector_free(sel);
    ck_assert_int_eq(kr_store_list_selector(s, "prod", NULL, &out, &err), 0);
    assert_names(out, "db,web");
    ck_assert_int_eq(kr_selector_parse("app=x", &sel, NULL), 0);
    ck_assert_int_eq(kr_store_list_index_selector(s, "owner", "alice", sel, &out, &err), 0);
    assert_names(out, "tool");
    kr_selector_free(sel);
    ck_assert_int_eq(kr_selector_parse("app=y", &sel, NULL), 0);
    ck_assert_int_eq(kr_store_list_index_selector(s, "owner", "alice", sel, &out, &err), 0);
    assert_names(out, "");
    kr_selector_free(sel);

    ck_assert_int_eq(kr_store_list(s, &out, &err), 0);
    assert_names(out, "db,node,tool,web,web");
    ck_assert_int_eq(kr_store_list_keys(s, &out, &err), 0);
    assert_strings(out, "dev/tool,dev/web,node,prod/db,prod/web");
    kr_store_free(s);
}
END_TEST

START_TEST(cached_bytes_equal_the_compact_serialisation)
{
    /* Escapes, reals in every notation, integers, unicode, nesting. */
    json_t *o = json_loads(
        "{\"metadata\":{\"name\":\"odd\\\"name\",\"namespace\":\"n\\u00e9\\t\\n\\u0001/\"},"
        "\"spec\":{\"r\":[1.5,1e20,1e-5,100.0,-0.0,0.1,-7,123456789012,true,false,null],"
        "\"e\":{},\"a\":[],\"s\":\"\\\\ \\b \\f \\r \\u001f \\u2028\"}}",
        0, NULL);
    ck_assert_ptr_nonnull(o);
    size_t want = json_dumpb(o, NULL, 0, JSON_COMPACT);
    kr_store_t *s = new_store(NULL);
    add(s, o);
    kr_store_stats st;
    kr_store_get_stats(s, &st, sizeof(st));
    ck_assert_uint_eq(st.cached_json_bytes, want);
    kr_store_free(s);
}
END_TEST

START_TEST(raw_text_is_what_jansson_prints_and_parses_back)
{
    kr_store_t *s = new_store(NULL);
    const char *text =
        "{\"metadata\":{\"name\":\"odd\",\"namespace\":\"ns\",\"resourceVersion\":\"5\"},"
        "\"data\":{\"quote\":\"a\\\"b\\\\c\",\"ctl\":\"\\b\\f\\n\\r\\t\\u0001\\u001f\","
        "\"utf8\":\"h\u00e9 \u2603 \\ud83d\\ude00 /\"},"
        "\"n\":[0,-1,9007199254740993,1.0,0.1,-2.5e-07,1e+100,1.5e300,true,false,null,[],{}]}";
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    ck_assert_msg(obj != NULL, "%s", jerr.text);
    json_t *cached = NULL;
    ck_assert_int_eq(kr_store_add(s, obj, 0, NULL, &cached, NULL), 0);
    char *want = json_dumps(cached, JSON_COMPACT);
    char *raw = NULL;
    size_t len = 0;
    ck_assert_int_eq(kr_store_get_raw(s, "ns/odd", &raw, &len, NULL), 0);
    ck_assert_str_eq(raw, want);
    ck_assert_uint_eq(len, strlen(want));
    kr_free(raw);
    free(want);
    json_t *got = kr_store_get(s, "ns/odd");
    ck_assert(json_equal(got, cached));
    json_decref(got);
    ck_assert_int_eq(kr_store_get_raw(s, "ns/none", &raw, NULL, NULL), KR_ENOTFOUND);
    ck_assert_ptr_null(raw);
    char *rv = kr_store_get_resource_version(s, "ns/odd");
    ck_assert_str_eq(rv, "5");
    kr_free(rv);
    /* a tree cache of one: reads of two objects evict each other */
    kr_store_opts small = {.tree_cache = 1};
    kr_store_t *s1 = new_store(&small);
    add(s1, configmap("ns", "a", "1", NULL));
    add(s1, configmap("ns", "b", "2", NULL));
    for (int i = 0; i < 4; i++) {
        json_t *a = kr_store_get(s1, i % 2 ? "ns/a" : "ns/b");
        ck_assert_ptr_nonnull(a);
        json_decref(a);
    }
    kr_store_free(s1);
    json_decref(cached);
    kr_store_free(s);
}
END_TEST

/* What the strict printer (request bodies) must print exactly as jansson,
 * or refuse so that jansson decides. */
static int print_strict(const json_t *v, char **text)
{
    kr_buf b = {0};
    int rc = kr_json_print_strict(v, &b);
    *text = rc == 0 ? kr_strndup(b.data ? b.data : "", b.len) : NULL;
    kr_buf_free(&b);
    return rc;
}

START_TEST(strict_printer_agrees_with_jansson_or_leaves_it_the_tree)
{
    const char *text = "{\"a\":\"h\\u00e9 \\u2603 \\ud83d\\ude00 \\\"\\\\ \\u0001\","
                       "\"n\":[1,-2,0.5,1e+100,true,null,{},[]],\"\\u00fc\":{\"x\":\"\"}}";
    json_t *o = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(o);
    char *got = NULL, *want = json_dumps(o, JSON_COMPACT);
    ck_assert_int_eq(print_strict(o, &got), 0);
    ck_assert_str_eq(got, want);
    kr_free(got);
    free(want);
    json_decref(o);
    /* invalid UTF-8 jansson refuses to print: stray, overlong, surrogate,
     * above U+10FFFF, cut short */
    const char *bad[] = {"\xff",    "a\x80", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xe2\x82"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *b = json_pack("{s:o}", "s", json_string_nocheck(bad[i]));
        ck_assert_ptr_null(json_dumps(b, JSON_COMPACT));
        ck_assert_int_eq(print_strict(b, &got), KR_EINVAL);
        json_decref(b);
    }
    /* a key holding a NUL */
    json_t *k = json_object();
    json_object_setn_new(k, "a\0b", 3, json_true());
    ck_assert_int_eq(print_strict(k, &got), KR_EINVAL);
    json_decref(k);
    /* a loop */
    json_t *loop = json_array(), *inner = json_array();
    ck_assert_int_eq(json_array_append(inner, loop), 0);
    ck_assert_int_eq(json_array_append(loop, inner), 0);
    ck_assert_int_eq(print_strict(loop, &got), KR_EINVAL);
    json_array_clear(loop);
    json_decref(inner);
    json_decref(loop);
}
END_TEST

START_TEST(stats_measure_wire_and_cached_bytes)
{
    kr_store_t *s = new_store(NULL);
    kr_error_t err = {0};
    kr_store_stats st;
    kr_store_get_stats(s, &st, sizeof(st));
    ck_assert_uint_eq(st.objects, 0);
    ck_assert_uint_eq(st.cached_json_bytes, 0);
    json_t *a = with_managed_fields();
    json_t *cached = NULL;
    ck_assert_int_eq(kr_store_add(s, a, 1000, NULL, &cached, &err), 0);
    size_t size = json_dumpb(cached, NULL, 0, JSON_COMPACT);
    json_decref(cached);
    ck_assert_int_eq(kr_store_add(s, configmap("ns", "b", "2", NULL), 300, NULL, &cached, &err), 0);
    size += json_dumpb(cached, NULL, 0, JSON_COMPACT);
    json_decref(cached);
    kr_store_get_stats(s, &st, sizeof(st));
    ck_assert_uint_eq(st.objects, 2);
    ck_assert_uint_eq(st.wire_bytes, 1300);
    ck_assert_uint_eq(st.cached_json_bytes, size);
    ck_assert_uint_gt(st.overhead_bytes, 0);
    ck_assert_uint_eq(st.received_bytes_total, 1300);
    ck_assert_uint_eq(st.writes, 2);
    /* Replacing b: its bytes are swapped, not added. */
    ck_assert_int_eq(kr_store_add(s, configmap("ns", "b", "3", NULL), 200, NULL, NULL, &err), 0);
    kr_store_get_stats(s, &st, sizeof(st));
    ck_assert_uint_eq(st.wire_bytes, 1200);
    ck_assert_uint_eq(st.received_bytes_total, 1500);
    ck_assert_uint_eq(st.cached_json_bytes, size);
    ck_assert_int_eq(kr_store_delete_key(s, "ns/a", NULL, &err), 0);
    ck_assert_int_eq(kr_store_delete_key(s, "ns/b", NULL, &err), 0);
    kr_store_get_stats(s, &st, sizeof(st));
    ck_assert_uint_eq(st.objects, 0);
    ck_assert_uint_eq(st.wire_bytes, 0);
    ck_assert_uint_eq(st.cached_json_bytes, 0);
    kr_store_free(s);
}
END_TEST

/* ---- snapshots under a concurrent writer ----
 * N objects always exist, plus "extra" half of the time. Each object's
 * label gen equals its data.gen and label parity matches it. A relist
 * sets every object to the same generation at once. Readers check that
 * every read is internally consistent and that a reader never sees the
 * highest generation go backwards. */

#define SNAP_OBJECTS 64
#define SNAP_ROUNDS 400

struct snap {
    kr_store_t *store;
    int done; /* set by the writer when finished, read atomically */
    unsigned long seed;
    int failures;
    char failure[256];
};

static json_t *gen_object(const char *name, long gen)
{
    char g[32];
    snprintf(g, sizeof(g), "%ld", gen);
    json_t *o = json_pack("{s:{s:s,s:s,s:s,s:{s:s,s:s}},s:{s:s}}", "metadata", "name", name,
                          "namespace", "ns", "resourceVersion", g, "labels", "gen", g, "parity",
                          gen % 2 ? "odd" : "even", "data", "gen", g);
    return o;
}

static void snap_fail(struct snap *sn, const char *what, long value);

static int gen_index(const json_t *obj, kr_store_index_values *out, void *user)
{
    (void)user;
    const char *gen = json_string_value(json_object_get(json_object_get(obj, "data"), "gen"));
    return gen ? kr_store_index_values_add(out, gen) : 0;
}

static void *snap_writer(void *arg)
{
    struct snap *sn = arg;
    kr_test_rng rng;
    kr_test_rng_init(&rng, sn->seed);
    for (long gen = 1; gen <= SNAP_ROUNDS; gen++) {
        if (gen == SNAP_ROUNDS / 2) {
            /* A new index, built while readers list: they see no index,
             * then a complete one. */
            if (kr_store_add_indexer(sn->store, "gen", gen_index, NULL, NULL) != 0)
                snap_fail(sn, "add_indexer failed", gen);
            continue;
        }
        if (gen % 20 == 0) {
            json_t *items = json_array();
            for (int i = 0; i < SNAP_OBJECTS; i++) {
                char name[16];
                snprintf(name, sizeof(name), "o%d", i);
                json_array_append_new(items, gen_object(name, gen));
            }
            kr_store_replace(sn->store, items, NULL, NULL, NULL, NULL);
            continue;
        }
        for (int k = 0; k < 8; k++) {
            char name[16];
            snprintf(name, sizeof(name), "o%lu", kr_test_rng_below(&rng, SNAP_OBJECTS));
            kr_store_add(sn->store, gen_object(name, gen), 0, NULL, NULL, NULL);
        }
        if (gen % 2)
            kr_store_add(sn->store, gen_object("extra", gen), 0, NULL, NULL, NULL);
        else
            kr_store_delete_key(sn->store, "ns/extra", NULL, NULL);
    }
    __atomic_store_n(&sn->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void snap_fail(struct snap *sn, const char *what, long value)
{
    if (__atomic_fetch_add(&sn->failures, 1, __ATOMIC_RELAXED) == 0)
        snprintf(sn->failure, sizeof(sn->failure), "%s (%ld)", what, value);
}

static long object_gen(const json_t *o, struct snap *sn)
{
    const json_t *meta = json_object_get(o, "metadata");
    const char *label = json_string_value(json_object_get(json_object_get(meta, "labels"), "gen"));
    const char *data = json_string_value(json_object_get(json_object_get(o, "data"), "gen"));
    const char *parity =
        json_string_value(json_object_get(json_object_get(meta, "labels"), "parity"));
    if (!label || !data || !parity || strcmp(label, data) != 0) {
        snap_fail(sn, "object torn between two versions", 0);
        return -1;
    }
    long gen = strtol(label, NULL, 10);
    if (strcmp(parity, gen % 2 ? "odd" : "even") != 0)
        snap_fail(sn, "parity label does not match gen", gen);
    return gen;
}

static void *snap_reader(void *arg)
{
    struct snap *sn = arg;
    kr_selector_t *even = NULL;
    kr_selector_parse("parity=even", &even, NULL);
    long max_seen = 0;
    bool last = false;
    while (!last) {
        last = __atomic_load_n(&sn->done, __ATOMIC_ACQUIRE) != 0;
        json_t *all = NULL;
        if (kr_store_list(sn->store, &all, NULL) != 0) {
            snap_fail(sn, "list failed", 0);
            break;
        }
        size_t n = json_array_size(all);
        if (n != SNAP_OBJECTS && n != SNAP_OBJECTS + 1)
            snap_fail(sn, "snapshot has the wrong number of objects", (long)n);
        long max = 0;
        size_t i;
        json_t *o;
        json_array_foreach(all, i, o)
        {
            long g = object_gen(o, sn);
            max = g > max ? g : max;
        }
        json_decref(all);
        if (max < max_seen)
            snap_fail(sn, "the newest generation went backwards", max);
        max_seen = max;

        json_t *sel = NULL;
        kr_store_list_selector(sn->store, "ns", even, &sel, NULL);
        json_array_foreach(sel, i, o)
        {
            if (object_gen(o, sn) % 2 != 0)
                snap_fail(sn, "selector lister returned an odd object", 0);
        }
        json_decref(sel);
        json_t *by = NULL;
        kr_store_by_index(sn->store, "namespace", "ns", &by, NULL);
        if (json_array_size(by) < SNAP_OBJECTS)
            snap_fail(sn, "namespace index lost objects", (long)json_array_size(by));
        json_decref(by);
        json_t *values = NULL;
        if (kr_store_list_index_values(sn->store, "gen", &values, NULL) == 0) {
            /* Each by_index() answer holds only objects of that value
             * (objects move between values across calls, so no total). */
            size_t k;
            json_t *v;
            json_array_foreach(values, k, v)
            {
                json_t *members = NULL;
                kr_store_by_index(sn->store, "gen", json_string_value(v), &members, NULL);
                size_t m;
                json_t *o2;
                json_array_foreach(members, m, o2)
                {
                    char g[32];
                    snprintf(g, sizeof(g), "%ld", object_gen(o2, sn));
                    if (strcmp(g, json_string_value(v)) != 0)
                        snap_fail(sn, "object under the wrong index value", 0);
                }
                json_decref(members);
            }
            json_decref(values);
        }
        json_t *one = kr_store_get(sn->store, "ns/o0");
        if (!one)
            snap_fail(sn, "o0 missing", 0);
        else
            object_gen(one, sn);
        json_decref(one);
    }
    kr_selector_free(even);
    return NULL;
}

START_TEST(snapshots_stay_consistent_while_a_writer_mutates)
{
    struct snap sn = {.store = new_store(NULL), .seed = kr_test_seed("store snapshots")};
    json_t *items = json_array();
    for (int i = 0; i < SNAP_OBJECTS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "o%d", i);
        json_array_append_new(items, gen_object(name, 0));
    }
    ck_assert_int_eq(kr_store_replace(sn.store, items, NULL, "0", NULL, NULL), 0);
    pthread_t writer, readers[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&readers[i], NULL, snap_reader, &sn);
    pthread_create(&writer, NULL, snap_writer, &sn);
    pthread_join(writer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(readers[i], NULL);
    ck_assert_msg(sn.failures == 0, "%d failures, first: %s", sn.failures, sn.failure);
    char *rv = kr_store_last_resource_version(sn.store);
    ck_assert_ptr_nonnull(rv);
    kr_free(rv);
    kr_store_free(sn.store);
}
END_TEST

/* ---- a randomised model check ----
 * Random adds, updates, deletes, relists and index additions against a
 * plain model (key -> owners string); after every step each index value's
 * membership and every object must match the model. */

#define MODEL_KEYS 24

struct model {
    char owners[MODEL_KEYS][16]; /* "" = absent */
};

static void model_name(int k, char *buf, size_t size)
{
    snprintf(buf, size, "m%02d", k);
}

static json_t *model_object(int k, const char *owners, int version)
{
    char name[16], rv[16];
    model_name(k, name, sizeof(name));
    snprintf(rv, sizeof(rv), "%d", version);
    return json_pack("{s:{s:s,s:s,s:s},s:{s:s}}", "metadata", "name", name, "namespace",
                     k % 3 ? "a" : "b", "resourceVersion", rv, "data", "owners", owners);
}

static void random_owners(kr_test_rng *rng, char *out, size_t size)
{
    static const char *const people[] = {"p", "q", "r", "s"};
    out[0] = '\0';
    unsigned long n = 1 + kr_test_rng_below(rng, 3);
    for (unsigned long i = 0; i < n; i++) {
        if (i)
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, people[kr_test_rng_below(rng, 4)], size - strlen(out) - 1);
    }
}

static bool owners_has(const char *owners, char person)
{
    for (const char *c = owners; *c; c++)
        if (*c == person)
            return true;
    return false;
}

static void model_check(kr_store_t *s, const struct model *m, bool owner_index, int step)
{
    size_t live = 0;
    for (int k = 0; k < MODEL_KEYS; k++) {
        char key[32], name[16];
        model_name(k, name, sizeof(name));
        snprintf(key, sizeof(key), "%s/%s", k % 3 ? "a" : "b", name);
        json_t *o = kr_store_get(s, key);
        if (!m->owners[k][0]) {
            ck_assert_msg(o == NULL, "step %d: %s should be absent", step, key);
            continue;
        }
        live++;
        ck_assert_msg(o != NULL, "step %d: %s missing", step, key);
        const char *owners =
            json_string_value(json_object_get(json_object_get(o, "data"), "owners"));
        ck_assert_str_eq(owners, m->owners[k]);
        json_decref(o);
    }
    ck_assert_uint_eq(kr_store_len(s), live);
    for (const char *ns = "ab"; *ns; ns++) {
        char v[2] = {*ns, 0};
        json_t *arr = NULL;
        ck_assert_int_eq(kr_store_list_namespace(s, v, &arr, NULL), 0);
        size_t want = 0;
        for (int k = 0; k < MODEL_KEYS; k++)
            want += m->owners[k][0] && (k % 3 ? 'a' : 'b') == *ns;
        ck_assert_msg(json_array_size(arr) == want, "step %d: namespace %s has %zu, want %zu", step,
                      v, json_array_size(arr), want);
        json_decref(arr);
    }
    if (!owner_index)
        return;
    size_t values = 0;
    for (const char *p = "pqrs"; *p; p++) {
        char v[2] = {*p, 0};
        json_t *arr = NULL;
        ck_assert_int_eq(kr_store_by_index(s, "owner", v, &arr, NULL), 0);
        size_t want = 0;
        for (int k = 0; k < MODEL_KEYS; k++)
            want += m->owners[k][0] && owners_has(m->owners[k], *p);
        ck_assert_msg(json_array_size(arr) == want, "step %d: owner %s has %zu, want %zu", step, v,
                      json_array_size(arr), want);
        /* the right members, each once (not only the right number) */
        bool seen[MODEL_KEYS] = {false};
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o)
        {
            const json_t *meta = json_object_get(o, "metadata");
            int k = -1;
            ck_assert_int_eq(sscanf(json_string_value(json_object_get(meta, "name")), "m%d", &k),
                             1);
            ck_assert(k >= 0 && k < MODEL_KEYS && !seen[k]);
            seen[k] = true;
            ck_assert_msg(owners_has(m->owners[k], *p), "step %d: %s wrongly under owner %s", step,
                          m->owners[k], v);
        }
        values += want > 0;
        json_decref(arr);
    }
    json_t *vals = NULL;
    ck_assert_int_eq(kr_store_list_index_values(s, "owner", &vals, NULL), 0);
    ck_assert_uint_eq(json_array_size(vals), values);
    json_decref(vals);
}

START_TEST(random_operations_agree_with_a_model)
{
    kr_test_rng rng;
    kr_test_rng_init(&rng, kr_test_seed("store model"));
    kr_store_t *s = new_store(NULL);
    struct model m;
    memset(&m, 0, sizeof(m));
    bool owner_index = false;
    for (int step = 0; step < 3000; step++) {
        unsigned long op = kr_test_rng_below(&rng, 100);
        int k = (int)kr_test_rng_below(&rng, MODEL_KEYS);
        if (op < 55) {
            random_owners(&rng, m.owners[k], sizeof(m.owners[k]));
            ck_assert_int_eq(
                kr_store_add(s, model_object(k, m.owners[k], step), 1, NULL, NULL, NULL), 0);
        } else if (op < 85) {
            char key[32], name[16];
            model_name(k, name, sizeof(name));
            snprintf(key, sizeof(key), "%s/%s", k % 3 ? "a" : "b", name);
            int rc = kr_store_delete_key(s, key, NULL, NULL);
            ck_assert_int_eq(rc, m.owners[k][0] ? 0 : KR_ENOTFOUND);
            m.owners[k][0] = '\0';
        } else if (op < 97) {
            json_t *items = json_array();
            size_t before = kr_store_len(s), kept = 0;
            for (int i = 0; i < MODEL_KEYS; i++) {
                bool had = m.owners[i][0] != '\0';
                if (kr_test_rng_below(&rng, 2)) {
                    random_owners(&rng, m.owners[i], sizeof(m.owners[i]));
                    json_array_append_new(items, model_object(i, m.owners[i], step));
                    kept += had;
                } else {
                    m.owners[i][0] = '\0';
                }
            }
            json_t *removed = NULL;
            ck_assert_int_eq(kr_store_replace(s, items, NULL, "1", &removed, NULL), 0);
            ck_assert_uint_eq(json_array_size(removed), before - kept);
            json_decref(removed);
        } else if (!owner_index) {
            ck_assert_int_eq(kr_store_add_indexer(s, "owner", owners_index, NULL, NULL), 0);
            owner_index = true;
        }
        model_check(s, &m, owner_index, step);
    }
    kr_store_free(s);
}
END_TEST

/* Large buckets emptied in random order: every leaver's hole is filled by
 * the bucket's last member, whose position must follow, and the members'
 * arrays shrink as they empty. */
START_TEST(large_buckets_stay_exact_while_emptied_in_random_order)
{
    enum { N = 3000 };
    kr_test_rng rng;
    kr_test_rng_init(&rng, kr_test_seed("large buckets"));
    kr_store_t *s = new_store(NULL);
    ck_assert_int_eq(kr_store_add_indexer(s, "owner", owners_index, NULL, NULL), 0);
    static int order[N];
    static bool live[N];
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "o%04d", i);
        add(s, json_pack("{s:{s:s,s:s},s:{s:s}}", "metadata", "name", name, "namespace",
                         i % 2 ? "odd" : "even", "data", "owners", i % 3 ? "p,q" : "q"));
        order[i] = i;
        live[i] = true;
    }
    for (int i = N - 1; i > 0; i--) { /* a shuffle */
        int j = (int)kr_test_rng_below(&rng, (unsigned long)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int done = 0; done <= N; done++) {
        if (done % 250 == 0 || done > N - 20) {
            static const char *const lists[][2] = {
                {"namespace", "odd"}, {"namespace", "even"}, {"owner", "p"}, {"owner", "q"}};
            for (int l = 0; l < 4; l++) {
                json_t *arr = NULL;
                ck_assert_int_eq(kr_store_by_index(s, lists[l][0], lists[l][1], &arr, NULL), 0);
                static bool seen[N];
                memset(seen, 0, sizeof(seen));
                size_t want = 0, idx;
                for (int i = 0; i < N; i++)
                    want += live[i] && (l == 0   ? i % 2 == 1
                                        : l == 1 ? i % 2 == 0
                                        : l == 2 ? i % 3 != 0
                                                 : true);
                ck_assert_uint_eq(json_array_size(arr), want);
                json_t *o;
                json_array_foreach(arr, idx, o)
                {
                    int i = -1;
                    const char *name =
                        json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
                    ck_assert_int_eq(sscanf(name, "o%d", &i), 1);
                    ck_assert(i >= 0 && i < N && live[i] && !seen[i]);
                    seen[i] = true;
                }
                json_decref(arr);
            }
        }
        if (done == N)
            break;
        char key[32];
        int i = order[done];
        snprintf(key, sizeof(key), "%s/o%04d", i % 2 ? "odd" : "even", i);
        ck_assert_int_eq(kr_store_delete_key(s, key, NULL, NULL), 0);
        live[i] = false;
    }
    kr_store_stats st;
    kr_store_get_stats(s, &st, sizeof(st));
    ck_assert_uint_eq(st.objects, 0);
    kr_store_free(s);
}
END_TEST

/* ---- allocation failures ---- */

static int store_session(void *arg)
{
    (void)arg;
    kr_store_t *s = NULL;
    static const char *const fields[] = {"/data", "/spec/replicas"};
    kr_store_opts opts = {.keep_fields = fields, .n_keep_fields = 2};
    int bad = 0;
    if (kr_store_new(&opts, &s, NULL) != 0)
        return 0;
    json_t *out = NULL, *a = NULL;
    if (kr_store_add_indexer(s, "owner", owners_index, NULL, NULL) != 0)
        goto out;
    const char *names[] = {"a", "b", "c", "d"};
    const char *owners[] = {"x,y", "y", "z", "x"};
    for (int i = 0; i < 4; i++) {
        json_t *o =
            json_pack("{s:{s:s,s:s,s:s},s:{s:s}}", "metadata", "name", names[i], "namespace", "ns",
                      "resourceVersion", "1", "data", "owners", owners[i]);
        size_t before = kr_store_len(s);
        if (kr_store_add(s, o, 10, NULL, NULL, NULL) != 0) /* o is consumed either way */
            bad |= kr_store_len(s) != before;
    }
    json_t *moved = json_pack("{s:{s:s,s:s},s:{s:s}}", "metadata", "name", "a", "namespace", "ns",
                              "data", "owners", "w");
    kr_store_add(s, moved, 10, NULL, NULL, NULL);
    if (kr_store_by_index(s, "owner", "y", &out, NULL) == 0) {
        bad |= json_array_size(out) > 2;
        json_decref(out);
    }
    json_t *items = json_array();
    a = json_pack("{s:{s:s,s:s},s:{s:s}}", "metadata", "name", "a", "namespace", "ns", "data",
                  "owners", "q");
    if (items && a && json_array_append(items, a) == 0) {
        size_t before = kr_store_len(s);
        json_t *had_a = kr_store_get(s, "ns/a");
        json_t *removed = NULL;
        int rc = kr_store_replace(s, items, NULL, "7", &removed, NULL);
        items = NULL;
        if (rc == 0)
            bad |= kr_store_len(s) != 1 || json_array_size(removed) != before - (had_a ? 1 : 0);
        else
            bad |= kr_store_len(s) != before;
        json_decref(had_a);
        json_decref(removed);
    }
    json_decref(items);
    if (kr_store_list(s, &out, NULL) == 0)
        json_decref(out);
    if (kr_store_list_index_values(s, "owner", &out, NULL) == 0)
        json_decref(out);
    kr_selector_t *sel = NULL;
    if (kr_selector_parse("!missing", &sel, NULL) == 0) {
        if (kr_store_list_selector(s, "ns", sel, &out, NULL) == 0)
            json_decref(out);
        kr_selector_free(sel);
    }
    char *rv = kr_store_last_resource_version(s);
    kr_free(rv);
    /* the relist path piece by piece, and the reads that do not parse */
    kr_store_batch_t *batch = NULL;
    if (kr_store_batch_new(s, &batch, NULL) == 0) {
        for (int i = 0; i < 3; i++) {
            json_t *o =
                json_pack("{s:{s:s,s:s,s:s},s:{s:s}}", "metadata", "name", names[i], "namespace",
                          "ns", "resourceVersion", "9", "data", "owners", owners[i]);
            size_t before = kr_store_batch_len(batch);
            if (kr_store_batch_add(batch, o, 5, NULL) != 0)
                bad |= kr_store_batch_len(batch) != before;
        }
        kr_store_batch_remove(batch, "ns/b");
        size_t in_batch = kr_store_batch_len(batch);
        json_t *removed = NULL;
        if (kr_store_replace_batch(s, batch, "9", &removed, NULL) == 0)
            bad |= kr_store_len(s) != in_batch;
        json_decref(removed);
    }
    char *raw = NULL;
    if (kr_store_get_raw(s, "ns/a", &raw, NULL, NULL) == 0)
        kr_free(raw);
    rv = kr_store_get_resource_version(s, "ns/a");
    kr_free(rv);
    json_t *got = kr_store_get(s, "ns/c");
    json_decref(got);
    /* the informer's walk (resync, late handler): one object at a time */
    struct kr_store_snapshot snap;
    if (kr_store_snapshot_take(s, &snap) == 0) {
        bad |= snap.n != kr_store_len(s);
        for (size_t i = 0; i < snap.n; i++)
            json_decref(kr_store_snapshot_object(s, &snap, i));
        kr_store_snapshot_release(&snap);
    }
    json_t *old = NULL;
    json_t *again = json_pack("{s:{s:s,s:s,s:s}}", "metadata", "name", "c", "namespace", "ns",
                              "resourceVersion", "10");
    if (kr_store_add(s, again, 0, &old, NULL, NULL) == 0)
        json_decref(old);
    kr_store_delete_key(s, "ns/a", NULL, NULL);
out:
    json_decref(a);
    kr_store_free(s);
    return bad;
}

START_TEST(allocation_failures_are_reported_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(store_session, NULL);
    ck_assert_msg(runs > 50, "sweep returned %ld", runs);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, key_is_namespace_slash_name_or_name);
    tcase_add_test(tc, add_update_delete_return_old_and_new_objects);
    tcase_add_test(tc, replace_swaps_content_and_reports_vanished_objects);
    tcase_add_test(tc, resource_version_follows_the_last_write);
    tcase_add_test(tc, transform_default_drops_managed_fields);
    tcase_add_test(tc, keep_fields_caches_only_selected_fields);
    tcase_add_test(tc, keep_fields_broader_path_keeps_the_whole_subtree);
    tcase_add_test(tc, user_transform_runs_and_can_reject);
    tcase_add_test(tc, multi_value_index_tracks_updates_between_values);
    tcase_add_test(tc, namespace_and_selector_listers);
    tcase_add_test(tc, cached_bytes_equal_the_compact_serialisation);
    tcase_add_test(tc, stats_measure_wire_and_cached_bytes);
    tcase_add_test(tc, raw_text_is_what_jansson_prints_and_parses_back);
    tcase_add_test(tc, strict_printer_agrees_with_jansson_or_leaves_it_the_tree);
    tcase_add_test(tc, snapshots_stay_consistent_while_a_writer_mutates);
    tcase_add_test(tc, random_operations_agree_with_a_model);
    tcase_add_test(tc, large_buckets_stay_exact_while_emptied_in_random_order);
    tcase_add_test(tc, allocation_failures_are_reported_without_leaks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kr_test_run_suite_each_repr(make_suite);
}
