#!/bin/sh
# make demo: the platform at work (docs/PLATFORM.md). Three kr-apiservers
# (a hub and two workload clusters standing for two datacenters, TLS and
# tokens as real clusters have), kr-inventory on SQLite, kr-syncer,
# kr-submitter (two replicas electing a leader) and kr-sweeper, then a
# scenario narrated step by step, each with what was checked. Exit 0 only
# if every check passed. Everything runs on loopback, in one temporary
# directory, and is stopped and removed at the end, also on Ctrl-C; with
# KEEP=1 everything is left running and the script says how to stop it.
# Usage: demo-platform.sh <bin dir>
set -u
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kr-demo-XXXXXX")
pids=""
keep=${KEEP:-0}
started=$(date +%s)

# Last started, first stopped: the programs end (and release their Leases)
# while the servers they talk to still answer; each gets 2 s, then SIGKILL.
stop_all() {
    reversed=""
    for p in $pids; do reversed="$p $reversed"; done
    for p in $reversed; do
        kill "$p" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    pids=""
}
cleanup() {
    status=$?
    if [ "$keep" = 1 ] && [ "$status" = 0 ]; then
        reversed=""
        for p in $pids; do reversed="$p $reversed"; done
        cat >"$work/stop.sh" <<EOF
#!/bin/sh
# the programs first, then the servers they talk to (2 s each, then SIGKILL)
for p in $reversed; do
    kill "\$p" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        case "\$(ps -o stat= -p "\$p" 2>/dev/null)" in ''|Z*) break;; esac # gone, or ended
        sleep 0.2
    done
    kill -9 "\$p" 2>/dev/null
done
rm -rf '$work'
EOF
        echo
        echo "KEEP=1: everything is still running (logs in $work)."
        echo "  live page and Workflow API: $inventory_url/"
        echo "  kr-submitter API:           $submitter_url (tokens in $work/tokens.csv)"
        echo "  hub kubeconfig:             $work/hub.kubeconfig"
        echo "  stop it all:                sh $work/stop.sh"
        return
    fi
    stop_all
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

step() { printf '\n== %s ==\n' "$*"; }
ok() { echo "ok   $*"; }
fail() {
    echo "demo: FAILED: $*" >&2
    for f in "$work"/*.log; do
        [ -f "$f" ] || continue
        echo "---- $(basename "$f") (last 15 lines)" >&2
        tail -n 15 "$f" >&2
    done
    exit 1
}
# wait_for DESCRIPTION SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
    what=$1 limit=$2
    shift 2
    end=$(($(date +%s) + limit))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || fail "$what (waited ${limit}s)"
        sleep 0.2
    done
    ok "$what"
}

# ---- three clusters ---------------------------------------------------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$work/server.key" -out "$work/server.crt" >/dev/null 2>&1 ||
    fail "openssl could not make a server certificate"
cat >"$work/namespaces.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: apps
EOF

start_cluster() { # name -> $work/<name>.kubeconfig, URL in $work/<name>.url
    # The Runnable CRD everywhere: kr-inventory watches Runnables in every
    # cluster (they live on the hub).
    "$bin/kr-apiserver" --port 0 --tls-cert "$work/server.crt" --tls-key "$work/server.key" \
        --token "admin-token:admin" --load "$work/namespaces.yaml" \
        --load "$here/deploy/crds/runnables.kreconcile.io.yaml" \
        --kubeconfig-out "$work/$1.kubeconfig" >"$work/$1.url" 2>"$work/$1-apiserver.log" &
    pids="$pids $!"
    eval "${1}_pid=$!"
}
for c in hub dc1 dc2; do start_cluster $c; done
for c in hub dc1 dc2; do
    wait_for "kr-apiserver '$c' serves HTTPS with token authentication" 10 test -s "$work/$c.url"
    eval "${c}_url=$(head -n 1 "$work/$c.url")"
done

# kube API calls as the cluster admin: api CLUSTER METHOD PATH [JSON BODY]
api() {
    eval "base=\$${1}_url"
    if [ $# -ge 4 ]; then
        curl -sS --cacert "$work/server.crt" -H "Authorization: Bearer admin-token" \
            -H "Content-Type: application/json" -X "$2" -d "$4" "$base$3"
    else
        curl -sS --cacert "$work/server.crt" -H "Authorization: Bearer admin-token" \
            -X "$2" "$base$3"
    fi
}
status_of() { # CLUSTER PATH -> HTTP status of a GET
    eval "base=\$${1}_url"
    curl -s -o /dev/null -w '%{http_code}' --cacert "$work/server.crt" \
        -H "Authorization: Bearer admin-token" "$base$2"
}
has() { # CLUSTER PATH TEXT: the object at PATH contains TEXT
    api "$1" GET "$2" | grep -q "$3"
}
gone() { [ "$(status_of "$1" "$2")" = 404 ]; }
merge_patch() { # CLUSTER PATH BODY
    eval "base=\$${1}_url"
    curl -sS --cacert "$work/server.crt" -H "Authorization: Bearer admin-token" \
        -H 'Content-Type: application/merge-patch+json' -X PATCH -d "$3" "$base$2" >/dev/null
}

# ---- the programs -------------------------------------------------------------

clusters="--cluster dc1=$work/dc1.kubeconfig --cluster dc2=$work/dc2.kubeconfig"
common="--kubeconfig $work/hub.kubeconfig $clusters --listen 127.0.0.1:0 --log-format text
 --kube-api-qps 100 --kube-api-burst 200"
inventory_db="sqlite://$work/inventory.db"
run_program() { # NAME LOG ARGS...
    name=$1 log=$2
    shift 2
    # shellcheck disable=SC2086
    "$bin/$name" "$@" >>"$work/$log.log" 2>&1 &
    pids="$pids $!"
    last_pid=$!
}
address_of() { # LOG -> the address the program's HTTP endpoint serves on
    sed -n 's/.*serving \/healthz, \/readyz, \/metrics on \([0-9.:]*\).*/\1/p' "$work/$1.log" |
        tail -n 1
}

