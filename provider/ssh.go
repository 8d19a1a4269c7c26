package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// dialErrorDefault: failed dials allowed before giving up, the official default. -1 is unlimited.
const dialErrorDefault = 10

func (c *connection) clientConfig() (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{
		User:            c.User,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // as the official provider: no host key given, none checked
		Timeout:         time.Duration(c.PerDialTimeout) * time.Second,
	}
	if c.HostKey != nil {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(pk)
		cfg.HostKeyAlgorithms = []string{pk.Type()}
	}
	if c.PrivateKey != nil {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != nil {
		pw := *c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if c.AgentSocketPath != nil {
		sock = *c.AgentSocketPath
	}
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return cfg, nil
}

// dialWithRetry retries a failed dial with the SDK's backoff (100 ms, x1.5, at most 5 s) until
// `limit` dials have failed (-1: forever), reporting each failure in the progress display.
func (s *server) dialWithRetry(ctx context.Context, urn resource.URN, what string, limit int, f func() (any, error)) (any, error) {
	var last error
	ok, data, err := retry.Until(ctx, retry.Acceptor{
		Accept: func(try int, _ time.Duration) (bool, any, error) {
			r, e := f()
			if e == nil {
				return true, r, nil
			}
			last = e
			dials := try + 1
			if limit > -1 && dials > limit {
				return true, nil, fmt.Errorf("after %d failed attempts: %w", try, last)
			}
			lim := "inf"
			if limit != -1 {
				lim = strconv.Itoa(limit)
			}
			s.log.Status(ctx, diag.Info, urn, fmt.Sprintf("%s %d/%s failed: retrying", what, dials, lim))
			return false, nil, nil
		},
	})
	if ok && err == nil {
		return data, nil
	}
	if err == nil {
		err = ctx.Err()
	}
	return nil, err
}

func (s *server) dial(ctx context.Context, urn resource.URN, c connection) (*ssh.Client, error) {
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	endpoint := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	if c.Proxy == nil {
		r, err := s.dialWithRetry(ctx, urn, "Dial", c.DialErrorLimit, func() (any, error) { return ssh.Dial("tcp", endpoint, cfg) })
		if err != nil {
			return nil, err
		}
		return r.(*ssh.Client), nil
	}
	pcfg, err := c.Proxy.clientConfig()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	pEndpoint := net.JoinHostPort(c.Proxy.Host, strconv.Itoa(c.Proxy.Port))
	r, err := s.dialWithRetry(ctx, urn, "Dial proxy", c.Proxy.DialErrorLimit, func() (any, error) { return ssh.Dial("tcp", pEndpoint, pcfg) })
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	proxy := r.(*ssh.Client)
	r, err = s.dialWithRetry(ctx, urn, "Dial from proxy", c.DialErrorLimit, func() (any, error) { return proxy.Dial("tcp", endpoint) })
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	netConn := r.(net.Conn)
	type hs struct {
		conn ssh.Conn
		ch   <-chan ssh.NewChannel
		reqs <-chan *ssh.Request
	}
	r, err = s.dialWithRetry(ctx, urn, "Dial", c.DialErrorLimit, func() (any, error) {
		conn, ch, reqs, err := ssh.NewClientConn(netConn, endpoint, cfg)
		if err != nil {
			return nil, err
		}
		return hs{conn, ch, reqs}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	h := r.(hs)
	return ssh.NewClient(h.conn, h.ch, h.reqs), nil
}

// run runs one command over SSH: output captured and streamed line by line to the progress
// display, the previous outputs in PULUMI_COMMAND_STDOUT/STDERR, and on failure the official
// error text `<exit error>: running "<command>":\n<stdout and stderr>`.
func (s *server) run(ctx context.Context, urn resource.URN, c commandInputs, cmd, prevStdout, prevStderr string) (string, string, error) {
	client, err := s.dial(ctx, urn, c.Connection)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer session.Close()

	for k, v := range c.Environment {
		if err := session.Setenv(k, v); err != nil {
			s.log.Status(ctx, diag.Error, urn, setenvHelp(k))
			return "", "", fmt.Errorf("could not set environment variable %q: %w", k, err)
		}
	}
	if c.AddPreviousOutputInEnv {
		// Set optimistically; a server without AcceptEnv only earns a warning.
		for k, v := range map[string]string{"PULUMI_COMMAND_STDOUT": prevStdout, "PULUMI_COMMAND_STDERR": prevStderr} {
			if v != "" {
				if err := session.Setenv(k, v); err != nil {
					s.log.Status(ctx, diag.Warning, urn, setenvHelp(k))
				}
			}
		}
	}
	if c.Stdin != nil && len(*c.Stdin) > 0 {
		session.Stdin = strings.NewReader(*c.Stdin)
	}

	var stdout, stderr, both bytes.Buffer
	pr, pw := io.Pipe()
	bothW := &lockedWriter{w: &both}
	outW := []io.Writer{&stdout, bothW}
	errW := []io.Writer{&stderr, bothW}
	if c.Logging == "stdout" || c.Logging == "stdoutAndStderr" {
		outW = append(outW, pw)
	}
	if c.Logging == "stderr" || c.Logging == "stdoutAndStderr" {
		errW = append(errW, pw)
	}
	session.Stdout = io.MultiWriter(outW...)
	session.Stderr = io.MultiWriter(errW...)
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			s.log.Status(ctx, diag.Info, urn, sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err = session.Run(cmd)
	_ = pw.Close()
	<-logged
	if err != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, cmd, both.String())
	}
	return strings.TrimSuffix(stdout.String(), "\n"), strings.TrimSuffix(stderr.String(), "\n"), nil
}

func setenvHelp(key string) string {
	return fmt.Sprintf(`Unable to set '%s'. This only works if your SSH server is configured to accept
	these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could
	prefix the command itself with the variables in the form 'VAR=value command'`, key)
}
