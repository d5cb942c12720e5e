package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/drafts"
)

// Ids used in configuration tests.
const (
	testAppID   = "00000000-1111-2222-3333-444444444444"
	testTenant  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testTenant2 = "99999999-8888-4777-8666-555555555555"
	testAdmin   = "11111111-2222-4333-8444-555555555555"
)

// Planted secrets: no output may ever contain them.
const (
	plantedMasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 ASCII bytes
	plantedPassword  = "app-password-c2VjcmV0LXBhc3N3b3Jk"
	plantedOpenAIKey = "sk-planted-openai-key-0123456789"
	plantedToken     = "EAAGplantedSystemUserToken0123"
	plantedSecret    = "planted-app-secret-9f8e7d"
	plantedVerify    = "planted-verify-token-5c4b"
)

// cloudEnv is a complete WhatsApp Business Platform configuration.
var cloudEnv = map[string]string{
	envCloudPhoneNumberID: "106540352242922", envCloudAccessToken: plantedToken,
	envCloudAppSecret: plantedSecret, envCloudVerifyToken: plantedVerify,
}

// with returns m plus kv pairs.
func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	def := DefaultConfig()
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		want  func(c *Config)
		field string // non-empty: Load fails naming this field
	}{
		{name: "Defaults", want: func(c *Config) {}},
		{
			name: "EnvOverridesDefaults",
			env: map[string]string{
				envData: "/var/lib/sb", envListen: "0.0.0.0:8080", envLogLevel: "debug", envLogFormat: "console",
				envDefaultCC: "1", envNoWhatsApp: "true", envAppID: testAppID, envAppTenantID: testTenant, envAppPassword: plantedPassword,
				envOpenAIBaseURL: "http://127.0.0.1:11434/v1", envOpenAIModel: "llama3",
				envAdmins: " " + strings.ToUpper(testAdmin) + ", ,", envStaffTenants: testTenant2, envPublicURL: "https://bot.example.com/",
				envRetentionMonths: "6", envDraftDeadline: "90s",
			},
			want: func(c *Config) {
				c.DataDir, c.Listen, c.LogLevel, c.LogFormat, c.DefaultCC = "/var/lib/sb", "0.0.0.0:8080", "debug", "console", "1"
				c.NoWhatsApp, c.MicrosoftAppID, c.MicrosoftAppTenantID, c.MicrosoftAppPassword = true, testAppID, testTenant, NewSecret(plantedPassword)
				c.OpenAIBaseURL, c.OpenAIModel = "http://127.0.0.1:11434/v1", "llama3"
				c.LLM = &LLM{opts: drafts.Options{BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3"}}
				c.Admins, c.StaffTenants, c.PublicURL, c.RetentionMonths = []string{testAdmin}, []string{testTenant2}, "https://bot.example.com/", 6
				c.DraftDeadline = 90 * time.Second
			},
		},
		{
			name: "FlagsOverrideEnv",
			args: []string{"--data", "/d", "--listen=127.0.0.1:0", "-log-level", "warn", "--log-format", "json", "--default-country-code", "353", "--no-whatsapp", "--teams-dev",
				"--public-url", "http://127.0.0.1:3978", "--retention-months", "24", "--draft-deadline", "2m"},
			env: map[string]string{envData: "/env", envListen: "0.0.0.0:1", envNoWhatsApp: "false", envPublicURL: "https://env.example.com", envRetentionMonths: "3",
				envAppID: testAppID, envDraftDeadline: "10s"}, // no password: dev mode
			want: func(c *Config) {
				c.DataDir, c.Listen, c.LogLevel, c.LogFormat, c.DefaultCC = "/d", "127.0.0.1:0", "warn", "json", "353"
				c.NoWhatsApp, c.TeamsDev, c.PublicURL, c.RetentionMonths, c.MicrosoftAppID = true, true, "http://127.0.0.1:3978", 24, testAppID
				c.DraftDeadline = 2 * time.Minute
			},
		},
		{
			name: "PairPhone",
			args: []string{"--whatsapp-pair-phone", "+44 7700 900123"},
			want: func(c *Config) { c.WhatsAppPairPhone = "+44 7700 900123" },
		},
		{
			name: "PairPhoneFromEnv",
			env:  map[string]string{envPairPhone: "+447700900123"},
			want: func(c *Config) { c.WhatsAppPairPhone = "+447700900123" },
		},
		{
			name: "PlaygroundIDs",
			env:  map[string]string{envAppTenantID: "00000000-0000-0000-0000-0000000000001", envAdmins: "00000000-0000-0000-0000-0000000000020"},
			want: func(c *Config) {
				c.MicrosoftAppTenantID, c.Admins = "00000000-0000-0000-0000-0000000000001", []string{"00000000-0000-0000-0000-0000000000020"}
			},
		},
		{
			name: "TrustedLANHost",
			env:  map[string]string{envOpenAIBaseURL: "http://ollama:11434/v1", envOpenAIModel: "llama3", envLLMHTTPHost: "ollama"},
			want: func(c *Config) {
				c.OpenAIBaseURL, c.OpenAIModel, c.LLMHTTPHost = "http://ollama:11434/v1", "llama3", "ollama"
				c.LLM = &LLM{opts: drafts.Options{BaseURL: "http://ollama:11434/v1", Model: "llama3", AllowHTTPHost: "ollama"}}
			},
		},
		{
			name: "AzureLLM",
			env:  map[string]string{envAzureEndpoint: "https://res.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT": "gpt4o", "AZURE_OPENAI_API_KEY": plantedOpenAIKey},
			want: func(c *Config) {
				c.LLM = &LLM{opts: drafts.Options{APIKey: plantedOpenAIKey, Azure: &drafts.AzureOptions{Endpoint: "https://res.openai.azure.com", Deployment: "gpt4o"}}}
			},
		},
		{
			name: "SecretsFromEnv",
			env:  map[string]string{envMasterKey: plantedMasterKey, envAppPassword: plantedPassword, envOpenAIKey: plantedOpenAIKey},
			want: func(c *Config) {
				c.MasterKey, c.MicrosoftAppPassword, c.OpenAIAPIKey = NewSecret(plantedMasterKey), NewSecret(plantedPassword), NewSecret(plantedOpenAIKey)
				c.LLM = &LLM{opts: drafts.Options{APIKey: plantedOpenAIKey, Model: drafts.DefaultModel}}
			},
		},
		{
			name: "CloudAPI",
			env:  cloudEnv,
			want: func(c *Config) {
				c.CloudPhoneNumberID = "106540352242922"
				c.CloudAccessToken, c.CloudAppSecret, c.CloudVerifyToken = NewSecret(plantedToken), NewSecret(plantedSecret), NewSecret(plantedVerify)
			},
		},
		{
			name: "CloudAPIFlagsAndTemplate",
			args: []string{"--whatsapp-cloud-phone-number-id", "106540352242922", "--whatsapp-cloud-graph-url", "http://127.0.0.1:9/v26.0",
				"--whatsapp-cloud-template", "reopen_conversation", "--whatsapp-cloud-template-language", "en_GB"},
			env: with(cloudEnv, envCloudPhoneNumberID, "1", envCloudGraphURL, "https://graph.example/v1", envCloudTemplate, "other"),
			want: func(c *Config) {
				c.CloudPhoneNumberID, c.CloudGraphURL, c.CloudTemplate, c.CloudTemplateLanguage = "106540352242922", "http://127.0.0.1:9/v26.0", "reopen_conversation", "en_GB"
				c.CloudAccessToken, c.CloudAppSecret, c.CloudVerifyToken = NewSecret(plantedToken), NewSecret(plantedSecret), NewSecret(plantedVerify)
			},
		},
		{
			name: "CloudTemplateFirstName",
			env:  with(cloudEnv, envCloudTemplate, "reopen_named", envCloudTemplateParam, "first_name"),
			want: func(c *Config) {
				c.CloudPhoneNumberID, c.CloudTemplate, c.CloudTemplateParams = "106540352242922", "reopen_named", "first_name"
				c.CloudAccessToken, c.CloudAppSecret, c.CloudVerifyToken = NewSecret(plantedToken), NewSecret(plantedSecret), NewSecret(plantedVerify)
			},
		},
		{name: "ErrCloudTemplateParams", env: with(cloudEnv, envCloudTemplateParam, "name"), field: "--whatsapp-cloud-template-params"},
		{name: "ErrCloudMissingSecret", env: with(cloudEnv, envCloudAppSecret, ""), field: envCloudAppSecret},
		{name: "ErrCloudSecretWithoutPhoneID", env: map[string]string{envCloudAccessToken: plantedToken}, field: envCloudAccessToken},
		{name: "ErrCloudPhoneNumberNotID", env: with(cloudEnv, envCloudPhoneNumberID, "+44 7700 900123"), field: envCloudPhoneNumberID},
		{name: "ErrCloudAndPairPhone", env: with(cloudEnv, envPairPhone, "+447700900123"), field: "--whatsapp-pair-phone"},
		{name: "ErrCloudAndNoWhatsApp", args: []string{"--no-whatsapp"}, env: cloudEnv, field: "--no-whatsapp"},
		{name: "ErrCloudGraphHTTP", env: with(cloudEnv, envCloudGraphURL, "http://graph.facebook.com/v26.0"), field: "--whatsapp-cloud-graph-url"},
		{name: "ErrCloudTemplateWithoutCloud", args: []string{"--whatsapp-cloud-template", "reopen"}, field: "--whatsapp-cloud-template"},
		{name: "ErrCloudTokenFlag", args: []string{"--whatsapp-cloud-access-token", plantedToken}, field: "x"},
		{name: "MasterKeyFileIsOnlyNamed", env: map[string]string{envMasterKeyFile: "/run/secrets/k"}, want: func(c *Config) { c.MasterKeyFile = "/run/secrets/k" }},
		{name: "ErrBadListen", args: []string{"--listen", "3978"}, field: "--listen"},
		{name: "ErrBadPort", args: []string{"--listen", "127.0.0.1:99999"}, field: "--listen"},
		{name: "ErrEmptyData", args: []string{"--data", ""}, field: "--data"},
		{name: "ErrLogLevel", env: map[string]string{envLogLevel: "loud"}, field: "--log-level"},
		{name: "ErrLogFormat", args: []string{"--log-format", "xml"}, field: "--log-format"},
		{name: "ErrCountryCodePlus", args: []string{"--default-country-code", "+44"}, field: "--default-country-code"},
		{name: "ErrCountryCodeLong", args: []string{"--default-country-code", "4444"}, field: "--default-country-code"},
		{name: "ErrTeamsDevNotLoopback", args: []string{"--teams-dev", "--listen", "0.0.0.0:3978"}, field: "--teams-dev"},
		{name: "ErrBoolEnv", env: map[string]string{envNoWhatsApp: "maybe"}, field: envNoWhatsApp},
		{name: "ErrMalformedMasterKey", env: map[string]string{envMasterKey: "not-a-key"}, field: envMasterKey},
		{name: "ErrMasterKeyTwice", env: map[string]string{envMasterKey: plantedMasterKey, envMasterKeyFile: "/k"}, field: envMasterKey},
		{name: "ErrOpenAIKeyTwice", env: map[string]string{envOpenAIKey: plantedOpenAIKey, envOpenAIKey + "_FILE": "/k"}, field: envOpenAIKey},
		{name: "ErrSecretFileMissing", env: map[string]string{envAppPassword + "_FILE": "/nonexistent/switchboard-test"}, field: envAppPassword + "_FILE"},
		{name: "ErrBaseURL", env: map[string]string{envOpenAIBaseURL: "localhost:11434"}, field: envOpenAIBaseURL},
		{name: "ErrBaseURLWithoutModel", env: map[string]string{envOpenAIBaseURL: "http://127.0.0.1:11434/v1"}, field: "OPENAI_*/AZURE_OPENAI_*"},
		{name: "ErrBaseURLPlainHTTPLAN", env: map[string]string{envOpenAIBaseURL: "http://192.168.1.20:11434/v1", envOpenAIModel: "llama3"}, field: envOpenAIBaseURL},
		{name: "ErrBaseURLPlainHTTPOtherHost", env: map[string]string{envOpenAIBaseURL: "http://192.168.1.21:11434/v1", envOpenAIModel: "llama3", envLLMHTTPHost: "192.168.1.20"}, field: envOpenAIBaseURL},
		{name: "ErrAzurePlainHTTP", env: map[string]string{envAzureEndpoint: "http://res.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT": "gpt4o", envOpenAIKey: plantedOpenAIKey}, field: envAzureEndpoint},
		{name: "ErrAzureWithoutDeployment", env: map[string]string{envAzureEndpoint: "https://res.openai.azure.com", envOpenAIKey: plantedOpenAIKey}, field: "OPENAI_*/AZURE_OPENAI_*"},
		{name: "ErrPairPhoneNational", args: []string{"--whatsapp-pair-phone", "07700 900123"}, field: "--whatsapp-pair-phone"},
		{name: "ErrPairPhoneLetters", env: map[string]string{envPairPhone: "+44 call me"}, field: "--whatsapp-pair-phone"},
		{name: "ErrPairPhoneNoWhatsApp", args: []string{"--no-whatsapp", "--whatsapp-pair-phone", "+447700900123"}, field: "--whatsapp-pair-phone"},
		{name: "ErrAdminNotGUID", env: map[string]string{envAdmins: testAdmin + ",alex@example.com"}, field: envAdmins},
		{name: "ErrStaffTenantNotGUID", env: map[string]string{envStaffTenants: "contoso.onmicrosoft.com"}, field: envStaffTenants},
		{name: "ErrTenantNotGUID", env: map[string]string{envAppTenantID: "contoso"}, field: envAppTenantID},
		{name: "ErrAppIDWithoutPassword", env: map[string]string{envAppID: testAppID}, field: envAppPassword},
		{name: "ErrPublicURLHTTP", args: []string{"--public-url", "http://bot.example.com"}, field: "--public-url"},
		{name: "ErrPublicURLQuery", args: []string{"--public-url", "https://bot.example.com/?x=1"}, field: "--public-url"},
		{name: "ErrPublicURLNoHost", env: map[string]string{envPublicURL: "bot.example.com"}, field: "--public-url"},
		{name: "ErrRetentionZero", args: []string{"--retention-months", "0"}, field: "--retention-months"},
		{name: "ErrRetentionHuge", args: []string{"--retention-months", "121"}, field: "--retention-months"},
		{name: "ErrRetentionEnv", env: map[string]string{envRetentionMonths: "a year"}, field: envRetentionMonths},
		{name: "ErrDraftDeadlineShort", args: []string{"--draft-deadline", "1s"}, field: "--draft-deadline"},
		{name: "ErrDraftDeadlineLong", args: []string{"--draft-deadline", "1h"}, field: "--draft-deadline"},
		{name: "ErrDraftDeadlineEnv", env: map[string]string{envDraftDeadline: "a minute"}, field: envDraftDeadline},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(tc.args, envMap(tc.env))
			if tc.field == "x" { // refused before any field is checked
				require.Error(t, err)
				assert.Contains(t, err.Error(), "secrets are read only from the environment")
				assertNoSecrets(t, err.Error())
				return
			}
			if tc.field != "" {
				require.Error(t, err)
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				assert.Contains(t, err.Error(), "config "+tc.field+":")
				assertNoSecrets(t, err.Error())
				return
			}
			require.NoError(t, err)
			want := def
			tc.want(&want)
			assert.Equal(t, want, got)
		})
	}
}

func TestLoadArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "ErrSecretFlag", args: []string{"--master-key", plantedMasterKey}, want: "secrets are read only from the environment"},
		{name: "ErrSecretFlagWithValue", args: []string{"--openai-api-key=" + plantedOpenAIKey}, want: "OPENAI_API_KEY"},
		{name: "ErrUnknownFlag", args: []string{"--nope"}, want: "flag provided but not defined"},
		{name: "ErrStrayArgument", args: []string{"--data", "/d", "extra"}, want: "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args, envMap(nil))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assertNoSecrets(t, err.Error())
		})
	}
	t.Run("Help", func(t *testing.T) {
		_, err := Load([]string{"-h"}, envMap(nil))
		assert.ErrorIs(t, err, flag.ErrHelp)
	})
}

func TestLoadSecretFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(path, []byte(plantedPassword+"\n"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))

	cfg, err := Load(nil, envMap(map[string]string{envAppPassword + "_FILE": path}))
	require.NoError(t, err)
	assert.Equal(t, plantedPassword, cfg.MicrosoftAppPassword.Value())

	_, err = Load(nil, envMap(map[string]string{envOpenAIKey + "_FILE": empty}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "empty")
}

func TestValidateJoinsAllErrors(t *testing.T) {
	c := DefaultConfig()
	c.DataDir, c.Listen, c.LogLevel = "", "nope", "loud"
	err := c.Validate()
	require.Error(t, err)
	for _, f := range []string{"--data", "--listen", "--log-level"} {
		assert.Contains(t, err.Error(), "config "+f+":")
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	cfg, err := Load(nil, envMap(with(cloudEnv, envMasterKey, plantedMasterKey, envAppPassword, plantedPassword, envOpenAIKey, plantedOpenAIKey)))
	require.NoError(t, err)
	assert.Contains(t, cfg.String(), `whatsapp-transport="cloud"`)
	assert.Contains(t, cfg.String(), "whatsapp-cloud-access-token=(set)")
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	outputs := map[string]string{
		"String": cfg.String(),
		"%v":     fmt.Sprintf("%v", cfg),
		"%+v":    fmt.Sprintf("%+v", cfg),
		"%#v":    fmt.Sprintf("%#v", cfg),
		"%s":     fmt.Sprintf("%s", cfg.MasterKey),
		"%q":     fmt.Sprintf("%q", cfg.OpenAIAPIKey),
		"%x":     fmt.Sprintf("%x", cfg.MicrosoftAppPassword),
		"json":   string(js),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			assertNoSecrets(t, out)
		})
	}
	assert.Contains(t, cfg.String(), "master-key=(set)")
	assert.Contains(t, cfg.String(), "key: set")
	assert.Contains(t, DefaultConfig().String(), "master-key=(unset)")
}