cat >"$work/tokens.csv" <<'EOF'
alice-token,alice,1001,"ml-team"
bob-token,bob,1002,"approvers"
carol-token,carol,1003,"approvers"
EOF

step "starting the platform"
# shellcheck disable=SC2086
run_program kr-inventory kr-inventory $common --inventory "$inventory_db"
# shellcheck disable=SC2086
run_program kr-syncer kr-syncer $common --namespace apps --inventory "$inventory_db"
syncer_pid=$last_pid
for r in 1 2; do
    # shellcheck disable=SC2086
    run_program kr-submitter "kr-submitter-$r" serve $common --leader-elect \
        --lease-namespace default --token-auth-file "$work/tokens.csv" --token-review \
        --failover-after 5s \
        --inventory "$inventory_db"
    eval "submitter${r}_pid=$last_pid"
done
serving() { test -n "$(address_of "$1")"; }
for l in kr-inventory kr-syncer kr-submitter-1 kr-submitter-2; do
    wait_for "$l serves /healthz" 20 serving $l
done
inventory_url="http://$(address_of kr-inventory)"
submitter_url="http://$(address_of kr-submitter-1)"
leader_elected() { grep -q "started leading" "$work"/kr-submitter-*.log; }
wait_for "two kr-submitter replicas elected one leader" 20 leader_elected
[ "$(grep -l "started leading" "$work"/kr-submitter-*.log | wc -l)" = 1 ] ||
    fail "both kr-submitter replicas lead"
ok "exactly one of them leads; both serve the API"
sub() { # USER VERB ARGS...: the kr-submitter CLI as USER
    u=$1
    shift
    "$bin/kr-submitter" "$@" --server "$submitter_url" --token "$u-token"
}

# ---- 1. deployables -----------------------------------------------------------

step "1. deployables: a ConfigMap and a Secret on the hub reach both datacenters"
api hub POST /api/v1/namespaces/apps/configmaps \
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"level":"1"}}' \
    >/dev/null
api hub POST /api/v1/namespaces/apps/secrets \
    '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds"},"stringData":{"password":"s3cret"}}' \
    >/dev/null
for dc in dc1 dc2; do
    wait_for "configmap apps/settings is in $dc" 20 has $dc /api/v1/namespaces/apps/configmaps/settings '"level":"1"'
    wait_for "secret apps/creds is in $dc" 20 has $dc /api/v1/namespaces/apps/secrets/creds '"password"'
done
merge_patch hub /api/v1/namespaces/apps/configmaps/settings '{"data":{"level":"2"}}'
for dc in dc1 dc2; do
    wait_for "an edit on the hub reaches $dc" 20 has $dc /api/v1/namespaces/apps/configmaps/settings '"level":"2"'
done
api dc2 DELETE /api/v1/namespaces/apps/configmaps/settings >/dev/null
wait_for "a copy deleted by hand in dc2 comes back" 20 has dc2 /api/v1/namespaces/apps/configmaps/settings '"level":"2"'
has hub /api/v1/namespaces/apps/configmaps/settings 'kreconcile.io/sync-status' ||
    fail "the hub object carries no sync-status"
ok "the hub object records each cluster's verified sync-status"

# ---- 2. a runnable with approval ------------------------------------------------

step "2. a broken Job is refused at submit; a Job submitted by alice waits for approval; bob approves; it runs in dc1"
cat >"$work/report.yaml" <<'EOF'
apiVersion: kreconcile.io/v1alpha1
kind: Runnable
metadata:
  name: report
  namespace: apps
