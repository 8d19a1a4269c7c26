package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// copyToRemote copies an asset or archive as it is (an archive file is not unpacked; a folder is
// copied recursively) to remotePath over SFTP, creating parent folders.
func (s *server) copyToRemote(ctx context.Context, urn resource.URN, c copyInputs) error {
	client, err := s.dial(ctx, urn, c.Connection)
	if err != nil {
		return err
	}
	defer client.Close()
	sc, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true))
	if err != nil {
		return err
	}
	defer sc.Close()

	if c.Source.IsAsset() {
		a := c.Source.AssetValue()
		switch {
		case a.IsText():
			return copyText(sc, a.Text, c.RemotePath)
		case a.IsPath():
			return copyPath(sc, a.Path, c.RemotePath)
		case a.IsURI():
			blob, err := a.Read()
			if err != nil {
				return fmt.Errorf("failed to read remote asset %s: %w", a.URI, err)
			}
			defer blob.Close()
			return copyReader(sc, blob, path.Base(a.URI), c.RemotePath)
		}
		return fmt.Errorf("asset is neither path-based, text-based, nor URI-based")
	}
	a := c.Source.ArchiveValue()
	switch {
	case a.IsPath():
		return copyPath(sc, a.Path, c.RemotePath)
	case a.IsAssets():
		return copyAssetArchive(sc, a, c.RemotePath)
	}
	return fmt.Errorf("archive is neither path-based nor asset-based (URI archives are not supported by this stand-in)")
}

func remoteStat(sc *sftp.Client, p string) (fs.FileInfo, error) {
	info, err := sc.Stat(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("failed to stat remote path %s: %w", p, err)
	}
	if err != nil {
		return nil, nil
	}
	return info, nil
}

func copyText(sc *sftp.Client, content, dest string) error {
	st, err := remoteStat(sc, dest)
	if err != nil {
		return err
	}
	if st != nil && st.IsDir() {
		return fmt.Errorf("remote path %s is a directory; when using a text asset, remotePath must be a file path", dest)
	}
	return copyReader(sc, strings.NewReader(content), "", dest)
}

func copyReader(sc *sftp.Client, r io.Reader, name, dest string) error {
	st, err := remoteStat(sc, dest)
	if err != nil {
		return err
	}
	if st != nil && st.IsDir() {
		if name == "" {
			return fmt.Errorf("remote path %s is a directory; cannot determine destination filename", dest)
		}
		dest = filepath.Join(dest, name)
	} else if st == nil {
		if err := sc.MkdirAll(filepath.Dir(dest)); err != nil {
			return fmt.Errorf("failed to create parent directories for %s: %w", dest, err)
		}
	}
	f, err := sc.Create(dest)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dest, err)
	}
	defer f.Close()
	if _, err := f.ReadFrom(r); err != nil {
		return fmt.Errorf("failed to write to remote path %s: %w", dest, err)
	}
	return nil
}

// copyPath: a file goes to dest (or into dest when it is a folder); a folder `src` goes to
// dest/src, a folder `src/` (trailing slash) has its contents copied into dest.
func copyPath(sc *sftp.Client, src, dest string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	st, err := remoteStat(sc, dest)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if st != nil && st.IsDir() {
			dest = filepath.Join(dest, filepath.Base(src))
		} else if st == nil {
			if err := sc.MkdirAll(filepath.Dir(dest)); err != nil {
				return fmt.Errorf("failed to create parent directories for %s: %w", dest, err)
			}
		}
		return copyFile(sc, src, dest)
	}
	if st != nil && !st.IsDir() {
		return fmt.Errorf("remote path %s exists but is not a directory", dest)
	}
	if st == nil {
		if err := sc.MkdirAll(dest); err != nil {
			return fmt.Errorf("failed to create remote directory %s: %w", dest, err)
		}
	}
	if !strings.HasSuffix(src, "/") {
		dest = filepath.Join(dest, filepath.Base(src))
		sub, err := remoteStat(sc, dest)
		if err != nil {
			return err
		}
		if sub != nil && !sub.IsDir() {
			return fmt.Errorf("remote path %s exists but is not a directory", dest)
		}
		if sub == nil {
			if err := sc.Mkdir(dest); err != nil {
				return fmt.Errorf("failed to create remote directory %s: %w", dest, err)
			}
		}
	}
	return fs.WalkDir(os.DirFS(src), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dest, p)
		if !d.IsDir() {
			return copyFile(sc, filepath.Join(src, p), target)
		}
		st, err := remoteStat(sc, target)
		if err != nil {
			return err
		}
		if st == nil {
			if err := sc.Mkdir(target); err != nil {
				return fmt.Errorf("failed to create remote directory %s: %w", target, err)
			}
		} else if !st.IsDir() {
			return fmt.Errorf("remote path %s exists but is not a directory", target)
		}
		return nil
	})
}

func copyFile(sc *sftp.Client, src, dst string) error {
	local, err := os.Open(src)
	if err != nil {
		return err
	}
	defer local.Close()
	remote, err := sc.Create(dst)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dst, err)
	}
	defer remote.Close()
	if _, err := remote.ReadFrom(local); err != nil {
		return fmt.Errorf("failed to copy file %s to remote path %s: %w", src, dst, err)
	}
	return nil
}

func copyAssetArchive(sc *sftp.Client, a *resource.Archive, dest string) error {
	st, err := remoteStat(sc, dest)
	if err != nil {
		return err
	}
	if st != nil && !st.IsDir() {
		return fmt.Errorf("remote path %s exists but is not a directory; cannot copy asset archive contents", dest)
	}
	if st == nil {
		if err := sc.MkdirAll(dest); err != nil {
			return fmt.Errorf("failed to create remote directory %s: %w", dest, err)
		}
	}
	reader, err := a.Open()
	if err != nil {
		return fmt.Errorf("failed to open asset archive: %w", err)
	}
	defer reader.Close()
	for {
		name, blob, err := reader.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("failed to read asset archive entry: %w", err)
		}
		target := filepath.Join(dest, name)
		if err := sc.MkdirAll(filepath.Dir(target)); err != nil {
			blob.Close()
			return fmt.Errorf("failed to create parent directories for %s: %w", target, err)
		}
		err = func() error {
			defer blob.Close()
			f, err := sc.Create(target)
			if err != nil {
				return fmt.Errorf("failed to create remote file %s: %w", target, err)
			}
			defer f.Close()
			if _, err := f.ReadFrom(blob); err != nil {
				return fmt.Errorf("failed to copy archive entry to %s: %w", target, err)
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
}
