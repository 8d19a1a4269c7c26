package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	typeCommand      = "command:remote:Command"
	typeCopyToRemote = "command:remote:CopyToRemote"
)

// statusLogger receives the lines the official provider shows in the progress display's Info
// column (command output, dial retries). The engine host in production, a recorder in tests.
type statusLogger interface {
	Status(ctx context.Context, sev diag.Severity, urn resource.URN, msg string)
}

type hostLogger struct {
	send func(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
	// Where a status the engine did not take is reported instead; default the process's stderr, whose reader is the engine.
	stderr io.Writer
}

// Status sends the line to the engine. One the engine does not take is reported on stderr at the line's level (a
// debug line is below the level reported), as the official provider does. With the engine gone (its process
// killed), that is a write to a pipe nobody reads, and Go ends the process on it (SIGPIPE on fd 2): the provider
// does not outlive its engine, and the command in progress is cut off at its next output line, its SSH connection
// closed. The output line itself is not repeated there.
func (h hostLogger) Status(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) {
	if h.send == nil {
		return
	}
	err := h.send(ctx, sev, urn, msg)
	level := map[diag.Severity]string{diag.Info: "INFO", diag.Infoerr: "INFO", diag.Warning: "WARN", diag.Error: "ERROR"}[sev]
	if err == nil || level == "" {
		return
	}
	w := h.stderr
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "%s %s status not delivered to the engine hostLogFailed=%q kind=status urn=%s\n", time.Now().Format("2006/01/02 15:04:05"), level, err.Error(), urn)
}

type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	log statusLogger

	// Cancel (the engine's Ctrl-C) cancels this context: dials in progress give up; a command
	// already running on a host finishes, as with the official provider.
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
}

func newServer(host *provider.HostClient) *server {
	var l hostLogger
	if host != nil {
		l.send = host.LogStatus
	}
	return newServerWithLogger(l)
}

func newServerWithLogger(l statusLogger) *server {
	ctx, cancel := context.WithCancel(context.Background())
	return &server{log: l, ctx: ctx, cancel: cancel}
}

// opCtx joins the request's context with the provider-wide cancellation.
func (s *server) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	s.mu.Lock()
	root := s.ctx
	s.mu.Unlock()
	c, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(root, cancel)
	return c, func() { stop(); cancel() }
}

var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, marshalOpts)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, marshalOpts)
}

func tokenOf(urn string) string { return string(resource.URN(urn).Type()) }

func (s *server) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true, AcceptOutputs: false}, nil
}

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (s *server) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON}, nil
}

func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if d := olds.Diff(news); d != nil && d.AnyChanges() {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{Changes: changes}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (s *server) Attach(context.Context, *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// Check validates the inputs, applies the schema's defaults and marks `connection` secret.
func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, reason string) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}
	switch tokenOf(req.GetUrn()) {
	case typeCommand:
		if v, ok := news["logging"]; ok && v.IsString() {
			switch v.StringValue() {
			case "stdout", "stderr", "stdoutAndStderr", "none":
			default:
				fail("logging", fmt.Sprintf("%q is not a valid value: expected one of stdout, stderr, stdoutAndStderr, none", v.StringValue()))
			}
		}
	case typeCopyToRemote:
		src, ok := news["source"]
		switch {
		case !ok || src.IsNull():
			fail("source", "missing required property 'source'")
		case src.IsComputed() || (src.IsSecret() && src.SecretValue().Element.IsComputed()):
		case !src.IsAsset() && !src.IsArchive():
			fail("asset", "either asset or archive must be set")
		}
		if v, ok := news["remotePath"]; !ok || v.IsNull() {
			fail("remotePath", "missing required property 'remotePath'")
		}
	default:
		return nil, status.Errorf(codes.Unimplemented, "this stand-in of the command provider does not implement %s", tokenOf(req.GetUrn()))
	}
	if c, ok := news["connection"]; !ok || c.IsNull() {
		fail("connection", "missing required property 'connection'")
	} else {
		news["connection"] = withConnectionDefaults(c, fail)
	}
	out, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: out, Failures: failures}, nil
}

