package main

// Contract tests: the stand-in behaves as the official command provider 1.2.1 does, checked
// through its gRPC methods against real OpenSSH servers on loopback.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Status(_ context.Context, _ diag.Severity, _ resource.URN, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, msg)
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

const (
	cmdURN  = "urn:pulumi:test::proj::command:remote:Command::node"
	copyURN = "urn:pulumi:test::proj::command:remote:CopyToRemote::upload"
)

func connOf(s *testSshd) resource.PropertyValue {
	return resource.NewObjectProperty(resource.PropertyMap{
		"host":       resource.NewStringProperty(s.Addr),
		"port":       resource.NewNumberProperty(float64(s.Port)),
		"user":       resource.NewStringProperty(s.User),
		"privateKey": resource.MakeSecret(resource.NewStringProperty(s.Key)),
	})
}

func props(kv ...any) resource.PropertyMap {
	m := resource.PropertyMap{}
	for i := 0; i < len(kv); i += 2 {
		v := kv[i+1]
		switch x := v.(type) {
		case string:
			m[resource.PropertyKey(kv[i].(string))] = resource.NewStringProperty(x)
		case resource.PropertyValue:
			m[resource.PropertyKey(kv[i].(string))] = x
		}
	}
	return m
}

func mustMarshal(t *testing.T, m resource.PropertyMap) *pulumirpc.CreateRequest {
	t.Helper()
	s, err := marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return &pulumirpc.CreateRequest{Properties: s}
}

// check runs Check as the engine does before every create or update and returns the checked inputs.
func check(t *testing.T, srv *server, urn string, in resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	s, _ := marshal(in)
	resp, err := srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urn, News: s})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if len(resp.Failures) > 0 {
		t.Fatalf("check failures: %v", resp.Failures)
	}
	out, err := unmarshal(resp.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func create(t *testing.T, srv *server, urn string, in resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	t.Helper()
	req := mustMarshal(t, in)
	req.Urn, req.Preview = urn, preview
	resp, err := srv.Create(context.Background(), req)
	if err != nil {
		return nil, err
	}
	out, uerr := unmarshal(resp.Properties)
	if uerr != nil {
		t.Fatal(uerr)
	}
	if !preview && resp.Id == "" {
		t.Fatalf("created without an id")
	}
	return out, nil
}

func update(t *testing.T, srv *server, urn string, olds, news resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	t.Helper()
	o, _ := marshal(olds)
	n, _ := marshal(news)
	resp, err := srv.Update(context.Background(), &pulumirpc.UpdateRequest{Urn: urn, Id: "x", Olds: o, News: n, Preview: preview})
	if err != nil {
		return nil, err
	}
	out, _ := unmarshal(resp.Properties)
	return out, nil
}

func diff(t *testing.T, srv *server, urn string, oldInputs, state, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	oi, _ := marshal(oldInputs)
	st, _ := marshal(state)
	n, _ := marshal(news)
	resp, err := srv.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: urn, Id: "x", OldInputs: oi, Olds: st, News: n})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestCheckAppliesDefaultsAndKeepsConnectionSecret(t *testing.T) {
	srv := newServerWithLogger(&recorder{})
	in := props("connection", resource.NewObjectProperty(props("host", "h1")), "create", "true")
	out := check(t, srv, cmdURN, in)
	c := out["connection"]
	if !c.IsSecret() {
		t.Fatalf("connection must be secret after check, got %v", c)
	}
	obj := c.SecretValue().Element.ObjectValue()
	if obj["user"].StringValue() != "root" || obj["port"].NumberValue() != 22 ||
		obj["dialErrorLimit"].NumberValue() != 10 || obj["perDialTimeout"].NumberValue() != 15 {
		t.Fatalf("defaults not applied: %v", obj)
	}
	s, _ := marshal(props("create", "true"))
	resp, err := srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: cmdURN, News: s})
	if err != nil || len(resp.Failures) != 1 || resp.Failures[0].Property != "connection" {
		t.Fatalf("a missing connection must be a check failure: %v %v", resp, err)
	}
}