spec:
  clusters: [dc1, dc2]
  approval: {required: 1, group: approvers}
  template:
    apiVersion: batch/v1
    kind: Job
    metadata: {name: report}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: report, image: busybox, command: [echo, done]}]
EOF
sed -e 's/name: report$/name: broken/' -e 's/restartPolicy: Never/restartPolicy: Always/' \
    "$work/report.yaml" >"$work/broken.yaml"
if sub alice submit -f "$work/broken.yaml" >"$work/broken.out" 2>&1; then
    fail "a Job whose pods restart Always was accepted"
fi
grep -q "cluster dc1 refuses the template: .*(HTTP 422)" "$work/broken.out" ||
    fail "the broken Job was not refused in dc1's words: $(cat "$work/broken.out")"
sub alice get apps/broken >/dev/null 2>&1 && fail "the refused runnable was recorded"
ok "a Job whose pods restart Always is refused at submit (dc1's dry run says why), nothing recorded"
sub alice submit -f "$work/report.yaml" >/dev/null || fail "alice could not submit"
phase() { sub alice get apps/"$1" -o json | grep -q "\"phase\": *\"$2\""; }
wait_for "runnable apps/report is AwaitingApproval" 20 phase report AwaitingApproval
if sub alice approve apps/report >"$work/self-approve.out" 2>&1; then
    fail "alice approved her own runnable"
fi
grep -q 403 "$work/self-approve.out" || fail "self-approval was not refused with 403"
ok "alice's own approval is refused (403)"
sub bob approve apps/report >/dev/null || fail "bob's approval failed"
ok "bob (approvers) approves"
verified() {
    sub alice get apps/"$1" -o json | grep -q '"verified": *true' &&
        sub alice get apps/"$1" -o json | grep -q "\"cluster\": *\"$2\""
}
wait_for "it is dispatched to dc1 and verified (dc1's informer saw the create's resourceVersion)" \
    20 verified report dc1
job=$(api dc1 GET "/apis/batch/v1/namespaces/apps/jobs?labelSelector=kreconcile.io%2Fmanaged-by%3Dkr-submitter" |
    grep -o '"name":"report-[0-9]*"' | head -n 1 | sed 's/"name":"\(.*\)"/\1/')
[ -n "$job" ] || fail "no Job for apps/report in dc1"
ok "Job apps/$job exists in dc1 (nothing runs pods here: the demo marks it complete)"
complete() { # CLUSTER JOB: set the Job's Complete condition, as a cluster would
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    merge_patch "$1" "/apis/batch/v1/namespaces/apps/jobs/$2/status" \
        "{\"status\":{\"startTime\":\"$now\",\"completionTime\":\"$now\",\"succeeded\":1,\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"}]}}"
}
complete dc1 "$job"
wait_for "runnable apps/report is Succeeded" 20 phase report Succeeded
events_of() { # NAME REASON...: the hub holds an Event of each reason about apps/NAME
    out=$(api hub GET "/api/v1/namespaces/apps/events?fieldSelector=involvedObject.name%3D$1")
    shift
    for reason in "$@"; do
        echo "$out" | grep -q "\"reason\":\"$reason\"" || return 1
    done
}
wait_for "the hub holds the Events of apps/report that kubectl describe lists: Approved, Dispatched, Succeeded" \
    20 events_of report Approved Dispatched Succeeded
# a caller the token file does not know: a service account of the hub,
# whose token the submitters ask the hub about (TokenReview)
api hub POST /api/v1/namespaces/apps/serviceaccounts \
    '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"ci-bot"}}' >/dev/null