// withConnectionDefaults fills user (root), port (22), dialErrorLimit (10) and perDialTimeout (15),
// for the connection and its proxy, and returns the value as a secret.
func withConnectionDefaults(v resource.PropertyValue, fail func(prop, reason string)) resource.PropertyValue {
	inner := v
	if inner.IsSecret() {
		inner = inner.SecretValue().Element
	}
	if !inner.IsObject() {
		if !inner.IsComputed() {
			fail("connection", "expected an object")
		}
		return resource.MakeSecret(inner)
	}
	obj := inner.ObjectValue().Copy()
	applyConnDefaults(obj)
	if h, ok := obj["host"]; !ok || h.IsNull() {
		fail("connection.host", "missing required property 'host'")
	}
	if p, ok := obj["proxy"]; ok && !p.IsNull() {
		pin := p
		secret := pin.IsSecret()
		if secret {
			pin = pin.SecretValue().Element
		}
		if pin.IsObject() {
			pobj := pin.ObjectValue().Copy()
			applyConnDefaults(pobj)
			nv := resource.NewObjectProperty(pobj)
			if secret {
				nv = resource.MakeSecret(nv)
			}
			obj["proxy"] = nv
		}
	}
	return resource.MakeSecret(resource.NewObjectProperty(obj))
}

func applyConnDefaults(obj resource.PropertyMap) {
	set := func(k string, v resource.PropertyValue) {
		if cur, ok := obj[resource.PropertyKey(k)]; !ok || cur.IsNull() {
			obj[resource.PropertyKey(k)] = v
		}
	}
	set("user", resource.NewStringProperty("root"))
	set("port", resource.NewNumberProperty(22))
	set("dialErrorLimit", resource.NewNumberProperty(float64(dialErrorDefault)))
	set("perDialTimeout", resource.NewNumberProperty(15))
}

// inputKeys: what a diff compares. Output-only keys never take part.
func inputsOnly(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		if k == "stdout" || k == "stderr" || k == "version" || strings.HasPrefix(string(k), "__") {
			continue
		}
		out[k] = v
	}
	return out
}

// Diff: a change to `triggers` replaces the resource; any other input change is an in-place
// update. Old inputs are compared with new inputs, as the official provider does.
func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	var olds resource.PropertyMap
	var err error
	if req.GetOldInputs() != nil {
		olds, err = unmarshal(req.GetOldInputs())
	} else {
		olds, err = unmarshal(req.GetOlds())
	}
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	state, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	for _, k := range req.GetIgnoreChanges() {
		if v, ok := state[resource.PropertyKey(k)]; ok {
			news[resource.PropertyKey(k)] = v
		}
	}
	olds, news = inputsOnly(olds), inputsOnly(news)
	objDiff := olds.Diff(news)
	detailed := plugin.NewDetailedDiffFromObjectDiff(objDiff, false)
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		HasDetailedDiff: true,
	}
	if objDiff != nil && objDiff.AnyChanges() {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	diffs, replaces := map[string]bool{}, map[string]bool{}
	for path, d := range detailed {
		head := path
		if pp, err := resource.ParsePropertyPath(path); err == nil && len(pp) > 0 {
			if h, ok := pp[0].(string); ok {
				head = h
			}
		}
		kind := d.Kind
		if head == "triggers" {
			kind = kind.AsReplace()
		}
		resp.DetailedDiff[path] = &pulumirpc.PropertyDiff{Kind: rpcKind(kind), InputDiff: d.InputDiff}
		diffs[head] = true
		if kind.IsReplace() {
			replaces[head] = true
		}
	}
	resp.Diffs = sortedKeys(diffs)
	resp.Replaces = sortedKeys(replaces)
	return resp, nil
}

func rpcKind(k plugin.DiffKind) pulumirpc.PropertyDiff_Kind {
	switch k {
	case plugin.DiffAdd:
		return pulumirpc.PropertyDiff_ADD
	case plugin.DiffAddReplace:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case plugin.DiffDelete:
		return pulumirpc.PropertyDiff_DELETE
	case plugin.DiffDeleteReplace:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	case plugin.DiffUpdateReplace:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	default:
		return pulumirpc.PropertyDiff_UPDATE
	}
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// withOutputs: the state the official provider records: every input as given (secrets stay
// secrets, connection always secret), plus stdout and stderr for a Command.
func commandState(inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := inputs.Copy()
	if c, ok := out["connection"]; ok && !c.IsSecret() {
		out["connection"] = resource.MakeSecret(c)
	}
	out["stdout"] = stdout
	out["stderr"] = stderr
	return out
}

func (s *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	ctx, done := s.opCtx(ctx)
	defer done()
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	switch tokenOf(req.GetUrn()) {
	case typeCommand:
		id, err := resource.NewUniqueHex(urn.Name(), 8, 0)
		if err != nil {
			return nil, err
		}
		if req.GetPreview() {
			// Nothing runs in a preview; what the command would print is unknown.
			unknown := resource.MakeComputed(resource.NewStringProperty(""))
			return createResponse(id, commandState(inputs, unknown, unknown))
		}
		cmd, err := decodeCommand(inputs)
		if err != nil {
			return nil, err
		}
		if cmd.Create == nil {
			return createResponse(id, commandState(inputs, resource.NewStringProperty(""), resource.NewStringProperty("")))
		}
		// A failed create records nothing: the next `up` runs it again.
		stdout, stderr, err := s.run(ctx, urn, cmd, *cmd.Create, "", "")
		if err != nil {
			return nil, err
		}
		return createResponse(id, commandState(inputs, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)))
	case typeCopyToRemote:
		out := inputs.Copy()
		if c, ok := out["connection"]; ok && !c.IsSecret() {
			out["connection"] = resource.MakeSecret(c)
		}
		if req.GetPreview() {
			return createResponse("", out)
		}
		cp, err := decodeCopy(inputs)
		if err != nil {
			return nil, err
		}
		if err := s.copyToRemote(ctx, urn, cp); err != nil {
			return nil, err
		}
		id, err := resource.NewUniqueHex("", 8, 0)
		if err != nil {
			return nil, err
		}
		return createResponse(id, out)
	}
	return nil, status.Errorf(codes.Unimplemented, "this stand-in of the command provider does not implement %s", tokenOf(req.GetUrn()))
}