func TestCommandLifecycle(t *testing.T) {
	s := startSshd(t, randomLoopback())
	rec := &recorder{}
	srv := newServerWithLogger(rec)
	dir := t.TempDir()
	marker := filepath.Join(dir, "created")

	in := check(t, srv, cmdURN, props(
		"connection", connOf(s),
		"create", "touch "+marker+"; echo out-line; echo err-line >&2",
		"delete", `printf '%s|%s' "$PULUMI_COMMAND_STDOUT" "$PULUMI_COMMAND_STDERR" > `+filepath.Join(dir, "deleted"),
		"triggers", resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("v1")}),
	))

	// Preview runs nothing; the outputs are unknown.
	pv, err := create(t, srv, cmdURN, in, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("preview ran the create command")
	}
	if !pv["stdout"].IsComputed() || !pv["stderr"].IsComputed() {
		t.Fatalf("preview outputs must be unknown: %v", pv)
	}

	st, err := create(t, srv, cmdURN, in, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("create did not run")
	}
	if st["stdout"].StringValue() != "out-line" || st["stderr"].StringValue() != "err-line" {
		t.Fatalf("outputs: stdout %q stderr %q", st["stdout"].StringValue(), st["stderr"].StringValue())
	}
	if !st["connection"].IsSecret() {
		t.Fatal("connection must stay secret in the state")
	}
	if !strings.Contains(rec.all(), "out-line") || !strings.Contains(rec.all(), "err-line") {
		t.Fatalf("output lines must be streamed to the progress display: %q", rec.all())
	}

	// No change: no diff. A change to `create`: an update, no replacement.
	if d := diff(t, srv, cmdURN, in, st, in); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("unchanged inputs must give no diff: %v", d)
	}
	changed := in.Copy()
	changed["create"] = resource.NewStringProperty("echo updated-by-create; echo \"prev=$PULUMI_COMMAND_STDOUT\"")
	d := diff(t, srv, cmdURN, in, st, changed)
	if d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 0 || len(d.Diffs) != 1 || d.Diffs[0] != "create" {
		t.Fatalf("a create change must be an in-place update: %v", d)
	}
	// A change to triggers replaces.
	retrig := in.Copy()
	retrig["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("v2")})
	if d := diff(t, srv, cmdURN, in, st, retrig); len(d.Replaces) != 1 || d.Replaces[0] != "triggers" {
		t.Fatalf("a triggers change must replace: %v", d)
	}

	// Update without `update` runs `create`, with the previous stdout in the environment.
	up, err := update(t, srv, cmdURN, st, changed, false)
	if err != nil {
		t.Fatal(err)
	}
	if up["stdout"].StringValue() != "updated-by-create\nprev=out-line" {
		t.Fatalf("update output: %q", up["stdout"].StringValue())
	}
	// Update with `update` runs it; preview runs nothing and leaves the outputs unknown.
	withUpdate := changed.Copy()
	withUpdate["update"] = resource.NewStringProperty("echo ran-update")
	pu, err := update(t, srv, cmdURN, up, withUpdate, true)
	if err != nil || !pu["stdout"].IsComputed() {
		t.Fatalf("preview update: %v %v", pu, err)
	}
	up2, err := update(t, srv, cmdURN, up, withUpdate, false)
	if err != nil || up2["stdout"].StringValue() != "ran-update" {
		t.Fatalf("update: %v %v", up2, err)
	}

	// Delete runs `delete` with the previous outputs in the environment.
	ds, _ := marshal(up2)
	if _, err := srv.Delete(context.Background(), &pulumirpc.DeleteRequest{Urn: cmdURN, Id: "x", Properties: ds}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "deleted"))
	if err != nil || string(got) != "ran-update|" {
		t.Fatalf("delete: %q %v", got, err)
	}
}

