package main

import (
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testSshd is a real OpenSSH server on a loopback address, as the project's sandbox runs them.
type testSshd struct {
	Addr, User, Key string
	Port            int
	dir             string
	cmd             *exec.Cmd
}

func sshdBinary() string {
	if b := os.Getenv("SCM_SANDBOX_SSHD"); b != "" {
		return b
	}
	return "/usr/sbin/sshd"
}

func freePort(t *testing.T, addr string) int {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatalf("no free port on %s: %v", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomLoopback() string {
	return fmt.Sprintf("127.%d.%d.%d", 100+rand.Intn(50), rand.Intn(256), 1+rand.Intn(254))
}

func keygen(t *testing.T, path string) {
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

// startSshd starts a server admitting the current user with a fresh key. extra: more config lines.
func startSshd(t *testing.T, addr string, extra ...string) *testSshd {
	t.Helper()
	if _, err := os.Stat(sshdBinary()); err != nil {
		t.Fatalf("no OpenSSH server at %s (apt-get install openssh-server): the contract tests need a real one", sshdBinary())
	}
	dir := t.TempDir()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	keygen(t, filepath.Join(dir, "host"))
	keygen(t, filepath.Join(dir, "client"))
	pub, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	port := freePort(t, addr)
	root := "no"
	if os.Geteuid() == 0 {
		root = "yes"
	}
	cfg := append([]string{
		fmt.Sprintf("ListenAddress %s:%d", addr, port),
		"HostKey " + filepath.Join(dir, "host"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"StrictModes no", "UsePAM no", "PermitRootLogin " + root,
		"PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
		"AllowUsers " + u.Username, "MaxStartups 100:30:200", "AllowTcpForwarding yes",
		"AcceptEnv SCM_TEST_* PULUMI_COMMAND_*", "Subsystem sftp internal-sftp", "UseDNS no", "PrintMotd no",
	}, extra...)
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(strings.Join(cfg, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log, _ := os.Create(filepath.Join(dir, "sshd.log"))
	cmd := exec.Command(sshdBinary(), "-D", "-e", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &testSshd{Addr: addr, Port: port, User: u.Username, dir: dir, cmd: cmd}
	key, _ := os.ReadFile(filepath.Join(dir, "client"))
	s.Key = string(key)
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, fmt.Sprint(port)), 300*time.Millisecond)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("sshd on %s:%d did not start: %s", addr, port, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *testSshd) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
		s.cmd = nil
	}
}
