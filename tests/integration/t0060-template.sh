#!/bin/bash
# t0060-template: templates (a template: file, and {{ }} in content)
# render vars, facts and sections over lists; --var overrides vars:; a
# template path is relative to the manifest's directory.
. "$(dirname "$0")/lib.sh"

mkdir -p "$ROOT/etc" "$T/site/templates"
cat >"$T/site/templates/app.conf.tmpl" <<'EOF'
# managed by tend
listen = {{ http_port }}
host = {{ facts.hostname }}
{{#backends}}
backend {{ name }} = {{ addr }}
{{/backends}}
admins = {{ admins | join(",") }}
EOF
cat >"$T/site/site.yaml" <<'EOF'
vars:
  http_port: 8080
  greeting: hello
  admins: [alice, bob]
  backends:
    - name: one
      addr: 10.0.0.1
    - name: two
      addr: 10.0.0.2
resources:
  - file: /etc/app.conf
    template: templates/app.conf.tmpl
    mode: "0644"
  - file: /etc/motd
    content: "{{ greeting }} from {{ facts.hostname }}\n"
EOF

step "the facts command reports a hostname"
expect_exit 0 tend facts --json hostname
host=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])))' "$OUT")
check "the hostname fact is not empty" test -n "$host"

expected_conf() { # PORT
	printf '%s\n' "# managed by tend" "listen = $1" "host = $host" \
		"backend one = 10.0.0.1" "backend two = 10.0.0.2" "admins = alice,bob"
}

step "a template file renders vars, facts and a section over a list"
# from another directory: the template path is relative to the manifest
mkdir "$T/cwd"
cd "$T/cwd"
expect_exit 0 tend apply "$T/site/site.yaml"
cd "$T"
assert_file_content "$ROOT/etc/app.conf" "$(expected_conf 8080)"$'\n'
assert_file_content "$ROOT/etc/motd" "hello from $host"$'\n'
expect_exit 0 tend plan "$T/site/site.yaml"

step "--var overrides a var from the manifest"
expect_exit 2 tend plan --var http_port=9090 "$T/site/site.yaml"
stdout_matches '^~ file:/etc/app.conf: .*content'
stdout_matches '^ +-listen = 8080$'
stdout_matches '^ +\+listen = 9090$'
expect_exit 0 tend apply --var http_port=9090 --var greeting=hi "$T/site/site.yaml"
assert_file_content "$ROOT/etc/app.conf" "$(expected_conf 9090)"$'\n'
assert_file_content "$ROOT/etc/motd" "hi from $host"$'\n'
expect_exit 0 tend plan --var http_port=9090 --var greeting=hi "$T/site/site.yaml"

step "without the override the manifest's value comes back"
expect_exit 0 tend apply "$T/site/site.yaml"
summary_is "2 changed, 0 ok, 0 failed, 0 skipped"
assert_file_content "$ROOT/etc/app.conf" "$(expected_conf 8080)"$'\n'

step "a changed template file is a content change"
echo "extra = yes" >>"$T/site/templates/app.conf.tmpl"
expect_exit 2 tend plan "$T/site/site.yaml"
expect_exit 0 tend apply "$T/site/site.yaml"
assert_file_content "$ROOT/etc/app.conf" "$(expected_conf 8080)"$'\n'"extra = yes"$'\n'

step "any string attribute is a template, not only content"
cat >attrs.yaml <<'EOF'
vars:
  perm: "0600"
  conf: app.d
resources:
  - file: /etc/moded
    content: "x\n"
    mode: "{{ perm }}"
  - line: "enabled=1"
    path: "/etc/{{ conf }}"
    create: true
EOF
expect_exit 0 tend apply attrs.yaml
assert_mode "$ROOT/etc/moded" 600
assert_lines "$ROOT/etc/app.d" "enabled=1"
expect_exit 0 tend plan attrs.yaml

step "--var supplies a variable the manifest does not define"
cat >onlyvar.yaml <<'EOF'
resources:
  - file: /etc/role
    content: "role={{ role }}\n"
EOF
expect_exit 0 tend apply --var role=db onlyvar.yaml
assert_file_content "$ROOT/etc/role" $'role=db\n'

done_testing
