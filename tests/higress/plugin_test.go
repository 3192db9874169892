// The compiled modules in Higress's own plugin test host (run by run.sh): the plain configuration,
// matchRules by route, domain and service, a request no rule matches, a rule that inherits the
// global failover, a probe through proxy_http_call, and the Higress build's Redis sync through
// proxy_redis_call with its reply taken by proxy_on_redis_call_response.
package higress

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/higress-group/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/higress-group/wasm-go/pkg/test"
	"github.com/stretchr/testify/require"
)

// run runs f in Higress's test host with the module at the path the environment variable names.
func run(t *testing.T, env string, f func(t *testing.T)) {
	path := os.Getenv(env)
	_, err := os.Stat(path)
	require.NoError(t, err, "%s must name a built module", env)
	test.RunWasmTestWithPath(t, path, f)
}

// chat sends one chat request through host (headers, body, then an answer with status) and
// returns the authorization header the plugin sent, or "" when the plugin answered itself.
func chat(host test.TestHost, authority string, status string) string {
	host.CallOnHttpRequestHeaders([][2]string{
		{":method", "POST"}, {":path", "/v1/chat/completions"}, {":authority", authority},
		{"content-type", "application/json"}, {"authorization", "Bearer client-own"},
	})
	host.CallOnHttpRequestBody([]byte(`{"model":"gpt-4o-mini","messages":[]}`))
	auth, _ := test.GetHeaderValue(host.GetRequestHeaders(), "authorization")
	host.CallOnHttpResponseHeaders([][2]string{{":status", status}, {"content-type", "application/json"}})
	host.CallOnHttpResponseBody([]byte(`{}`))
	host.CompleteHttp()
	return auth
}

