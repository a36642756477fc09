#!/bin/sh
# Demo of kr-apiserver: start it on a free port, drive it with curl (and
# kubectl when present): create, list, watch, patch, delete; check every
# answer; stop it. Usage: demo.sh <bin dir>. Cleans up on exit.
set -eu
bin=$1
work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

fail() { echo "demo: FAILED: $*" >&2; exit 1; }
check() { # check <what> <got> <want>
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
    echo "ok   $1"
}

"$bin/kr-apiserver" --port 0 --kubeconfig-out "$work/kubeconfig" >"$work/url" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/url" ] && break; sleep 0.05; done
url=$(head -n 1 "$work/url")
[ -n "$url" ] || fail "kr-apiserver did not start: $(cat "$work/err")"
echo "kr-apiserver serving $url"
api="$url/api/v1/namespaces/default/configmaps"

code=$(curl -s -o "$work/out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"demo","labels":{"app":"demo"}},"data":{"a":"1"}}' "$api")
check "create configmap/demo" "$code" 201
rv=$(sed -n 's/.*"resourceVersion":"\([0-9]*\)".*/\1/p' "$work/out")

curl -sN "$api?watch=true&resourceVersion=$rv&timeoutSeconds=2" >"$work/watch" &
watcher=$!  # from $rv: history replay makes the start order irrelevant

code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH \
    -H 'Content-Type: application/merge-patch+json' -d '{"data":{"b":"2"}}' "$api/demo")
check "merge patch" "$code" 200
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH \
    -H 'Content-Type: application/strategic-merge-patch+json' -d '{"data":{"c":"3"}}' "$api/demo")
check "strategic merge patch" "$code" 200
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/json-patch+json' \
    -d '[{"op":"remove","path":"/data/a"}]' "$api/demo")
check "JSON patch" "$code" 200
data=$(curl -s "$api/demo" | sed -n 's/.*"data":\({[^}]*}\).*/\1/p')
check "data after three patches" "$data" '{"b":"2","c":"3"}'
names=$(curl -s "$api?labelSelector=app%3Ddemo" | grep -o '"name":"demo"' | wc -l | tr -d ' ')
check "list with labelSelector" "$names" 1

code=$(curl -s -o "$work/out" -w '%{http_code}' -X DELETE "$api/demo")
check "delete" "$code" 200
code=$(curl -s -o /dev/null -w '%{http_code}' "$api/demo")
check "get after delete" "$code" 404

wait "$watcher" || true
events=$(sed -n 's/^{"type":"\([A-Z]*\)".*/\1/p' "$work/watch" | tr '\n' ' ')
check "watch events" "$events" "MODIFIED MODIFIED MODIFIED DELETED "

if command -v kubectl >/dev/null 2>&1; then
    k() { kubectl --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" "$@"; }
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kdemo\ndata:\n  x: "1"\n' >"$work/cm.yaml"
    check "kubectl apply" "$(k apply -f "$work/cm.yaml")" "configmap/kdemo created"
    check "kubectl get" "$(k get cm kdemo -o jsonpath='{.data.x}')" 1
    check "kubectl patch" "$(k patch cm kdemo --type=merge -p '{"data":{"x":"2"}}')" \
        "configmap/kdemo patched"
    check "kubectl delete" "$(k delete cm kdemo)" 'configmap "kdemo" deleted'
else
    echo "skip kubectl part: kubectl is not on PATH"
fi
echo "demo: kr-apiserver OK"
