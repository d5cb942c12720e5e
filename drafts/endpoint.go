package drafts

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// EnvHTTPHost names the environment variable that allows plain http to one
// trusted host on the local network (or a container name such as "ollama"):
// prompts then cross that network unencrypted.
const EnvHTTPHost = "SWITCHBOARD_LLM_HTTP_HOST"

// ErrPlainHTTP is wrapped by CheckEndpoint's refusal of a plain-http
// endpoint on another machine.
var ErrPlainHTTP = errors.New("plain http to another machine")

// CheckEndpoint checks an LLM endpoint URL: https, or http only to this
// machine (localhost, 127.0.0.0/8, ::1) or to a host named in allowHTTP (a
// comma-separated list of host names or addresses, EnvHTTPHost's value).
// Customer messages travel in the requests, so they never cross a network in
// clear text unless an operator said so for that host.
func CheckEndpoint(raw, allowHTTP string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return errors.New("want an http or https URL")
	}
	if u.User != nil {
		return errors.New("the URL must not hold a user name or password; use the API key variables")
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if isLoopbackHost(host) {
		return nil
	}
	for _, h := range strings.Split(allowHTTP, ",") {
		h = strings.TrimSpace(h)
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		h = strings.Trim(h, "[]")
		if h != "" && strings.EqualFold(h, host) {
			return nil
		}
	}
	return fmt.Errorf("%w: http://%s would carry customer messages unencrypted; use https, a loopback address (localhost, 127.0.0.1, ::1), or set %s=%s to allow this one trusted host",
		ErrPlainHTTP, u.Host, EnvHTTPHost, host)
}

// isLoopbackHost reports whether host names this machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// azureHasStore reports whether an Azure OpenAI API version accepts the
// chat completions "store" field. Azure added it (stored completions) in
// 2024-10-01-preview and keeps it in later previews; the 2024-10-21 GA
// version and earlier GA versions do not define it (a client that sent it
// there got 400 "Unknown parameter: 'store'"). Azure stores a completion
// only when store is true, which is never sent.
func azureHasStore(version string) bool {
	v := strings.ToLower(strings.TrimSpace(version))
	switch v {
	case "preview", "latest", "v1":
		return true
	}
	date, preview := strings.CutSuffix(v, "-preview")
	if len(date) != len("2006-01-02") || date[4] != '-' || date[7] != '-' {
		return false
	}
	if preview {
		return date >= "2024-10-01"
	}
	// GA versions after 2024-10-21 carry what the previews before them had.
	return date > "2024-10-21"
}
