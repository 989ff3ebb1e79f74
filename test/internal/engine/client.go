// Package engine gives `sam local` what it needs on this machine: a Docker
// engine (the one already running, left alone, or dockerd started here and
// stopped again), emulation for arm64 containers on another architecture
// (qemu-user-static registered in binfmt_misc with the F flag, which makes
// it work inside containers), and the Lambda base image SAM builds its
// emulation image from, public.ecr.aws/lambda/provided:al2023-<arch>:
// pulled when the registry answers, otherwise a local stand-in.
//
// It talks to the engine through its HTTP API on the Unix socket
// (DOCKER_HOST or /var/run/docker.sock), so neither the docker CLI nor its
// version matters. Packages come from apt-get, and only when nothing
// else serves: docker.io for the engine, qemu-user-static for the
// emulator. The stand-in image needs no package at all: its /bin/sh is a
// small Go program (package sh) cross-compiled here.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultSocket is where dockerd listens unless told otherwise.
const DefaultSocket = "/var/run/docker.sock"

// Socket is the engine's Unix socket: DOCKER_HOST's (unix://PATH) or the
// default. Another kind of DOCKER_HOST (tcp://, ssh://) is refused: SAM
// would use it, but this package cannot check it.
func Socket() (string, error) {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		return DefaultSocket, nil
	}
	if p, ok := strings.CutPrefix(host, "unix://"); ok && p != "" {
		return p, nil
	}
	return "", fmt.Errorf("DOCKER_HOST=%s: only unix:// engines are supported here", host)
}

// Client calls the Docker Engine API on a Unix socket.
type Client struct {
	Socket string
	http   *http.Client
}

// NewClient returns a client for the engine on socket.
func NewClient(socket string) *Client {
	return &Client{Socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

// apiError is the engine's error body.
type apiError struct {
	Message string `json:"message"`
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body io.Reader, header http.Header) (*http.Response, error) {
	u := "http://docker" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: %w", c.Socket, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e apiError
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			return nil, &StatusError{Code: resp.StatusCode, Message: e.Message}
		}
		return nil, &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	}
	return resp, nil
}

// StatusError is an engine answer other than success.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string { return fmt.Sprintf("docker engine: %d %s", e.Code, e.Message) }

// Ping reports whether the engine answers (GET /_ping), within a few
// seconds.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, "/_ping", nil, nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Version is the engine's version (GET /version).
func (c *Client) Version(ctx context.Context) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/version", nil, nil, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct{ Version, Os, Arch string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (%s/%s)", v.Version, v.Os, v.Arch), nil
}

// ImageInfo is what Image reports about a local image.
type ImageInfo struct {
	ID           string
	Os           string
	Architecture string
	Labels       map[string]string
}

// Platform is os/architecture, as `docker image inspect` shows it.
func (i ImageInfo) Platform() string { return i.Os + "/" + i.Architecture }

// Image inspects a local image; found is false when there is none.
func (c *Client) Image(ctx context.Context, ref string) (info ImageInfo, found bool, err error) {
	resp, err := c.do(ctx, http.MethodGet, "/images/"+ref+"/json", nil, nil, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return ImageInfo{}, false, nil
	}
	if err != nil {
		return ImageInfo{}, false, err
	}
	defer resp.Body.Close()
	var v struct {
		ID           string `json:"Id"`
		Os           string
		Architecture string
		Config       struct{ Labels map[string]string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return ImageInfo{}, false, err
	}
	return ImageInfo{ID: v.ID, Os: v.Os, Architecture: v.Architecture, Labels: v.Config.Labels}, true, nil
}

// streamErr reads a progress stream (pull, load) to its end and returns
// the first error it reports.
func streamErr(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the engine's progress: %w", err)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
		if m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
	}
}

// Pull pulls repo:tag for platform (linux/arm64) from its registry.
func (c *Client) Pull(ctx context.Context, repo, tag, platform string) error {
	q := url.Values{"fromImage": {repo}, "tag": {tag}, "platform": {platform}}
	resp, err := c.do(ctx, http.MethodPost, "/images/create", q, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return streamErr(resp.Body)
}

// Load loads an image archive in `docker save` form.
func (c *Client) Load(ctx context.Context, archive []byte) error {
	h := http.Header{"Content-Type": {"application/x-tar"}}
	resp, err := c.do(ctx, http.MethodPost, "/images/load", url.Values{"quiet": {"1"}}, bytes.NewReader(archive), h)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return streamErr(resp.Body)
}

// Container is one entry of Containers.
type Container struct {
	ID     string
	Image  string
	State  string
	Labels map[string]string
	Mounts []struct{ Source, Destination string }
}

// Containers lists every container (running or not) carrying label
// (name=value).
func (c *Client) Containers(ctx context.Context, label string) ([]Container, error) {
	f, _ := json.Marshal(map[string][]string{"label": {label}})
	resp, err := c.do(ctx, http.MethodGet, "/containers/json", url.Values{"all": {"1"}, "filters": {string(f)}}, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []Container
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// RemoveContainer removes a container, running or not, with its
// anonymous volumes.
func (c *Client) RemoveContainer(ctx context.Context, id string) error {
	resp, err := c.do(ctx, http.MethodDelete, "/containers/"+id, url.Values{"force": {"1"}, "v": {"1"}}, nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
