// Package proxy serves the connect subresources: it carries a request
// through the API server to a kubelet (pods/log, exec, attach,
// portforward and nodes/proxy), to a pod (pods/proxy) or to one of a
// service's endpoints (services/proxy), as kube-apiserver does.
//
// Kubelets are reached over HTTPS with the API server's kubelet client
// certificate (--kubelet-client-certificate, reloaded when the files
// change) and, when --kubelet-certificate-authority is set, only if their
// serving certificate verifies against it. Upgraded connections (exec,
// attach, port-forward, over SPDY or WebSocket) are joined only when the
// backend answers 101 Switching Protocols; any other answer goes back as
// a plain response and the client's connection is closed after it, so
// nothing the client sends later reaches the backend unchecked
// (CVE-2018-1002105).
package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/keypair"
	"github.com/sekisho/sekisho/internal/reload"
)

// DefaultPreferredAddressTypes is kube-apiserver's default for
// --kubelet-preferred-address-types.
var DefaultPreferredAddressTypes = []corev1.NodeAddressType{
	corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeInternalIP, corev1.NodeExternalDNS, corev1.NodeExternalIP,
}

// Reader reads the objects a connection is made to.
type Reader interface {
	GetObject(ctx context.Context, r *catalog.Resource, namespace, name string) (catalog.Object, error)
	ListObjects(ctx context.Context, r *catalog.Resource, namespace, labelSelector string) ([]catalog.Object, error)
}

// Config configures the proxy.
type Config struct {
	Catalog *catalog.Catalog
	Objects Reader
	// ClientCertFile and ClientKeyFile are the API server's client
	// certificate for kubelets; without them kubelets see no client
	// certificate.
	ClientCertFile, ClientKeyFile string
	// CAFile verifies kubelets' serving certificates; "" does not verify
	// them, as kube-apiserver does not.
	CAFile string
	// PreferredAddressTypes orders the node addresses tried.
	PreferredAddressTypes []corev1.NodeAddressType
	Log                   *slog.Logger
}

// Proxy serves the connect subresources.
type Proxy struct {
	cfg Config
	// kubelets is the client to kubelets in force, replaced whole when
	// the CA bundle that verifies them changes.
	kubelets        atomic.Pointer[Client]
	swapMu          sync.Mutex    // one replacement of kubelets at a time
	clientCert      *keypair.Pair // nil without a client certificate
	direct          *Client
	pods, nodes     *catalog.Resource
	services, slice *catalog.Resource
}

// Client is a transport and its TLS settings, for the connections an
// upgrade dials itself. Both carry the trust roots, since the stream
// translator builds its own connections from the transport's TLS settings.
type Client struct {
	transport *http.Transport
	tls       *tls.Config
}

// NewClient builds a Client that dials with c: straight to the backend,
// never through an HTTP proxy.
func NewClient(c *tls.Config) *Client { return &Client{transport: newTransport(c), tls: c} }

// CloseIdleConnections closes the client's idle connections; requests
// under way finish.
func (c *Client) CloseIdleConnections() { c.transport.CloseIdleConnections() }

// Do sends a plain request over the client's transport.
func (c *Client) Do(r *http.Request) (*http.Response, error) { return c.transport.RoundTrip(r) }

// ClientCertificate is the certificate in force that the proxy presents
// to kubelets; nil without one.
func (p *Proxy) ClientCertificate() *tls.Certificate {
	if p.clientCert == nil {
		return nil
	}
	return p.clientCert.Current()
}

// kubelet is the client to kubelets in force.
func (p *Proxy) kubelet() *Client { return p.kubelets.Load() }

