#!/usr/bin/env bash
# test_exporter_config.sh: `cmon exporter` refuses a bad blackbox.yml before
# it listens: exit 1 and one line naming FILE:LINE:COLUMN, the module and the
# option, for an unknown prober, one cmon does not run (grpc), an unsupported
# option, a body regexp that does not compile, an HTTP version no answer can
# have, bad YAML and a missing file; a usage error is exit 2.  Nothing here probes or
# listens (the configuration is read first).
set -u
: "${CMON:?set CMON to the cmon binary}"
T=$(mktemp -d /tmp/cmec.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

expect() { # NAME EXIT REGEX (YAML on stdin)
    local name=$1 want=$2 re=$3 out rc=0
    cat >"$T/$name.yml"
    out=$(timeout 20 "$CMON" exporter --config.file "$T/$name.yml" --listen 127.0.0.1:1 2>&1) || rc=$?
    [ "$rc" = "$want" ] || fail "$name: exit $rc, expected $want: $out"
    [[ "$out" =~ $re ]] || fail "$name: '$out' does not match /$re/"
    echo "ok: $name -> exit $rc: $out"
}

expect unknown_prober 1 "^cmon exporter: $T/unknown_prober.yml:4:13: module 'web': unknown prober 'htp' \(cmon exporter runs http, tcp, icmp and dns\)$" <<'EOF'
modules:
  ok: {prober: tcp}
  web:
    prober: htp
EOF
expect grpc_prober 1 "grpc_prober.yml:3:13: module 'g': prober 'grpc' is not supported by cmon exporter" <<'EOF'
modules:
  g:
    prober: grpc
    grpc: {service: s1}
EOF
expect unsupported_option 1 "unsupported_option.yml:5:7: module 'api': option 'http.oauth2' is not supported by cmon exporter: only basic_auth and bearer_token\(_file\) are supported$" <<'EOF'
modules:
  api:
    prober: http
    http:
      oauth2: {client_id: x}
EOF
expect bad_regexp 1 "bad_regexp.yml:6:37: module 'body': http.fail_if_body_matches_regexp: '\(\[' is not a POSIX extended regular expression: " <<'EOF'
modules:
  body:
    prober: http
    http:
      method: GET
      fail_if_body_matches_regexp: ["(["]
EOF
expect bad_http_version 1 "bad_http_version.yml:5:41: module 'v': http.valid_http_versions: 'HTTP/2' never matches" <<'EOF'
modules:
  v:
    prober: http
    http:
      valid_http_versions: ["HTTP/1.1", "HTTP/2"]
EOF
expect bad_yaml 1 "bad_yaml.yml:4:[0-9]+: not valid YAML: " <<'EOF'
modules:
  x:
    prober: tcp
   timeout: 5s
EOF
expect typo 1 "typo.yml:5:7: module 'h': unknown option 'http.valid_status_code' \(did you mean 'valid_status_codes'\?\)$" <<'EOF'
modules:
  h:
    prober: http
    http:
      valid_status_code: [200]
EOF
out=$("$CMON" exporter --config.file "$T/none.yml" 2>&1); rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"$T/none.yml: No such file or directory"* ]] ||
    fail "missing file: exit $rc: $out"
echo "ok: missing file -> exit 1: $out"
out=$("$CMON" exporter --threads 0 2>&1); rc=$?
[ "$rc" = 2 ] || fail "usage error: exit $rc: $out"
echo "ok: usage error -> exit 2"
echo PASS
