package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// A register per ConfigMap: the operations the API offers on one object.
type linInput struct {
	Key   string
	Op    string // create, update, delete, get
	Value string
	IfRV  string // update: the resourceVersion precondition
}

type linOutput struct {
	Code  int // 200/201, 404 or 409
	Value string
	RV    string
}

type linState struct {
	Exists    bool
	Value, RV string
}

// linModel is what a linearizable API server does with one object:
// creates only of an absent object, updates only at its current
// resourceVersion, reads of the last write.
var linModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(linInput).Key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(linState), input.(linInput), output.(linOutput)
		switch in.Op {
		case "create":
			if s.Exists {
				return out.Code == http.StatusConflict, s
			}
			return out.Code == http.StatusCreated, linState{true, in.Value, out.RV}
		case "update":
			switch {
			case !s.Exists:
				return out.Code == http.StatusNotFound, s
			case in.IfRV != s.RV:
				return out.Code == http.StatusConflict, s
			}
			return out.Code == http.StatusOK && out.RV != s.RV, linState{true, in.Value, out.RV}
		case "delete":
			if !s.Exists {
				return out.Code == http.StatusNotFound, s
			}
			return out.Code == http.StatusOK, linState{}
		default: // get
			if !s.Exists {
				return out.Code == http.StatusNotFound, s
			}
			return out.Code == http.StatusOK && out.Value == s.Value && out.RV == s.RV, s
		}
	},
	DescribeOperation: func(input, output any) string {
		return fmt.Sprintf("%+v -> %+v", input, output)
	},
}

// checkLinearizable records a history of concurrent creates, updates with
// resourceVersion preconditions, deletes, gets and lists of three
// ConfigMaps from six clients, and checks it with porcupine. (On etcd the
// lists are answered by the list cache, once it has started.)
func checkLinearizable(t *testing.T, s *server) {
	t.Helper()
	const clients, opsPerClient = 6, 150
	c := s.client(true)
	start := time.Now()
	var mu sync.Mutex
	var history []porcupine.Operation
	var unexpected []string
	lastRV := map[string]string{} // a client's last seen resourceVersion per key, to aim updates
	var wg sync.WaitGroup
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(id), 7))
			for i := range opsPerClient {
				key := fmt.Sprintf("lin-%d", r.IntN(3))
				value := fmt.Sprintf("c%d-%d", id, i)
				in := linInput{Key: key, Value: value}
				var method, path, body string
				switch n := r.IntN(10); {
				case n < 2:
					in.Op, method, path = "create", "POST", "/api/v1/namespaces/default/configmaps"
					body = fmt.Sprintf(`{"metadata":{"name":%q},"data":{"v":%q}}`, key, value)
				case n < 6:
					mu.Lock()
					in.IfRV = lastRV[key]
					mu.Unlock()
					in.Op, method, path = "update", "PUT", "/api/v1/namespaces/default/configmaps/"+key
					body = fmt.Sprintf(`{"metadata":{"name":%q,"resourceVersion":%q},"data":{"v":%q}}`, key, in.IfRV, value)
				case n < 7:
					in.Op, method, path = "delete", "DELETE", "/api/v1/namespaces/default/configmaps/"+key
				case n < 9:
					in.Op, method, path = "get", "GET", "/api/v1/namespaces/default/configmaps/"+key
				default:
					in.Op, method, path = "list", "GET", "/api/v1/namespaces/default/configmaps"
				}
				if in.Op == "update" && in.IfRV == "" {
					in.IfRV = "1" // no version seen yet: a precondition that fails
					body = strings.Replace(body, `"resourceVersion":""`, `"resourceVersion":"1"`, 1)
				}
				call := time.Since(start).Nanoseconds()
				resp, respBody := s.send(t, c, method, path, "application/json", body, nil)
				ret := time.Since(start).Nanoseconds()
				if in.Op == "list" {
					// A list is a read of every key at once: recorded as
					// a get of each, over the list's time.
					var list struct {
						Items []struct {
							Metadata struct{ Name, ResourceVersion string }
							Data     map[string]string
						}
					}
					if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(respBody), &list) != nil {
						mu.Lock()
						unexpected = append(unexpected, fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, respBody))
						mu.Unlock()
						continue
					}
					mu.Lock()
					for k := range 3 {
						key := fmt.Sprintf("lin-%d", k)
						out := linOutput{Code: http.StatusNotFound}
						for _, it := range list.Items {
							if it.Metadata.Name == key {
								out = linOutput{Code: http.StatusOK, Value: it.Data["v"], RV: it.Metadata.ResourceVersion}
							}
						}
						history = append(history, porcupine.Operation{ClientId: id, Input: linInput{Key: key, Op: "get"}, Call: call, Output: out, Return: ret})
					}
					mu.Unlock()
					continue
				}
				out := linOutput{Code: resp.StatusCode}
				var obj struct {
					Metadata struct{ ResourceVersion string }
					Data     map[string]string
				}
				if json.Unmarshal([]byte(respBody), &obj) == nil && (out.Code == 200 || out.Code == 201) {
					out.Value, out.RV = obj.Data["v"], obj.Metadata.ResourceVersion
					if in.Op == "delete" {
						out.Value, out.RV = "", ""
					}
				}
				mu.Lock()
				switch out.Code {
				case 200, 201, 404, 409:
					history = append(history, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
					if out.RV != "" {
						lastRV[key] = out.RV
					}
				default:
					unexpected = append(unexpected, fmt.Sprintf("%s %s: %d %s", method, path, out.Code, respBody))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("%d requests failed; the first: %s", len(unexpected), unexpected[0])
	}
	res := porcupine.CheckOperationsTimeout(linModel, history, time.Minute)
	if res != porcupine.Ok {
		t.Errorf("the history of %d operations is %s", len(history), res)
	}
	t.Logf("%d operations, linearizable: %s", len(history), res)
}

// TestLinearizableOnBbolt and TestLinearizableOnEtcd check the API's
// histories on both stores.
func TestLinearizableOnBbolt(t *testing.T) {
	checkLinearizable(t, startServer(t))
}

func TestLinearizableOnEtcd(t *testing.T) {
	port := freePortPair(t)
	checkLinearizable(t, startServer(t, "--etcd", "--etcd-servers", fmt.Sprintf("https://127.0.0.1:%d", port)))
}

// TestLinearizabilityModelCatchesAStaleRead: the model refuses a read,
// begun after an update returned, of the value before it.
func TestLinearizabilityModelCatchesAStaleRead(t *testing.T) {
	h := []porcupine.Operation{
		{Input: linInput{Key: "k", Op: "create", Value: "v1"}, Call: 0, Output: linOutput{Code: 201, RV: "5"}, Return: 1},
		{Input: linInput{Key: "k", Op: "update", Value: "v2", IfRV: "5"}, Call: 2, Output: linOutput{Code: 200, RV: "6"}, Return: 3},
		{Input: linInput{Key: "k", Op: "get"}, Call: 4, Output: linOutput{Code: 200, Value: "v1", RV: "5"}, Return: 5},
	}
	if porcupine.CheckOperations(linModel, h) {
		t.Error("a stale read passed as linearizable")
	}
	h[2].Output = linOutput{Code: 200, Value: "v2", RV: "6"}
	if !porcupine.CheckOperations(linModel, h) {
		t.Error("a fresh read failed")
	}
}
