package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// watchTimeout is how long a watch stays open: timeoutSeconds if given,
// else a random span between MinRequestTimeout and twice that, so that
// clients do not all reconnect at once.
func (s *Server) watchTimeout(r *http.Request) (time.Duration, error) {
	if v := r.URL.Query().Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", v))
		}
		if n > 0 {
			return time.Duration(n) * time.Second, nil
		}
	}
	min := s.cfg.MinRequestTimeout
	return min + time.Duration(rand.Int64N(int64(min))), nil
}

func (s *Server) watch(req *request) error {
	if req.sub != nil {
		return errNotFoundPath()
	}
	lo, err := s.listOptions(req)
	if err != nil {
		return err
	}
	neg, err := negotiate(req.r, true, false)
	if err != nil {
		return err
	}
	if neg.format == formatYAML {
		return notAcceptable()
	}
	timeout, err := s.watchTimeout(req.r)
	if err != nil {
		return err
	}
	o := store.WatchOptions{ListOptions: lo}
	// A watch's resourceVersion is where it starts, not a read bound.
	o.FromRev, o.MinRev = lo.MinRev, 0
	if lo.Rev != 0 {
		return apierrors.NewBadRequest(`resourceVersionMatch "Exact" is not supported for watch`)
	}
	if v := req.r.URL.Query().Get("sendInitialEvents"); v != "" {
		send := isTrue(v)
		if send && (req.r.URL.Query().Get("resourceVersionMatch") != string(metav1.ResourceVersionMatchNotOlderThan) || !lo.AllowBookmark) {
			return apierrors.NewBadRequest("sendInitialEvents requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true")
		}
		o.SendInitialEvents = &send
		o.MinRev = o.FromRev
	}
	ctx := req.ctx
	events, err := s.objects.Watch(ctx, req.res, o)
	if err != nil {
		return err
	}

	w := req.w
	flusher, _ := w.(http.Flusher)
	if neg.format == formatProtobuf || neg.protobuf {
		w.Header().Set("Content-Type", watchProtobufContentType)
	} else {
		w.Header().Set("Content-Type", neg.contentType)
	}
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Bookmarks, when the client allows them, go out every BookmarkInterval
	// and just before the watch times out (so the client can resume from a
	// recent revision), as kube-apiserver does. A bookmark carries the
	// newest revision whose events have all been delivered.
	var bookmarks <-chan time.Time
	var bookmarkTimer *time.Timer
	if o.AllowBookmark {
		bookmarkTimer = time.NewTimer(min(s.cfg.BookmarkInterval, max(timeout-2*time.Second, timeout/2)))
		defer bookmarkTimer.Stop()
		bookmarks = bookmarkTimer.C
	}
	var lastRev int64
	var buf bytes.Buffer
	flush := func() bool {
		if buf.Len() == 0 {
			return true
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		buf.Reset()
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	// add encodes one event; storage progress only advances lastRev.
	add := func(ev store.WatchEvent) error {
		if ev.Type == store.WatchError {
			s.log.Error("watch ended: a stored value does not read", append(logAttrs(req.r), "err", ev.Status.Message)...)
			return s.encodeEvent(&buf, req, neg, ev)
		}
		lastRev = max(lastRev, ev.Rev)
		if ev.Type == store.WatchBookmark && !ev.InitialEventsEnd {
			return nil
		}
		return s.encodeEvent(&buf, req, neg, ev)
	}
	for {
		select {
		case <-deadline.C:
			return nil
		case <-s.stopping:
			return nil // shutting down: end the stream cleanly
		case <-ctx.Done():
			return nil
		case <-bookmarks:
			if lastRev > 0 {
				if err := s.encodeEvent(&buf, req, neg, store.WatchEvent{Type: store.WatchBookmark, Rev: lastRev}); err != nil {
					return nil
				}
				if !flush() {
					return nil
				}
			}
			bookmarkTimer.Reset(s.cfg.BookmarkInterval)
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if err := add(ev); err != nil {
				s.log.Error("watch event encoding failed", append(logAttrs(req.r), "err", err)...)
				return nil
			}
			// Drain what else is ready before flushing, so a burst costs one write.
			for more := true; more; {
				select {
				case ev2, ok := <-events:
					if !ok {
						flush()
						return nil
					}
					if err := add(ev2); err != nil {
						return nil
					}
				default:
					more = false
				}
			}
			if !flush() {
				return nil
			}
		}
	}
}

// encodeEvent appends one watch event: a line of JSON, or a protobuf frame.
func (s *Server) encodeEvent(buf *bytes.Buffer, req *request, neg negotiated, ev store.WatchEvent) error {
	if neg.format == formatProtobuf || neg.protobuf {
		return s.encodeProtobufEvent(buf, req, neg, ev)
	}
	var object []byte
	switch {
	case ev.Type == store.WatchError:
		st := *ev.Status
		st.Kind, st.APIVersion = "Status", "v1"
		var err error
		if object, err = json.Marshal(st); err != nil {
			return err
		}
	case ev.Type == store.WatchBookmark && neg.format == formatPartialMetadata:
		var err error
		if object, err = json.Marshal(partialBookmark(neg, ev)); err != nil {
			return err
		}
	case ev.Type == store.WatchBookmark:
		object = store.BookmarkJSON(req.res, ev.Rev, ev.InitialEventsEnd)
	case neg.format == formatTable || neg.format == formatPartialMetadata:
		obj, err := ev.Entry.Object()
		if err != nil {
			return err
		}
		var v any
		if neg.format == formatTable {
			t, err := s.table(req, neg.tableGV, []catalog.Object{obj}, metav1.ListMeta{ResourceVersion: obj.GetResourceVersion()})
			if err != nil {
				return err
			}
			v = t
		} else {
			v = partialMetadata(obj, neg.tableGV)
		}
		if object, err = json.Marshal(v); err != nil {
			return err
		}
	default:
		object = ev.Entry.JSON()
	}
	buf.WriteString(`{"type":"`)
	buf.WriteString(ev.Type)
	buf.WriteString(`","object":`)
	buf.Write(object)
	buf.WriteString("}\n")
	return nil
}

// encodeProtobufEvent appends one length-prefixed protobuf watch frame.
func (s *Server) encodeProtobufEvent(buf *bytes.Buffer, req *request, neg negotiated, ev store.WatchEvent) error {
	var object []byte
	var err error
	switch {
	case ev.Type == store.WatchError:
		st := *ev.Status
		st.Kind, st.APIVersion = "Status", "v1"
		object, err = encodeProtobuf(schema.GroupVersionKind{Version: "v1", Kind: "Status"}, &st)
	case ev.Type == store.WatchBookmark && neg.format == formatPartialMetadata:
		pm := partialBookmark(neg, ev)
		object, err = encodeProtobuf(pm.GroupVersionKind(), pm)
	case ev.Type == store.WatchBookmark:
		object, err = protobufBookmark(req.res, ev.Rev, ev.InitialEventsEnd)
	case neg.format == formatPartialMetadata:
		var obj catalog.Object
		if obj, err = ev.Entry.Object(); err == nil {
			pm := partialMetadata(obj, neg.tableGV)
			object, err = encodeProtobuf(pm.GroupVersionKind(), pm)
		}
	default:
		gvk := req.res.GroupVersionKind()
		object, err = ev.Entry.Encoded("protobuf "+gvk.String(), func(obj catalog.Object) ([]byte, error) {
			return encodeProtobuf(gvk, obj)
		})
	}
	if err != nil {
		return err
	}
	writeProtobufWatchFrame(buf, ev.Type, object)
	return nil
}

// partialBookmark is a bookmark's object for the metadata client, which
// decodes every event as PartialObjectMetadata and knows no other kind.
func partialBookmark(neg negotiated, ev store.WatchEvent) *metav1.PartialObjectMetadata {
	pm := &metav1.PartialObjectMetadata{}
	pm.APIVersion, pm.Kind = neg.tableGV, "PartialObjectMetadata"
	pm.ResourceVersion = strconv.FormatInt(ev.Rev, 10)
	if ev.InitialEventsEnd {
		pm.Annotations = map[string]string{store.AnnotationInitialEventsEnd: "true"}
	}
	return pm
}
