#!/bin/sh
# Makes Loki's ruler hold exactly the rule groups in $RULES_DIR under the ruler namespace $RULES_NAMESPACE:
# each group is posted (the ruler replaces a group of the same name), then every other group of that
# namespace is deleted. Other namespaces (teams' own rules) are never read or touched.
#
# Each request retries with curl's back-off (connection refused, timeouts, 408, 429, 5xx; Retry-After is
# honoured) for at most RETRY_MAX_TIME seconds. A group the ruler refuses (another 4xx) fails the Job with
# the ruler's answer, and the `pulumi up` that created the Job with it.
set -eu

url="${LOKI_URL%/}/loki/api/v1/rules/${RULES_NAMESPACE}"
body="${TMPDIR:-/tmp}/ruler-answer"

request() {
  curl --silent --show-error --retry "${RETRIES:-10}" --retry-connrefused --retry-max-time "${RETRY_MAX_TIME:-300}" \
    --max-time 30 --output "$body" --write-out '%{http_code}' "$@"
}

fail() {
  echo "$1: HTTP $2: $(cat "$body" 2>/dev/null)" >&2
  exit 1
}

shipped=" "
for file in "$RULES_DIR"/*.yaml; do
  name=$(sed -n 's/^name: *//p' "$file" | head -n 1 | tr -d "\"'")
  code=$(request -X POST -H "Content-Type: application/yaml" --data-binary "@$file" "$url")
  case "$code" in 2??) echo "pushed $name" ;; *) fail "pushing $name" "$code" ;; esac
  shipped="$shipped$name "
done

# The namespace's groups as the ruler lists them (404: it holds none).
code=$(request "$url")
case "$code" in
  2??) ;;
  404) exit 0 ;;
  *) fail "listing $RULES_NAMESPACE" "$code" ;;
esac
# A group's `name` is a key of a list item of the namespace (the first list item sets their indentation);
# rules and labels sit deeper, so their own `name` keys are not read.
listed=$(awk -v ind=-1 '
  ind < 0 && /^ *- / { ind = index($0, "-") - 1 }
  ind >= 0 {
    head = substr($0, 1, ind + 2); rest = substr($0, ind + 3)
    if ((head ~ /^ *- $/ || head ~ /^ *$/) && rest ~ /^name: /) { sub(/^name: */, "", rest); gsub(/["\047]/, "", rest); print rest }
  }' "$body")
for name in $listed; do
  case "$shipped" in *" $name "*) continue ;; esac
  code=$(request -X DELETE "$url/$name")
  case "$code" in 2??|404) echo "deleted $name" ;; *) fail "deleting $name" "$code" ;; esac
done