// New builds the proxy; the client certificate's files and the kubelet CA
// bundle are watched until ctx ends.
func New(ctx context.Context, cfg Config) (*Proxy, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if len(cfg.PreferredAddressTypes) == 0 {
		cfg.PreferredAddressTypes = DefaultPreferredAddressTypes
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile == "" {
		tlsConfig.InsecureSkipVerify = true // kube-apiserver's default: see Config.CAFile
	}
	var self atomic.Pointer[Proxy] // for the certificate's OnChange, set once built
	var certs *keypair.Pair
	if (cfg.ClientCertFile == "") != (cfg.ClientKeyFile == "") {
		return nil, errors.New("--kubelet-client-certificate and --kubelet-client-key go together")
	}
	if cfg.ClientCertFile != "" {
		// Renewed files are taken at once, a broken pair refused with a
		// log line and the last good one kept (keypair).
		// A new certificate gets a new transport to kubelets, so that
		// every request from then on presents it; streams open on the old
		// one finish there.
		certs = &keypair.Pair{CertFile: cfg.ClientCertFile, KeyFile: cfg.ClientKeyFile, Log: cfg.Log,
			OnChange: func() {
				if p := self.Load(); p != nil {
					p.swapMu.Lock()
					defer p.swapMu.Unlock()
					if old := p.kubelets.Swap(NewClient(p.kubelet().tls)); old != nil {
						old.CloseIdleConnections()
					}
				}
			}}
		if err := certs.Start(ctx); err != nil {
			return nil, fmt.Errorf("--kubelet-client-certificate/--kubelet-client-key: %w", err)
		}
		tlsConfig.GetClientCertificate = certs.GetClientCertificate
	}
	directTLS := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} // pods' own certificates name no one we know
	p := &Proxy{cfg: cfg, direct: NewClient(directTLS), clientCert: certs}
	defer self.Store(p)
	if cfg.CAFile == "" {
		p.kubelets.Store(NewClient(tlsConfig))
	} else {
		// Each new bundle gets a new transport: connections open to
		// kubelets (streams, logs followed) finish on the old one, whose
		// idle connections are closed; new ones verify against the new
		// bundle. A bundle that does not load is refused, the old kept.
		ca := &reload.File{Path: cfg.CAFile, Log: cfg.Log, Load: func(data []byte, _ bool) error {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(data) {
				return fmt.Errorf("%s: no PEM certificate in it", cfg.CAFile)
			}
			next := tlsConfig.Clone()
			next.RootCAs = pool
			p.swapMu.Lock()
			defer p.swapMu.Unlock()
			if old := p.kubelets.Swap(NewClient(next)); old != nil {
				old.CloseIdleConnections()
			}
			return nil
		}}
		if err := ca.Start(ctx); err != nil {
			return nil, fmt.Errorf("--kubelet-certificate-authority: %w", err)
		}
	}
	for _, want := range []struct {
		into *(*catalog.Resource)
		gvr  schema.GroupVersionResource
	}{
		{&p.pods, corev1.SchemeGroupVersion.WithResource("pods")},
		{&p.nodes, corev1.SchemeGroupVersion.WithResource("nodes")},
		{&p.services, corev1.SchemeGroupVersion.WithResource("services")},
		{&p.slice, schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}},
	} {
		r, ok := cfg.Catalog.Lookup(want.gvr)
		if !ok {
			return nil, fmt.Errorf("proxy: the catalogue does not serve %s", want.gvr)
		}
		*want.into = r
	}
	return p, nil
}

func newTransport(c *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // straight to the node or pod, never through an HTTP proxy
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       c,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // logs follow and streams stay open
	}
}

// Connects returns the ConnectFunc of every connect subresource.
func (p *Proxy) Connects() map[catalog.ActionKey]catalog.ConnectFunc {
	key := func(r *catalog.Resource, sub string) catalog.ActionKey {
		return catalog.ActionKey{Resource: r.GroupVersionResource(), Subresource: sub}
	}
	return map[catalog.ActionKey]catalog.ConnectFunc{
		key(p.pods, "log"):         p.podLog,
		key(p.pods, "exec"):        p.podStream("exec", true),
		key(p.pods, "attach"):      p.podStream("attach", true),
		key(p.pods, "portforward"): p.podStream("portForward", false),
		key(p.pods, "proxy"):       p.podProxy,
		key(p.nodes, "proxy"):      p.nodeProxy,
		key(p.services, "proxy"):   p.serviceProxy,
	}
}

// kubeletLocation is where a node's kubelet serves: the first address of
// the preferred types, and the port the node reports (10250 by default).
func (p *Proxy) kubeletLocation(ctx context.Context, nodeName string) (*url.URL, error) {
	obj, err := p.cfg.Objects.GetObject(ctx, p.nodes, "", nodeName)
	if err != nil {
		return nil, err
	}
	node := obj.(*corev1.Node)
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = 10250
	}
	for _, t := range p.cfg.PreferredAddressTypes {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return &url.URL{Scheme: "https", Host: net.JoinHostPort(a.Address, strconv.Itoa(port))}, nil
			}
		}
	}
	return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no preferred addresses found; known addresses: %v", node.Status.Addresses))
}

// ForwardOptions adjust how Forward carries a request.
type ForwardOptions struct {
	Log *slog.Logger
	// SetHeaders adds headers to the request the backend receives, after
	// the client's credentials are removed from it.
	SetHeaders func(http.Header)
	// RejectRedirects answers 502 instead of passing on a redirect from
	// the backend, which the client would follow with its credentials.
	RejectRedirects bool
}

// Forward proxies r to target (scheme and host; path and query as given)
// over c's transport or, for an upgrade, over a connection dialed with
// c's TLS settings; see upgrade. The client's credentials
// (Authorization, Impersonate-*, X-Remote-*) never reach the backend.
func Forward(w http.ResponseWriter, r *http.Request, c *Client, target *url.URL, o ForwardOptions) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if isUpgrade(r) {
		upgrade(w, r, c.tls, target, o)
		return
	}
	rp := &httputil.ReverseProxy{
		Transport:     c.transport,
		FlushInterval: -1, // logs and streams go out as they come
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = target.Host
			outgoingHeaders(pr.Out.Header, o)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			unreachable(o.Log, w, target, err)
		},
	}
	ownAuditID := w.Header().Get("Audit-Id") != ""
	rp.ModifyResponse = func(resp *http.Response) error {
		if ownAuditID {
			resp.Header.Del("Audit-Id") // the API server's stands, not a second one
		}
		if o.RejectRedirects {
			return rejectRedirect(resp)
		}
		return nil
	}
	rp.ServeHTTP(w, r)
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, c *Client, target *url.URL) {
	Forward(w, r, c, target, ForwardOptions{Log: p.cfg.Log})
}