func TestUsageShowsNoSecrets(t *testing.T) {
	var out bytes.Buffer
	env := envMap(map[string]string{envMasterKey: plantedMasterKey, envAppPassword: plantedPassword, envOpenAIKey: plantedOpenAIKey})
	require.NoError(t, run(t.Context(), []string{"run", "--help"}, env, &out, &out))
	assert.Contains(t, out.String(), "-listen")
	assert.Contains(t, out.String(), envMasterKey)
	assertNoSecrets(t, out.String())
}

// assertNoSecrets fails if s holds any planted secret.
func assertNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{plantedMasterKey, plantedPassword, plantedOpenAIKey, plantedToken, plantedSecret, plantedVerify} {
		assert.NotContains(t, s, secret)
	}
}

func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"", "--data\x00/d", "--listen=127.0.0.1:0", "--log-level\x00debug\x00--log-format\x00console",
		"--teams-dev\x00--listen\x000.0.0.0:1", "--master-key\x00x", "-h", "--", "--no-whatsapp=maybe",
		"--default-country-code\x00+44", "stray", "---data=x", "-=",
	} {
		f.Add(seed)
	}
	env := envMap(map[string]string{envMasterKey: plantedMasterKey, envAppPassword: plantedPassword, envOpenAIKey: plantedOpenAIKey})
	f.Fuzz(func(t *testing.T, in string) {
		var args []string
		if in != "" {
			args = strings.Split(in, "\x00")
		}
		cfg, err := Load(args, env)
		if err != nil {
			assertNoSecrets(t, err.Error())
			var fe *FieldError
			if errors.As(err, &fe) {
				assert.NotEmpty(t, fe.Field)
			}
			return
		}
		require.NoError(t, cfg.Validate(), "Load returned a config that does not validate")
		assertNoSecrets(t, cfg.String())
		again, err := Load(args, env)
		require.NoError(t, err)
		assert.Equal(t, cfg, again, "Load is not deterministic")
	})
}

func TestWhatsAppTransport(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(plantedToken+"\n"), 0o600))
	cfg, err := Load(nil, envMap(with(cloudEnv, envCloudAccessToken, "", envCloudAccessToken+"_FILE", tokenFile)))
	require.NoError(t, err)
	assert.Equal(t, transportCloud, cfg.WhatsAppTransport())
	assert.Equal(t, plantedToken, cfg.CloudAccessToken.Value(), "secrets may come from _FILE")
	assert.Equal(t, transportLinked, DefaultConfig().WhatsAppTransport())
	off := DefaultConfig()
	off.NoWhatsApp = true
	assert.Equal(t, "", off.WhatsAppTransport())
}