sa_token=$(api hub POST /api/v1/namespaces/apps/serviceaccounts/ci-bot/token \
    '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}' |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$sa_token" ] || fail "the hub issued no token for apps/ci-bot"
"$bin/kr-submitter" whoami --server "$submitter_url" --token "$sa_token" >"$work/whoami.out" 2>&1 &&
    grep -q "Username    system:serviceaccount:apps:ci-bot" "$work/whoami.out" ||
    fail "the submitters do not take ci-bot's token for ci-bot: $(cat "$work/whoami.out")"
sed -e 's/name: report$/name: ci-check/' "$work/report.yaml" >"$work/ci-check.yaml"
"$bin/kr-submitter" submit -f "$work/ci-check.yaml" -o json --server "$submitter_url" \
    --token "$sa_token" >"$work/ci-check.out" 2>&1 || fail "ci-bot could not submit: $(cat "$work/ci-check.out")"
grep -q '"submittedBy": *"system:serviceaccount:apps:ci-bot"' "$work/ci-check.out" ||
    fail "apps/ci-check was not recorded as ci-bot's"
ok "ci-bot, a service account the hub vouches for (TokenReview), submits apps/ci-check"
sub carol reject apps/ci-check >/dev/null || fail "carol could not reject apps/ci-check"
wait_for "carol (approvers) rejects it: apps/ci-check is Rejected" 20 phase ci-check Rejected

# ---- 3. failover ----------------------------------------------------------------

step "3. dc1 goes away; a new runnable fails over to dc2; dc1 returns"
admin() { # CLUSTER PATH [BODY]: the test server's admin endpoints
    curl -sS --cacert "$work/server.crt" -H "Authorization: Bearer admin-token" \
        -H 'Content-Type: application/json' -X POST -d "${3:-{\}}" "$(eval echo "\$${1}_url")$2"
}
admin dc1 /_kr/faults '{"fail503":1}' >/dev/null
ok "dc1 answers only 503 (a datacenter down)"
sed -e 's/name: report$/name: nightly/' -e '/approval:/d' "$work/report.yaml" >"$work/nightly.yaml"
sub alice submit -f "$work/nightly.yaml" >/dev/null || fail "alice could not submit apps/nightly"
wait_for "apps/nightly fails over to dc2 after --failover-after (5s) and is verified there" 60 \
    verified nightly dc2
job2=$(api dc2 GET "/apis/batch/v1/namespaces/apps/jobs?labelSelector=kreconcile.io%2Fmanaged-by%3Dkr-submitter" |
    grep -o '"name":"nightly-[0-9]*"' | head -n 1 | sed 's/"name":"\(.*\)"/\1/')
complete dc2 "$job2"
wait_for "apps/nightly is Succeeded in dc2" 20 phase nightly Succeeded
admin dc1 /_kr/faults '{"fail503":0}' >/dev/null
wait_for "dc1 is back" 10 test "$(status_of dc1 /api/v1/namespaces/apps/configmaps)" = 200
no_nightly_in_dc1() {
    api dc1 GET /apis/batch/v1/namespaces/apps/jobs >"$work/dc1-jobs.json" &&
        grep -q '"kind":"JobList"' "$work/dc1-jobs.json" &&
        ! grep -q '"name":"nightly-' "$work/dc1-jobs.json"
}
wait_for "no copy of apps/nightly is left in dc1: it ran once" 30 no_nightly_in_dc1
wait_for "dc1 catches up: the hub's ConfigMap is still there" 20 has dc1 /api/v1/namespaces/apps/configmaps/settings '"level":"2"'

# ---- 4. a zombie ------------------------------------------------------------------

step "4. a zombie planted while kr-syncer is down; kr-sweeper finds and removes it"
kill "$syncer_pid"
wait "$syncer_pid" 2>/dev/null
ok "kr-syncer stopped"
# The delete never reaches the workload clusters: the finalizer is taken
# off by hand (as a lost event would leave it) and the hub object deleted.
merge_patch hub /api/v1/namespaces/apps/secrets/creds '{"metadata":{"finalizers":null}}'
api hub DELETE /api/v1/namespaces/apps/secrets/creds >/dev/null
wait_for "secret apps/creds is gone from the hub" 10 gone hub /api/v1/namespaces/apps/secrets/creds
has dc1 /api/v1/namespaces/apps/secrets/creds creds || fail "the copy in dc1 is already gone"
ok "its copies stay behind in dc1 and dc2: zombies"
# shellcheck disable=SC2086
"$bin/kr-sweeper" --kubeconfig "$work/hub.kubeconfig" $clusters --listen 0 --log-format text \
    --once --dry-run --grace 0s >"$work/plan.txt" 2>>"$work/kr-sweeper.log" || fail "the dry run failed"
sed 's/^/     /' "$work/plan.txt"
[ "$(grep -c 'creds .*source gone .*planned' "$work/plan.txt")" = 2 ] ||
    fail "the plan does not list the two zombies"
ok "the dry run plans exactly the two zombies and deletes nothing"
# shellcheck disable=SC2086
"$bin/kr-sweeper" --kubeconfig "$work/hub.kubeconfig" $clusters --listen 0 --log-format text \
    --once --grace 0s >"$work/sweep.txt" 2>>"$work/kr-sweeper.log" || fail "the sweep failed"
gone dc1 /api/v1/namespaces/apps/secrets/creds && gone dc2 /api/v1/namespaces/apps/secrets/creds ||
    fail "the zombies are still there"
has dc1 /api/v1/namespaces/apps/configmaps/settings settings || fail "the sweep took a live copy"
ok "the sweep removed them (uid + resourceVersion preconditions) and nothing else"

# ---- 5. books -----------------------------------------------------------------------

step "5. the books: one runnable's history, and the inventory's page"
sub alice history apps/report | sed 's/^/     /' || echo "     (history not available)"
wait_for "the inventory lists the runnables" 20 sh -c "curl -s '$inventory_url/api/v1/objects?kind=Runnable' | grep -q nightly"
ok "live page: $inventory_url/"

echo
echo "demo: every step checked out in $(($(date +%s) - started)) s"