func TestFailedCommandErrorTextAndNoState(t *testing.T) {
	s := startSshd(t, randomLoopback())
	srv := newServerWithLogger(&recorder{})
	// stdout and stderr are two SSH streams, joined as they arrive (the official provider does the same):
	// the pause makes the order of the two lines certain.
	script := "echo before-failure; sleep 0.3; echo to-stderr >&2; exit 3"
	in := check(t, srv, cmdURN, props("connection", connOf(s), "create", script))
	st, err := create(t, srv, cmdURN, in, false)
	if err == nil {
		t.Fatal("a failing command must fail the create")
	}
	if st != nil {
		t.Fatal("a failed create must record no state")
	}
	want := "Process exited with status 3: running \"echo before-failure; sleep 0.3; echo to-stderr >&2; exit 3\":\nbefore-failure\nto-stderr\n"
	if err.Error() != want {
		t.Fatalf("error text:\n got %q\nwant %q", err.Error(), want)
	}
	// A failed update fails the same way (the engine keeps the old state).
	ok := check(t, srv, cmdURN, props("connection", connOf(s), "create", "echo fine"))
	old, err := create(t, srv, cmdURN, ok, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := update(t, srv, cmdURN, old, in, false); err == nil || !strings.HasPrefix(err.Error(), "Process exited with status 3: running ") {
		t.Fatalf("failed update: %v", err)
	}
}

func TestEnvironmentAndStdin(t *testing.T) {
	s := startSshd(t, randomLoopback())
	srv := newServerWithLogger(&recorder{})
	in := check(t, srv, cmdURN, props(
		"connection", connOf(s),
		"create", `echo "env=$SCM_TEST_VALUE"; cat`,
		"environment", resource.NewObjectProperty(props("SCM_TEST_VALUE", "it works")),
		"stdin", "from-stdin",
		"logging", "none",
	))
	st, err := create(t, srv, cmdURN, in, false)
	if err != nil {
		t.Fatal(err)
	}
	if st["stdout"].StringValue() != "env=it works\nfrom-stdin" {
		t.Fatalf("stdout: %q", st["stdout"].StringValue())
	}
	// A variable the server does not accept fails the command, as with the official provider.
	bad := check(t, srv, cmdURN, props("connection", connOf(s), "create", "true",
		"environment", resource.NewObjectProperty(props("NOT_ACCEPTED", "x"))))
	if _, err := create(t, srv, cmdURN, bad, false); err == nil || !strings.Contains(err.Error(), `could not set environment variable "NOT_ACCEPTED"`) {
		t.Fatalf("refused variable: %v", err)
	}
}

func TestDialRetriesAgainstAClosedPort(t *testing.T) {
	rec := &recorder{}
	srv := newServerWithLogger(rec)
	addr := randomLoopback()
	port := freePort(t, addr) // nobody listens there now
	conn := resource.NewObjectProperty(props("host", addr, "user", "nobody",
		"port", resource.NewNumberProperty(float64(port)), "dialErrorLimit", resource.NewNumberProperty(3),
		"password", resource.MakeSecret(resource.NewStringProperty("x"))))
	in := check(t, srv, cmdURN, props("connection", conn, "create", "true"))
	t0 := time.Now()
	_, err := create(t, srv, cmdURN, in, false)
	if err == nil || !strings.HasPrefix(err.Error(), "after 3 failed attempts: dial tcp ") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error: %v", err)
	}
	for _, want := range []string{"Dial 1/3 failed: retrying", "Dial 2/3 failed: retrying", "Dial 3/3 failed: retrying"} {
		if !strings.Contains(rec.all(), want) {
			t.Fatalf("missing status %q in %q", want, rec.all())
		}
	}
	// 100 ms, 150 ms, 225 ms between the four dials (the SDK's backoff).
	if el := time.Since(t0); el < 400*time.Millisecond || el > 5*time.Second {
		t.Fatalf("retry timing off: %v", el)
	}
}

func TestJumpHostThroughProxy(t *testing.T) {
	bastion := startSshd(t, randomLoopback())
	target := startSshd(t, randomLoopback())
	srv := newServerWithLogger(&recorder{})
	conn := connOf(target).ObjectValue().Copy()
	conn["proxy"] = connOf(bastion)
	in := check(t, srv, cmdURN, props("connection", resource.NewObjectProperty(conn), "create", `echo "via $SSH_CONNECTION"`))
	st, err := create(t, srv, cmdURN, in, false)
	if err != nil {
		t.Fatal(err)
	}
	// The target sees the connection coming from the bastion's side of loopback.
	if !strings.HasPrefix(st["stdout"].StringValue(), "via ") || !strings.Contains(st["stdout"].StringValue(), target.Addr) {
		t.Fatalf("stdout: %q", st["stdout"].StringValue())
	}
	// A dead bastion fails with the proxy prefix.
	bastion.stop()
	conn["proxy"] = resource.NewObjectProperty(props("host", bastion.Addr, "port", resource.NewNumberProperty(float64(bastion.Port)),
		"user", bastion.User, "dialErrorLimit", resource.NewNumberProperty(1), "privateKey", resource.MakeSecret(resource.NewStringProperty(bastion.Key))))
	in2 := check(t, srv, cmdURN, props("connection", resource.NewObjectProperty(conn), "create", "true"))
	if _, err := create(t, srv, cmdURN, in2, false); err == nil || !strings.HasPrefix(err.Error(), "proxy: after 1 failed attempts: ") {
		t.Fatalf("dead bastion: %v", err)
	}
}