func config(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestPlainConfiguration(t *testing.T) {
	run(t, "PLUGIN_WASM", func(t *testing.T) {
		host, status := test.NewTestHost(config(t, map[string]any{"provider": map[string]any{"apiTokens": []string{"sk-a", "sk-b"}}}))
		defer host.Reset()
		require.Equal(t, types.OnPluginStartStatusOK, status)
		seen := map[string]bool{}
		for i := 0; i < 20; i++ {
			seen[chat(host, "api.example.com", "200")] = true
		}
		require.Equal(t, map[string]bool{"Bearer sk-a": true, "Bearer sk-b": true}, seen)
	})
}

func TestOnlyRules(t *testing.T) {
	run(t, "PLUGIN_WASM", func(t *testing.T) {
		// defaultConfigDisable: Higress sends only the rules.
		host, status := test.NewTestHost(config(t, map[string]any{"_rules_": []any{
			map[string]any{"_match_route_": []string{"higress-system/openai"}, "provider": map[string]any{"apiTokens": []string{"sk-route"}}},
			map[string]any{"_match_domain_": []string{"*.example.com"}, "provider": map[string]any{"apiTokens": []string{"sk-domain"}}},
			map[string]any{"_match_service_": []string{"llm.dns:443"}, "provider": map[string]any{"apiTokens": []string{"sk-service"}}},
		}}))
		defer host.Reset()
		require.Equal(t, types.OnPluginStartStatusOK, status)
		require.NoError(t, host.SetRouteName("higress-system/openai"))
		require.Equal(t, "Bearer sk-route", chat(host, "gw.test", "200"))
		require.NoError(t, host.SetRouteName("higress-system/web"))
		require.Equal(t, "Bearer sk-domain", chat(host, "api.example.com:8443", "200"))
		require.NoError(t, host.SetClusterName("outbound|443||llm.dns"))
		require.Equal(t, "Bearer sk-service", chat(host, "gw.test", "200"))
		// A request no rule matches passes untouched: the client's own header stays.
		require.NoError(t, host.SetClusterName("outbound|80||web.dns"))
		require.Equal(t, "Bearer client-own", chat(host, "gw.test", "200"))
	})
}

func TestRuleKeepsGlobalFailover(t *testing.T) {
	run(t, "PLUGIN_WASM", func(t *testing.T) {
		// The global failover takes a failing key out for a minute; the rule names only its keys.
		host, status := test.NewTestHost(config(t, map[string]any{
			"provider": map[string]any{
				"apiTokens": []string{"sk-global"},
				"failover":  map[string]any{"enabled": true, "failureThreshold": 1, "cooldownDuration": 60000},
			},
			"_rules_": []any{map[string]any{"_match_route_": []string{"ns/ai"}, "provider": map[string]any{"apiTokens": []string{"sk-r1", "sk-r2"}}}},
		}))
		defer host.Reset()
		require.Equal(t, types.OnPluginStartStatusOK, status)
		require.NoError(t, host.SetRouteName("ns/ai"))
		failed := ""
		for i := 0; i < 20 && failed == ""; i++ {
			if auth := chat(host, "gw.test", "401"); auth != "" {
				failed = auth
			}
		}
		require.NotEmpty(t, failed)
		for i := 0; i < 10; i++ {
			auth := chat(host, "gw.test", "200")
			require.NotEqual(t, failed, auth, "the rule's failed key was chosen: the global failover did not apply")
			require.True(t, strings.HasPrefix(auth, "Bearer sk-r"), auth)
		}
	})
}

func TestProbeThroughHttpCall(t *testing.T) {
	run(t, "PLUGIN_WASM", func(t *testing.T) {
		host, status := test.NewTestHost(config(t, map[string]any{"provider": map[string]any{
			"apiTokens": []string{"sk-p1", "sk-p2"},
			"failover": map[string]any{"enabled": true, "failureThreshold": 1, "healthCheckModel": "gpt-4o-mini",
				"healthCheck": map[string]any{"cluster": "outbound|443||llm.dns", "authority": "api.openai.com", "path": "/v1/chat/completions"}},
		}}))
		defer host.Reset()
		require.Equal(t, types.OnPluginStartStatusOK, status)
		// The first failure makes its key a suspect, probed at once through proxy_http_call.
		failed := chat(host, "gw.test", "401")
		calls := host.GetHttpCalloutAttributes()
		require.Len(t, calls, 1)
		require.Equal(t, "outbound|443||llm.dns", calls[0].Upstream)
		probeAuth, _ := test.GetHeaderValue(calls[0].Headers, "authorization")
		require.Equal(t, failed, probeAuth)
		require.Contains(t, string(calls[0].Body), `"max_tokens":1`)
		// The probe fails too: the key leaves, and no request goes out with it.
		host.CallOnHttpCall([][2]string{{":status", "401"}}, []byte(`{}`))
		for i := 0; i < 10; i++ {
			require.NotEqual(t, failed, chat(host, "gw.test", "200"))
		}
	})
}

func TestRedisThroughRedisCall(t *testing.T) {
	run(t, "HIGRESS_WASM", func(t *testing.T) {
		host, status := test.NewTestHost(config(t, map[string]any{
			"provider": map[string]any{
				"apiTokens": []string{"sk-x", "sk-y"},
				"failover":  map[string]any{"enabled": true, "healthCheckInterval": 1000, "healthCheckModel": "gpt-4o-mini"},
			},
			"redis": map[string]any{"serviceName": "redis.dns", "servicePort": 6379, "syncInterval": 1000},
		}))
		defer host.Reset()
		require.Equal(t, types.OnPluginStartStatusOK, status)
		require.Equal(t, "Bearer sk-", chat(host, "gw.test", "200")[:10])
		// The lease holder's tick syncs with Redis: an EVAL of the sync script.
		// (The tick runs on the plugin's root context: its calls are that context's.)
		for i := 0; i < 3 && len(host.GetRedisCalloutAttributesFromContext(proxytest.PluginContextID)) == 0; i++ {
			host.Tick()
		}
		calls := host.GetRedisCalloutAttributesFromContext(proxytest.PluginContextID)
		require.NotEmpty(t, calls, "no command was sent through proxy_redis_call")
		require.Contains(t, string(calls[0].Query), "EVAL")
		require.Equal(t, "outbound|6379||redis.dns", calls[0].Upstream)
		// Its reply comes back through proxy_on_redis_call_response; an error reply leaves the plugin serving.
		host.CallOnRedisCallResponse(calls[0].CalloutID, 0, test.CreateRedisRespError("ERR test"))
		require.Equal(t, "Bearer sk-", chat(host, "gw.test", "200")[:10])
		require.Empty(t, host.GetCriticalLogs())
	})
}
