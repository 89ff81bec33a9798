#!/bin/bash
# t0065-file-url: a file's source may be an http URL served by a real
# server on loopback; its sha256 is required and checked.  A checksum
# mismatch or an HTTP error writes nothing and exits 1.
. "$(dirname "$0")/lib.sh"

# the server is on loopback: no proxy from the environment may intercept it
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
mkdir -p "$ROOT/etc" "$T/www"
printf 'served over http\n' >"$T/www/app.conf"
SUM=$(sha256sum "$T/www/app.conf" | cut -d' ' -f1)
WRONG=$(printf 'something else' | sha256sum | cut -d' ' -f1)

# A loopback server on a free port; it writes the port, then one line per GET.
cat >server.py <<'EOF'
import functools, http.server, sys
www, portfile, log = sys.argv[1:4]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        with open(log, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
srv = http.server.HTTPServer(("127.0.0.1", 0), functools.partial(H, directory=www))
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
EOF
bg python3 server.py "$T/www" "$T/port" "$T/access.log"
for i in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || skip "could not start a loopback HTTP server"
URL=http://127.0.0.1:$(cat "$T/port")

cat >site.yaml <<EOF
resources:
  - file: /etc/app.conf
    source: $URL/app.conf
    sha256: $SUM
    mode: "0640"
EOF

step "a URL source with the right sha256 is downloaded and written"
expect_exit 2 tend plan site.yaml
expect_exit 0 tend apply site.yaml
assert_same_file "$ROOT/etc/app.conf" "$T/www/app.conf"
assert_mode "$ROOT/etc/app.conf" 640
check "the server saw the request" grep -q "^GET /app.conf" "$T/access.log"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan site.yaml

step "drift from the downloaded content is corrected"
echo tampered >"$ROOT/etc/app.conf"
expect_exit 0 tend apply site.yaml
assert_same_file "$ROOT/etc/app.conf" "$T/www/app.conf"

step "a sha256 mismatch writes nothing"
cat >wrong.yaml <<EOF
resources:
  - file: /etc/wrong.conf
    source: $URL/app.conf
    sha256: $WRONG
EOF
expect_exit 1 tend apply wrong.yaml
stdout_lacks_match '^changed '
check "the error names the sha256 mismatch" grep -qE "sha256|checksum" "$OUT" "$ERR"
assert_absent "$ROOT/etc/wrong.conf"

step "an HTTP error writes nothing"
cat >missing.yaml <<EOF
resources:
  - file: /etc/missing.conf
    source: $URL/no-such-file
    sha256: $SUM
EOF
expect_exit 1 tend apply missing.yaml
assert_absent "$ROOT/etc/missing.conf"
check "the error mentions the URL or the status" grep -qE "404|no-such-file" "$OUT" "$ERR"

step "a URL source without sha256 is bad input"
cat >nosum.yaml <<EOF
resources:
  - file: /etc/nosum.conf
    source: $URL/app.conf
EOF
expect_exit 1 tend apply nosum.yaml
stderr_matches '^tend: ([^ ]*/)?nosum\.yaml:3:[0-9]+: .*sha256'
assert_absent "$ROOT/etc/nosum.conf"

done_testing