func createResponse(id string, props resource.PropertyMap) (*pulumirpc.CreateResponse, error) {
	st, err := marshal(props)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: st}, nil
}

func (s *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	ctx, done := s.opCtx(ctx)
	defer done()
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	for _, k := range req.GetIgnoreChanges() {
		if v, ok := olds[resource.PropertyKey(k)]; ok {
			news[resource.PropertyKey(k)] = v
		}
	}
	urn := resource.URN(req.GetUrn())
	switch tokenOf(req.GetUrn()) {
	case typeCommand:
		oldOut, oldErr := olds["stdout"], olds["stderr"]
		if !oldOut.IsString() {
			oldOut = resource.NewStringProperty("")
		}
		if !oldErr.IsString() {
			oldErr = resource.NewStringProperty("")
		}
		if req.GetPreview() {
			unknown := resource.MakeComputed(resource.NewStringProperty(""))
			return updateResponse(commandState(news, unknown, unknown))
		}
		cmd, err := decodeCommand(news)
		if err != nil {
			return nil, err
		}
		text := cmd.Update
		if text == nil {
			text = cmd.Create
		}
		if text == nil {
			return updateResponse(commandState(news, oldOut, oldErr))
		}
		// A failed update leaves the old state in place (the engine keeps it).
		stdout, stderr, err := s.run(ctx, urn, cmd, *text, oldOut.StringValue(), oldErr.StringValue())
		if err != nil {
			return nil, err
		}
		return updateResponse(commandState(news, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)))
	case typeCopyToRemote:
		out := news.Copy()
		if c, ok := out["connection"]; ok && !c.IsSecret() {
			out["connection"] = resource.MakeSecret(c)
		}
		if req.GetPreview() {
			return updateResponse(out)
		}
		oldCp, err := decodeCopy(olds)
		if err != nil {
			return nil, err
		}
		newCp, err := decodeCopy(news)
		if err != nil {
			return nil, err
		}
		// Copied again only when the content or the destination changed.
		if oldCp.hash() != newCp.hash() || oldCp.RemotePath != newCp.RemotePath {
			if err := s.copyToRemote(ctx, urn, newCp); err != nil {
				return nil, err
			}
		}
		return updateResponse(out)
	}
	return nil, status.Errorf(codes.Unimplemented, "this stand-in of the command provider does not implement %s", tokenOf(req.GetUrn()))
}

func updateResponse(props resource.PropertyMap) (*pulumirpc.UpdateResponse, error) {
	st, err := marshal(props)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: st}, nil
}

func (s *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	ctx, done := s.opCtx(ctx)
	defer done()
	if tokenOf(req.GetUrn()) != typeCommand {
		// CopyToRemote deletes nothing on the host.
		return &emptypb.Empty{}, nil
	}
	props, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	cmd, err := decodeCommand(props)
	if err != nil {
		return nil, err
	}
	if cmd.Delete == nil {
		return &emptypb.Empty{}, nil
	}
	stdout, stderr := "", ""
	if v := props["stdout"]; v.IsString() {
		stdout = v.StringValue()
	}
	if v := props["stderr"]; v.IsString() {
		stderr = v.StringValue()
	}
	if _, _, err := s.run(ctx, resource.URN(req.GetUrn()), cmd, *cmd.Delete, stdout, stderr); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Read returns the state as it is: like the official provider, nothing is read back from a host.
func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}