func outgoingHeaders(h http.Header, o ForwardOptions) {
	stripCredentials(h)
	if o.SetHeaders != nil {
		o.SetHeaders(h)
	}
}

// rejectRedirect replaces a redirect with a 502, as kube-apiserver's
// aggregator does (--aggregator-reject-forwarding-redirect).
func rejectRedirect(resp *http.Response) error {
	if resp.StatusCode < 300 || resp.StatusCode > 399 || resp.Header.Get("Location") == "" {
		return nil
	}
	resp.Body.Close()
	body, _ := json.Marshal(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Code: http.StatusBadGateway, Reason: metav1.StatusReasonInternalError,
		Message: "the backend attempted to redirect this request, which is not permitted",
	})
	*resp = http.Response{
		StatusCode: http.StatusBadGateway,
		Status:     "502 Bad Gateway",
		Proto:      resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       resp.Request,
	}
	return nil
}

func unreachable(log *slog.Logger, w http.ResponseWriter, target *url.URL, err error) {
	log.Warn("proxy: backend unreachable", "target", target.Host, "err", err)
	WriteStatus(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach service: %v", dialError(err))).ErrStatus)
}

// upgrade proxies a request to switch protocols (SPDY or WebSocket). The
// request goes to the backend on a connection of its own, and the answer
// decides: 101 joins the two connections; anything else goes back as a
// response after which the client's connection is closed, so nothing the
// client sends next is read as a stream, forwarded, or served.
func upgrade(w http.ResponseWriter, r *http.Request, tlsConfig *tls.Config, target *url.URL, o ForwardOptions) {
	ctx := r.Context()
	backend, err := dial(ctx, target, tlsConfig)
	if err != nil {
		unreachable(o.Log, w, target, err)
		return
	}
	defer backend.Close()
	out := r.Clone(ctx)
	out.URL, out.Host, out.RequestURI = target, target.Host, ""
	outgoingHeaders(out.Header, o)
	backend.SetDeadline(time.Now().Add(30 * time.Second))
	if err := out.Write(backend); err != nil {
		unreachable(o.Log, w, target, err)
		return
	}
	fromBackend := bufio.NewReader(backend)
	resp, err := http.ReadResponse(fromBackend, out)
	if err != nil {
		unreachable(o.Log, w, target, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		if o.RejectRedirects {
			rejectRedirect(resp)
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Connection", "close")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, io.LimitReader(resp.Body, 1<<20))
		return
	}
	backend.SetDeadline(time.Time{})
	client, clientBuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		o.Log.Warn("proxy: cannot take over the client's connection for an upgrade", "err", err)
		WriteStatus(w, apierrors.NewInternalError(errors.New("the connection cannot be upgraded")).ErrStatus)
		return
	}
	defer client.Close()
	// The 101 and its headers, then whatever either side already sent.
	var head strings.Builder
	fmt.Fprintf(&head, "HTTP/1.1 %s\r\n", resp.Status)
	resp.Header.Write(&head)
	head.WriteString("\r\n")
	if _, err := io.WriteString(client, head.String()); err != nil {
		return
	}
	var toBackend io.Reader = client
	if clientBuf != nil && clientBuf.Reader.Buffered() > 0 {
		toBackend = io.MultiReader(clientBuf.Reader, client)
	}
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(backend, toBackend)
		closeWrite(backend)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(client, fromBackend)
		closeWrite(client)
		done <- struct{}{}
	}()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// dial connects to target: TLS with tlsConfig for https, TCP for http.
func dial(ctx context.Context, target *url.URL, tlsConfig *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	host := target.Host
	if target.Port() == "" {
		port := "80"
		if target.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(target.Hostname(), port)
	}
	if target.Scheme != "https" {
		return d.DialContext(ctx, "tcp", host)
	}
	c := tlsConfig.Clone()
	c.NextProtos = []string{"http/1.1"} // an upgrade needs HTTP/1.1
	if c.ServerName == "" {
		c.ServerName = target.Hostname()
	}
	return (&tls.Dialer{NetDialer: d, Config: c}).DialContext(ctx, "tcp", host)
}

func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return r.Header.Get("Upgrade") != ""
			}
		}
	}
	return false
}

// stripCredentials removes what authenticated the client to the API
// server: the backend must not see the user's token or act on their
// impersonation.
func stripCredentials(h http.Header) {
	h.Del("Authorization")
	h.Del("Proxy-Authorization")
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "impersonate-") || strings.HasPrefix(lk, "x-remote-") {
			h.Del(k)
		}
	}
}

// dialError keeps a transport error's last part: the dial or TLS failure,
// without the request's URL.
func dialError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