func TestCopyToRemoteFileAndArchive(t *testing.T) {
	s := startSshd(t, randomLoopback())
	srv := newServerWithLogger(&recorder{})
	local := t.TempDir()
	remote := t.TempDir()
	file := filepath.Join(local, "pkg.tar.gz")
	if err := os.WriteFile(file, []byte("payload-1"), 0o644); err != nil {
		t.Fatal(err)
	}
	asset, err := resource.NewPathAsset(file)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(remote, "up", "pkg.tar.gz")
	in := check(t, srv, copyURN, props("connection", connOf(s), "source", resource.NewAssetProperty(asset), "remotePath", dest))

	if _, err := create(t, srv, copyURN, in, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("preview copied the file")
	}
	st, err := create(t, srv, copyURN, in, false)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "payload-1" {
		t.Fatalf("copied content: %q", b)
	}
	if !st["connection"].IsSecret() {
		t.Fatal("connection must be secret")
	}

	// A folder archive is copied recursively as it is.
	tree := filepath.Join(local, "tree")
	_ = os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	_ = os.WriteFile(filepath.Join(tree, "sub", "a.txt"), []byte("A"), 0o644)
	arch, err := resource.NewPathArchive(tree)
	if err != nil {
		t.Fatal(err)
	}
	ain := check(t, srv, copyURN, props("connection", connOf(s), "source", resource.NewArchiveProperty(arch), "remotePath", filepath.Join(remote, "dirs")))
	if _, err := create(t, srv, copyURN, ain, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(remote, "dirs", "tree", "sub", "a.txt")); string(b) != "A" {
		t.Fatalf("archive copy: %q", b)
	}

	// triggers replace; a source change updates and copies again.
	trig := in.Copy()
	trig["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("t")})
	if d := diff(t, srv, copyURN, in, st, trig); len(d.Replaces) != 1 {
		t.Fatalf("triggers must replace: %v", d)
	}
	_ = os.WriteFile(file, []byte("payload-2"), 0o644)
	asset2, _ := resource.NewPathAsset(file)
	in2 := in.Copy()
	in2["source"] = resource.NewAssetProperty(asset2)
	if d := diff(t, srv, copyURN, in, st, in2); d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 0 {
		t.Fatalf("source change must update: %v", d)
	}
	if _, err := update(t, srv, copyURN, st, in2, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "payload-2" {
		t.Fatalf("update did not copy again: %q", b)
	}
}

func TestStatusTheEngineDidNotTakeGoesToStderr(t *testing.T) {
	var out strings.Builder
	delivered := hostLogger{send: func(context.Context, diag.Severity, resource.URN, string) error { return nil }, stderr: &out}
	delivered.Status(context.Background(), diag.Info, "urn:x", "SCMUP version-before=3.1.2")
	if out.Len() != 0 {
		t.Fatalf("a delivered status wrote to stderr: %q", out.String())
	}
	gone := hostLogger{send: func(context.Context, diag.Severity, resource.URN, string) error { return context.Canceled }, stderr: &out}
	gone.Status(context.Background(), diag.Info, "urn:x", "SCMUP version-before=3.1.2")
	line := out.String()
	if !strings.Contains(line, ` INFO status not delivered to the engine hostLogFailed="context canceled" kind=status urn=urn:x`) || strings.Contains(line, "SCMUP") {
		t.Fatalf("stderr after a status the engine did not take: %q", line)
	}
	out.Reset()
	gone.Status(context.Background(), diag.Warning, "urn:x", "a warning")
	if !strings.Contains(out.String(), " WARN status not delivered") {
		t.Fatalf("a warning the engine did not take: %q", out.String())
	}
	out.Reset()
	gone.Status(context.Background(), diag.Debug, "urn:x", "a debug line")
	if out.Len() != 0 {
		t.Fatalf("a debug line the engine did not take was reported: %q", out.String())
	}
}

func TestPluginInfoReportsTheOfficialVersion(t *testing.T) {
	info, err := newServerWithLogger(&recorder{}).GetPluginInfo(context.Background(), nil)
	if err != nil || info.Version != "1.2.1" {
		t.Fatalf("version: %v %v", info, err)
	}
}
